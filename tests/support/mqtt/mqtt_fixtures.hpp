#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

// Real MQTT peers for integration tests and benchmarks: a throw-away PKI (scripts/gen-certs), a
// mosquitto broker on a free loopback port, and a receiver playing the care system.
namespace ehg::test {

// A loopback TCP port nothing listens on right now, from below the ephemeral range (ports.hpp says why).
int FreePort();

// Certificates made once per test process by scripts/gen-certs.
class TestPki {
 public:
  static const TestPki& Get();
  std::filesystem::path File(const std::string& name) const { return directory_.path() / name; }
  const std::filesystem::path& directory() const { return directory_.path(); }
  static constexpr const char* kGatewayId = "gw-it-01";

 private:
  TestPki();
  TempDir directory_;
};

struct BrokerOptions {
  std::string certificate = "broker";  // broker.crt/.key, or broker-expired, broker-wrong-host
  bool persistence = true;             // keep sessions across Stop/Start (for outage tests)
  // mosquitto's set_tcp_nodelay: without it the broker's sends to a subscriber follow Nagle's algorithm
  // (a small message behind a large one waits for the subscriber's delayed ACK, 40 ms).
  bool tcp_nodelay = false;
};

// mosquitto on 127.0.0.1 with TLS and required client certificates.
class TestBroker {
 public:
  explicit TestBroker(BrokerOptions options = {});
  ~TestBroker();
  TestBroker(const TestBroker&) = delete;
  TestBroker& operator=(const TestBroker&) = delete;

  void Start();  // returns once it accepts connections; the port stays the same across restarts
  void Stop();   // SIGTERM (persists sessions), waits for the exit
  void Pause();  // SIGSTOP: the TCP connections stay open but nothing answers (a dead link)
  void Resume();
  int port() const { return port_; }
  std::string Uri(const std::string& host = "localhost") const;
  std::string Log() const;

 private:
  BrokerOptions options_;
  TempDir directory_;
  int port_ = 0;
  std::optional<Process> process_;
  std::string previous_logs_;
};

struct ReceivedMessage {
  std::string topic;
  std::string payload;
  bool retained = false;
  std::size_t index = 0;  // arrival order
  std::chrono::steady_clock::time_point arrived{};
};

// The care system's side: subscribes to everything below ehealth/v1/ with QoS 1 in a persistent
// session, reconnects by itself, and can answer every event message with an (unsigned) event.receipt.
class TestReceiver {
 public:
  TestReceiver(const TestBroker& broker, bool send_receipts);
  ~TestReceiver();
  TestReceiver(const TestReceiver&) = delete;
  TestReceiver& operator=(const TestReceiver&) = delete;

  std::vector<ReceivedMessage> Messages() const;
  std::size_t Count() const;
  // Messages received on exactly `topic`, counted under the lock (no copy: benchmarks poll it).
  std::size_t CountOnTopic(const std::string& topic) const;
  bool WaitFor(const std::function<bool(const std::vector<ReceivedMessage>&)>& condition,
               std::chrono::milliseconds timeout) const;
  void Publish(const std::string& topic, const std::string& payload, bool retained = false);
  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a receiver makes of the messages: every event once (deduplicated by event id), in order of
// first arrival.
struct ReceivedEvent {
  std::string event_id;
  std::string topic_kind;  // alert, observation, device, gateway, cmd/result
  std::string body;        // the event's own JSON object (an observation: its FHIR Observation)
  std::size_t index = 0;   // arrival index of the message that first carried it
};
std::vector<ReceivedEvent> DistinctEvents(const std::vector<ReceivedMessage>& messages);
// The event ids one plaintext event message carries (an event, a FHIR Bundle or a v0 batch); none when
// it cannot be read.
std::vector<std::string> EventIdsIn(const std::string& payload);
// Copies of each event id, including duplicates and resends.
std::size_t CopiesOf(const std::vector<ReceivedMessage>& messages, const std::string& event_id);

}  // namespace ehg::test
