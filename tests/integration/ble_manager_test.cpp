// The BlueZ client against the BlueZ simulator on a private dbus-daemon: real D-Bus messages, the same
// object paths, interfaces and signals as bluetoothd.
#include "devices/ble/ble_manager.hpp"

#include <doctest/doctest.h>

#include <mutex>

#include "devices/ble/pairing_agent.hpp"
#include "devices/ble_profiles/bthome.hpp"
#include "devices/ble_profiles/racp.hpp"
#include "devices/sim/bluez_simulator.hpp"
#include "tests/support/private_bus.hpp"
#include "tests/support/process.hpp"
#include "tests/support/recording_sink.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::core::Reading;
using ehg::devices::ble::BleManager;
using ehg::devices::ble::BleOptions;
using ehg::devices::sim::BluezSimulator;
using ehg::devices::sim::VirtualBleDevice;
using ehg::test::WaitUntil;

namespace {

constexpr const char* kCuff = "5C:31:3E:00:4B:6B";
constexpr const char* kOximeter = "00:1C:05:FF:4E:12";
constexpr const char* kMeter = "C4:7C:8D:6A:2B:01";
constexpr const char* kButton = "54:48:E6:8F:80:A5";
constexpr const char* kThermometer = "A4:C1:38:00:11:22";
constexpr const char* kScale = "D0:39:72:B8:0A:99";

ehg::core::CivilTime Utc(ehg::core::WallTime time) {
  return ehg::core::ToCivilTime(time.time_since_epoch());
}

std::optional<ehg::core::WallTime> FromUtc(const ehg::core::CivilTime& time) {
  const auto since_epoch = ehg::core::FromCivilTime(time);
  if (!since_epoch) return std::nullopt;
  return ehg::core::WallTime{*since_epoch};
}

struct Fixture {
  ehg::test::PrivateBus bus;
  ehg::core::SystemClock clock{true};
  ehg::test::RecordingSink recorder;
  std::unique_ptr<BluezSimulator> bluez;
  std::unique_ptr<BleManager> manager;
  std::optional<std::uint32_t> stored_glucose_sequence;

  Fixture() { StartBluez(); }

  void StartBluez() {
    BluezSimulator::Options options;
    options.bus_address = bus.address();
    options.advertising_interval = 100ms;
    auto started = BluezSimulator::Start(options);
    REQUIRE_MESSAGE(started.has_value(), (started ? std::string() : started.error().message));
    bluez = std::move(*started);
  }

  BleOptions Options(std::vector<ehg::devices::ble::BleDeviceOptions> devices) {
    BleOptions options;
    options.bus_address = bus.address();
    options.devices = std::move(devices);
    options.backoff_initial = 200ms;
    options.backoff_max = 1s;
    options.local_to_utc = FromUtc;
    options.utc_to_local = Utc;
    options.last_sequence = [this](const std::string&) { return stored_glucose_sequence; };
    return options;
  }

  void StartManager(std::vector<ehg::devices::ble::BleDeviceOptions> devices) {
    manager = std::make_unique<BleManager>(Options(std::move(devices)), recorder, &recorder, clock);
    manager->Start();
  }
};

VirtualBleDevice Cuff() {
  VirtualBleDevice cuff =
      ehg::devices::sim::BondedDevice(kCuff, "A&D_UA-651BLE_4B6B", "blood_pressure", true);
  cuff.clock_error = std::chrono::minutes(-90);  // wrong until the gateway writes Current Time
  return cuff;
}

VirtualBleDevice Oximeter() {
  return ehg::devices::sim::BondedDevice(kOximeter, "Nonin3230", "pulse_oximeter", false);
}

VirtualBleDevice Meter() {
  return ehg::devices::sim::BondedDevice(kMeter, "Contour", "glucose", false);
}

// A scale not yet paired that shows a passkey: pairing needs someone to type it in.
VirtualBleDevice UnpairedPasskeyScale(std::uint32_t passkey) {
  VirtualBleDevice scale;
  scale.address = kScale;
  scale.name = "UC-352BLE";
  scale.profile = "weight_scale";
  scale.pairing = "passkey";
  scale.passkey = passkey;
  return scale;
}

}  // namespace

