#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "gateway/transport/transport.hpp"

namespace ehg::transport {

struct PahoOptions {
  std::string uri;        // ssl://host:port or mqtts://...; tcp:// only with insecure_plaintext
  std::string client_id;  // stable: the persistent session is found by it
  bool insecure_plaintext = false;
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  std::chrono::seconds keepalive{30};
  std::chrono::seconds session_expiry{7 * 24 * 3600};
  std::string will_topic;  // empty: no last will (the uplink may set one per connection: SetLastWill)
  std::string will_payload;
  // The MQTT 5 Maximum Packet Size announced on CONNECT: a conforming broker never sends a larger
  // packet (it drops the message for this client instead). A message whose payload alone is larger
  // still arriving means the broker ignored it: it is dropped and reported as oversized before any copy
  // of ours (paho has already read it by then). 0: nothing announced, nothing dropped.
  std::size_t maximum_packet_bytes = 0;
};

// paho-mqtt-cpp behind our port: MQTT v5, QoS 1, persistence off and no offline buffer (the SQLite
// outbox is the only durable copy), automatic reconnect off (the uplink reconnects itself), TLS 1.2+
// with the server certificate and host name verified and a client certificate.
std::unique_ptr<Transport> MakePahoTransport(PahoOptions options, TransportEvents events);

// The keepalive paho is given: it declares a link dead when a PINGRESP is missing one keepalive after
// the ping, which it sends one keepalive after the last traffic, and checks its timers only every second
// or so: a dead link is noticed after up to about 2 x this value + 2 s (measured: 8.3 s at 3 s). Half
// the configured keepalive keeps that within 1.5 x the configured value.
std::chrono::seconds PahoKeepalive(std::chrono::seconds configured);

}  // namespace ehg::transport
