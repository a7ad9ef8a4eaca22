// End-to-end protection with real peers: a mosquitto broker, the gateway binary, and two independent
// JOSE implementations (the `jose` tool from Debian, built on latchset's libjose, and the `jose` npm
// package on Node.js) that open the gateway's events and sign commands it must accept.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "care/command_signing.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/json.hpp"
#include "gateway/core/utf8.hpp"
#include "gateway/crypto/base64url.hpp"
#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/crypto/keys.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using ehg::test::Process;
using ehg::test::ReceivedMessage;
using ehg::test::RunCommand;
using ehg::test::TempDir;
using ehg::test::TestBroker;
using ehg::test::TestPki;
using ehg::test::TestReceiver;

namespace {

constexpr const char* kFloorTopicBase = "ehealth/v1/0301/gw-it-01/";
const std::string kNodeTool = std::string(EHG_SOURCE_DIR) + "/tests/interop/node/jose-tool.mjs";

Poco::JSON::Object::Ptr FloorJson(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Owner-only, as key files must be: a private key others may read is refused by the gateway and the
// receiver.
void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

// Runs a shell command line; REQUIREs success and returns its output.
std::string Shell(const std::string& command_line) {
  auto result = RunCommand({"/bin/sh", "-c", command_line}, 60s);
  INFO(command_line);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return result.output;
}

std::string Node(const std::string& arguments) {
  return Shell("node " + kNodeTool + " " + arguments + " 2>/dev/null");
}

// Every key of the test: the gateway's own (made by `ehealth-gateway keygen`), the care system's
// encryption key (made by npm jose) and two command keys (one from the jose tool, one from npm jose).
struct Keys {
  TempDir dir;
  fs::path gateway_key = dir / "gateway-signing.key";
  fs::path gateway_public = dir / "gateway-public.jwk";
  fs::path gateway_set = dir / "gateways.jwks";
  fs::path care_encryption = dir / "care-encryption.jwk";
  fs::path care_encryption_public = dir / "care-encryption-public.jwk";
  fs::path command_jose = dir / "command-jose.jwk";
  fs::path command_node = dir / "command-node.jwk";
  fs::path command_keys = dir / "command-keys.jwks";
  // Read once, for opening the raw messages the tests look through again and again.
  ehg::crypto::KeySet care_keys;
  ehg::crypto::KeySet gateway_keys;

  Keys() {
    REQUIRE_MESSAGE(fs::exists(fs::path(EHG_SOURCE_DIR) / "tests/interop/node/node_modules/jose"),
                    "npm packages missing: run scripts/setup-deps");
    const auto keygen = RunCommand({EHG_GATEWAY_BINARY, "keygen", "--out", gateway_key.string()});
    REQUIRE(keygen.exit_code == 0);
    const std::string jwk = keygen.output.substr(keygen.output.find('{'));
    WriteText(gateway_public, jwk);
    WriteText(gateway_set, "{\"keys\":[" + Trim(jwk) + "]}");
    WriteText(care_encryption, Node("genkey ECDH-ES care-encryption-2026"));
    WriteText(care_encryption_public, Shell("node " + kNodeTool + " public < " + care_encryption.string()));
    Shell("jose jwk gen -i '{\"alg\":\"ES256\",\"kid\":\"care-cmd-jose\"}' -o " + command_jose.string());
    WriteText(command_node, Node("genkey ES256 care-cmd-node"));
    const std::string jose_public = Trim(Shell("jose jwk pub -i " + command_jose.string()));
    const std::string node_public = Trim(Shell("node " + kNodeTool + " public < " + command_node.string()));
    WriteText(command_keys, "{\"keys\":[" + jose_public + "," + node_public + "]}");
    care_keys = *ehg::crypto::KeySet::FromFile(care_encryption);
    gateway_keys = *ehg::crypto::KeySet::FromFile(gateway_set);
  }

  std::string SecurityJson() const {
    return R"({"gateway_key_file": ")" + gateway_key.string() + R"(", "recipient_key_file": ")" +
           care_encryption_public.string() + R"(", "command_keys_file": ")" + command_keys.string() + R"("})";
  }

  // In-process opening with the care system's private key, for finding events among raw messages.
  std::optional<std::string> Open(const std::string& payload) const {
    auto opened = ehg::crypto::OpenEnvelope(payload, care_keys, gateway_keys);
    if (!opened) return std::nullopt;
    return opened->body;
  }

  // A command signed with the jose tool (latchset).
  std::string SignWithJoseTool(const std::string& command_json, const std::string& jti,
                               std::int64_t exp_offset = 300,
                               const std::string& audience = "0301/gw-it-01") const {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const fs::path claims = dir / ("claims-" + jti + ".json");
    WriteText(claims, R"({"aud":")" + audience + R"(","iat":)" + std::to_string(now) + R"(,"exp":)" +
                          std::to_string(now + exp_offset) + R"(,"jti":")" + jti + R"(","command":)" +
                          command_json + "}");
    return Trim(Shell("jose jws sig -I " + claims.string() + " -k " + command_jose.string() +
                      " -s '{\"protected\":{\"kid\":\"care-cmd-jose\"}}' -c -o-"));
  }

  // A command signed with npm jose; `key` may be another key file than the care system's.
  std::string SignWithNode(const std::string& command_json, const std::string& jti,
                           std::int64_t exp_offset = 0, const std::string& audience = "0301/gw-it-01",
                           const fs::path& key = {}) const {
    const fs::path input = dir / ("command-" + jti + ".json");
    WriteText(input, command_json);
    return Trim(Shell("node " + kNodeTool + " sign " + (key.empty() ? command_node : key).string() + " " +
                      audience + " " + jti + " 300 " + std::to_string(exp_offset) + " < " + input.string()));
  }
};