TEST_CASE(
    "A BP cuff that connects, indicates and hangs up is read every time it measures, with its clock set") {
  Fixture f;
  f.bluez->AddDevice(Cuff());
  f.StartManager({{"cuff", kCuff, "blood_pressure", "", {}, std::nullopt}});
  f.bluez->MeasureBloodPressure(kCuff, 142, 91, 77);
  // The measurement and the battery level arrive as separate notifications and reads.
  REQUIRE(WaitUntil(
      [&] {
        for (const char* metric : {"bp.systolic", "bp.diastolic", "pulse_rate", "battery"})
          if (f.recorder.readings(metric, "cuff").empty()) return false;
        return true;
      },
      10s));
  const Reading systolic = f.recorder.readings("bp.systolic", "cuff").at(0);
  CHECK(systolic.value == 142);
  CHECK(f.recorder.readings("bp.diastolic", "cuff").at(0).value == 91);
  CHECK(f.recorder.readings("pulse_rate", "cuff").at(0).value == 77);
  CHECK(f.recorder.readings("battery", "cuff").at(0).value == 90);
  REQUIRE(systolic.device_time.has_value());
  // Measured before the gateway set the clock: the device's own (90 minutes slow) time is kept beside
  // the receive time, as the device said it.
  CHECK(std::chrono::abs(systolic.received_at - *systolic.device_time - 90min) < 5s);
  REQUIRE(WaitUntil([&] { return f.recorder.disconnects("cuff") == 1; }, 5s));
  const auto log = f.bluez->Log(kCuff);
  CHECK(log.connects == 1);
  REQUIRE(log.time_writes.size() == 1);
  CHECK(log.time_writes[0].size() == 10);  // Current Time: date, weekday, fractions, adjust reason

  // The next morning's measurement: the cuff advertises again and the gateway reconnects by itself.
  f.bluez->MeasureBloodPressure(kCuff, 128, 84, 70);
  REQUIRE(WaitUntil([&] { return f.recorder.readings("bp.systolic", "cuff").size() == 2; }, 10s));
  const Reading second = f.recorder.readings("bp.systolic", "cuff").at(1);
  CHECK(second.value == 128);
  // The clock was set at the first connection: this reading carries the right time.
  REQUIRE(second.device_time.has_value());
  CHECK(std::chrono::abs(second.received_at - *second.device_time) < 5s);
  CHECK(f.bluez->Log(kCuff).connects == 2);
  const auto statuses = f.recorder.statuses("cuff");
  REQUIRE(statuses.size() >= 3);
  CHECK(statuses[0].connected);
  CHECK_FALSE(statuses[1].connected);
}

TEST_CASE("A cuff's clock, however wrong, is passed on as the device said it: the pipeline judges it") {
  Fixture f;
  VirtualBleDevice cuff = Cuff();
  cuff.has_current_time = false;  // the gateway cannot set this clock
  cuff.clock_error = std::chrono::days{365};
  f.bluez->AddDevice(cuff);
  f.StartManager({{"cuff", kCuff, "blood_pressure", "", {}, std::nullopt}});
  f.bluez->MeasureBloodPressure(kCuff, 131, 85, 72);
  REQUIRE(WaitUntil([&] { return f.recorder.readings("bp.systolic", "cuff").size() == 1; }, 10s));
  const Reading ahead = f.recorder.readings("bp.systolic", "cuff").at(0);
  REQUIRE(ahead.device_time.has_value());
  CHECK(std::chrono::abs(*ahead.device_time - ahead.received_at - std::chrono::days{365}) < 5s);
  CHECK_FALSE(ahead.device_clock_suspect);  // not the driver's call
  CHECK(f.bluez->Log(kCuff).time_writes.empty());

  // The clock steps back two hours behind the gateway's.
  REQUIRE(WaitUntil([&] { return f.recorder.disconnects("cuff") == 1; }, 5s));
  f.bluez->SetClockError(kCuff, -120min);
  f.bluez->MeasureBloodPressure(kCuff, 86, 58, 64);
  REQUIRE(WaitUntil([&] { return f.recorder.readings("bp.systolic", "cuff").size() == 2; }, 10s));
  const Reading behind = f.recorder.readings("bp.systolic", "cuff").at(1);
  REQUIRE(behind.device_time.has_value());
  CHECK(std::chrono::abs(behind.received_at - *behind.device_time - 120min) < 5s);
}

