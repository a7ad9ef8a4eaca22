#include "gateway/config/security_floor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::config::Config;
using ehg::config::SecurityFloorViolations;

namespace {

// The COPD example as the installer left it: the local file, the floor.
Config Local() {
  auto config = ehg::config::LoadConfig(fs::path(EHG_SOURCE_DIR) / "examples" / "copd-resident.json");
  REQUIRE_MESSAGE(config.has_value(), (config ? "" : config.error().front().ToString()));
  return *config;
}

ehg::config::BleDeviceConfig* Bthome(Config& config) {
  for (auto& device : config.devices) {
    auto* ble = std::get_if<ehg::config::BleDeviceConfig>(&device.settings);
    if (ble != nullptr && ble->profile == "bthome") return ble;
  }
  return nullptr;
}

struct Attempt {
  const char* what;
  std::function<void(Config&)> change;
  std::vector<std::string> keys;  // what the refusal must name
};

}  // namespace

TEST_CASE("A remote config that lowers or moves any part of the floor is refused, naming the keys") {
  const Config local = Local();
  const std::vector<Attempt> attempts = {
      {"plaintext payloads, unsigned commands",
       [](Config& c) { c.security.insecure_plaintext_payloads_for_development = true; },
       {"security.insecure_plaintext_payloads_for_development"}},
      {"plaintext broker elsewhere",
       [](Config& c) {
         c.broker.uri = "tcp://203.0.113.7:1883";
         c.broker.insecure_plaintext_for_development = true;
       },
       {"broker.insecure_plaintext_for_development", "broker.uri"}},
      {"another TLS broker (an attacker's, with a certificate from any CA)",
       [](Config& c) { c.broker.uri = "ssl://broker.attacker.example:8883"; },
       {"broker.uri"}},
      {"another MQTT version (the broker may not speak it: the gateway would go silent)",
       [](Config& c) { c.broker.protocol = ehg::config::MqttProtocol::kV3_1_1; },
       {"broker.protocol"}},
      {"another command QoS (at 0 the broker no longer keeps commands while the gateway is offline)",
       [](Config& c) { c.broker.command_qos = 0; },
       {"broker.command_qos"}},
      {"an attacker's CA", [](Config& c) { c.tls.ca_file = "/tmp/ca.pem"; }, {"tls.ca_file"}},
      {"another client key", [](Config& c) { c.tls.key_file = "/tmp/key.pem"; }, {"tls.key_file"}},
      {"an attacker's command key",
       [](Config& c) { c.security.command_keys_file = "/tmp/keys.jwks"; },
       {"security.command_keys_file"}},
      {"an attacker's recipient key",
       [](Config& c) { c.security.recipient_key_file = "/tmp/care.jwk"; },
       {"security.recipient_key_file"}},
      {"the gateway's signing key",
       [](Config& c) { c.security.gateway_key_file = "/tmp/gw.key"; },
       {"security.gateway_key_file"}},
      {"a longer replay window",
       [](Config& c) { c.security.command_max_lifetime = 24h * 365; },
       {"security.command_max_lifetime_hours"}},
      {"more clock skew", [](Config& c) { c.security.clock_skew = 24h; }, {"security.clock_skew_seconds"}},
      {"a page on every address, with values, another token",
       [](Config& c) {
         c.status_page.host = "0.0.0.0";
         c.status_page.show_values = true;
         c.status_page.token_file = "/tmp/token";
       },
       {"status_page.listen", "status_page.token_file", "status_page.show_values"}},
      {"a clock said synchronised",
       [](Config& c) { c.gateway.assume_clock_synchronised = true; },
       {"gateway.assume_clock_synchronised"}},
      {"another identity",
       [](Config& c) {
         c.gateway.id = "gw-2";
         c.gateway.tenant = "0302";
         c.resident.pseudonym = "r-9999";
       },
       {"gateway.id", "gateway.tenant", "resident.pseudonym"}},
      {"history erased",
       [](Config& c) { c.storage.readings_retention = std::chrono::days(1); },
       {"storage.readings_retention_days"}},
      {"the database moved", [](Config& c) { c.storage.path = "/tmp/gateway.db"; }, {"storage.path"}},
      {"raw readings kept a day",
       [](Config& c) { c.storage.raw_readings_retention = std::chrono::days(1); },
       {"storage.raw_readings_days"}},
      {"the disk may be filled",
       [](Config& c) { c.storage.keep_free_disk_bytes = 0; },
       {"storage.keep_free_disk_bytes"}},
      {"another D-Bus",
       [](Config& c) { c.bluetooth.bus_address = "unix:path=/tmp/bus"; },
       {"bluetooth.bus_address"}},
      {"no session kept", [](Config& c) { c.uplink.session_expiry = 0h; }, {"uplink.session_expiry_hours"}},
      {"receipts for alerts only",
       [](Config& c) { c.uplink.receipts_for_alerts_only = true; },
       {"uplink.receipts"}},
      {"an emergency button's encryption removed",
       [](Config& c) {
         auto* button = Bthome(c);
         REQUIRE(button != nullptr);
         button->bthome_key_hex.clear();
       },
       {"devices[3].bthome_key"}},
  };
  for (const Attempt& attempt : attempts) {
    CAPTURE(attempt.what);
    Config remote = local;
    attempt.change(remote);
    CHECK(SecurityFloorViolations(local, remote) == attempt.keys);
  }
}