ehg::test::DaemonConfigOptions SecureOptions(const TestBroker& broker, const Keys& keys) {
  ehg::test::DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.oximeter_interval_seconds = 3600;  // one SpO2 reading at start: one alert
  options.cuff_interval_seconds = 0.5;
  options.rules =
      R"([{"id": "spo2-any", "kind": "threshold", "metric": "spo2", "above": 30, "severity": "high"}])";
  options.uplink_json = R"({"observation_batch_window_ms": 200})";
  options.security_json = keys.SecurityJson();
  return options;
}

// Opened events of one kind, in arrival order (duplicates kept).
std::vector<std::string> OpenedOfKind(const Keys& keys, const std::vector<ReceivedMessage>& messages,
                                      const std::string& topic_suffix) {
  std::vector<std::string> bodies;
  for (const ReceivedMessage& message : messages) {
    if (!message.topic.ends_with(topic_suffix)) continue;
    if (auto body = keys.Open(message.payload)) bodies.push_back(*body);
  }
  return bodies;
}

std::optional<Poco::JSON::Object::Ptr> ResultFor(const Keys& keys,
                                                 const std::vector<ReceivedMessage>& messages,
                                                 const std::string& command_id) {
  for (const std::string& body : OpenedOfKind(keys, messages, "cmd/result")) {
    auto result = FloorJson(body);
    if (!result->isNull("command_id") && result->getValue<std::string>("command_id") == command_id)
      return result;
  }
  return std::nullopt;
}

int Stop(Process& daemon) {
  daemon.Signal(SIGTERM);
  return daemon.Wait(15s).value_or(-1);
}

// The keys, a broker, a subscriber that sees what the broker sees (and publishes commands), and the
// gateway's data folder.
struct Setup {
  Keys keys;
  TestBroker broker;
  TempDir dir;
  std::unique_ptr<TestReceiver> raw;

  Setup() {
    broker.Start();
    raw = std::make_unique<TestReceiver>(broker, false);
  }
  ehg::test::DaemonConfigOptions Options() const { return SecureOptions(broker, keys); }
  fs::path Config(const ehg::test::DaemonConfigOptions& options) const {
    return ehg::test::WriteDaemonConfig(dir.path(), options);
  }
  Process StartGateway() const { return ehg::test::StartDaemon(Config(Options())); }
  // The first alert event, opened (it is published after the gateway subscribed to its commands).
  Poco::JSON::Object::Ptr FirstAlert() const {
    REQUIRE(raw->WaitFor(
        [&](const auto& messages) { return !OpenedOfKind(keys, messages, "event/alert").empty(); }, 20s));
    return FloorJson(OpenedOfKind(keys, raw->Messages(), "event/alert").front());
  }
  void SendCommand(const std::string& payload) const {
    raw->Publish(std::string(kFloorTopicBase) + "cmd", payload);
  }
  Poco::JSON::Object::Ptr Result(const std::string& command_id) const {
    REQUIRE(raw->WaitFor(
        [&](const auto& messages) { return ResultFor(keys, messages, command_id).has_value(); }, 15s));
    return *ResultFor(keys, raw->Messages(), command_id);
  }
};

}  // namespace

TEST_CASE("Events leave sealed, and the jose tool and npm jose each decrypt and verify them") {
  Setup setup;
  const Keys& keys = setup.keys;
  const TempDir& dir = setup.dir;
  Process daemon = setup.StartGateway();
  REQUIRE(setup.raw->WaitFor(
      [&](const std::vector<ReceivedMessage>& messages) {
        return !OpenedOfKind(keys, messages, "event/alert").empty() &&
               !OpenedOfKind(keys, messages, "event/observation").empty();
      },
      20s));
  REQUIRE(Stop(daemon) == 0);
  CHECK(daemon.Output().find("msg=\"payloads sealed end to end\"") != std::string::npos);

  std::string alert_payload;
  std::string observation_payload;
  for (const ReceivedMessage& message : setup.raw->Messages()) {
    if (message.topic.ends_with("event/alert") && alert_payload.empty()) alert_payload = message.payload;
    if (message.topic.ends_with("event/observation") && observation_payload.empty())
      observation_payload = message.payload;
    if (message.topic.ends_with("/status")) continue;
    // What the broker sees: five base64url parts, nothing readable about the resident.
    CAPTURE(message.topic);
    CHECK(std::count(message.payload.begin(), message.payload.end(), '.') == 4);
    CHECK(message.payload.find("r-it-0001") == std::string::npos);
    CHECK(message.payload.find("schema") == std::string::npos);
  }
  const std::string expected_alert = *keys.Open(alert_payload);
  CHECK(FloorJson(expected_alert)->getValue<std::string>("schema") == "ehealth-gateway/alert/v0");

  // Debian's jose tool: decrypt with the care system's key, then verify with the gateway's public key.
  WriteText(dir / "alert.jwe", alert_payload);
  Shell("jose jwe dec -i " + (dir / "alert.jwe").string() + " -k " + keys.care_encryption.string() + " -O " +
        (dir / "alert.jws").string());
  const std::string by_jose_tool = Shell("jose jws ver -i " + (dir / "alert.jws").string() + " -k " +
                                         keys.gateway_public.string() + " -O-");
  CHECK(Trim(by_jose_tool) == expected_alert);
  // The same envelope with the wrong key: the tool refuses it.
  CHECK(RunCommand({"/bin/sh", "-c",
                    "jose jwe dec -i " + (dir / "alert.jwe").string() + " -k " + keys.command_jose.string()})
            .exit_code != 0);

  // npm jose, with the algorithms pinned (ECDH-ES, A256GCM, ES256) and the inner kid checked.
  const std::string by_node = Node("open " + keys.care_encryption.string() + " " +
                                   keys.gateway_public.string() + " < " + (dir / "alert.jwe").string());
  CHECK(Trim(by_node) == expected_alert);

  // The observations: a FHIR Bundle that an independent validator (npm fhir) accepts.
  WriteText(dir / "observation.jwe", observation_payload);
  const std::string bundle =
      Trim(Node("open " + keys.care_encryption.string() + " " + keys.gateway_public.string() + " < " +
                (dir / "observation.jwe").string()));
  CHECK(FloorJson(bundle)->getValue<std::string>("resourceType") == "Bundle");
  WriteText(dir / "bundle.json", bundle);
  CHECK(Node("validate-fhir < " + (dir / "bundle.json").string()).find("\"valid\":true") !=
        std::string::npos);
}