TEST_CASE("A cuff shared by two people: only the resident's user slot is read") {
  Fixture f;
  f.bluez->AddDevice(Cuff());
  f.StartManager({{"cuff", kCuff, "blood_pressure", "", {}, 1u}});
  f.bluez->MeasureBloodPressure(kCuff, 171, 99, 80, 2);  // the spouse
  REQUIRE(WaitUntil([&] { return f.manager->stats().at(0).other_users == 1; }, 10s));
  REQUIRE(WaitUntil([&] { return f.recorder.disconnects("cuff") == 1; }, 5s));
  f.bluez->MeasureBloodPressure(kCuff, 126, 81, 66, 1);  // the resident
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("bp.systolic", "cuff").empty(); }, 10s));
  CHECK(f.recorder.readings("bp.systolic", "cuff").size() == 1);
  CHECK(f.recorder.readings("bp.systolic", "cuff")[0].value == 126);
}

TEST_CASE("A streaming oximeter reconnects after losing the link") {
  Fixture f;
  f.bluez->AddDevice(Oximeter());
  f.bluez->SetStream(kOximeter, 96, 71);
  f.StartManager({{"oximeter", kOximeter, "pulse_oximeter", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.recorder.readings("spo2", "oximeter").size() >= 2; }, 10s));
  CHECK(f.recorder.readings("spo2", "oximeter").back().value == 96);
  CHECK(f.recorder.readings("pulse_rate", "oximeter").back().value == 71);
  CHECK_FALSE(f.recorder.readings("spo2", "oximeter").back().device_time.has_value());

  f.bluez->DropLink(kOximeter);
  REQUIRE(WaitUntil([&] { return f.recorder.disconnects("oximeter") == 1; }, 5s));
  f.bluez->SetStream(kOximeter, 89, 104);
  REQUIRE(WaitUntil([&] { return f.recorder.readings("spo2", "oximeter").back().value == 89; }, 10s));
  CHECK(f.bluez->Log(kOximeter).connects == 2);
  const auto stats = f.manager->stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].connected);
  CHECK(stats[0].connects == 2);
}

TEST_CASE("A heart-rate strap streams heart rate") {
  Fixture f;
  const VirtualBleDevice strap =
      ehg::devices::sim::BondedDevice("F0:99:19:59:B4:10", "Polar H10", "heart_rate", false);
  f.bluez->AddDevice(strap);
  f.bluez->SetStream(strap.address, 64, 0);
  f.StartManager({{"strap", strap.address, "heart_rate", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.recorder.readings("heart_rate", "strap").size() >= 2; }, 10s));
  CHECK(f.recorder.readings("heart_rate", "strap").back().value == 64);
}

TEST_CASE("After a gateway restart a device still connected is read without reconnecting") {
  Fixture f;
  f.bluez->AddDevice(Oximeter());
  f.bluez->SetStream(kOximeter, 94, 75);
  f.StartManager({{"oximeter", kOximeter, "pulse_oximeter", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("spo2", "oximeter").empty(); }, 10s));
  f.manager.reset();  // the link stays up in BlueZ
  f.bluez->SetStream(kOximeter, 92, 77);
  f.StartManager({{"oximeter", kOximeter, "pulse_oximeter", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.recorder.readings("spo2", "oximeter").back().value == 92; }, 10s));
  CHECK(f.bluez->Log(kOximeter).connects == 1);
  CHECK(f.manager->stats().at(0).connected);
  // Set up with its characteristics known (they follow the device in BlueZ's object list).
  CHECK(f.manager->stats().at(0).last_error.empty());
}

