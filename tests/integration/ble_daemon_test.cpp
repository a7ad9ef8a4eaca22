// The daemon with Bluetooth devices: the BlueZ simulator on a private dbus-daemon, the gateway pointed
// at that bus by its config. Readings end in the store; records are fetched once across restarts; a
// cuff's wrong clock hides none of its measurements.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "devices/ble_profiles/racp.hpp"
#include "devices/sim/bluez_simulator.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/private_bus.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::devices::sim::BluezSimulator;
using ehg::devices::sim::VirtualBleDevice;

namespace {

std::int64_t CountBleRows(const fs::path& database, const std::string& sql) {
  if (!fs::exists(database)) return 0;
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(2000);
  return db.execAndGet(sql).getInt64();
}

const auto Device = ehg::devices::sim::BondedDevice;

// The body of a GET to the gateway's status page on loopback (plain HTTP, no token).
std::string StatusPage(int port, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::ostringstream body;
  Poco::StreamCopier::copyStream(session.receiveResponse(response), body);
  return body.str();
}

// One device of /api/status, by id.
Poco::JSON::Object::Ptr DeviceStatus(int port, const std::string& id) {
  const auto devices = Poco::JSON::Parser()
                           .parse(StatusPage(port, "/api/status"))
                           .extract<Poco::JSON::Object::Ptr>()
                           ->getArray("devices");
  for (std::size_t i = 0; i < devices->size(); ++i) {
    auto device = devices->getObject(static_cast<unsigned>(i));
    if (device->getValue<std::string>("id") == id) return device;
  }
  FAIL("no device " << id << " in /api/status");
  return {};
}

}  // namespace