TEST_CASE("Commands signed by the jose tool and by npm jose are accepted and answered with sealed results") {
  Setup setup;
  const Keys& keys = setup.keys;
  const TempDir& dir = setup.dir;
  Process daemon = setup.StartGateway();
  const auto alert = setup.FirstAlert();
  const std::string alert_id = alert->getValue<std::string>("alert_id");

  setup.SendCommand(keys.SignWithJoseTool(R"({"id":"c-jose","type":"ping"})", "jti-jose-1"));
  setup.SendCommand(keys.SignWithNode(R"({"id":"c-node","type":"status"})", "jti-node-1"));
  setup.SendCommand(keys.SignWithNode(
      R"({"id":"c-ack","type":"alert.ack","alert_id":")" + alert_id + R"(","by":"nurse-0417"})",
      "jti-node-2"));
  CHECK(setup.Result("c-ack")->getValue<std::string>("status") == "ok");
  CHECK(setup.Result("c-jose")->getValue<std::string>("detail") == "pong");
  CHECK(setup.Result("c-node")->getValue<std::string>("detail") == "status published");
  const auto messages = setup.raw->Messages();
  // The result of a command, opened by npm jose too.
  for (const ReceivedMessage& message : messages) {
    if (!message.topic.ends_with("cmd/result")) continue;
    WriteText(dir / "result.jwe", message.payload);
    const auto result = FloorJson(Node("open " + keys.care_encryption.string() + " " +
                                       keys.gateway_public.string() + " < " + (dir / "result.jwe").string()));
    CHECK(result->getValue<std::string>("schema") == "ehealth-gateway/command-result/v0");
    break;
  }
  REQUIRE(Stop(daemon) == 0);
  SQLite::Database db((dir / "data/gateway.db").string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM seen_commands").getInt() == 3);
}

TEST_CASE("Refused commands are logged with their reason and change nothing, across a restart too") {
  Setup setup;
  const Keys& keys = setup.keys;
  const auto config = setup.Config(setup.Options());
  auto daemon = std::make_unique<Process>(ehg::test::StartDaemon(config));
  const std::string alert_id = setup.FirstAlert()->getValue<std::string>("alert_id");
  const std::string ack =
      R"({"id":"c-bad","type":"alert.ack","alert_id":")" + alert_id + R"(","by":"intruder"})";

  // One accepted command first; its exact bytes are replayed below.
  const std::string accepted = keys.SignWithJoseTool(R"({"id":"c-ok","type":"ping"})", "jti-once");
  setup.SendCommand(accepted);
  setup.Result("c-ok");

  const TempDir other;
  const fs::path stranger = other / "stranger.jwk";
  WriteText(stranger, Node("genkey ES256 stranger"));
  const fs::path impostor = other / "impostor.jwk";  // a key of its own that claims the care system's kid
  WriteText(impostor, Node("genkey ES256 care-cmd-node"));
  std::string tampered = keys.SignWithNode(ack, "jti-t");
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  const std::string signed_ack = keys.SignWithNode(ack, "jti-s");
  const std::string payload_part =
      signed_ack.substr(signed_ack.find('.') + 1, signed_ack.rfind('.') - signed_ack.find('.') - 1);
  const std::string alg_none =
      ehg::crypto::Base64UrlEncode(std::string_view(R"({"alg":"none","kid":"care-cmd-node"})")) + "." +
      payload_part + ".";

  const std::vector<std::pair<std::string, std::string>> refusals = {
      {tampered, "bad_signature"},
      {keys.SignWithNode(ack, "jti-i", 0, "0301/gw-it-01", impostor), "bad_signature"},
      {keys.SignWithNode(ack, "jti-u", 0, "0301/gw-it-01", stranger), "unknown_key"},
      {keys.SignWithNode(ack, "jti-e", -600), "expired"},
      {keys.SignWithJoseTool(ack, "jti-a", 300, "0301/gw-other"), "wrong_audience"},
      // The same gateway id in another municipality, and the bare gateway id without a tenant.
      {keys.SignWithJoseTool(ack, "jti-m", 300, "0302/gw-it-01"), "wrong_audience"},
      {keys.SignWithNode(ack, "jti-b", 0, "gw-it-01"), "wrong_audience"},
      {ack, "malformed"},  // unsigned: a bare JSON command
      {alg_none, "unsigned"},
      {accepted, "replayed"},
  };
  for (const auto& [payload, reason] : refusals)
    setup.SendCommand(payload);
  // Commands are taken in order: once this one is answered, every refusal above has been decided.
  setup.SendCommand(keys.SignWithNode(R"({"id":"c-last","type":"ping"})", "jti-last"));
  setup.Result("c-last");
  const std::string output = daemon->Output();
  for (const auto& [payload, reason] : refusals) {
    const auto& refusal_reason = reason;  // clang 14 cannot capture a structured binding
    CAPTURE(refusal_reason);
    CHECK(output.find("msg=\"command refused\" reason=" + reason) != std::string::npos);
  }
  CHECK_FALSE(ResultFor(keys, setup.raw->Messages(), "c-bad").has_value());

  // A restart keeps the replay window.
  REQUIRE(Stop(*daemon) == 0);
  daemon = std::make_unique<Process>(ehg::test::StartDaemon(config));
  REQUIRE(daemon->WaitForOutput("msg=\"broker connected\"", 15s));
  setup.SendCommand(accepted);
  CHECK(daemon->WaitForOutput("msg=\"command refused\" reason=replayed", 10s));
  REQUIRE(Stop(*daemon) == 0);

  SQLite::Database db((setup.dir / "data/gateway.db").string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM alerts WHERE state = 'acknowledged'").getInt() == 0);
  CHECK(db.execAndGet("SELECT count(*) FROM seen_commands").getInt() == 2);  // c-ok and c-last only
}

TEST_CASE("A gateway refuses to start with a key file others may read, or without its keys") {
  Keys keys;
  // The public half for enrolment, again: the same JWK keygen printed, or PEM.
  auto jwk = RunCommand({EHG_GATEWAY_BINARY, "public-key", "--key", keys.gateway_key.string()});
  REQUIRE(jwk.exit_code == 0);
  CHECK(Trim(jwk.output) == Trim(ReadText(keys.gateway_public)));
  auto pem =
      RunCommand({EHG_GATEWAY_BINARY, "public-key", "--key", keys.gateway_key.string(), "--format", "pem"});
  REQUIRE(pem.exit_code == 0);
  CHECK(pem.output.starts_with("-----BEGIN PUBLIC KEY-----"));
  CHECK(ehg::crypto::EcKey::FromPem(pem.output)->id() == ehg::crypto::EcKey::FromJwkText(jwk.output)->id());
  // keygen never overwrites.
  auto again = RunCommand({EHG_GATEWAY_BINARY, "keygen", "--out", keys.gateway_key.string()});
  CHECK(again.exit_code == 1);
  CHECK(again.output.find("never overwritten") != std::string::npos);
  TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.security_json = keys.SecurityJson();
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  fs::permissions(keys.gateway_key, fs::perms::group_read, fs::perm_options::add);
  auto readable = RunCommand(ehg::test::DaemonCommand(config), 15s);
  CHECK(readable.exit_code == 78);
  CHECK(readable.output.find("chmod 600 " + keys.gateway_key.string()) != std::string::npos);
  fs::remove(keys.gateway_key);
  auto missing = RunCommand(ehg::test::DaemonCommand(config), 15s);
  CHECK(missing.exit_code == 78);
  CHECK(missing.output.find("ehealth-gateway keygen --out") != std::string::npos);
}

namespace {

Process StartReceiver(const TestBroker& broker, const Keys& keys, const std::string& client_id) {
  const TestPki& pki = TestPki::Get();
  return Process::Start({EHG_CARE_BINARY,
                         "receive",
                         "--broker",
                         broker.Uri(),
                         "--cafile",
                         pki.File("ca.crt").string(),
                         "--cert",
                         pki.File("receiver.crt").string(),
                         "--key",
                         pki.File("receiver.key").string(),
                         "--client-id",
                         client_id,
                         "--group",
                         "care",
                         "--tenant",
                         "0301",
                         "--decryption-key",
                         keys.care_encryption.string(),
                         "--gateway-keys",
                         keys.gateway_set.string(),
                         "--signing-key",
                         keys.command_node.string()});
}

struct ReceivedLine {
  std::string kind;
  std::string event_id;
  Poco::JSON::Object::Ptr body;
};

std::vector<ReceivedLine> EventLines(const Process& receiver) {
  std::vector<ReceivedLine> lines;
  for (const std::string& line : receiver.Lines()) {
    if (!line.starts_with("{\"received\"")) continue;
    auto object = FloorJson(line);
    lines.push_back({object->getValue<std::string>("kind"), object->getValue<std::string>("event_id"),
                     object->getObject("body")});
  }
  return lines;
}

// device|metric|effective ms of each measured value in the received Observations.
std::set<std::string> ObservationKeys(const std::vector<ReceivedLine>& lines) {
  std::set<std::string> keys;
  for (const ReceivedLine& line : lines) {
    if (line.kind != "observation") continue;
    auto identifiers = line.body->getArray("identifier");
    for (std::size_t i = 0; i < identifiers->size(); ++i) {
      const auto identifier = identifiers->getObject(static_cast<unsigned>(i));
      if (identifier->getValue<std::string>("system") == "urn:ietf:rfc:3986") continue;  // an event id
      keys.insert(ehg::test::ObservationKeyOf(identifier->getValue<std::string>("value")));
    }
  }
  return keys;
}

}  // namespace

// mosquitto 2.0.11 does not restore a shared subscription after a restart: what the gateway publishes
// before the receivers subscribe again is acknowledged by the broker and received by nobody. Only the
// care system's receipts make that lose nothing (docs/mqtt.md, "End-to-end receipts").
TEST_CASE(
    "Two receivers in one shared subscription split the stream, and broker restarts that forget the "
    "subscription lose nothing: every event waits for its receipt") {
  Keys keys;
  TestBroker broker;
  broker.Start();
  Process first = StartReceiver(broker, keys, "care-rx-a");
  Process second = StartReceiver(broker, keys, "care-rx-b");
  REQUIRE(first.WaitForOutput("receive: subscribed", 10s));
  REQUIRE(second.WaitForOutput("receive: subscribed", 10s));

  TempDir dir;
  auto options = SecureOptions(broker, keys);
  options.oximeter_interval_seconds = 0.1;
  options.cuff_interval_seconds = 0.3;
  options.uplink_json =
      R"({"observation_batch_window_ms": 100, "observation_batch_max": 5, "receipt_resend_seconds": 5})";
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  const auto alert_line = [&]() -> std::optional<ReceivedLine> {
    for (const Process* receiver : {&first, &second}) {
      for (ReceivedLine& line : EventLines(*receiver)) {
        if (line.kind == "alert") return line;
      }
    }
    return std::nullopt;
  };
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!alert_line() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  REQUIRE(alert_line());
  // A care worker acknowledges through the first receiver (a command line on its stdin).
  const std::string alert_id = alert_line()->body->getValue<std::string>("alert_id");
  first.WriteInput(R"({"gateway":"gw-it-01","command":{"id":"c-rx-ack","type":"alert.ack","alert_id":")" +
                   alert_id +
                   R"(","by":"nurse-0417"}})"
                   "\n");
  std::this_thread::sleep_for(1s);
  // The gateway reconnects within a second, the receivers after two: each restart loses what the
  // gateway sends in between, unless it is sent again for want of a receipt.
  for (int restart = 0; restart < 3; ++restart) {
    broker.Stop();
    broker.Start();
    std::this_thread::sleep_for(2500ms);
  }
  REQUIRE(Stop(daemon) == 0);
  // The rest of the outbox goes out with the devices off.
  options.devices = false;
  Process drain = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(drain.WaitForOutput("msg=\"broker connected\"", 15s));
  const auto outbox_rows = [&] {
    SQLite::Database db((dir / "data/gateway.db").string(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    return db.execAndGet("SELECT count(*) FROM outbox").getInt();
  };
  const auto drain_deadline = std::chrono::steady_clock::now() + 60s;
  while (outbox_rows() > 0 && std::chrono::steady_clock::now() < drain_deadline)
    std::this_thread::sleep_for(200ms);
  CHECK(outbox_rows() == 0);  // every event got its receipt from whichever receiver had it
  REQUIRE(Stop(drain) == 0);
  const auto resends = [](const std::string& output) {
    std::size_t count = 0;
    for (auto at = output.find("sent again: no receipt yet"); at != std::string::npos;
         at = output.find("sent again: no receipt yet", at + 1))
      ++count;
    return count;
  };
  MESSAGE("messages sent again for want of a receipt: " << resends(daemon.Output() + drain.Output()));
  std::this_thread::sleep_for(1s);
  first.Signal(SIGTERM);
  second.Signal(SIGTERM);
  REQUIRE(first.Wait(10s) == 0);
  REQUIRE(second.Wait(10s) == 0);

  const auto lines_a = EventLines(first);
  const auto lines_b = EventLines(second);
  std::set<std::string> ids_a;
  std::set<std::string> ids_b;
  for (const auto& line : lines_a)
    ids_a.insert(line.event_id);
  for (const auto& line : lines_b)
    ids_b.insert(line.event_id);
  CHECK(ids_a.size() == lines_a.size());  // each receiver printed each event once
  CHECK(ids_b.size() == lines_b.size());
  std::vector<std::string> both;
  std::set_intersection(ids_a.begin(), ids_a.end(), ids_b.begin(), ids_b.end(), std::back_inserter(both));
  // Each receiver keeps its own seen ids only: an event sent again for want of a receipt (a copy lost
  // in a restart, or its receipt) may reach the other one. At least once across the group; a care
  // system that stores in one place (the hub: one row per event id) sees it once.
  MESSAGE("receiver a: " << lines_a.size() << " events, receiver b: " << lines_b.size() << " events, "
                         << both.size() << " at both");
  CHECK(lines_a.size() > 10);  // the group really split the load
  CHECK(lines_b.size() > 10);

  // Nothing lost: every stored reading arrived as part of an Observation at one of the two.
  std::set<std::string> received = ObservationKeys(lines_a);
  received.merge(ObservationKeys(lines_b));
  const std::set<std::string> stored = ehg::test::StoredReadingKeys(dir / "data/gateway.db");
  SQLite::Database db((dir / "data/gateway.db").string(), SQLite::OPEN_READONLY);
  CHECK(stored.size() > 30);
  CHECK(received == stored);

  // The acknowledgement sent on request was carried out and its result came back.
  bool acknowledged = false;
  for (const auto* lines : {&lines_a, &lines_b}) {
    for (const auto& line : *lines) {
      if (line.kind == "command_result" && line.body->getValue<std::string>("command_id") == "c-rx-ack") {
        acknowledged = line.body->getValue<std::string>("status") == "ok";
      }
    }
  }
  CHECK(acknowledged);
  CHECK(db.execAndGet("SELECT count(*) FROM alerts WHERE state = 'acknowledged'").getInt() == 1);
}

TEST_CASE(
    "The receiver refuses tampered envelopes, ones not meant for its key, and bodies of another gateway") {
  Keys keys;
  TestBroker broker;
  broker.Start();
  Process receiver = StartReceiver(broker, keys, "care-rx-solo");
  REQUIRE(receiver.WaitForOutput("receive: subscribed", 10s));
  TestReceiver publisher(broker, false);
  const auto gateway_key = ehg::crypto::LoadPrivateKeyFile(keys.gateway_key);
  const auto other_care = ehg::crypto::EcKey::Generate();
  REQUIRE((gateway_key && other_care));
  // The other key under the care system's kid: only the tag check can tell.
  std::string forged_jwk = other_care->Jwk(true);
  forged_jwk.replace(forged_jwk.find(other_care->id()), other_care->id().size(), "care-encryption-2026");
  const auto forged = ehg::crypto::EcKey::FromJwkText(forged_jwk);
  REQUIRE(forged);
  const std::string body =
      R"({"schema":"ehealth-gateway/device/v0","event_id":"01a21869-2cc0-7002-a82f-000000000001","gateway":"gw-it-01"})";
  const std::string other_gateway =
      R"({"schema":"ehealth-gateway/device/v0","event_id":"01a21869-2cc0-7002-a82f-000000000002","gateway":"gw-it-99"})";
  const auto care_public = ehg::crypto::LoadKeyFile(keys.care_encryption_public);
  publisher.Publish(std::string(kFloorTopicBase) + "event/device",
                    *ehg::crypto::SealEnvelope(body, *gateway_key, *other_care));
  publisher.Publish(std::string(kFloorTopicBase) + "event/device",
                    *ehg::crypto::SealEnvelope(body, *gateway_key, *forged));
  publisher.Publish(std::string(kFloorTopicBase) + "event/device",
                    *ehg::crypto::SealEnvelope(other_gateway, *gateway_key, *care_public));
  std::string tampered = *ehg::crypto::SealEnvelope(body, *gateway_key, *care_public);
  const auto ciphertext_at = tampered.rfind('.') - 10;  // inside the ciphertext part
  tampered[ciphertext_at] = tampered[ciphertext_at] == 'A' ? 'B' : 'A';
  publisher.Publish(std::string(kFloorTopicBase) + "event/device", tampered);
  publisher.Publish(std::string(kFloorTopicBase) + "event/device",
                    *ehg::crypto::SealEnvelope(body, *gateway_key, *care_public));
  publisher.Publish(std::string(kFloorTopicBase) + "event/device",
                    *ehg::crypto::SealEnvelope(body, *gateway_key, *care_public));
  REQUIRE(receiver.WaitForOutput("\"event_id\":\"01a21869-2cc0-7002-a82f-000000000001\"", 10s));
  std::this_thread::sleep_for(500ms);
  receiver.Signal(SIGTERM);
  REQUIRE(receiver.Wait(10s) == 0);
  const std::string output = receiver.Output();
  CHECK(
      output.find("msg=\"message refused\" topic=ehealth/v1/0301/gw-it-01/event/device reason=unknown_key") !=
      std::string::npos);
  CHECK(output.find("reason=decryption_failed") != std::string::npos);  // the forged kid, the tampered one
  CHECK(output.find("reason=gateway_mismatch") != std::string::npos);
  CHECK(EventLines(receiver).size() == 1);  // the good one, once (the second copy was a duplicate)
  CHECK(output.find("1 events, 1 duplicates, 4 refused") != std::string::npos);
}

TEST_CASE(
    "config.apply and rules.apply replace the config atomically or not at all, update.request waits for no "
    "critical alert") {
  Setup setup;
  const Keys& keys = setup.keys;
  auto options = setup.Options();
  options.cuff_interval_seconds = 3600;
  const auto config = setup.Config(options);
  const std::string original = ReadText(config);
  Process daemon = ehg::test::StartDaemon(config);
  // The online status follows the subscription to commands: from here on none is missed.
  const auto statuses = [](const std::vector<ReceivedMessage>& messages) {
    return std::count_if(messages.begin(), messages.end(),
                         [](const ReceivedMessage& message) { return message.topic.ends_with("/status"); });
  };
  REQUIRE(setup.raw->WaitFor([&](const auto& messages) { return statuses(messages) >= 1; }, 15s));
  const auto command_key = ehg::crypto::LoadKeyFile(keys.command_node);
  REQUIRE(command_key);
  int sequence = 0;
  const auto send = [&](const std::string& command_json) {
    auto signed_command = ehg::care::SignCommand(
        *command_key, "0301", "gw-it-01", command_json, "jti-apply-" + std::to_string(++sequence),
        ehg::core::WallTime(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())),
        300s);
    REQUIRE(signed_command);
    setup.SendCommand(*signed_command);
  };
  const auto result = [&](const std::string& id) { return setup.Result(id); };
  const auto quoted = [](const std::string& text) { return ehg::core::JsonQuote(text); };

  // Invalid: refused with the first error, and the file is untouched.
  std::string broken = original;
  broken.replace(broken.find("\"r-it-0001\""), 11, "\"12345678901\"");
  send(R"({"id":"c-bad-config","type":"config.apply","config":)" + quoted(broken) + "}");
  const auto refused = result("c-bad-config");
  CHECK(refused->getValue<std::string>("status") == "rejected");
  CHECK(refused->getValue<std::string>("detail").find("resident.pseudonym") != std::string::npos);
  CHECK(ReadText(config) == original);
  // Another gateway's identity: refused.
  std::string renamed = original;
  renamed.replace(renamed.find("\"gw-it-01\""), 10, "\"gw-it-02\"");
  send(R"({"id":"c-renamed","type":"config.apply","config":)" + quoted(renamed) + "}");
  CHECK(result("c-renamed")->getValue<std::string>("status") == "rejected");
  // A file it names is a FIFO: refused at once, naming the key (the uplink thread, which checks it,
  // never waits on it), and the file is untouched.
  const fs::path fifo = setup.dir / "token.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string names_fifo = original;
  const auto page_at = names_fifo.find("\"status_page\": ");
  REQUIRE(page_at != std::string::npos);
  names_fifo.replace(page_at, names_fifo.find('}', page_at) + 1 - page_at,
                     R"("status_page": {"listen": "127.0.0.1:1", "token_file": ")" + fifo.string() + R"("})");
  send(R"({"id":"c-fifo","type":"config.apply","config":)" + quoted(names_fifo) + "}");
  const auto fifo_refused = result("c-fifo");
  CHECK(fifo_refused->getValue<std::string>("status") == "rejected");
  CHECK(fifo_refused->getValue<std::string>("detail").find("status_page.token_file") != std::string::npos);
  CHECK(ReadText(config) == original);

  // The security floor: a signed config that switches on plaintext payloads (and with them unsigned
  // commands), or moves the broker to plaintext elsewhere, is refused naming the keys; nothing changes.
  std::string plaintext = original;
  const auto security_at = plaintext.find("\"security\": {") + 13;
  plaintext.insert(security_at, R"("insecure_plaintext_payloads_for_development": true, )");
  std::string moved = original;
  const auto broker_at = moved.find("\"broker\": {") + 11;
  moved.insert(broker_at, R"("insecure_plaintext_for_development": true, )");
  const auto uri_at = moved.find("\"uri\": \"") + 8;
  moved.replace(uri_at, moved.find('"', uri_at) - uri_at, "tcp://127.0.0.1:1");
  for (const auto& [id, text, floor_keys] :
       std::vector<std::tuple<std::string, std::string, std::vector<std::string>>>{
           {"c-plaintext", plaintext, {"security.insecure_plaintext_payloads_for_development"}},
           {"c-moved", moved, {"broker.insecure_plaintext_for_development", "broker.uri"}}}) {
    const auto& command_id = id;  // clang 14 cannot capture a structured binding
    CAPTURE(command_id);
    REQUIRE(ehg::config::ParseConfig(text, config.parent_path()).has_value());  // valid, only not allowed
    send(R"({"id":")" + id + R"(","type":"config.apply","config":)" + quoted(text) + "}");
    const auto floor = result(id);
    CHECK(floor->getValue<std::string>("status") == "rejected");
    for (const std::string& key : floor_keys)
      CHECK(floor->getValue<std::string>("detail").find(key) != std::string::npos);
    CHECK(ReadText(config) == original);
  }
  CHECK(daemon.Output().find("msg=\"remote config refused: it touches the security floor\"") !=
        std::string::npos);

  // Valid (the log level changes): written, the previous file kept, reloaded.
  std::string changed = original;
  const auto level_at = changed.find("\"log_level\": \"") + 14;
  const auto level_end = changed.find('"', level_at);
  changed.replace(level_at, level_end - level_at,
                  changed.substr(level_at, level_end - level_at) == "info" ? "warning" : "info");
  REQUIRE(changed != original);
  send(R"({"id":"c-good-config","type":"config.apply","config":)" + quoted(changed) + "}");
  const auto applied = result("c-good-config");
  CHECK(applied->getValue<std::string>("status") == "ok");
  CHECK(daemon.WaitForOutput("msg=\"reloading config\"", 10s));
  CHECK(ReadText(config) == changed);
  CHECK(ReadText(config.string() + ".previous") == original);

  // rules.apply: only the rules change, checked as a whole config; the rest of the file (the log level
  // just set among it) stays byte for byte.
  send(
      R"({"id":"c-bad-rules","type":"rules.apply","rules":[{"id":"x","kind":"threshold","metric":"spo2"}]})");
  const auto bad_rules = result("c-bad-rules");
  CHECK(bad_rules->getValue<std::string>("status") == "rejected");
  CHECK(bad_rules->getValue<std::string>("detail").find("rules[0]") != std::string::npos);
  CHECK(ReadText(config) == changed);
  send(R"({"id":"c-rules","type":"rules.apply","rules":[{"id":"spo2-floor","kind":"threshold",)"
       R"("metric":"spo2","below":85,"severity":"critical"}]})");
  const auto rules_applied = result("c-rules");
  CHECK(rules_applied->getValue<std::string>("status") == "ok");
  CHECK(rules_applied->getValue<std::string>("detail").starts_with("rules replaced; config written"));
  const std::string with_rules = ReadText(config);
  const auto rules_at = changed.find("\"rules\": ");
  REQUIRE(rules_at != std::string::npos);
  CHECK(with_rules.substr(0, rules_at) == changed.substr(0, rules_at));
  auto reread = ehg::config::ParseConfig(with_rules, config.parent_path());
  REQUIRE(reread.has_value());
  REQUIRE(reread->rules.size() == 1);
  CHECK(ReadText(config.string() + ".previous") == changed);

  // update.request: written for the update helper while no critical alert is open...
  send(R"({"id":"c-update","type":"update.request","version":"0.2.0-1"})");
  CHECK(result("c-update")->getValue<std::string>("status") == "ok");
  const std::string request = ReadText(setup.dir / "data/update-request.json");
  CHECK(request.find("\"version\":\"0.2.0-1\"") != std::string::npos);
  CHECK(request.find("\"command_id\":\"c-update\"") != std::string::npos);
  send(R"({"id":"c-update-shell","type":"update.request","version":"1.0; rm -rf /"})");
  CHECK(result("c-update-shell")->getValue<std::string>("status") == "rejected");
  REQUIRE(Stop(daemon) == 0);

  // ...and refused while one is open (a gateway whose first reading raises a critical alert).
  TempDir critical_dir;
  auto critical = setup.Options();
  critical.rules =
      R"([{"id": "spo2-any", "kind": "threshold", "metric": "spo2", "above": 30, "severity": "critical"}])";
  const auto statuses_before = statuses(setup.raw->Messages());
  Process again = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(critical_dir.path(), critical));
  REQUIRE(again.WaitForOutput("msg=\"alert raised\"", 15s));
  REQUIRE(
      setup.raw->WaitFor([&](const auto& messages) { return statuses(messages) > statuses_before; }, 15s));
  send(R"({"id":"c-update-2","type":"update.request","version":"0.2.0-2"})");
  const auto blocked = result("c-update-2");
  CHECK(blocked->getValue<std::string>("status") == "rejected");
  CHECK(blocked->getValue<std::string>("detail").find("critical alert is open") != std::string::npos);
  CHECK_FALSE(fs::exists(critical_dir / "data/update-request.json"));
  REQUIRE(Stop(again) == 0);
}