TEST_CASE("bluetoothd restarting: the gateway notices, waits, and reconnects when BlueZ is back") {
  Fixture f;
  f.bluez->AddDevice(Oximeter());
  f.bluez->SetStream(kOximeter, 97, 66);
  f.StartManager({{"oximeter", kOximeter, "pulse_oximeter", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("spo2", "oximeter").empty(); }, 10s));

  f.bluez.reset();  // bluetoothd exits: org.bluez vanishes with all its objects
  REQUIRE(WaitUntil([&] { return f.recorder.disconnects("oximeter") == 1; }, 5s));
  CHECK_FALSE(f.manager->bluez_present());
  const auto statuses = f.recorder.statuses("oximeter");
  CHECK(statuses.back().detail == "bluetoothd stopped");

  f.StartBluez();  // and comes back, remembering its bonded devices
  f.bluez->AddDevice(Oximeter());
  f.bluez->SetStream(kOximeter, 93, 80);
  REQUIRE(WaitUntil([&] { return f.recorder.readings("spo2", "oximeter").back().value == 93; }, 10s));
  CHECK(f.manager->bluez_present());
}

TEST_CASE("The adapter powered off and on: devices wait and reconnect") {
  Fixture f;
  f.bluez->AddDevice(Oximeter());
  f.bluez->SetStream(kOximeter, 95, 70);
  f.StartManager({{"oximeter", kOximeter, "pulse_oximeter", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("spo2", "oximeter").empty(); }, 10s));
  f.bluez->SetPowered(false);
  REQUIRE(WaitUntil([&] { return f.recorder.disconnects("oximeter") == 1; }, 5s));
  f.bluez->SetStream(kOximeter, 91, 88);
  f.bluez->SetPowered(true);
  REQUIRE(WaitUntil([&] { return f.recorder.readings("spo2", "oximeter").back().value == 91; }, 10s));
}

TEST_CASE("Glucose records are fetched once, and later only the records after the last stored one") {
  Fixture f;
  f.bluez->AddDevice(Meter());
  f.bluez->AddGlucoseRecord(kMeter, 1, 5.4, 180min);
  f.bluez->AddGlucoseRecord(kMeter, 2, 7.9, 120min);
  f.bluez->AddGlucoseRecord(kMeter, 3, 6.2, 60min);
  f.StartManager({{"meter", kMeter, "glucose", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.recorder.readings("glucose", "meter").size() == 3; }, 10s));
  const auto first = f.recorder.readings("glucose", "meter");
  CHECK(first[0].sequence == 1u);
  CHECK(first[1].value == 7.9);
  CHECK(first[2].sequence == 3u);
  REQUIRE(first[2].device_time.has_value());
  CHECK(std::chrono::abs(first[2].received_at - 60min - *first[2].device_time) < 5s);
  REQUIRE(f.bluez->Log(kMeter).record_requests.size() == 1);
  CHECK(f.bluez->Log(kMeter).record_requests[0] == ehg::devices::ble::racp::ReportAllRecords());

  // The gateway restarts: the store says record 3 is the last one it has.
  f.manager.reset();
  f.stored_glucose_sequence = 3;
  f.bluez->DropLink(kMeter);
  f.bluez->AddGlucoseRecord(kMeter, 4, 11.3, 5min);
  f.StartManager({{"meter", kMeter, "glucose", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.recorder.readings("glucose", "meter").size() == 4; }, 10s));
  CHECK(f.recorder.readings("glucose", "meter")[3].sequence == 4u);
  const auto requests = f.bluez->Log(kMeter).record_requests;
  REQUIRE(requests.size() == 2);
  CHECK(requests[1] == ehg::devices::ble::racp::ReportRecordsFrom(4));
  // The meter's closing answer follows its records: once it arrived (record 4 and the answer are this
  // manager's two values), nothing more is coming.
  REQUIRE(WaitUntil([&] { return f.manager->stats().at(0).values == 2; }, 5s));
  CHECK(f.recorder.readings("glucose", "meter").size() == 4);  // nothing fetched twice
}

TEST_CASE("A meter with no new records answers no records found and the gateway carries on") {
  Fixture f;
  f.bluez->AddDevice(Meter());
  f.stored_glucose_sequence = 9;
  f.bluez->AddGlucoseRecord(kMeter, 9, 5.0, 60min);
  f.StartManager({{"meter", kMeter, "glucose", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.bluez->Log(kMeter).record_requests.size() == 1; }, 10s));
  CHECK(f.bluez->Log(kMeter).record_requests[0] == ehg::devices::ble::racp::ReportRecordsFrom(10));
  REQUIRE(WaitUntil([&] { return f.manager->stats().at(0).values >= 1; }, 5s));
  CHECK(f.recorder.readings("glucose", "meter").empty());
  CHECK(f.manager->stats().at(0).parse_errors == 0);
}

