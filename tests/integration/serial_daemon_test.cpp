// The daemon with a serial oximeter on a pseudo-terminal: bytes on the wire -> store -> alert, the start
// command and the 5 s keep-alive on the wire, and an unplug/replug recorded as device events. An ASCII
// rig whose clock is wrong: every line stored, the wrong times flagged, later readings still evaluated.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <array>

#include "devices/sim/serial_simulator.hpp"
#include "gateway/core/clock.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::devices::sim::SerialSimulator;

namespace {

std::int64_t CountSerialRows(const fs::path& database, const std::string& sql) {
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(2000);
  return db.execAndGet(sql).getInt64();
}

std::int64_t DeviceEvents(const fs::path& database, std::string_view state) {
  return CountSerialRows(database, "SELECT count(*) FROM outbox WHERE kind = 'device' AND body LIKE '%\"state\":\"" +
                             std::string(state) + "\"%'");
}

// An integrator's rig on a pseudo-terminal, played by hand: the test writes each ASCII line (docs/serial.md)
// with the device time it chooses. The link is what the gateway's config names.
class AsciiRig {
 public:
  explicit AsciiRig(const fs::path& link) {
    std::array<char, 128> name{};
    REQUIRE(::openpty(&master_, &slave_, name.data(), nullptr, nullptr) == 0);
    termios raw{};
    ::tcgetattr(slave_, &raw);
    ::cfmakeraw(&raw);
    ::tcsetattr(slave_, TCSANOW, &raw);
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave_, F_SETFD, FD_CLOEXEC);
    fs::create_symlink(name.data(), link);
  }
  ~AsciiRig() {
    ::close(master_);
    ::close(slave_);
  }
  AsciiRig(const AsciiRig&) = delete;
  AsciiRig& operator=(const AsciiRig&) = delete;

  // One line "<values> time=<device time>", as a rig whose clock shows `device_time` sends it.
  void Send(const std::string& values, ehg::core::WallTime device_time) const {
    const std::string line = values + " time=" + ehg::core::FormatIso8601(device_time) + "\r\n";
    REQUIRE(::write(master_, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  }

 private:
  int master_ = -1;
  int slave_ = -1;
};

ehg::core::WallTime Now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
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
      [&] { return CountSerialRows(database, "SELECT count(*) FROM alerts WHERE rule_id = 'spo2-low'") == 1; }, 15s));
  const auto spo2 =
      CountSerialRows(database, "SELECT count(*) FROM readings WHERE device_id = 'oximeter' AND metric = 'spo2'");
  CHECK(spo2 >= 4);
  // One reading per metric per second, not one per frame (60 a second on the wire).
  CHECK(spo2 < 15);
  CHECK(CountSerialRows(database, "SELECT count(*) FROM readings WHERE metric = 'spo2' AND value BETWEEN 84 AND 88") >=
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
  CHECK(CountSerialRows(database, "SELECT count(*) FROM devices WHERE device_id = 'oximeter' AND connected = 0") == 1);
  const auto before_replug = CountSerialRows(database, "SELECT count(*) FROM readings WHERE device_id = 'oximeter'");
  REQUIRE(simulator.Plug());
  REQUIRE(ehg::test::WaitUntil([&] { return DeviceEvents(database, "connected") == 2; }, 10s));
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        return CountSerialRows(database, "SELECT count(*) FROM readings WHERE device_id = 'oximeter'") >
               before_replug + 2;
      },
      10s));
  CHECK(CountSerialRows(database, "SELECT count(*) FROM devices WHERE device_id = 'oximeter' AND connected = 1") == 1);

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
      [&] { return CountSerialRows(database, "SELECT count(*) FROM readings WHERE device_id = 'bp-monitor'") == 3; },
      10s));
  // Europe/Oslo is UTC+1 on 23 March 2026 (summer time starts on the 29th).
  CHECK(CountSerialRows(database,
              "SELECT coalesce(device_time_ms, claimed_device_time_ms) FROM readings WHERE metric = "
              "'bp.systolic'") == 1774249200000);
  CHECK(CountSerialRows(database, "SELECT value FROM readings WHERE metric = 'bp.systolic'") == 146);
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}

