// The uplink against a hostile or unlucky broker, with a real mosquitto, the gateway binary and the
// reference receiver (`ehealth-care-tools receive`): an oversized command, a forged retained status, and
// receipts lost by a broker restart or by a gateway killed while its store refuses to commit.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "gateway/core/clock.hpp"
#include "gateway/crypto/jose.hpp"
#include "gateway/crypto/keys.hpp"
#include "gateway/crypto/protection.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using ehg::test::DaemonConfigOptions;
using ehg::test::Process;
using ehg::test::ReceivedMessage;
using ehg::test::TempDir;
using ehg::test::TestBroker;
using ehg::test::TestPki;
using ehg::test::TestReceiver;

namespace {

constexpr const char* kSecurityTopicBase = "ehealth/v1/0301/gw-it-01/";

Poco::JSON::Object::Ptr SecurityJson(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

fs::path DatabaseIn(const TempDir& dir) {
  return dir / "data" / "gateway.db";
}

std::int64_t CountSecurityRows(const TempDir& dir, const std::string& sql) {
  SQLite::Database db(DatabaseIn(dir).string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  return db.execAndGet(sql).getInt64();
}

// The peak resident memory of a process (VmHWM), in KiB.
std::int64_t PeakResidentKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6));
  }
  return -1;
}

// One alert at start and nothing after it (the oximeter measures once; the cuff not within the test).
DaemonConfigOptions OneAlert(const TestBroker& broker) {
  DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.oximeter_interval_seconds = 3600;
  options.cuff_interval_seconds = 3600;
  options.rules =
      R"([{"id": "spo2-any", "kind": "threshold", "metric": "spo2", "above": 30, "severity": "high"}])";
  options.uplink_json = R"({"receipt_resend_seconds": 5})";
  return options;
}

std::vector<std::string> ReceiverArguments(const TestBroker& broker, const std::string& client_id) {
  const TestPki& pki = TestPki::Get();
  return {EHG_CARE_BINARY, "receive",
          "--broker",      broker.Uri(),
          "--cafile",      pki.File("ca.crt").string(),
          "--cert",        pki.File("receiver.crt").string(),
          "--key",         pki.File("receiver.key").string(),
          "--client-id",   client_id,
          "--tenant",      "0301"};
}

// The reference receiver for a gateway in development plaintext mode: receipts go unsigned.
Process StartPlainReceiver(const TestBroker& broker, const std::string& client_id) {
  auto arguments = ReceiverArguments(broker, client_id);
  arguments.push_back("--insecure-plaintext-payloads");
  return Process::Start(arguments);
}

std::size_t AlertCopies(const std::vector<ReceivedMessage>& messages) {
  std::size_t copies = 0;
  for (const ReceivedMessage& message : messages)
    if (message.topic == std::string(kSecurityTopicBase) + "event/alert") ++copies;
  return copies;
}

std::function<bool(const std::vector<ReceivedMessage>&)> LastStatusIs(const std::string& state,
                                                                      const std::string& reason) {
  return [=](const std::vector<ReceivedMessage>& messages) {
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
      if (it->topic != std::string(kSecurityTopicBase) + "status") continue;
      auto status = SecurityJson(it->payload);
      return status->getValue<std::string>("state") == state &&
             (reason.empty() || status->getValue<std::string>("reason") == reason);
    }
    return false;
  };
}

// The alert ends delivered and nobody sends it again: no new copy within three resend intervals.
void CheckDeliveredAndQuiet(const TempDir& dir, const TestReceiver& watcher) {
  REQUIRE(ehg::test::WaitUntil(
      [&] { return CountSecurityRows(dir, "SELECT count(*) FROM alerts WHERE state = 'delivered'") == 1; },
      30s));
  REQUIRE(ehg::test::WaitUntil(
      [&] { return CountSecurityRows(dir, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == 0; }, 10s));
  std::this_thread::sleep_for(1s);  // a copy already on its way when the receipt was stored
  const std::size_t copies = AlertCopies(watcher.Messages());
  std::this_thread::sleep_for(15s);
  CHECK(AlertCopies(watcher.Messages()) == copies);
}

}  // namespace