TEST_CASE(
    "Daemon discovers and reads every simulated BLE device into the store, and raises the button alert") {
  ehg::test::PrivateBus bus;
  BluezSimulator::Options sim;
  sim.bus_address = bus.address();
  sim.advertising_interval = 100ms;
  auto bluez = BluezSimulator::Start(sim).value();
  bluez->AddDevice(Device("5C:31:3E:00:4B:6B", "A&D_UA-651BLE", "blood_pressure", true));
  bluez->AddDevice(Device("A4:C1:38:00:11:22", "TD1107", "thermometer", true));
  bluez->AddDevice(Device("D0:39:72:B8:0A:99", "UC-352BLE", "weight_scale", true));
  bluez->AddDevice(Device("00:1C:05:FF:4E:12", "Nonin3230", "pulse_oximeter", false));
  bluez->AddDevice(Device("C4:7C:8D:6A:2B:01", "Contour", "glucose", false));
  auto button = Device("54:48:E6:8F:80:A5", "SBBT-002C", "bthome", false);
  button.bonded = false;
  bluez->AddDevice(button);
  bluez->SetStream("00:1C:05:FF:4E:12", 95, 70);
  bluez->AddGlucoseRecord("C4:7C:8D:6A:2B:01", 1, 6.1, 240min);
  bluez->AddGlucoseRecord("C4:7C:8D:6A:2B:01", 2, 8.4, 60min);

  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.time_zone = "UTC";
  options.bluetooth_json = R"({"bus_address": ")" + bus.address() + R"("})";
  options.devices_json = R"([
    {"id": "cuff", "type": "ble", "address": "5C:31:3E:00:4B:6B", "profile": "blood_pressure"},
    {"id": "thermometer", "type": "ble", "address": "A4:C1:38:00:11:22", "profile": "thermometer"},
    {"id": "scale", "type": "ble", "address": "D0:39:72:B8:0A:99", "profile": "weight_scale"},
    {"id": "oximeter", "type": "ble", "address": "00:1C:05:FF:4E:12", "profile": "pulse_oximeter"},
    {"id": "meter", "type": "ble", "address": "C4:7C:8D:6A:2B:01", "profile": "glucose"},
    {"id": "alarm", "type": "ble", "address": "54:48:E6:8F:80:A5", "profile": "bthome"}
  ])";
  options.rules = R"([{"id": "emergency", "kind": "event", "metric": "button", "severity": "critical"}])";
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const fs::path database = dir / "data" / "gateway.db";
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("discovering Bluetooth LE devices", 10s));

  bluez->MeasureBloodPressure("5C:31:3E:00:4B:6B", 151, 94, 81);
  bluez->MeasureTemperature("A4:C1:38:00:11:22", 38.9);
  bluez->MeasureWeight("D0:39:72:B8:0A:99", 79.6);
  bluez->Advertise("54:48:E6:8F:80:A5", {0x01, 0x52, 0x3A, 0x01}, true);
  auto stored = [&](const char* device, const char* metric) {
    return CountBleRows(database, std::string("SELECT count(*) FROM readings WHERE device_id = '") + device +
                               "' AND metric = '" + metric + "'");
  };
  REQUIRE(ehg::test::WaitUntil([&] { return stored("cuff", "bp.systolic") == 1; }, 15s));
  REQUIRE(ehg::test::WaitUntil([&] { return stored("thermometer", "body_temperature") == 1; }, 10s));
  REQUIRE(ehg::test::WaitUntil([&] { return stored("scale", "body_weight") == 1; }, 10s));
  REQUIRE(ehg::test::WaitUntil([&] { return stored("oximeter", "spo2") >= 2; }, 10s));
  REQUIRE(ehg::test::WaitUntil([&] { return stored("meter", "glucose") == 2; }, 10s));
  REQUIRE(ehg::test::WaitUntil([&] { return stored("alarm", "button") == 1; }, 10s));
  CHECK(CountBleRows(database,
              "SELECT count(*) FROM readings WHERE metric = 'bp.systolic' AND value = 151 AND device_time_ms "
              "IS NOT NULL") == 1);
  CHECK(CountBleRows(database, "SELECT count(*) FROM readings WHERE metric = 'body_temperature' AND value = 38.9") ==
        1);
  CHECK(CountBleRows(database,
              "SELECT count(*) FROM readings WHERE metric = 'glucose' AND sequence = 2 AND value = 8.4") ==
        1);
  REQUIRE(ehg::test::WaitUntil(
      [&] { return CountBleRows(database, "SELECT count(*) FROM alerts WHERE rule_id = 'emergency'") == 1; }, 10s));
  CHECK(
      CountBleRows(database,
            "SELECT count(*) FROM outbox WHERE kind = 'device' AND body LIKE '%\"state\":\"connected\"%'") >=
      5);

  // A restart: the meter has one new record, and only that one is asked for and stored.
  daemon.Signal(SIGTERM);
  REQUIRE(daemon.Wait(10s) == 0);
  bluez->DropLink("C4:7C:8D:6A:2B:01");
  bluez->AddGlucoseRecord("C4:7C:8D:6A:2B:01", 3, 12.7, 2min);
  ehg::test::Process restarted = ehg::test::StartDaemon(config);
  REQUIRE(ehg::test::WaitUntil([&] { return stored("meter", "glucose") == 3; }, 15s));
  const auto requests = bluez->Log("C4:7C:8D:6A:2B:01").record_requests;
  REQUIRE(requests.size() == 2);
  CHECK(requests[0] == ehg::devices::ble::racp::ReportAllRecords());
  CHECK(requests[1] == ehg::devices::ble::racp::ReportRecordsFrom(3));

  // bluetoothd restarts under the running daemon: the oximeter comes back by itself.
  bluez.reset();
  REQUIRE(restarted.WaitForOutput("BlueZ left the bus", 5s));
  bluez = BluezSimulator::Start(sim).value();
  bluez->AddDevice(Device("00:1C:05:FF:4E:12", "Nonin3230", "pulse_oximeter", false));
  bluez->SetStream("00:1C:05:FF:4E:12", 88, 99);
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        return CountBleRows(database, "SELECT count(*) FROM readings WHERE metric = 'spo2' AND value = 88") >= 1;
      },
      15s));
  restarted.Signal(SIGTERM);
  CHECK(restarted.Wait(10s) == 0);
}

