#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/core/result.hpp"

// The narrow port between the uplink and an MQTT client library: connect, publish with QoS 1 and hear
// about the broker's acknowledgement, receive commands. The paho adapter (paho_transport.hpp) is the
// production implementation; tests use a scripted fake.
namespace ehg::transport {

// Called on the client library's threads. Each must only hand the event to the uplink's own thread.
struct TransportEvents {
  std::function<void(bool session_present)> connected;
  std::function<void(std::string reason)> connect_failed;
  std::function<void(std::string reason)> connection_lost;
  // The broker acknowledged: a PUBACK (in MQTT 5 one with a success reason code; MQTT 3.1.1 has none).
  std::function<void(std::uint64_t tag)> delivered;
  std::function<void(std::uint64_t tag, std::string reason)> delivery_failed;
  std::function<void(std::string topic, std::string payload)> message;
  // A message larger than the maximum packet size arrived (an MQTT 5 broker ignored the size announced
  // on CONNECT; MQTT 3.1.1 cannot announce it) and was dropped unread. Optional.
  std::function<void(std::string topic, std::size_t bytes)> oversized;
};

// The message the broker publishes for this client when its connection dies.
struct LastWill {
  std::string topic;
  std::string payload;
  bool retained = true;
};

// Why a connection attempt failed, in plain words, and whether a person must act (a certificate, a
// file, the broker's configuration) or it should pass by itself (network or broker down).
struct ConnectDiagnosis {
  std::string text;
  bool needs_action = false;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Starts one connection attempt (a new session object each time: nothing in flight survives from an
  // earlier connection). The outcome arrives as connected or connect_failed.
  virtual void Connect() = 0;
  // The last will of the next connection attempts (replaces one given at construction): set before
  // Connect, so each connection carries a will prepared for it.
  virtual void SetLastWill(LastWill will) = 0;
  // QoS 1. An error means the message was not handed over at all (not connected, buffer full);
  // otherwise exactly one of delivered(tag) / delivery_failed(tag) follows, unless the connection is
  // lost first (then connection_lost, and the caller sends again after reconnecting).
  virtual Result<void> Publish(const std::string& topic, const std::string& payload, bool retained,
                               std::uint64_t tag) = 0;
  virtual Result<void> Subscribe(const std::string& topic) = 0;
  // Ends the session's connection (waits a short, bounded time). No events follow for this session.
  virtual void Disconnect() = 0;
  // After connect_failed: a plain-language reason found by probing the broker directly (TCP reachable?
  // TLS handshake? which certificate check failed?). Blocks for at most a few seconds.
  virtual ConnectDiagnosis DiagnoseConnectFailure() = 0;
};

using TransportFactory = std::function<std::unique_ptr<Transport>(TransportEvents events)>;

}  // namespace ehg::transport