// GCC says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer) (clang 14 only the latter).
#if defined(__SANITIZE_ADDRESS__)
#define EHG_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EHG_UNDER_ASAN 1
#endif
#endif

TEST_CASE("A 100 MB command never reaches the gateway: memory stays bounded and the next command works") {
  TestBroker broker;
  broker.Start();
  TestReceiver client(broker, false);
  TempDir dir;
  DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.devices = false;
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(client.WaitFor(LastStatusIs("online", ""), 15s));
  const std::int64_t before = PeakResidentKib(daemon.pid());
  REQUIRE(before > 0);

  // The broker takes it (mosquitto's default message_size_limit is unlimited) but may not send it on.
  client.Publish(std::string(kSecurityTopicBase) + "cmd", std::string(100'000'000, 'A'));
  client.Publish(std::string(kSecurityTopicBase) + "cmd", R"({"id":"after-big","type":"ping"})");
  REQUIRE(client.WaitFor(
      [](const std::vector<ReceivedMessage>& messages) {
        for (const ReceivedMessage& message : messages)
          if (message.topic.ends_with("/cmd/result") &&
              message.payload.find("after-big") != std::string::npos)
            return true;
        return false;
      },
      30s));
  const std::int64_t after = PeakResidentKib(daemon.pid());
  MESSAGE("gateway VmHWM before " << before << " KiB, after a 100 MB command " << after << " KiB");
  // The message alone would be 97 656 KiB, and it used to be copied 4 times. A sanitizer build's
  // shadow memory lifts the baseline past any absolute bound, so there only the growth counts.
#if !defined(EHG_UNDER_ASAN)
  CHECK(after < 64 * 1024);
#endif
  CHECK(after - before < 8 * 1024);
  daemon.Signal(SIGTERM);
  REQUIRE(daemon.Wait(15s) == 0);
  // Not refused by the gateway: never delivered to it.
  CHECK(daemon.Output().find("bytes=100000000") == std::string::npos);
  CHECK(daemon.Output().find("msg=\"command refused\"") == std::string::npos);
}

TEST_CASE("A receipt lost in a broker restart: the repeat gets a new receipt and the alert is delivered") {
  TestBroker broker({.certificate = "broker", .persistence = false, .tcp_nodelay = false});
  broker.Start();
  TestReceiver watcher(broker, false);  // sees every copy, answers none
  TempDir dir;
  // The care system's session exists before the alert: the broker keeps it the alert.
  {
    Process receiver = StartPlainReceiver(broker, "care-rx-restart");
    REQUIRE(receiver.WaitForOutput("receive: subscribed", 10s));
    receiver.Signal(SIGTERM);
    REQUIRE(receiver.Wait(10s) == 0);
  }
  DaemonConfigOptions options = OneAlert(broker);
  options.keepalive_seconds = 5;  // the broker drops a silent gateway within 3 s
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(watcher.WaitFor([](const auto& messages) { return AlertCopies(messages) >= 1; }, 15s));

  // The gateway stops answering; the broker gives up on it, keeps its session and sends its will.
  daemon.Signal(SIGSTOP);
  REQUIRE(watcher.WaitFor(LastStatusIs("offline", "connection lost"), 15s));
  // The care system comes back, takes the alert and sends its receipt, which waits in the broker...
  Process receiver = StartPlainReceiver(broker, "care-rx-restart");
  REQUIRE(receiver.WaitForOutput("type=event.receipt", 15s));
  std::this_thread::sleep_for(500ms);
  // ...until the broker restarts without persistence and loses it.
  broker.Stop();
  broker.Start();
  daemon.Signal(SIGCONT);
  REQUIRE(watcher.WaitFor(LastStatusIs("online", ""), 20s));
  CheckDeliveredAndQuiet(dir, watcher);
  receiver.Signal(SIGTERM);
  const std::optional<int> receiver_exit = receiver.Wait(10s);
  // Once in a CI run it did not end cleanly here: its output (a sanitizer's report, say) says why.
  INFO("receiver output: " << receiver.Output());
  REQUIRE(receiver_exit == 0);
  // The repeat was a duplicate for the receiver, and it answered it anyway.
  CHECK(receiver.Output().find(" duplicates") != std::string::npos);
  CHECK(receiver.Output().find("0 duplicates") == std::string::npos);
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(15s) == 0);
}

