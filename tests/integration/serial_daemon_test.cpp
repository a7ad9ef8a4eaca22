// The daemon with a serial oximeter on a pseudo-terminal: bytes on the wire -> store -> alert, the start
// command and the 5 s keep-alive on the wire, and an unplug/replug recorded as device events.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>

#include "devices/sim/serial_simulator.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::devices::sim::SerialSimulator;

namespace {

std::int64_t Count(const fs::path& database, const std::string& sql) {
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(2000);
  return db.execAndGet(sql).getInt64();
}

std::int64_t DeviceEvents(const fs::path& database, std::string_view state) {
  return Count(database, "SELECT count(*) FROM outbox WHERE kind = 'device' AND body LIKE '%\"state\":\"" +
                             std::string(state) + "\"%'");
}

}  // namespace

TEST_CASE(
    "Daemon reads a Contec oximeter on a pty into the store, raises the SpO2 alert and survives a replug") {
  ehg::test::TempDir dir;
  const fs::path link = dir / "usb-Contec_CMS50E-if00-port0";
  ehg::devices::sim::SerialSimulatorOptions sim;
  sim.protocol = "contec-cms50-9";
  sim.link = link;
  sim.scenario = {{0ms, "spo2", 95}, {3000ms, "spo2", 86}};
  SerialSimulator simulator(sim);
  REQUIRE(simulator.Plug());

  ehg::test::DaemonConfigOptions options;
  options.devices_json = R"([{"id": "oximeter", "type": "serial", "port": ")" + link.string() +
                         R"(", "protocol": "contec-cms50-9"}])";
  options.rules =
      R"([{"id": "spo2-low", "kind": "threshold", "metric": "spo2", "below": 90, "for_seconds": 2, "severity": "high"}])";
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const fs::path database = dir / "data" / "gateway.db";
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("serial device connected", 10s));

  REQUIRE(ehg::test::WaitUntil(
      [&] { return Count(database, "SELECT count(*) FROM alerts WHERE rule_id = 'spo2-low'") == 1; }, 15s));
  const auto spo2 =
      Count(database, "SELECT count(*) FROM readings WHERE device_id = 'oximeter' AND metric = 'spo2'");
  CHECK(spo2 >= 4);
  // One reading per metric per second, not one per frame (60 a second on the wire).
  CHECK(spo2 < 15);
  CHECK(Count(database, "SELECT count(*) FROM readings WHERE metric = 'spo2' AND value BETWEEN 84 AND 88") >=
        2);
  CHECK(DeviceEvents(database, "connected") == 1);

  // The keep-alive is due every 5 s after the start command.
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        for (const auto& command : simulator.commands()) {
          if (command.bytes.size() == 9 && command.bytes[2] == 0xAF) return true;
        }
        return false;
      },
      8s));
  const auto commands = simulator.commands();
  CHECK(commands.front().bytes[2] == 0xA1);

  simulator.Unplug();
  REQUIRE(daemon.WaitForOutput("serial device disconnected", 5s));
  REQUIRE(ehg::test::WaitUntil([&] { return DeviceEvents(database, "disconnected") == 1; }));
  CHECK(Count(database, "SELECT count(*) FROM devices WHERE device_id = 'oximeter' AND connected = 0") == 1);
  const auto before_replug = Count(database, "SELECT count(*) FROM readings WHERE device_id = 'oximeter'");
  REQUIRE(simulator.Plug());
  REQUIRE(ehg::test::WaitUntil([&] { return DeviceEvents(database, "connected") == 2; }, 10s));
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        return Count(database, "SELECT count(*) FROM readings WHERE device_id = 'oximeter'") >
               before_replug + 2;
      },
      10s));
  CHECK(Count(database, "SELECT count(*) FROM devices WHERE device_id = 'oximeter' AND connected = 1") == 1);

  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
  // No value of the resident in the log at info level.
  for (const std::string& line : daemon.Lines()) {
    CHECK(line.find("value=") == std::string::npos);
  }
}

TEST_CASE("Daemon downloads a Beurer monitor's memory and places its local clock in the resident's zone") {
  ehg::test::TempDir dir;
  const fs::path link = dir / "usb-Beurer_BM65-if00";
  ehg::devices::sim::SerialSimulatorOptions sim;
  sim.protocol = "beurer-bm";
  sim.link = link;
  ehg::devices::sim::BloodPressureRecord record;  // 2026-03-23 08:00 on the monitor's clock
  record.systolic = 146;
  sim.records = {record};
  SerialSimulator simulator(sim);
  REQUIRE(simulator.Plug());

  ehg::test::DaemonConfigOptions options;
  options.devices_json = R"([{"id": "bp-monitor", "type": "serial", "port": ")" + link.string() +
                         R"(", "protocol": "beurer-bm", "poll_interval_seconds": 10}])";
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const fs::path database = dir / "data" / "gateway.db";
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));
  REQUIRE(ehg::test::WaitUntil(
      [&] { return Count(database, "SELECT count(*) FROM readings WHERE device_id = 'bp-monitor'") == 3; },
      10s));
  // Europe/Oslo is UTC+1 on 23 March 2026 (summer time starts on the 29th).
  CHECK(Count(database, "SELECT device_time_ms FROM readings WHERE metric = 'bp.systolic'") == 1774249200000);
  CHECK(Count(database, "SELECT value FROM readings WHERE metric = 'bp.systolic'") == 146);
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}
