// The installer's and operator's views of a running gateway: the page in a real browser (headless
// Chromium), /api/status against its published schema (Ajv), /metrics through Prometheus' own parser
// (promtool), no measurement values by default, the token and TLS beyond loopback, `status` and `scan`.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "devices/sim/bluez_simulator.hpp"
#include "gateway/core/utf8.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/private_bus.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Response {
  int status = 0;
  std::string body;
  std::string www_authenticate;
  std::string retry_after;
  std::string content_type;
  std::string content_security_policy;
};

struct SslLibrary {
  SslLibrary() { Poco::Net::initializeSSL(); }
  ~SslLibrary() { Poco::Net::uninitializeSSL(); }
};

// One GET; `tls` verifies the server against the test CA (the page uses the PKI's localhost certificate).
Response Get(int port, const std::string& path, const std::string& authorization = {}, bool tls = false) {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (tls) {
    Poco::Net::Context::Params params;
    params.caLocation = ehg::test::TestPki::Get().File("ca.crt").string();
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    params.loadDefaultCAs = false;
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    session = std::make_unique<Poco::Net::HTTPSClientSession>("localhost", static_cast<Poco::UInt16>(port),
                                                              context);
  } else {
    session = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", static_cast<Poco::UInt16>(port));
  }
  session->setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!authorization.empty()) request.set("Authorization", authorization);
  session->sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& body = session->receiveResponse(response);
  std::ostringstream text;
  Poco::StreamCopier::copyStream(body, text);
  return {static_cast<int>(response.getStatus()),
          text.str(),
          response.get("WWW-Authenticate", ""),
          response.get("Retry-After", ""),
          response.getContentType(),
          response.get("Content-Security-Policy", "")};
}

fs::path WriteTestFile(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string Command(const std::string& shell) {
  return ehg::test::RunCommand({"/bin/sh", "-c", shell}, 120s).output;
}

// Clinical values the gateway stored with a fractional part (temperatures, weights): none of them can
// appear in a page by chance, so finding one means a value leaked.
std::set<std::string> StoredFractionalValues(const fs::path& database) {
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  SQLite::Statement query(db, "SELECT DISTINCT value FROM readings WHERE metric != 'battery'");
  std::set<std::string> values;
  while (query.executeStep()) {
    const double value = query.getColumn(0).getDouble();
    if (value == std::floor(value)) continue;
    std::ostringstream text;
    text << std::setprecision(10) << value;
    values.insert(text.str());
  }
  return values;
}

std::set<std::string> DecimalTokens(const std::string& text) {
  std::set<std::string> tokens;
  const std::regex decimal(R"((\d+\.\d+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), decimal); it != std::sregex_iterator(); ++it)
    tokens.insert((*it)[1]);
  return tokens;
}

std::vector<std::string> Leaks(const std::set<std::string>& values, const std::string& text) {
  std::vector<std::string> leaked;
  for (const std::string& token : DecimalTokens(text)) {
    if (values.count(token) != 0) leaked.push_back(token);
  }
  return leaked;
}

struct HomeOptions {
  bool show_values = false;
  bool spo2_falls = true;  // the oximeter's SpO2 falls to 85 %: the high alert opens
};

// A gateway on simulated devices (an oximeter, a thermometer and a scale; the last two deliver decimal
// values), connected to a real broker, its page on a free loopback port.
struct SimulatedHome {
  explicit SimulatedHome(HomeOptions home = {}) : status_port(ehg::test::FreePort()) {
    broker.Start();
    ehg::test::DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
    options.devices_json = R"([
      {"id": "oximeter", "type": "sim", "profile": "pulse_oximeter", "interval_seconds": 0.2, "seed": 5,
       "artefact_rate": 0, "scenario": [{"after_seconds": 0, "spo2": )" +
                           std::string(home.spo2_falls ? "85" : "97") + R"(}]},
      {"id": "thermometer", "type": "sim", "profile": "thermometer", "interval_seconds": 0.3, "seed": 6},
      {"id": "scale", "type": "sim", "profile": "weight_scale", "interval_seconds": 0.3, "seed": 7}
    ])";
    options.rules =
        R"([{"id": "spo2-low", "kind": "threshold", "metric": "spo2", "below": 90, "severity": "high"}])";
    options.status_page_json = R"({"listen": "127.0.0.1:)" + std::to_string(status_port) +
                               R"(", "show_values": )" + (home.show_values ? "true" : "false") + "}";
    config = ehg::test::WriteDaemonConfig(dir.path(), options);
    database = dir / "data" / "gateway.db";
    daemon.emplace(ehg::test::StartDaemon(config));
    REQUIRE(daemon->WaitForOutput("status page listening", 15s));
    REQUIRE(daemon->WaitForOutput("broker connected", 15s));
    REQUIRE(ehg::test::WaitUntil(
        [&] {
          const std::string body = Get(status_port, "/api/status").body;
          return (!home.spo2_falls || body.find("\"rule\":\"spo2-low\"") != std::string::npos) &&
                 body.find("\"last_reading\":null") == std::string::npos;
        },
        20s));
  }

  ehg::test::TempDir dir;
  ehg::test::TestBroker broker;
  int status_port;
  fs::path config;
  fs::path database;
  std::optional<ehg::test::Process> daemon;
};

