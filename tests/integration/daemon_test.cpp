#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "tests/integration/daemon_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::test::Process;
using ehg::test::RunCommand;

namespace {
std::int64_t CountRows(const fs::path& database, const std::string& sql) {
  SQLite::Database db(database.string(), SQLite::OPEN_READWRITE);
  return db.execAndGet(sql).getInt64();
}
}  // namespace

TEST_CASE("check-config: OK and exit 0 for every example, every error and exit 1 for a broken file") {
  for (const char* example : {"demo.json", "copd-resident.json", "heart-failure-resident.json"}) {
    CAPTURE(example);
    const auto result = RunCommand(
        {EHG_GATEWAY_BINARY, "check-config", std::string(EHG_SOURCE_DIR) + "/examples/" + example});
    CHECK(result.exit_code == 0);
    CHECK(result.output.starts_with("OK: "));
  }
  const std::string broken = std::string(EHG_FIXTURES_DIR) + "/config/invalid/several-errors-at-once.json";
  const auto result = RunCommand({EHG_GATEWAY_BINARY, "check-config", broken});
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("gateway.tenant: expected a four-digit municipality number") != std::string::npos);
  CHECK(result.output.find("devices[2].port: expected a device path such as /dev/ttyUSB0, got \"ttyUSB0\"") !=
        std::string::npos);
  CHECK(result.output.find("rules[0].severity:") != std::string::npos);
  CHECK(result.output.find("3 errors") != std::string::npos);
}

TEST_CASE("--version and --help answer without a config") {
  const auto version = RunCommand({EHG_GATEWAY_BINARY, "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.output.starts_with("ehealth-gateway "));
  const auto help = RunCommand({EHG_GATEWAY_BINARY, "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("check-config") != std::string::npos);
  const auto wrong = RunCommand({EHG_GATEWAY_BINARY, "frobnicate"});
  CHECK(wrong.exit_code != 0);
}

TEST_CASE("SIGTERM stops intake, commits and exits 0 within 2 s") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));
  std::this_thread::sleep_for(500ms);
  const auto stop_requested = std::chrono::steady_clock::now();
  daemon.Signal(SIGTERM);
  const auto code = daemon.Wait(2s);
  const auto took = std::chrono::steady_clock::now() - stop_requested;
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(took < 2s);
  CHECK(daemon.Output().find("msg=\"gateway stopped\"") != std::string::npos);
  const auto stored = CountRows(dir / "data" / "gateway.db", "SELECT count(*) FROM readings");
  CHECK(stored > 0);
  // Nothing identifying or clinical at info level: no values, no pseudonym.
  CHECK(daemon.Output().find("r-it-0001") == std::string::npos);
  CHECK(daemon.Output().find("value=") == std::string::npos);
}

TEST_CASE("SIGHUP with a broken config keeps the running one, and a valid one replaces the rules") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));

  std::ofstream(config, std::ios::app) << "this is not json";
  daemon.Signal(SIGHUP);
  REQUIRE(daemon.WaitForOutput("reload refused, keeping the running config", 5s));
  CHECK(daemon.Output().find("invalid JSON at line") != std::string::npos);

  ehg::test::DaemonConfigOptions options;
  options.rules =
      R"([{"id": "pulse-high", "kind": "threshold", "metric": "pulse_rate", "above": 60, "severity": "low"}])";
  ehg::test::WriteDaemonConfig(dir.path(), options);
  daemon.Signal(SIGHUP);
  REQUIRE(daemon.WaitForOutput("msg=\"rules replaced\"", 5s));
  REQUIRE(daemon.WaitForOutput("rule=pulse-high", 10s));  // the new rule raises on the simulated pulse
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(5s) == 0);
}