TEST_CASE("A record transfer that never completes is aborted, and the records that came are kept") {
  Fixture f;
  VirtualBleDevice meter = Meter();
  meter.racp_never_completes = true;
  f.bluez->AddDevice(meter);
  f.bluez->AddGlucoseRecord(kMeter, 1, 5.9, 30min);
  auto options = f.Options({{"meter", kMeter, "glucose", "", {}, std::nullopt}});
  options.records_timeout = 500ms;
  f.manager = std::make_unique<BleManager>(options, f.recorder, &f.recorder, f.clock);
  f.manager->Start();
  REQUIRE(WaitUntil([&] { return f.manager->stats().at(0).record_transfers_aborted == 1; }, 10s));
  const auto requests = f.bluez->Log(kMeter).record_requests;
  REQUIRE(requests.size() == 2);
  CHECK(requests[1] == ehg::devices::ble::racp::Abort());
  CHECK(f.recorder.readings("glucose", "meter").size() == 1);
}

TEST_CASE("BTHome: an encrypted emergency button and a motion sensor, each event once") {
  Fixture f;
  VirtualBleDevice button;
  button.address = kButton;
  button.name = "SBBT-002C";
  button.profile = "bthome";
  button.bthome_key = ehg::devices::ble::ParseKey("231d39c1d7cc1ab1aee224cd096db932");
  f.bluez->AddDevice(button);
  f.StartManager({{"button",
                   kButton,
                   "bthome",
                   "231d39c1d7cc1ab1aee224cd096db932",
                   {{"double_press", ehg::devices::ble::ButtonMeaning::kIgnore}},
                   std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.manager->bluez_present(); }, 5s));
  REQUIRE(WaitUntil([&] { return f.bluez->Discovering(); }, 5s));  // advertisements are heard now
  f.bluez->Advertise(kButton, {0x01, 0x55, 0x3A, 0x01}, true);     // battery 85 %, press
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("button", "button").empty(); }, 5s));
  CHECK(f.recorder.readings("button", "button")[0].value == 1);
  CHECK(f.recorder.readings("battery", "button")[0].value == 85);
  f.bluez->Advertise(kButton, {0x3A, 0x02}, true);  // double press: ignored by configuration
  f.bluez->Advertise(kButton, {0x3A, 0x04}, true);  // long press
  REQUIRE(WaitUntil([&] { return f.recorder.readings("button", "button").size() == 2; }, 5s));
  CHECK(f.recorder.readings("button", "button")[1].value == 4);
  CHECK(f.recorder.statuses("button").at(0).detail == "receiving advertisements");
}

TEST_CASE("A thermometer and a scale deliver their measurements with device time") {
  Fixture f;
  f.bluez->AddDevice(ehg::devices::sim::BondedDevice(kThermometer, "TD1107", "thermometer", true));
  f.bluez->AddDevice(ehg::devices::sim::BondedDevice(kScale, "UC-352BLE", "weight_scale", true));
  f.StartManager({{"thermometer", kThermometer, "thermometer", "", {}, std::nullopt},
                  {"scale", kScale, "weight_scale", "", {}, std::nullopt}});
  f.bluez->MeasureTemperature(kThermometer, 38.4);
  f.bluez->MeasureWeight(kScale, 81.35);
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("body_temperature", "thermometer").empty(); }, 10s));
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("body_weight", "scale").empty(); }, 10s));
  CHECK(f.recorder.readings("body_temperature", "thermometer")[0].value == 38.4);
  CHECK(f.recorder.readings("body_weight", "scale")[0].value == 81.35);
  CHECK(f.recorder.readings("body_weight", "scale")[0].device_time.has_value());
}