std::vector<std::string> ChromiumFlags(const fs::path& profile) {
  return {"/usr/bin/env",
          "chromium",
          "--headless",
          "--no-sandbox",  // tests run as root in a container
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-default-apps",
          "--disable-extensions",
          "--no-first-run",
          "--no-default-browser-check",
          "--metrics-recording-only",
          "--user-data-dir=" + profile.string(),
          "--window-size=412,1400"};  // a phone's width
}

}  // namespace

TEST_CASE("Headless Chromium shows the page of a gateway on simulated devices, and keeps a screenshot") {
  SimulatedHome home;
  const std::string url = "http://127.0.0.1:" + std::to_string(home.status_port) + "/";

  ehg::test::TempDir profile;
  std::vector<std::string> dump = ChromiumFlags(profile / "dump");
  dump.push_back("--dump-dom");
  dump.push_back(url);
  const ehg::test::CommandResult dom = ehg::test::RunCommand(dump, 120s);
  INFO(dom.output);
  REQUIRE(dom.exit_code == 0);
  // The rendered document: gateway, each device, the open alert with its severity, the uplink state.
  CHECK(dom.output.find("<h1>Gateway gw-it-01</h1>") != std::string::npos);
  for (const std::string device : {"oximeter", "thermometer", "scale"})
    CHECK(dom.output.find("data-device=\"" + device + "\"") != std::string::npos);
  CHECK(dom.output.find(
            "<article class=\"alert\" data-rule=\"spo2-low\"><h3>spo2-low <span class=\"badge high\">high") !=
        std::string::npos);
  CHECK(dom.output.find("Open alerts (1)") != std::string::npos);
  CHECK(std::regex_search(dom.output,
                          std::regex("<dt>State</dt><dd><span class=\"badge connected\">connected")));
  CHECK(dom.output.find("Measurement values are not shown.") != std::string::npos);

  const fs::path artifacts = fs::path(EHG_TEST_ARTIFACTS_DIR);
  fs::create_directories(artifacts);
  const fs::path screenshot = artifacts / "status-page.png";
  fs::remove(screenshot);
  std::vector<std::string> shoot = ChromiumFlags(profile / "shot");
  shoot.push_back("--screenshot=" + screenshot.string());
  shoot.push_back(url);
  const ehg::test::CommandResult shot = ehg::test::RunCommand(shoot, 120s);
  INFO(shot.output);
  REQUIRE(shot.exit_code == 0);
  REQUIRE(fs::exists(screenshot));
  std::ifstream png(screenshot, std::ios::binary);
  std::string magic(8, '\0');
  png.read(magic.data(), 8);
  CHECK(magic == "\x89PNG\r\n\x1a\n");
  CHECK(fs::file_size(screenshot) > 10'000);
}

TEST_CASE("The status API matches its schema and /metrics passes the Prometheus parser") {
  SimulatedHome home;
  const Response status = Get(home.status_port, "/api/status");
  REQUIRE(status.status == 200);
  CHECK(status.content_type == "application/json");
  CHECK(status.content_security_policy.find("default-src 'none'") != std::string::npos);
  const fs::path document = WriteTestFile(home.dir / "status.json", status.body);
  const std::string node_dir = std::string(EHG_SOURCE_DIR) + "/tests/interop/node";
  const ehg::test::CommandResult valid =
      ehg::test::RunCommand({"/usr/bin/env", "node", node_dir + "/validate-json-schema.mjs",
                             std::string(EHG_SOURCE_DIR) + "/docs/status-api.schema.json", document.string()},
                            60s);
  INFO(status.body);
  INFO(valid.output);
  CHECK(valid.exit_code == 0);

  // The schema check can fail: a document with an undocumented field does.
  const fs::path tampered = WriteTestFile(home.dir / "tampered.json", "{\"extra\": 1," + status.body.substr(1));
  CHECK(
      ehg::test::RunCommand({"/usr/bin/env", "node", node_dir + "/validate-json-schema.mjs",
                             std::string(EHG_SOURCE_DIR) + "/docs/status-api.schema.json", tampered.string()},
                            60s)
          .exit_code == 1);

  const auto json = Poco::JSON::Parser().parse(status.body).extract<Poco::JSON::Object::Ptr>();
  CHECK(json->getObject("uplink")->getValue<std::string>("state") == "connected");
  CHECK(json->getArray("devices")->size() == 3);
  CHECK(json->getArray("open_alerts")->getObject(0)->getValue<std::string>("severity") == "high");
  CHECK(json->getValue<std::string>("level") == "warning");  // the high alert is not acknowledged yet
  CHECK(json->getArray("attention")->getObject(0)->getValue<std::string>("code") == "alert_open");

  const Response metrics = Get(home.status_port, "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.content_type == "text/plain; version=0.0.4; charset=utf-8");
  const fs::path exposition = WriteTestFile(home.dir / "metrics.txt", metrics.body);
  // promtool parses with Prometheus' own text parser and lints names, types and help texts; any
  // finding makes it exit non-zero.
  const ehg::test::CommandResult lint =
      ehg::test::RunCommand({"/bin/sh", "-c", "promtool check metrics < " + exposition.string()}, 60s);
  INFO(metrics.body);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
  CHECK(lint.output.empty());
  CHECK(std::regex_search(metrics.body,
                          std::regex(R"(ehg_readings_total\{device="oximeter",metric="spo2"\} [1-9])")));
  CHECK(metrics.body.find("ehg_parse_errors_total{device=\"scale\"} 0") != std::string::npos);
  CHECK(metrics.body.find("ehg_alerts_raised_total{severity=\"high\"} 1") != std::string::npos);
  CHECK(std::regex_search(metrics.body, std::regex(R"(ehg_publish_latency_seconds_count [1-9])")));
  CHECK(metrics.body.find("ehg_uplink_connected 1") != std::string::npos);
  CHECK(std::regex_search(metrics.body, std::regex(R"(ehg_outbox_events \d+)")));

  // The lint can fail: a counter without _total is a finding.
  const fs::path bad =
      WriteTestFile(home.dir / "bad.txt", "# HELP x_things x\n# TYPE x_things counter\nx_things 1\n");
  CHECK(ehg::test::RunCommand({"/bin/sh", "-c", "promtool check metrics < " + bad.string()}, 60s).exit_code !=
        0);

  CHECK(Get(home.status_port, "/nothing").status == 404);
}

TEST_CASE("With the default config no measurement value appears in the page, the API or the metrics") {
  SimulatedHome home;
  // Temperatures and weights with decimals were stored before the page was read.
  REQUIRE(ehg::test::WaitUntil([&] { return StoredFractionalValues(home.database).size() >= 5; }, 20s));
  const std::string page = Get(home.status_port, "/").body;
  const std::string api = Get(home.status_port, "/api/status").body;
  const std::string metrics = Get(home.status_port, "/metrics").body;
  const std::set<std::string> values = StoredFractionalValues(home.database);
  CHECK(Leaks(values, page).empty());
  CHECK(Leaks(values, api).empty());
  CHECK(Leaks(values, metrics).empty());
  CHECK(api.find("last_values") == std::string::npos);
  CHECK(api.find("\"detail\"") == std::string::npos);
  for (const std::string metric : {"spo2", "pulse_rate", "body_temperature", "body_weight"})
    CHECK(page.find("<dt>" + metric + "</dt>") == std::string::npos);
}

TEST_CASE("A config that allows values shows them: the leak check finds them then") {
  SimulatedHome home({.show_values = true});
  REQUIRE(ehg::test::WaitUntil(
      [&] { return Get(home.status_port, "/").body.find("<dt>body_temperature</dt>") != std::string::npos; },
      10s));
  const std::string page = Get(home.status_port, "/").body;
  const std::string api = Get(home.status_port, "/api/status").body;
  const std::set<std::string> values = StoredFractionalValues(home.database);
  CHECK_FALSE(Leaks(values, page).empty());
  CHECK_FALSE(Leaks(values, api).empty());
  CHECK(api.find("last_values") != std::string::npos);
}

TEST_CASE("Beyond loopback the page needs TLS and the token, wrong tokens are refused and rate-limited") {
  ehg::test::TempDir dir;
  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  const int port = ehg::test::FreePort();
  const std::string token = "3f9c2b7e51d04a8c9e6f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";
  const fs::path token_file = WriteTestFile(dir / "status-token", token + "\n");
  fs::permissions(token_file, fs::perms::owner_read | fs::perms::owner_write);  // a secret: refused otherwise
  ehg::test::DaemonConfigOptions options;
  options.status_page_json = R"({"listen": "0.0.0.0:)" + std::to_string(port) + R"(", "token_file": ")" +
                             token_file.string() + R"(", "tls_cert_file": ")" +
                             pki.File("broker.crt").string() + R"(", "tls_key_file": ")" +
                             pki.File("broker.key").string() + R"("})";
  const fs::path config = ehg::test::WriteDaemonConfig(dir.path(), options);
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("status page listening", 15s));
  CHECK(daemon.WaitForOutput("url=https://0.0.0.0:" + std::to_string(port) + "/", 1s));
  const SslLibrary ssl;

  // Plain HTTP is not served.
  CHECK_THROWS(Get(port, "/api/status"));

  const Response anonymous = Get(port, "/api/status", "", true);
  CHECK(anonymous.status == 401);
  CHECK(anonymous.www_authenticate.starts_with("Basic realm="));
  CHECK(anonymous.body.find("gw-it-01") == std::string::npos);
  CHECK(Get(port, "/", "Bearer not-the-token", true).status == 401);
  CHECK(Get(port, "/api/status", "Bearer " + token, true).status == 200);
  // What a phone's browser sends after its login prompt: any user name, the token as password.
  const std::string basic = "Basic " + Command("printf 'installer:" + token + "' | base64 -w0");
  const Response page = Get(port, "/", basic, true);
  CHECK(page.status == 200);
  CHECK(page.body.find("<h1>Gateway gw-it-01</h1>") != std::string::npos);

  // `status` reads the token file and pins the page's certificate.
  const ehg::test::CommandResult status =
      ehg::test::RunCommand({EHG_GATEWAY_BINARY, "status", "--config", config.string()});
  INFO(status.output);
  CHECK(status.output.find("gateway gw-it-01 (tenant 0301)") != std::string::npos);
  CHECK(status.output.find("uplink ") != std::string::npos);
  CHECK((status.exit_code == 1 || status.exit_code == 2));  // no broker: the uplink needs attention

  // A server with another certificate gets nothing from `status`: not even the token.
  std::string other = std::string(std::istreambuf_iterator<char>(std::ifstream(config).rdbuf()), {});
  other.replace(other.find(pki.File("broker.crt").string()), pki.File("broker.crt").string().size(),
                pki.File("broker-wrong-host.crt").string());
  other.replace(other.find(pki.File("broker.key").string()), pki.File("broker.key").string().size(),
                pki.File("broker-wrong-host.key").string());
  const fs::path pinned_elsewhere = WriteTestFile(dir / "other.json", other);
  const ehg::test::CommandResult refused =
      ehg::test::RunCommand({EHG_GATEWAY_BINARY, "status", "--config", pinned_elsewhere.string()});
  CHECK(refused.exit_code == 3);
  CHECK(refused.output.find("did not present the status page certificate") != std::string::npos);

  // Five wrong guesses, then even the right token waits.
  for (int i = 0; i < 5; ++i)
    CHECK(Get(port, "/api/status", "Bearer guess-" + std::to_string(i), true).status == 401);
  const Response locked = Get(port, "/api/status", "Bearer " + token, true);
  CHECK(locked.status == 429);
  CHECK(locked.retry_after == "2");
  CHECK(locked.body.find("gw-it-01") == std::string::npos);
  std::this_thread::sleep_for(2100ms);
  CHECK(Get(port, "/api/status", "Bearer " + token, true).status == 200);
  CHECK(daemon.WaitForOutput("msg=\"status page: wrong token\" client=127.0.0.1", 1s));
}