TEST_CASE(
    "Daemon stores every measurement of a cuff whose clock steps back, then jumps a year ahead, and raises "
    "on the lows after each step") {
  ehg::test::PrivateBus bus;
  BluezSimulator::Options sim;
  sim.bus_address = bus.address();
  sim.advertising_interval = 100ms;
  auto bluez = BluezSimulator::Start(sim).value();
  const std::string address = "5C:31:3E:00:4B:6B";
  VirtualBleDevice cuff = Device(address, "A&D_UA-651BLE", "blood_pressure", true);
  cuff.has_current_time = false;  // the gateway cannot correct this clock
  bluez->AddDevice(cuff);

  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.time_zone = "UTC";  // the simulator's device clocks keep UTC
  options.bluetooth_json = R"({"bus_address": ")" + bus.address() + R"("})";
  options.devices_json =
      R"([{"id": "cuff", "type": "ble", "address": ")" + address + R"(", "profile": "blood_pressure"}])";
  options.rules = R"([
    {"id": "bp-low", "kind": "threshold", "metric": "bp.systolic", "below": 90, "severity": "high"},
    {"id": "pulse-low", "kind": "threshold", "metric": "pulse_rate", "below": 40, "severity": "high"}
  ])";
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const fs::path database = dir / "data" / "gateway.db";
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("discovering Bluetooth LE devices", 10s));

  const auto measured = [&](std::int64_t count) {
    return ehg::test::WaitUntil(
        [&] {
          return CountBleRows(database, "SELECT count(*) FROM readings WHERE metric = 'bp.systolic'") == count;
        },
        10s);
  };
  const auto open_alerts = [&](const char* rule) {
    return CountBleRows(database,
                 std::string("SELECT count(*) FROM alerts WHERE is_open = 1 AND rule_id = '") + rule + "'");
  };
  // A minute slow, as cuff clocks drift. (A measurement takes the cuff half a minute: no two of its stamps
  // share a second, and the gateway takes a second one with the same stamp for a repeat.)
  bluez->SetClockError(address, -1min);
  bluez->MeasureBloodPressure(address, 128, 84, 70);
  REQUIRE(measured(1));
  // Two hours back: within the 30 days a cuff's records may be late, so believed, and older than the
  // first measurement. Before the time model it was out of order and never evaluated.
  bluez->SetClockError(address, -120min);
  bluez->MeasureBloodPressure(address, 86, 58, 64);
  REQUIRE(measured(2));
  REQUIRE(ehg::test::WaitUntil([&] { return open_alerts("bp-low") == 1; }, 5s));
  // A year ahead: before the time model the BLE driver dropped such a time itself.
  bluez->SetClockError(address, std::chrono::days{365});
  bluez->MeasureBloodPressure(address, 131, 85, 72);
  REQUIRE(measured(3));
  REQUIRE(ehg::test::WaitUntil([&] { return open_alerts("device-clock") == 1; }, 5s));
  // Right again: the glitch a year ahead hides nothing that follows.
  bluez->SetClockError(address, 0min);
  bluez->MeasureBloodPressure(address, 124, 80, 38);
  REQUIRE(measured(4));
  REQUIRE(ehg::test::WaitUntil([&] { return open_alerts("pulse-low") == 1; }, 5s));

  // Four values each (systolic, diastolic, mean, pulse), none hidden.
  CHECK(CountBleRows(database, "SELECT count(*) FROM readings WHERE device_id = 'cuff' AND metric != 'battery'") ==
        16);
  // Only the year-ahead measurement's values are flagged; each keeps the time the cuff claimed.
  CHECK(CountBleRows(database, "SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NOT NULL") == 4);
  CHECK(CountBleRows(database,
              "SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NOT NULL AND "
              "claimed_device_time_ms > received_ms + "
              "364 * 86400000") == 4);
  CHECK(CountBleRows(database,
              "SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NULL AND metric = 'bp.systolic' "
              "AND value = 86 "
              "AND device_time_ms BETWEEN received_ms - 7300000 AND received_ms - 7100000") == 1);
  CHECK(CountBleRows(database, "SELECT count(*) FROM alerts WHERE rule_id = 'device-clock'") == 1);
  CHECK(
      CountBleRows(database,
            "SELECT count(*) FROM alerts WHERE rule_id = 'device-clock' AND json_extract(detail, '$.device') "
            "= 'cuff' AND json_extract(detail, '$.metric') = 'device.clock'") == 1);
  CHECK(CountBleRows(database, "SELECT count(*) FROM alerts WHERE rule_id IN ('bp-low', 'pulse-low')") == 2);
  CHECK(bluez->Log(address).time_writes.empty());

  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}