TEST_CASE(
    "A key id or a signed note that is not UTF-8 is refused and never reaches the page, the CLI or an "
    "event") {
  Setup setup;
  const Keys& keys = setup.keys;
  auto options = setup.Options();
  options.status_page_json = R"({"listen": "127.0.0.1:)" + std::to_string(ehg::test::FreePort()) + R"("})";
  const auto config = setup.Config(options);
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("status page listening", 15s));
  const auto alert = setup.FirstAlert();
  const std::string alert_id = alert->getValue<std::string>("alert_id");

  // Unsigned, with a Latin-1 key id: refused before any key is looked up.
  const std::string latin1_kid =
      ehg::crypto::Base64UrlEncode(std::string_view("{\"alg\":\"ES256\",\"kid\":\"k\xE9y\"}")) + "." +
      ehg::crypto::Base64UrlEncode(std::string_view("{}")) + ".AAAA";
  setup.SendCommand(latin1_kid);
  // Signed by the care system, with a Latin-1 note: refused, so no signed event carries the bytes.
  const auto command_key = ehg::crypto::LoadKeyFile(keys.command_node);
  REQUIRE(command_key);
  const auto now = ehg::core::WallTime(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()));
  auto latin1_note = ehg::care::SignCommand(
      *command_key, "0301", "gw-it-01",
      R"({"id":"c-latin1","type":"alert.resolve","alert_id":")" + alert_id + "\",\"note\":\"Bes\xF8k\"}",
      "jti-latin1", now, 300s);
  REQUIRE(latin1_note);
  setup.SendCommand(*latin1_note);
  // A good command after them: once answered, both were decided.
  auto ping = ehg::care::SignCommand(*command_key, "0301", "gw-it-01", R"({"id":"c-after","type":"ping"})",
                                     "jti-after", now, 300s);
  REQUIRE(ping);
  setup.SendCommand(*ping);
  setup.Result("c-after");
  CHECK_FALSE(ResultFor(keys, setup.raw->Messages(), "c-latin1").has_value());
  CHECK(daemon.Output().find("invalid UTF-8") != std::string::npos);
  CHECK(ehg::core::IsValidUtf8(daemon.Output()));
  for (const std::string& body : OpenedOfKind(keys, setup.raw->Messages(), "")) {
    CHECK(ehg::core::IsValidUtf8(body));
  }

  const ehg::test::CommandResult cli =
      ehg::test::RunCommand({EHG_GATEWAY_BINARY, "status", "--json", "--config", config.string()});
  INFO(cli.output);
  CHECK(cli.exit_code != 3);
  CHECK(ehg::core::IsValidUtf8(cli.output));
  CHECK(cli.output.find("\"recent_problems\"") != std::string::npos);
  REQUIRE(Stop(daemon) == 0);
}