TEST_CASE("status exits 0 when all is well, 1 for a warning, 3 when the gateway is not running") {
  SimulatedHome home({.spo2_falls = false});
  const auto run_status = [&] {
    return ehg::test::RunCommand({EHG_GATEWAY_BINARY, "status", "--config", home.config.string()});
  };
  ehg::test::CommandResult status = run_status();
  INFO(status.output);
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("gateway gw-it-01 (tenant 0301)") != std::string::npos);
  CHECK(std::regex_search(
      status.output, std::regex(R"(oximeter +simulated pulse_oximeter +simulated +last reading \d+ s ago)")));
  CHECK(status.output.find("open alerts (0)") != std::string::npos);
  CHECK(status.output.find("status: ok") != std::string::npos);

  const ehg::test::CommandResult json =
      ehg::test::RunCommand({EHG_GATEWAY_BINARY, "status", "--json", "--config", home.config.string()});
  CHECK(json.exit_code == 0);
  CHECK(json.output.find("\"schema\":\"ehealth-gateway/status/v1\"") != std::string::npos);

  home.broker.Stop();
  REQUIRE(ehg::test::WaitUntil([&] { return run_status().exit_code == 1; }, 20s));
  status = run_status();
  CHECK(status.output.find("[warning] uplink ") != std::string::npos);
  CHECK(status.output.find("status: warning") != std::string::npos);

  home.daemon->Signal(SIGTERM);
  REQUIRE(home.daemon->Wait(20s) == 0);
  status = run_status();
  CHECK(status.exit_code == 3);
  CHECK(status.output.find("nothing listens on 127.0.0.1:" + std::to_string(home.status_port)) !=
        std::string::npos);
}

