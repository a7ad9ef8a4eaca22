// The uplink against a real mosquitto: every way mutual TLS can be wrong is refused with a clear log
// line and never falls back to plaintext; a dead link is noticed within 1.5 x keepalive.
#include <doctest/doctest.h>

#include "gateway/transport/paho_transport.hpp"
#include "gateway/uplink/uplink.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::test::BrokerOptions;
using ehg::test::LogCapture;
using ehg::test::TestBroker;
using ehg::test::TestPki;
using ehg::test::WaitUntil;
using ehg::uplink::LinkState;

namespace {

// An outbox with nothing to send: these tests are about the connection.
class EmptyOutbox final : public ehg::uplink::OutboxPort {
 public:
  ehg::Result<std::vector<ehg::store::OutboxRow>> Peek(std::size_t,
                                                       std::optional<ehg::store::OutboxPosition>) override {
    return std::vector<ehg::store::OutboxRow>{};
  }
  bool Commit(const ehg::store::OutboxChange&,
              std::function<void(const ehg::Result<ehg::store::WriteOutcome>&)> done) override {
    done(ehg::store::WriteOutcome{});
    return true;
  }
  ehg::store::OutboxSnapshot Snapshot() const override { return {}; }
  ehg::Result<ehg::store::ReplayWindow> LoadReplayWindow(ehg::core::WallTime) override {
    return ehg::store::ReplayWindow{};
  }
};

ehg::transport::PahoOptions GoodOptions(const TestBroker& broker) {
  const TestPki& pki = TestPki::Get();
  ehg::transport::PahoOptions options;
  options.uri = broker.Uri("localhost");
  options.client_id = "ehg-0301-gw-it-01";
  options.ca_file = pki.File("ca.crt");
  options.cert_file = pki.File("gateway.crt");
  options.key_file = pki.File("gateway.key");
  options.keepalive = 30s;
  options.will_topic = "ehealth/v1/0301/gw-it-01/status";
  options.will_payload = R"({"state":"offline"})";
  return options;
}

struct Gateway {
  ehg::core::SystemClock clock{true};
  ehg::core::EventIdGenerator ids{clock};
  EmptyOutbox outbox;
  std::unique_ptr<ehg::uplink::Uplink> uplink;

  explicit Gateway(ehg::transport::PahoOptions options) {
    ehg::uplink::UplinkOptions uplink_options;
    uplink_options.protection = std::make_shared<ehg::crypto::PlaintextForDevelopment>();
    uplink_options.tenant = "0301";
    uplink_options.gateway_id = TestPki::kGatewayId;
    uplink_options.version = "test";
    uplink = std::make_unique<ehg::uplink::Uplink>(
        uplink_options,
        [options](ehg::transport::TransportEvents events) {
          return ehg::transport::MakePahoTransport(options, std::move(events));
        },
        outbox, clock, ids);
    uplink->Start();
  }
};

// Runs the gateway with `options` and returns the first "broker connection failed" log line.
std::string RefusalLine(const ehg::transport::PahoOptions& options) {
  LogCapture log;
  Gateway gateway(options);
  const bool failed = WaitUntil([&] { return log.Contains("msg=\"broker connection failed\""); }, 15s);
  const bool ever_connected = gateway.uplink->counters().connects > 0;
  gateway.uplink->Stop();
  CHECK_FALSE(ever_connected);
  if (!failed) return "no failure logged";
  for (const std::string& line : log.Lines())
    if (line.find("msg=\"broker connection failed\"") != std::string::npos) return line;
  return "";
}

}  // namespace

TEST_CASE("With the right certificates the uplink connects and announces itself") {
  TestBroker broker({"broker", false});
  broker.Start();
  ehg::test::TestReceiver receiver(broker, false);
  Gateway gateway(GoodOptions(broker));
  REQUIRE(WaitUntil([&] { return gateway.uplink->status().state == LinkState::kConnected; }, 10s));
  REQUIRE(receiver.WaitFor(
      [](const auto& messages) {
        for (const auto& message : messages)
          if (message.topic == "ehealth/v1/0301/gw-it-01/status") return true;
        return false;
      },
      5s));
}

TEST_CASE("TLS refusals: each is logged with its cause and never falls back to plaintext") {
  const TestPki& pki = TestPki::Get();
  struct Case {
    const char* name;
    const char* broker_certificate;
    std::function<void(ehg::transport::PahoOptions&)> change;
    const char* expected;
  };
  const std::vector<Case> cases{
      {"server certificate from an unknown CA", "broker",
       [&](auto& options) { options.ca_file = pki.File("other-ca.crt"); },
       "(the broker's certificate is not signed by the CA in tls.ca_file)"},
      {"expired server certificate", "broker-expired", [](auto&) {},
       "server certificate rejected: certificate has expired"},
      {"host name mismatch", "broker-wrong-host", [](auto&) {},
       "server certificate rejected: hostname mismatch"},
      {"IP address mismatch", "broker-wrong-host",
       [](auto& options) { options.uri.replace(options.uri.find("localhost"), 9, "127.0.0.1"); },
       "server certificate rejected: IP address mismatch"},
      {"no client certificate", "broker",
       [](auto& options) {
         options.cert_file.clear();
         options.key_file.clear();
       },
       "requires a client certificate and none is configured"},
      {"client certificate from another CA", "broker",
       [&](auto& options) {
         options.cert_file = pki.File("gateway-other-ca.crt");
         options.key_file = pki.File("gateway-other-ca.key");
       },
       "refused this gateway's client certificate (tlsv1 alert unknown ca)"},
      {"plaintext address without the development flag", "broker",
       [](auto& options) { options.uri.replace(0, 3, "tcp"); }, "plaintext refused"},
  };
  for (const Case& test : cases) {
    const std::string name = test.name;
    CAPTURE(name);
    TestBroker broker({test.broker_certificate, false});
    broker.Start();
    auto options = GoodOptions(broker);
    test.change(options);
    const std::string line = RefusalLine(options);
    CAPTURE(line);
    CHECK(line.find(test.expected) != std::string::npos);
    CHECK(line.find("level=error") != std::string::npos);  // a person must act
  }
}

TEST_CASE("A broker that stops answering is declared lost within 1.5 x keepalive, then reconnected") {
  TestBroker broker({"broker", false});
  broker.Start();
  auto options = GoodOptions(broker);
  options.keepalive = 5s;
  LogCapture log;
  Gateway gateway(options);
  REQUIRE(WaitUntil([&] { return gateway.uplink->status().state == LinkState::kConnected; }, 10s));
  std::this_thread::sleep_for(500ms);  // let the birth message's acknowledgement arrive
  broker.Pause();
  const auto paused_at = std::chrono::steady_clock::now();
  REQUIRE(WaitUntil([&] { return log.Contains("msg=\"broker connection lost\""); }, 15s));
  const auto detected_after = std::chrono::steady_clock::now() - paused_at;
  MESSAGE("dead link detected after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(detected_after).count()
          << " ms (keepalive 5 s)");
  // 7.5 s is the requirement; paho checks its timers about once a second, hence the allowance.
  CHECK(detected_after <= 7500ms + 1000ms);
  broker.Resume();
  REQUIRE(WaitUntil([&] { return gateway.uplink->counters().connects == 2; }, 20s));
}