TEST_CASE("kill -9 while a receipt waits for a store that refuses the commit: the alert ends delivered") {
  TestBroker broker;
  broker.Start();
  TestReceiver watcher(broker, false);
  TempDir dir;
  {
    Process receiver = StartPlainReceiver(broker, "care-rx-kill");
    REQUIRE(receiver.WaitForOutput("receive: subscribed", 10s));
    receiver.Signal(SIGTERM);
    REQUIRE(receiver.Wait(10s) == 0);
  }
  DaemonConfigOptions options = OneAlert(broker);
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(watcher.WaitFor([](const auto& messages) { return AlertCopies(messages) >= 1; }, 15s));
  REQUIRE(ehg::test::WaitUntil(
      [&] { return daemon.Output().find("msg=\"gateway running\"") != std::string::npos; }, 10s));

  {
    // Another writer holds the database: every commit of the gateway fails after its busy timeout.
    SQLite::Database lock(DatabaseIn(dir).string(), SQLite::OPEN_READWRITE);
    lock.exec("BEGIN EXCLUSIVE");
    Process receiver = StartPlainReceiver(broker, "care-rx-kill");
    REQUIRE(receiver.WaitForOutput("type=event.receipt", 15s));
    // The receipt was taken (and acknowledged to the broker); its commit failed and is being retried.
    REQUIRE(daemon.WaitForOutput("msg=\"uplink change not stored; retrying\"", 30s));
    daemon.Signal(SIGKILL);
    REQUIRE(daemon.Wait(10s).has_value());
    lock.exec("ROLLBACK");
    // The receipt died with the process. The receiver stays up: it has seen the alert already.
    options.devices = false;
    Process restarted = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
    CheckDeliveredAndQuiet(dir, watcher);
    restarted.Signal(SIGTERM);
    CHECK(restarted.Wait(15s) == 0);
    receiver.Signal(SIGTERM);
    REQUIRE(receiver.Wait(10s) == 0);
  }
}