TEST_CASE("scan lists nearby BLE devices with their health services and a progress line") {
  ehg::test::PrivateBus bus;
  ehg::devices::sim::BluezSimulator::Options options;
  options.bus_address = bus.address();
  options.advertising_interval = 200ms;
  auto simulator = ehg::devices::sim::BluezSimulator::Start(options);
  REQUIRE(simulator);
  ehg::devices::sim::VirtualBleDevice cuff;
  cuff.address = "A0:9E:1A:10:20:30";
  cuff.name = "BP7150";
  cuff.profile = "blood_pressure";
  cuff.pairing = "just_works";
  (*simulator)->AddDevice(cuff);
  ehg::devices::sim::VirtualBleDevice oximeter;
  oximeter.address = "00:A0:50:11:22:33";
  oximeter.name = "Nonin3230";
  oximeter.profile = "pulse_oximeter";
  (*simulator)->AddDevice(oximeter);
  ehg::devices::sim::VirtualBleDevice far_away = oximeter;
  far_away.address = "00:A0:50:99:99:99";
  far_away.in_range = false;
  (*simulator)->AddDevice(far_away);

  const ehg::test::CommandResult scan =
      ehg::test::RunCommand({EHG_GATEWAY_BINARY, "scan", "--bus", bus.address(), "--seconds", "3"}, 30s);
  INFO(scan.output);
  REQUIRE(scan.exit_code == 0);
  CHECK(std::regex_search(scan.output, std::regex(R"(A0:9E:1A:10:20:30 +-\d+ +BP7150 +blood_pressure)")));
  CHECK(std::regex_search(scan.output, std::regex(R"(00:A0:50:11:22:33 +-\d+ +Nonin3230 +pulse_oximeter)")));
  CHECK(scan.output.find("00:A0:50:99:99:99") == std::string::npos);
  CHECK(std::regex_search(scan.output, std::regex(R"(scanning: \d devices heard, \d s left)")));
  CHECK(scan.output.find("2 devices heard in 3 s") != std::string::npos);

  // Without BlueZ on the bus: a clear reason and exit 69.
  simulator->reset();
  const ehg::test::CommandResult none =
      ehg::test::RunCommand({EHG_GATEWAY_BINARY, "scan", "--bus", bus.address(), "--seconds", "1"}, 30s);
  CHECK(none.exit_code == 69);
  CHECK(none.output.find("is bluetoothd running?") != std::string::npos);
}