TEST_CASE(
    "Daemon on an ASCII rig whose clock jumps a year ahead once: every line stored, that one flagged, "
    "the lows after it raise") {
  ehg::test::TempDir dir;
  const fs::path link = dir / "usb-FTDI_rig-if00-port0";
  AsciiRig rig(link);
  ehg::test::DaemonConfigOptions options;
  options.devices_json =
      R"([{"id": "rig", "type": "serial", "port": ")" + link.string() + R"(", "protocol": "ascii"}])";
  options.rules =
      R"([{"id": "spo2-low", "kind": "threshold", "metric": "spo2", "below": 88, "for_seconds": 2, "severity": "high"}])";
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const fs::path database = dir / "data" / "gateway.db";
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("serial device connected", 10s));

  const auto stored = [&](std::int64_t count) {
    return ehg::test::WaitUntil(
        [&] { return CountSerialRows(database, "SELECT count(*) FROM readings WHERE device_id = 'rig'") == count; },
        5s);
  };
  // Each line is sent once the one before is stored, so its device time is after the other's receive time.
  rig.Send("spo2=96 %", Now());
  REQUIRE(stored(1));
  rig.Send("spo2=97 %", Now() + std::chrono::days{365});  // the glitch
  REQUIRE(stored(2));
  REQUIRE(daemon.WaitForOutput("device clock implausible", 5s));
  rig.Send("spo2=95 %", Now());
  REQUIRE(stored(3));
  // Four lows one second apart by the rig's (right) clock: 3 s below 88, more than the rule's 2 s.
  const ehg::core::WallTime low_from = Now();
  for (int i = 0; i < 4; ++i)
    rig.Send("spo2=85 %", low_from + std::chrono::seconds{i});
  REQUIRE(stored(7));

  REQUIRE(ehg::test::WaitUntil(
      [&] {
        return CountSerialRows(database, "SELECT count(*) FROM alerts WHERE rule_id = 'spo2-low' AND is_open = 1") == 1;
      },
      5s));
  // Only the glitch is flagged; it keeps the time the rig claimed beside its receive time.
  CHECK(CountSerialRows(database, "SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NOT NULL") == 1);
  CHECK(CountSerialRows(database, "SELECT value FROM readings WHERE claimed_device_time_ms IS NOT NULL") == 97);
  CHECK(CountSerialRows(database,
              "SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NOT NULL AND "
              "claimed_device_time_ms > received_ms + "
              "364 * 86400000") == 1);
  // One technical alert for the installer, still open (it clears after an hour of right times).
  CHECK(CountSerialRows(database, "SELECT count(*) FROM alerts WHERE rule_id = 'device-clock'") == 1);
  CHECK(
      CountSerialRows(
          database,
          "SELECT count(*) FROM alerts WHERE rule_id = 'device-clock' AND is_open = 1 AND "
          "json_extract(detail, '$.device') = 'rig' AND json_extract(detail, '$.metric') = 'device.clock'") ==
      1);
  CHECK(daemon.WaitForOutput("device clock plausible again", 1s));

  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}

TEST_CASE(
    "Daemon on an ASCII rig whose clock steps back an hour: every line stored and flagged, the lows "
    "still raise") {
  ehg::test::TempDir dir;
  const fs::path link = dir / "usb-FTDI_rig-if00-port0";
  AsciiRig rig(link);
  ehg::test::DaemonConfigOptions options;
  // An ASCII rig may upload records up to 30 days old by default; this one streams, so 10 minutes.
  options.devices_json = R"([{"id": "rig", "type": "serial", "port": ")" + link.string() +
                         R"(", "protocol": "ascii", "clock_behind_minutes": 10}])";
  options.rules =
      R"([{"id": "spo2-low", "kind": "threshold", "metric": "spo2", "below": 88, "severity": "high"}])";
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const fs::path database = dir / "data" / "gateway.db";
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("serial device connected", 10s));

  const auto stored = [&](std::int64_t count) {
    return ehg::test::WaitUntil(
        [&] { return CountSerialRows(database, "SELECT count(*) FROM readings WHERE device_id = 'rig'") == count; },
        5s);
  };
  rig.Send("spo2=96 %", Now());
  REQUIRE(stored(1));
  // The clock steps back an hour: before the time model every later line was older than the first and
  // never evaluated.
  const ehg::core::WallTime stepped = Now() - std::chrono::hours{1};
  rig.Send("spo2=95 %", stepped);
  rig.Send("spo2=85 %", stepped + 1s);
  rig.Send("spo2=84 %", stepped + 2s);
  REQUIRE(stored(4));

  REQUIRE(ehg::test::WaitUntil(
      [&] {
        return CountSerialRows(database, "SELECT count(*) FROM alerts WHERE rule_id = 'spo2-low' AND is_open = 1") == 1;
      },
      5s));
  CHECK(CountSerialRows(database, "SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NOT NULL") == 3);
  CHECK(CountSerialRows(database, "SELECT value FROM readings WHERE claimed_device_time_ms IS NULL") == 96);
  // The rig's claim is kept beside the receive time.
  CHECK(CountSerialRows(database,
              "SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NOT NULL AND "
              "claimed_device_time_ms < received_ms - "
              "3500000") == 3);
  CHECK(CountSerialRows(database, "SELECT count(*) FROM alerts WHERE rule_id = 'device-clock' AND is_open = 1") == 1);

  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}