TEST_CASE(
    "The rules in force are reported once, not again after a restart, again when they or the resident "
    "change") {
  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.devices = false;
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  // Offline (no broker): the reports stay in the outbox, where the test counts them.
  const auto reports = [&] {
    SQLite::Database db((dir / "data" / "gateway.db").string(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    SQLite::Statement query(db, "SELECT body FROM outbox WHERE kind = 'gateway' ORDER BY seq");
    std::vector<std::string> bodies;
    while (query.executeStep()) {
      const std::string body = query.getColumn(0).getString();
      if (body.find("\"code\":\"rules.in_force\"") != std::string::npos) bodies.push_back(body);
    }
    return bodies;
  };
  {
    Process daemon = ehg::test::StartDaemon(config);
    REQUIRE(daemon.WaitForOutput("gateway running", 10s));
    REQUIRE(ehg::test::WaitUntil([&] { return reports().size() == 1; }, 10s));
    daemon.Signal(SIGTERM);
    REQUIRE(daemon.Wait(10s) == 0);
  }
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));
  // The main loop looks every second: three turns with the same rules send nothing.
  std::this_thread::sleep_for(3s);
  CHECK(reports().size() == 1);

  options.rules =
      R"([{"id": "pulse-high", "kind": "threshold", "metric": "pulse_rate", "above": 60, "severity": "low"}])";
  ehg::test::WriteDaemonConfig(dir.path(), options);
  daemon.Signal(SIGHUP);
  REQUIRE(daemon.WaitForOutput("msg=\"rules replaced\"", 5s));
  REQUIRE(ehg::test::WaitUntil([&] { return reports().size() == 2; }, 10s));
  const std::string latest = reports().back();
  CHECK(latest.find("\"id\":\"pulse-high\"") != std::string::npos);
  CHECK(latest.find("\"above\":60") != std::string::npos);
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);

  // The gateway moved to another resident with the same rules: reported again, for the new pseudonym.
  options.pseudonym = "r-it-0002";
  ehg::test::WriteDaemonConfig(dir.path(), options);
  Process moved = ehg::test::StartDaemon(config);
  REQUIRE(moved.WaitForOutput("gateway running", 10s));
  REQUIRE(ehg::test::WaitUntil([&] { return reports().size() == 3; }, 10s));
  CHECK(reports().back().find("\"subject\":\"r-it-0002\"") != std::string::npos);
  moved.Signal(SIGTERM);
  CHECK(moved.Wait(10s) == 0);
}

TEST_CASE("An invalid config at start: every error logged, exit 78 so systemd does not restart in a loop") {
  ehg::test::TempDir dir;
  const auto config = dir / "gateway.json";
  std::ofstream(config) << R"({"gateway": {"id": "gw 1", "tenant": 301}})";
  const auto result = RunCommand(ehg::test::DaemonCommand(config));
  CHECK(result.exit_code == 78);
  CHECK(result.output.find("gateway.id: expected a gateway id") != std::string::npos);
  CHECK(result.output.find("gateway.tenant: expected a four-digit") != std::string::npos);
  CHECK(result.output.find("resident: required key missing") != std::string::npos);
}

TEST_CASE("ehealth-gateway carries no simulator: a config with sim devices is refused with exit 78") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());  // the two simulated devices
  const auto refused = RunCommand({EHG_GATEWAY_BINARY, "run", "--config", config.string()});
  CHECK(refused.exit_code == 78);
  CHECK(refused.output.find("device oximeter: type \\\"sim\\\" needs the simulators") != std::string::npos);
  CHECK(refused.output.find("ehealth-gateway-tools run") != std::string::npos);
  // The same config runs in the tools binary, the same daemon with the simulators linked.
  Process tools = Process::Start({EHG_TOOLS_BINARY, "run", "--config", config.string()});
  CHECK(tools.WaitForOutput("gateway running", 10s));
  tools.Signal(SIGTERM);
  CHECK(tools.Wait(5s) == 0);
}