TEST_CASE(
    "The status page shows a cuff that hung up after measuring as idle with its error in words, and a "
    "thermometer never seen as disconnected") {
  ehg::test::PrivateBus bus;
  BluezSimulator::Options sim;
  sim.bus_address = bus.address();
  sim.advertising_interval = 100ms;
  auto bluez = BluezSimulator::Start(sim).value();
  const std::string cuff = "5C:31:3E:00:4B:6B";
  bluez->AddDevice(Device(cuff, "A&D_UA-651BLE", "blood_pressure", true));  // hangs up after measuring
  // The thermometer is configured but never appears: it is missing, not idle.

  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.time_zone = "UTC";
  options.bluetooth_json = R"({"bus_address": ")" + bus.address() + R"("})";
  options.devices_json = R"([
    {"id": "cuff", "type": "ble", "address": ")" +
                         cuff + R"(", "profile": "blood_pressure"},
    {"id": "thermometer", "type": "ble", "address": "A4:C1:38:00:11:22", "profile": "thermometer"}
  ])";
  const int port = ehg::test::FreePort();
  options.status_page_json = R"({"listen": "127.0.0.1:)" + std::to_string(port) + R"("})";
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  ehg::test::Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("status page listening", 15s));
  REQUIRE(daemon.WaitForOutput("discovering Bluetooth LE devices", 10s));

  bluez->MeasureBloodPressure(cuff, 131, 84, 70);
  // It connects, delivers, hangs up; the gateway's next call finds it asleep (BlueZ: abort by local).
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        return bluez->Log(cuff).disconnects == 1 &&
               DeviceStatus(port, "cuff")
                       ->getValue<std::string>("last_error_detail")
                       .find("le-connection-abort-by-local") != std::string::npos;
      },
      15s));
  const auto shown = DeviceStatus(port, "cuff");
  CHECK(shown->getValue<std::string>("connection") == "idle");
  CHECK(shown->getValue<std::string>("last_error").starts_with("The device did not answer"));
  CHECK(shown->getValue<std::string>("last_error").find("org.bluez") == std::string::npos);
  CHECK(shown->getValue<std::string>("last_error_detail") ==
        "org.bluez.Error.Failed: le-connection-abort-by-local");
  CHECK(DeviceStatus(port, "thermometer")->getValue<std::string>("connection") == "disconnected");

  // The document with an idle and a missing BLE device matches the published schema.
  const fs::path document = dir / "status.json";
  std::ofstream(document) << StatusPage(port, "/api/status");
  const ehg::test::CommandResult valid = ehg::test::RunCommand(
      {"/usr/bin/env", "node", std::string(EHG_SOURCE_DIR) + "/tests/interop/node/validate-json-schema.mjs",
       std::string(EHG_SOURCE_DIR) + "/docs/status-api.schema.json", document.string()},
      60s);
  INFO(valid.output);
  CHECK(valid.exit_code == 0);

  const std::string page = StatusPage(port, "/");
  CHECK(page.find("<article class=\"device\" data-device=\"cuff\"><h3>cuff <span class=\"badge idle\">idle "
                  "between measurements</span>") != std::string::npos);
  CHECK(page.find("<article class=\"device\" data-device=\"thermometer\"><h3>thermometer <span "
                  "class=\"badge disconnected\">disconnected</span>") != std::string::npos);
  // A cuff asleep between measurements is not a warning: the D-Bus name stays out of the log at info.
  CHECK(daemon.Output().find("le-connection-abort-by-local") == std::string::npos);

  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}
