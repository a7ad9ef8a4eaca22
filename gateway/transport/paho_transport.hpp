#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "gateway/transport/transport.hpp"

namespace ehg::transport {

// MQTT 5.0, or 3.1.1 for brokers that speak nothing newer. 3.1.1 has no properties and no reason
// codes: no session expiry interval (the broker keeps the session by its own policy), no Maximum Packet
// Size announced, and a PUBACK cannot refuse a message (docs/mqtt.md, "MQTT 3.1.1").
enum class MqttVersion { kV5, kV3_1_1 };

struct PahoOptions {
  std::string uri;        // ssl://host:port or mqtts://...; tcp:// only with insecure_plaintext
  std::string client_id;  // stable: the persistent session is found by it
  bool insecure_plaintext = false;
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  MqttVersion version = MqttVersion::kV5;
  std::chrono::seconds keepalive{30};
  std::chrono::seconds session_expiry{7 * 24 * 3600};  // MQTT 5 only
  std::string will_topic;  // empty: no last will (the uplink may set one per connection: SetLastWill)
  std::string will_payload;
  // The MQTT 5 Maximum Packet Size announced on CONNECT: a conforming broker never sends a larger
  // packet (it drops the message for this client instead). A message whose payload alone is larger
  // still arriving means the broker ignored it: it is dropped and reported as oversized before any copy
  // of ours (paho has already read it by then). With MQTT 3.1.1 nothing is announced (there is no such
  // property) but the drop applies all the same. 0: nothing announced, nothing dropped.
  std::size_t maximum_packet_bytes = 0;
  // The QoS of every subscription (the gateway's: broker.command_qos). 0 on the NATS engine, where a
  // QoS 1 subscription is a durable consumer per client (docs/mqtt.md#command-qos).
  int subscription_qos = 1;
};

// paho-mqtt-cpp behind our port: MQTT 5 (or 3.1.1, PahoOptions::version), QoS 1 publishes, persistence off
// and no offline buffer (the SQLite outbox is the only durable copy), automatic reconnect off (the uplink
// reconnects itself), TLS 1.2+ with the server certificate and host name verified and a client certificate.
std::unique_ptr<Transport> MakePahoTransport(PahoOptions options, TransportEvents events);

// The keepalive paho is given: it declares a link dead when a PINGRESP is missing one keepalive after
// the ping, which it sends one keepalive after the last traffic, and checks its timers only every second
// or so: a dead link is noticed after up to about 2 x this value + 2 s (measured: 8.3 s at 3 s). Half
// the configured keepalive keeps that within 1.5 x the configured value.
std::chrono::seconds PahoKeepalive(std::chrono::seconds configured);

}  // namespace ehg::transport