TEST_CASE("A database from a newer release stops the daemon with exit 78 and a clear message") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());
  fs::create_directories(dir / "data");
  fs::copy_file(fs::path(EHG_FIXTURES_DIR) / "store" / "schema-future.db", dir / "data" / "gateway.db");
  const auto result = RunCommand(ehg::test::DaemonCommand(config));
  CHECK(result.exit_code == 78);
  CHECK(result.output.find("newer than this build understands") != std::string::npos);
}

TEST_CASE("A corrupt database is moved aside, a fresh one started, and a gateway error event queued") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());
  fs::create_directories(dir / "data");
  fs::copy_file(fs::path(EHG_FIXTURES_DIR) / "store" / "not-a-database.db", dir / "data" / "gateway.db");
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));
  daemon.Signal(SIGTERM);
  REQUIRE(daemon.Wait(5s) == 0);
  CHECK(daemon.Output().find("level=error msg=\"database failed its integrity check") != std::string::npos);
  const auto database = dir / "data" / "gateway.db";
  CHECK(CountRows(database,
                  "SELECT count(*) FROM outbox WHERE kind = 'gateway' AND priority = 1 AND "
                  "body LIKE '%storage.corrupt_database_replaced%'") == 1);
  int moved = 0;
  for (const auto& entry : fs::directory_iterator(dir / "data")) {
    moved += entry.path().filename().string().starts_with("gateway.db.corrupt-") ? 1 : 0;
  }
  CHECK(moved == 1);
}

TEST_CASE("Files the daemon creates are readable by its own user only, whatever the caller's umask") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());
  Process daemon = Process::Start(
      {"/bin/sh", "-c",
       "umask 022 && exec " + ehg::test::DaemonBinaryFor(config) + " run --config " + config.string()});
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));
  daemon.Signal(SIGTERM);
  REQUIRE(daemon.Wait(5s) == 0);
  const auto others = fs::perms::group_all | fs::perms::others_all;
  CHECK((fs::status(dir / "data").permissions() & others) == fs::perms::none);
  CHECK((fs::status(dir / "data" / "gateway.db").permissions() & others) == fs::perms::none);
}

TEST_CASE("Under journald, each log line carries its syslog priority") {
  ehg::test::TempDir dir;
  const auto config = dir / "gateway.json";
  std::ofstream(config) << "{}";
  // journald announces its stream as JOURNAL_STREAM=<device>:<inode> of the daemon's stderr.
  const auto result =
      RunCommand({"/bin/sh", "-c",
                  "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec " +
                      ehg::test::DaemonBinaryFor(config) + " run --config " + config.string() + " 2>&1"});
  CHECK(result.exit_code == 78);
  CHECK(result.output.starts_with("<3>level=error msg=\"config invalid\""));
  // Without journald the same line starts with a timestamp instead.
  const auto plain = RunCommand(ehg::test::DaemonCommand(config));
  CHECK(plain.output.starts_with("ts="));
}

TEST_CASE("The update outcome the helper leaves becomes a gateway event, and its file is marked reported") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));
  // Written by the (root) helper after it checked the new version, which is already running.
  std::ofstream(dir / "data" / "update-result.json")
      << R"({"outcome":"rolled_back","version":"0.2.0","previous_version":"0.1.0","command_id":"c-1",)"
      << R"("detail":"version 0.2.0 failed its health check","finished_at":"2026-11-27T00:00:00Z"})"
      << "\n";
  REQUIRE(daemon.WaitForOutput("update outcome reported", 10s));
  CHECK(daemon.Output().find("outcome=rolled_back") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "data" / "update-result.json"));
  CHECK(fs::exists(dir / "data" / "update-result.json.reported"));
  daemon.Signal(SIGTERM);
  REQUIRE(daemon.Wait(10s) == 0);
  // No broker: the event waits in the outbox, with its code and the helper's detail.
  CHECK(CountRows(dir / "data" / "gateway.db",
                  "SELECT count(*) FROM outbox WHERE kind = 'gateway' AND body LIKE "
                  "'%\"code\":\"update.rolled_back\"%' "
                  "AND body LIKE '%failed its health check%'") == 1);
}