TEST_CASE(
    "The retained status is signed: the receiver verifies it and refuses forged, replayed and stale ones") {
  TempDir keys;
  const auto keygen = [&](const std::string& name) {
    const auto result =
        ehg::test::RunCommand({EHG_GATEWAY_BINARY, "keygen", "--out", (keys / (name + ".key")).string()});
    REQUIRE(result.exit_code == 0);
    const std::string jwk = result.output.substr(result.output.find('{'));
    std::ofstream(keys / (name + ".jwk")) << jwk;
    return jwk.substr(0, jwk.find_last_of('}') + 1);
  };
  const std::string gateway_jwk = keygen("gateway");
  keygen("care-encryption");
  keygen("care-commands");
  std::ofstream(keys / "gateways.jwks") << "{\"keys\":[" << gateway_jwk << "]}";
  const auto gateway_key = ehg::crypto::LoadPrivateKeyFile(keys / "gateway.key");
  REQUIRE(gateway_key);

  TestBroker broker;
  broker.Start();
  TestReceiver raw(broker, false);  // what the broker sees, and the attacker's publishing client
  TempDir dir;
  DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.devices = false;
  options.security_json = R"({"gateway_key_file": ")" + (keys / "gateway.key").string() +
                          R"(", "recipient_key_file": ")" + (keys / "care-encryption.jwk").string() +
                          R"(", "command_keys_file": ")" + (keys / "care-commands.jwk").string() + R"("})";
  auto arguments = ReceiverArguments(broker, "care-rx-status");
  for (const std::string& argument :
       {std::string("--decryption-key"), (keys / "care-encryption.key").string(),
        std::string("--gateway-keys"), (keys / "gateways.jwks").string(), std::string("--signing-key"),
        (keys / "care-commands.key").string()}) {
    arguments.push_back(argument);
  }
  Process receiver = Process::Start(arguments);
  REQUIRE(receiver.WaitForOutput("receive: subscribed", 10s));
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));

  // A genuine one verifies, signed by the gateway's key.
  const std::string signed_by = "signed_by=" + gateway_key->id();
  REQUIRE(receiver.WaitForOutput("msg=\"gateway status\" tenant=0301 gateway=gw-it-01 state=online", 15s));
  CHECK(receiver.Output().find(signed_by) != std::string::npos);
  const auto statuses = [&] {
    std::vector<std::string> payloads;
    for (const ReceivedMessage& message : raw.Messages())
      if (message.topic == std::string(kSecurityTopicBase) + "status") payloads.push_back(message.payload);
    return payloads;
  };
  REQUIRE(ehg::test::WaitUntil([&] { return !statuses().empty(); }));
  const std::string genuine_online = statuses().back();
  CHECK(std::count(genuine_online.begin(), genuine_online.end(), '.') == 2);  // a compact JWS

  // The gateway dies: the broker sends its pre-signed will, which verifies.
  daemon.Signal(SIGKILL);
  REQUIRE(daemon.Wait(10s).has_value());
  REQUIRE(
      receiver.WaitForOutput("state=offline reason=\"connection lost\" time=\"unknown (last will)\"", 15s));

  // Whoever may publish on the status topic now tries to make it look online again, retained.
  const std::string topic = std::string(kSecurityTopicBase) + "status";
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const std::string forged_body =
      R"({"schema":"ehealth-gateway/status/v0","state":"online","gateway":"gw-it-01","tenant":"0301","time":")" +
      ehg::core::FormatIso8601(now) + R"(","connected_at":")" + ehg::core::FormatIso8601(now) +
      R"(","version":"0.1.0","uptime_seconds":60,"heartbeat_interval_seconds":60})";
  raw.Publish(topic, forged_body, true);
  REQUIRE(receiver.WaitForOutput("msg=\"status refused\" topic=" + topic + " reason=unsigned", 10s));
  const auto impostor = ehg::crypto::EcKey::Generate();
  raw.Publish(topic, *ehg::crypto::SignCompactJws(*impostor, forged_body, ehg::crypto::kStatusJwsType), true);
  REQUIRE(receiver.WaitForOutput("reason=unknown_key", 10s));
  raw.Publish(topic, genuine_online, true);  // the last genuine heartbeat, replayed after the will
  REQUIRE(receiver.WaitForOutput("reason=replayed", 10s));
  // A status the gateway really signed an hour ago (the retained copy a broker kept) is stale.
  const auto hour_ago = now - 1h;
  std::string old_body = forged_body;
  for (const std::string& time : {ehg::core::FormatIso8601(now)}) {
    for (auto at = old_body.find(time); at != std::string::npos; at = old_body.find(time))
      old_body.replace(at, time.size(), ehg::core::FormatIso8601(hour_ago));
  }
  raw.Publish(topic, *ehg::crypto::SignCompactJws(*gateway_key, old_body, ehg::crypto::kStatusJwsType), true);
  REQUIRE(receiver.WaitForOutput("reason=stale", 10s));
  receiver.Signal(SIGTERM);
  REQUIRE(receiver.Wait(10s) == 0);
  // Nothing after the will made it look online: the only accepted online status came before it.
  const std::string output = receiver.Output();
  CHECK(output.rfind("state=online") < output.find("state=offline"));
  CHECK(output.find("statuses: ") != std::string::npos);
  CHECK(output.find(" 4 refused") != std::string::npos);
}