TEST_CASE(
    "Junk with bytes that are not UTF-8 leaves /api/status and status valid and takes one problem entry") {
  SimulatedHome home;
  ehg::test::TestReceiver sender(home.broker, false);
  const std::string topic = "ehealth/v1/0301/gw-it-01/cmd";
  // An unsigned-looking JWS whose header names a Latin-1 key id, a plain command with a Latin-1 id and
  // note, and raw bytes: each is refused; none may reach a page, a log line or an event unescaped.
  sender.Publish(topic,
                 "eyJhbGciOiJFUzI1NiIsImtpZCI6Imvpe"
                 "SJ9.e30.AAAA");
  sender.Publish(topic,
                 "{\"id\":\"c-\xE9\",\"type\":\"alert.resolve\",\"alert_id\":\"a\",\"note\":\"Bes\xF8k\"}");
  for (int i = 0; i < 30; ++i)
    sender.Publish(topic, std::string("\xFF\xFE junk \xC0\xAF ") + std::to_string(i));
  REQUIRE(home.daemon->WaitForOutput("msg=\"command refused\"", 10s));
  REQUIRE(ehg::test::WaitUntil(
      [&] { return Get(home.status_port, "/api/status").body.find("\"count\":32") != std::string::npos; },
      15s));

  const Response status = Get(home.status_port, "/api/status");
  CHECK(status.status == 200);
  CHECK(ehg::core::IsValidUtf8(status.body));
  const auto root = Poco::JSON::Parser().parse(status.body).extract<Poco::JSON::Object::Ptr>();
  const auto problems = root->getArray("recent_problems");
  int refused_entries = 0;
  for (std::size_t i = 0; i < problems->size(); ++i) {
    const auto problem = problems->getObject(static_cast<unsigned>(i));
    if (problem->getValue<std::string>("line").find("command refused") != std::string::npos) {
      ++refused_entries;
      CHECK(problem->getValue<int>("count") == 32);
    }
  }
  CHECK(refused_entries == 1);
  CHECK(ehg::core::IsValidUtf8(Get(home.status_port, "/metrics").body));
  CHECK(ehg::core::IsValidUtf8(Get(home.status_port, "/").body));
  // The daemon's own log shows what arrived, escaped.
  CHECK(ehg::core::IsValidUtf8(home.daemon->Output()));

  const ehg::test::CommandResult cli =
      ehg::test::RunCommand({EHG_GATEWAY_BINARY, "status", "--json", "--config", home.config.string()});
  INFO(cli.output);
  CHECK(cli.exit_code != 3);
  CHECK(ehg::core::IsValidUtf8(cli.output));
}