TEST_CASE(
    "Pairing: a Just Works cuff is authorized by the daemon's agent, a passkey device needs the pair "
    "command") {
  Fixture f;
  VirtualBleDevice cuff = Cuff();
  cuff.bonded = false;
  cuff.pairing = "just_works";
  f.bluez->AddDevice(cuff);
  f.StartManager({{"cuff", kCuff, "blood_pressure", "", {}, std::nullopt}});
  f.bluez->MeasureBloodPressure(kCuff, 133, 86, 72);
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("bp.systolic", "cuff").empty(); }, 10s));
  CHECK(f.bluez->Log(kCuff).paired);
  CHECK(f.bluez->Log(kCuff).agent_calls == std::vector<std::string>{"RequestAuthorization"});

  f.bluez->AddDevice(UnpairedPasskeyScale(123456));
  ehg::devices::ble::PairOptions pair;
  pair.bus_address = f.bus.address();
  pair.address = kScale;
  pair.discovery_timeout = 10s;
  ehg::devices::ble::AgentPolicy wrong;
  wrong.passkey = [](const std::string&) { return std::optional<std::uint32_t>(654321); };
  auto refused = ehg::devices::ble::PairDevice(pair, wrong);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("AuthenticationFailed") != std::string::npos);
  ehg::devices::ble::AgentPolicy right;
  std::string asked_for;
  right.passkey = [&](const std::string& address) {
    asked_for = address;
    return std::optional<std::uint32_t>(123456);
  };
  auto paired = ehg::devices::ble::PairDevice(pair, right);
  REQUIRE_MESSAGE(paired.has_value(), (paired ? std::string() : paired.error().message));
  CHECK(asked_for == kScale);
  CHECK(f.bluez->Log(kScale).paired);
  CHECK(f.bluez->Log(kScale).trusted);
}

TEST_CASE("A scale that needs pairing says so in words and needs action until it is set up paired") {
  Fixture f;
  f.bluez->AddDevice(UnpairedPasskeyScale(123456));
  f.StartManager({{"scale", kScale, "weight_scale", "", {}, std::nullopt}});
  REQUIRE(WaitUntil([&] { return f.manager->stats().at(0).link_needs_action; }, 10s));
  const auto refused = f.manager->stats().at(0);
  CHECK(refused.last_error ==
        std::string("The device answers only a gateway it is paired with: run `ehealth-gateway pair ") +
            kScale + "`.");
  CHECK(refused.last_error_detail == "org.bluez.Error.NotPermitted: Insufficient Authentication");

  ehg::devices::ble::PairOptions pair;
  pair.bus_address = f.bus.address();
  pair.address = kScale;
  pair.discovery_timeout = 10s;
  ehg::devices::ble::AgentPolicy right;
  right.passkey = [](const std::string&) { return std::optional<std::uint32_t>(123456); };
  REQUIRE(ehg::devices::ble::PairDevice(pair, right).has_value());
  // Its next connection is set up: nothing is left to do, and the old error is gone with it.
  f.bluez->DropLink(kScale);
  f.bluez->MeasureWeight(kScale, 72.4);
  REQUIRE(WaitUntil([&] { return !f.recorder.readings("body_weight", "scale").empty(); }, 15s));
  const auto working = f.manager->stats().at(0);
  CHECK_FALSE(working.link_needs_action);
  CHECK(working.last_error_detail.empty());
}

TEST_CASE("ehealth-gateway pair asks for the passkey on the terminal and trusts the device") {
  Fixture f;
  f.bluez->AddDevice(UnpairedPasskeyScale(246810));
  auto pair = [&](const std::string& typed) {
    return ehg::test::RunCommand({"/bin/sh", "-c",
                                  "echo " + typed + " | '" + EHG_GATEWAY_BINARY +
                                      "' pair d0:39:72:b8:0a:99 --bus '" + f.bus.address() +
                                      "' --seconds 10"});
  };
  const auto wrong = pair("135791");
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.output.find("pairing failed: org.bluez.Error.AuthenticationFailed") != std::string::npos);
  CHECK_FALSE(f.bluez->Log(kScale).paired);
  const auto right = pair("246810");
  CHECK(right.exit_code == 0);
  CHECK(right.output.find("Enter the 6-digit passkey shown on D0:39:72:B8:0A:99") != std::string::npos);
  CHECK(right.output.find("D0:39:72:B8:0A:99 paired and trusted") != std::string::npos);
  CHECK(f.bluez->Log(kScale).paired);
  CHECK(f.bluez->Log(kScale).trusted);
  CHECK(ehg::test::RunCommand({EHG_GATEWAY_BINARY, "pair", "D0:39:72"}).exit_code == 64);
}