TEST_CASE(
    "On the allowed side: new serial ports, simulated devices and levels that hide or leak are refused") {
  const Config local = Local();
  const auto serial_index = [](const Config& c) {
    for (std::size_t i = 0; i < c.devices.size(); ++i)
      if (std::holds_alternative<ehg::config::SerialDeviceConfig>(c.devices[i].settings)) return i;
    return c.devices.size();
  };
  REQUIRE(serial_index(local) < local.devices.size());
  const std::size_t oximeter = serial_index(local);

  Config modem = local;  // the USB modem that carries the uplink is a tty too
  std::get<ehg::config::SerialDeviceConfig>(modem.devices[oximeter].settings).port = "/dev/ttyUSB2";
  CHECK(SecurityFloorViolations(local, modem) ==
        std::vector<std::string>{"devices[" + std::to_string(oximeter) + "].port"});

  Config invented = local;  // made-up vital signs in the resident's record
  ehg::config::DeviceConfig simulated;
  simulated.id = "fake-oximeter";
  simulated.settings = ehg::config::SimulatedDeviceConfig{};
  invented.devices.push_back(simulated);
  CHECK(SecurityFloorViolations(local, invented) ==
        std::vector<std::string>{"devices[" + std::to_string(invented.devices.size() - 1) + "].type"});

  for (const auto level : {ehg::core::LogLevel::kError, ehg::core::LogLevel::kDebug}) {
    Config quiet = local;
    quiet.gateway.log_level = level;
    CHECK(SecurityFloorViolations(local, quiet) == std::vector<std::string>{"gateway.log_level"});
  }
  Config warning = local;
  warning.gateway.log_level = ehg::core::LogLevel::kWarning;
  CHECK(SecurityFloorViolations(local, warning).empty());
  // The same port under another device id, and the oximeter moved in the list, are fine.
  Config renamed = local;
  renamed.devices[oximeter].id = "oximeter-2";
  std::rotate(renamed.devices.begin(), renamed.devices.begin() + 1, renamed.devices.end());
  CHECK(SecurityFloorViolations(local, renamed).empty());
}

TEST_CASE("A development flag never arrives remotely, even when the local file sets it") {
  Config local = Local();
  local.security.insecure_plaintext_payloads_for_development = true;
  local.broker.insecure_plaintext_for_development = true;
  Config remote = local;
  CHECK(SecurityFloorViolations(local, remote) ==
        std::vector<std::string>{"broker.insecure_plaintext_for_development",
                                 "security.insecure_plaintext_payloads_for_development"});
  // A gateway told to trust an unsynchronised clock (a container without NTP) keeps that locally: a
  // remote config must repeat it, and cannot set it.
  Config trusting = Local();
  trusting.gateway.assume_clock_synchronised = true;
  CHECK(SecurityFloorViolations(trusting, trusting).empty());
  CHECK(SecurityFloorViolations(Local(), trusting) ==
        std::vector<std::string>{"gateway.assume_clock_synchronised"});
}

TEST_CASE("Care settings may change remotely: rules, devices, time zone, heartbeat, log level") {
  const Config local = Local();
  Config remote = local;
  CHECK(SecurityFloorViolations(local, remote).empty());
  remote.gateway.log_level = ehg::core::LogLevel::kWarning;
  remote.resident.time_zone = "Europe/Stockholm";
  remote.uplink.heartbeat_interval = 300s;
  REQUIRE_FALSE(remote.rules.thresholds.empty());
  remote.rules.thresholds.front().below = 85;
  auto* button = Bthome(remote);
  REQUIRE(button != nullptr);
  button->bthome_key_hex = std::string(32, 'a');     // a new button at that address
  remote.devices.erase(remote.devices.begin() + 1);  // the thermometer is taken away
  CHECK(SecurityFloorViolations(local, remote).empty());
}
