#include "gateway/app/component_options.hpp"

#include <doctest/doctest.h>

#include <string>

#include "gateway/tz/time_zone.hpp"

using namespace std::chrono_literals;

namespace {

// One device of each kind the daemon starts, plus a simulated one (started by the tools binary only).
constexpr const char* kConfig = R"({
  "gateway": {"id": "gw-1", "tenant": "0301"},
  "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
  "broker": {"uri": "ssl://broker.example.no:8883", "reconnect_max_seconds": 20},
  "tls": {"ca_file": "ca.pem", "cert_file": "gw.pem", "key_file": "gw.key"},
  "security": {"insecure_plaintext_payloads_for_development": true},
  "storage": {"path": "data/gateway.db", "readings_retention_days": 30},
  "uplink": {"heartbeat_seconds": 120},
  "pipeline": {"queue_capacity": 512},
  "devices": [
    {"id": "cuff-sim", "type": "sim", "profile": "blood_pressure", "interval_seconds": 60},
    {"id": "oximeter", "type": "serial", "port": "/dev/serial/by-id/usb-oxi", "protocol": "contec-cms50-9",
     "window_seconds": 5},
    {"id": "bp", "type": "serial", "port": "/dev/serial/by-id/usb-bp", "protocol": "beurer-bm", "user": 2,
     "poll_interval_seconds": 600},
    {"id": "button", "type": "ble", "address": "54:48:E6:8F:80:A5", "profile": "bthome",
     "buttons": {"press": "emergency", "double_press": "ignore"}}
  ]
})";

ehg::config::Config Parse(const std::string& text = kConfig) {
  auto config = ehg::config::ParseConfig(text, "/etc/ehealth-gateway");
  if (!config) FAIL(config.error().front().ToString());
  return std::move(*config);
}

std::shared_ptr<const ehg::alerts::TimeZone> Oslo() {
  auto zone = ehg::tz::LoadTimeZone("Europe/Oslo");
  REQUIRE(zone);
  return *zone;
}

}  // namespace

TEST_CASE("Serial devices: one driver per serial device in config order, simulated and BLE ones left out") {
  const auto config = Parse();
  const auto serial = ehg::app::SerialDevices(config, Oslo());
  REQUIRE(serial.size() == 2);
  CHECK(serial[0].device_id == "oximeter");
  CHECK(serial[0].port == "/dev/serial/by-id/usb-oxi");
  CHECK(serial[0].protocol.name == "contec-cms50-9");
  CHECK(serial[0].aggregation.window == 5s);
  CHECK(serial[1].device_id == "bp");
  CHECK(serial[1].user == 2u);
  CHECK(serial[1].poll_interval == 600s);
  // The device clock's local time is the resident's zone: 12:00 in Oslo in winter is 11:00 UTC.
  const auto utc = serial[0].local_to_utc(ehg::core::CivilTime{2026, 1, 15, 12, 0, 0});
  REQUIRE(utc);
  CHECK(*utc == ehg::core::WallTime{} +
                    std::chrono::sys_days{std::chrono::year{2026} / 1 / 15}.time_since_epoch() + 11h);
  // A date that does not exist (a device clock set to 30 February) has no time.
  CHECK_FALSE(serial[0].local_to_utc(ehg::core::CivilTime{2026, 2, 30, 12, 0, 0}));
}

TEST_CASE("BLE devices: the manager's options only when the config has BLE devices, with button meanings") {
  const auto config = Parse();
  const auto ble = ehg::app::BleDevices(config, Oslo());
  REQUIRE(ble);
  REQUIRE(ble->devices.size() == 1);
  CHECK(ble->devices[0].device_id == "button");
  CHECK(ble->devices[0].profile == "bthome");
  REQUIRE(ble->devices[0].button_meanings.size() == 2);
  for (const auto& [event, meaning] : ble->devices[0].button_meanings) {
    const auto& button_event = event;  // clang 14 cannot capture a structured binding
    CAPTURE(button_event);
    CHECK(meaning == (event == "press" ? ehg::devices::ble::ButtonMeaning::kEmergency
                                       : ehg::devices::ble::ButtonMeaning::kIgnore));
  }
  CHECK(ble->adapter == config.bluetooth.adapter);

  std::string without_ble = kConfig;
  without_ble.erase(without_ble.find(",\n    {\"id\": \"button\""), std::string::npos);
  without_ble += "\n  ]\n}";
  CHECK_FALSE(ehg::app::BleDevices(Parse(without_ble), Oslo()));
}

TEST_CASE("The heartbeat the uplink stored wins over the config's, unless it is out of range or unreadable") {
  const auto config = Parse();
  const std::string key(ehg::uplink::kHeartbeatSetting);
  CHECK(ehg::app::HeartbeatInterval(config, {}) == 120s);
  CHECK(ehg::app::HeartbeatInterval(config, {{key, "30"}}) == 30s);
  CHECK(ehg::app::HeartbeatInterval(config, {{key, "5"}}) == 120s);      // below the minimum
  CHECK(ehg::app::HeartbeatInterval(config, {{key, "99999"}}) == 120s);  // above the maximum
  CHECK(ehg::app::HeartbeatInterval(config, {{key, "soon"}}) == 120s);
  CHECK(ehg::app::UplinkOptionsFor(config, {{key, "30"}}).heartbeat_interval == 30s);
}

TEST_CASE("Pipeline and uplink options carry identity, limits and each device's clock tolerance") {
  const auto config = Parse();
  const auto pipeline = ehg::app::PipelineOptionsFor(config);
  CHECK(pipeline.gateway_id == "gw-1");
  CHECK(pipeline.resident_pseudonym == "r-0001");
  CHECK(pipeline.queue_capacity == 512u);
  CHECK(pipeline.readings_retention == std::chrono::days(30));
  CHECK(pipeline.clock_tolerances.size() == config.devices.size());
  for (const auto& device : config.devices) {
    CAPTURE(device.id);
    REQUIRE(pipeline.clock_tolerances.count(device.id) == 1);
    CHECK(pipeline.clock_tolerances.at(device.id) == ehg::config::ClockTolerance(device));
  }
  const auto uplink = ehg::app::UplinkOptionsFor(config, {});
  CHECK(uplink.tenant == "0301");
  CHECK(uplink.gateway_id == "gw-1");
  CHECK(uplink.reconnect_max == 20s);
  CHECK(uplink.version == std::string(EHG_VERSION));
}
