#include "gateway/config/config.hpp"

#include <doctest/doctest.h>

#include <filesystem>

#include "devices/sim/measurement_generator.hpp"
#include "gateway/core/device_catalog.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::config::ParseConfig;

namespace {

constexpr const char* kMinimal = R"({
  "gateway": {"id": "gw-1", "tenant": "0301"},
  "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
  "broker": {"uri": "ssl://broker.example.no:8883"},
  "tls": {"ca_file": "ca.pem", "cert_file": "/etc/ehg/gw.pem", "key_file": "keys/gw.key"},
  "security": {"gateway_key_file": "keys/gateway-signing.key", "recipient_key_file": "/etc/ehg/care.jwk",
               "command_keys_file": "care-commands.jwks"},
  "storage": {"path": "data/gateway.db"}
})";

}  // namespace

TEST_CASE("A minimal config gets safe defaults") {
  const auto config = ParseConfig(kMinimal, "/etc/ehealth-gateway");
  REQUIRE(config.has_value());
  CHECK(config->gateway.id == "gw-1");
  CHECK(config->gateway.tenant == "0301");
  CHECK(config->gateway.log_level == ehg::core::LogLevel::kInfo);
  CHECK_FALSE(config->gateway.assume_clock_synchronised);
  CHECK_FALSE(config->broker.insecure_plaintext_for_development);
  CHECK(config->broker.keepalive == 30s);
  CHECK(config->broker.reconnect_max == 60s);
  CHECK(config->broker.protocol == ehg::config::MqttProtocol::kV5);
  CHECK(config->broker.retain_status);
  CHECK(config->broker.command_qos == 1);  // the broker keeps commands while the gateway is offline
  CHECK(config->storage.outbox_budget_bytes == 64ull * 1024 * 1024);
  CHECK(config->storage.readings_retention == std::chrono::days(90));
  CHECK(config->pipeline.queue_capacity == 4096);
  CHECK(config->devices.empty());
  CHECK(config->rules.thresholds.empty());
}

TEST_CASE("Relative paths resolve against the config file's directory, absolute ones stay") {
  const auto config = ParseConfig(kMinimal, "/etc/ehealth-gateway");
  REQUIRE(config.has_value());
  CHECK(config->tls.ca_file == fs::path("/etc/ehealth-gateway/ca.pem"));
  CHECK(config->tls.cert_file == fs::path("/etc/ehg/gw.pem"));
  CHECK(config->tls.key_file == fs::path("/etc/ehealth-gateway/keys/gw.key"));
  CHECK(config->storage.path == fs::path("/etc/ehealth-gateway/data/gateway.db"));
}

TEST_CASE(
    "Plaintext MQTT is accepted only when the config names the development flag, and then TLS is optional") {
  const auto config = ParseConfig(R"({
    "gateway": {"id": "gw-1", "tenant": "0301"},
    "resident": {"pseudonym": "r-0001", "time_zone": "UTC"},
    "broker": {"uri": "tcp://127.0.0.1:1883", "insecure_plaintext_for_development": true},
    "security": {"insecure_plaintext_payloads_for_development": true},
    "storage": {"path": "/tmp/x.db"}
  })",
                                  "/");
  REQUIRE(config.has_value());
  CHECK(config->broker.insecure_plaintext_for_development);
  CHECK(config->broker.uri == "tcp://127.0.0.1:1883");
}

TEST_CASE("Devices and rules become typed structs") {
  const auto config = ParseConfig(R"({
    "gateway": {"id": "gw-1", "tenant": "0301", "log_level": "debug"},
    "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
    "broker": {"uri": "mqtts://broker.example.no:8883", "keepalive_seconds": 45, "protocol": "3.1.1",
               "retain_status": false, "command_qos": 0},
    "tls": {"ca_file": "/a", "cert_file": "/b", "key_file": "/c"},
    "security": {"insecure_plaintext_payloads_for_development": true},
    "storage": {"path": "/d.db", "outbox_budget_bytes": 1048576, "readings_retention_days": 7},
    "pipeline": {"queue_capacity": 100, "batch_window_ms": 0, "batch_max": 10},
    "bluetooth": {"adapter": "hci1", "bus_address": "unix:path=/run/test/bus"},
    "devices": [
      {"id": "sim-bp", "type": "sim", "profile": "blood_pressure", "interval_seconds": 0.25, "seed": 7,
       "artefact_rate": 0},
      {"id": "oxi", "type": "serial", "port": "/dev/serial/by-id/usb-x", "protocol": "nonin-df8"},
      {"id": "button", "type": "ble", "address": "a4:c1:38:0d:2e:51", "profile": "bthome",
       "bthome_key": "231d39c1d7cc1ab1aee224cd096db932", "buttons": {"double_press": "ignore"}}
    ],
    "rules": [
      {"id": "pulse-band", "kind": "threshold", "metric": "pulse_rate", "above": 120, "below": 45,
       "severity": "critical"}
    ]
  })",
                                  "/");
  REQUIRE(config.has_value());
  CHECK(config->gateway.log_level == ehg::core::LogLevel::kDebug);
  CHECK(config->broker.keepalive == 45s);
  CHECK(config->broker.protocol == ehg::config::MqttProtocol::kV3_1_1);
  CHECK_FALSE(config->broker.retain_status);
  CHECK(config->broker.command_qos == 0);
  CHECK(config->pipeline.batch_window == 0ms);
  REQUIRE(config->devices.size() == 3);
  const auto& simulated = std::get<ehg::config::SimulatedDeviceConfig>(config->devices[0].settings);
  CHECK(simulated.interval == 250ms);
  CHECK(simulated.seed == 7);
  CHECK(simulated.artefact_rate == 0);
  const auto& serial = std::get<ehg::config::SerialDeviceConfig>(config->devices[1].settings);
  CHECK(serial.port == fs::path("/dev/serial/by-id/usb-x"));
  CHECK(serial.protocol == "nonin-df8");
  const auto& ble = std::get<ehg::config::BleDeviceConfig>(config->devices[2].settings);
  CHECK(ble.address == "A4:C1:38:0D:2E:51");  // normalised to BlueZ's spelling
  CHECK(ble.buttons == std::map<std::string, std::string>{{"double_press", "ignore"}});
  CHECK(config->bluetooth.adapter == "hci1");
  CHECK(config->bluetooth.bus_address == "unix:path=/run/test/bus");
  REQUIRE(config->rules.thresholds.size() == 1);
  const auto& rule = config->rules.thresholds[0];
  CHECK(rule.above == 120);
  CHECK(rule.below == 45);
  CHECK(rule.common.severity == ehg::alerts::Severity::kCritical);
}

TEST_CASE("Every example config passes") {
  const fs::path examples = fs::path(EHG_SOURCE_DIR) / "examples";
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(examples)) {
    if (entry.path().extension() != ".json") continue;
    CAPTURE(entry.path().filename().string());
    const auto config = ehg::config::LoadConfig(entry.path());
    if (!config) {
      for (const auto& error : config.error())
        MESSAGE(error.ToString());
    }
    CHECK(config.has_value());
    ++checked;
  }
  CHECK(checked >= 3);
}

TEST_CASE("The simulator implements every simulated profile of the device catalogue") {
  for (const std::string_view name : ehg::core::DeviceKindNames(ehg::core::DeviceConnection::kSimulated)) {
    CAPTURE(name);
    CHECK(ehg::devices::sim::ParseProfile(name).has_value());
  }
}

TEST_CASE("A missing or oversized file is an error, not a crash") {
  const auto missing = ehg::config::LoadConfig("/nonexistent/gateway.json");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error()[0].message == "config file /nonexistent/gateway.json does not exist");
  const auto directory = ehg::config::LoadConfig("/");
  CHECK_FALSE(directory.has_value());
}

TEST_CASE("A simulated device's scenario becomes time-ordered steps") {
  const auto config = ParseConfig(R"({
    "gateway": {"id": "gw-1", "tenant": "0301"},
    "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
    "broker": {"uri": "ssl://b.example.no:8883"},
    "tls": {"ca_file": "/a", "cert_file": "/b", "key_file": "/c"},
    "security": {"insecure_plaintext_payloads_for_development": true},
    "storage": {"path": "/d.db"},
    "devices": [{"id": "oxi", "type": "sim", "profile": "pulse_oximeter", "scenario": [
      {"after_seconds": 120, "spo2": 95},
      {"after_seconds": 5.5, "spo2": 86, "pulse": 112}
    ]}]
  })",
                                  "/");
  REQUIRE(config.has_value());
  const auto& scenario = std::get<ehg::config::SimulatedDeviceConfig>(config->devices[0].settings).scenario;
  REQUIRE(scenario.size() == 3);
  CHECK(scenario[0].after == 5500ms);
  CHECK(scenario[2].after == 120s);
  CHECK(scenario[2].parameter == "spo2");
  CHECK(scenario[2].value == 95);
  for (const auto& step : scenario) {
    ehg::devices::sim::Physiology physiology;
    CHECK(ehg::devices::sim::SetPhysiology(physiology, step.parameter, step.value));
  }
  for (const std::string_view name : ehg::config::ScenarioParameters()) {
    ehg::devices::sim::Physiology physiology;
    CAPTURE(name);
    CHECK(ehg::devices::sim::SetPhysiology(physiology, name, 1));
  }
}

TEST_CASE(
    "Serial devices take a window, waveform forwarding, and for Beurer monitors a user slot and poll "
    "interval") {
  const auto config = ParseConfig(R"({
    "gateway": {"id": "gw-1", "tenant": "0301"},
    "resident": {"pseudonym": "r-0001", "time_zone": "UTC"},
    "broker": {"uri": "ssl://broker.example.no:8883"},
    "tls": {"ca_file": "/a", "cert_file": "/b", "key_file": "/c"},
    "security": {"insecure_plaintext_payloads_for_development": true},
    "storage": {"path": "/d.db"},
    "devices": [
      {"id": "oxi", "type": "serial", "port": "/dev/ttyUSB0", "protocol": "contec-cms50-9"},
      {"id": "oxi-2", "type": "serial", "port": "/dev/ttyUSB1", "protocol": "nonin-df2", "window_seconds": 5,
       "forward_waveform": true},
      {"id": "bp", "type": "serial", "port": "/dev/ttyUSB2", "protocol": "beurer-bm", "user": 2,
       "poll_interval_minutes": 2},
      {"id": "oxi-3", "type": "serial", "port": "/dev/ttyUSB3", "protocol": "nonin-df2", "window_seconds": 0}
    ]
  })",
                                  "/");
  REQUIRE(config.has_value());
  const auto& defaults = std::get<ehg::config::SerialDeviceConfig>(config->devices[0].settings);
  CHECK(defaults.window == 1s);
  CHECK_FALSE(defaults.forward_waveform);
  CHECK(defaults.user == 1);
  CHECK(defaults.poll_interval == 300s);
  const auto& waveform = std::get<ehg::config::SerialDeviceConfig>(config->devices[1].settings);
  CHECK(waveform.window == 5s);
  CHECK(waveform.forward_waveform);
  const auto& monitor = std::get<ehg::config::SerialDeviceConfig>(config->devices[2].settings);
  CHECK(monitor.user == 2);
  CHECK(monitor.poll_interval == 120s);
  CHECK(std::get<ehg::config::SerialDeviceConfig>(config->devices[3].settings).window == 0s);
}

namespace {

std::string WithStatusPage(const std::string& section) {
  std::string text = kMinimal;
  text.insert(text.rfind('}'), R"(, "status_page": )" + section);
  return text;
}

std::string Errors(const ehg::config::ConfigResult& result) {
  std::string text;
  if (!result) {
    for (const auto& error : result.error())
      text += error.ToString() + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("The status page is on loopback by default, without values") {
  const auto config = ParseConfig(kMinimal, "/etc/ehealth-gateway");
  REQUIRE(config.has_value());
  CHECK(config->status_page.enabled);
  CHECK(config->status_page.host == "127.0.0.1");
  CHECK(config->status_page.port == 8780);
  CHECK_FALSE(config->status_page.show_values);
  CHECK(config->status_page.refresh == 10s);
  CHECK(config->status_page.token_file.empty());
}

TEST_CASE("A status page beyond loopback needs a token file and TLS") {
  const auto bare = ParseConfig(WithStatusPage(R"({"listen": "0.0.0.0:8443"})"), "/etc/ehealth-gateway");
  REQUIRE_FALSE(bare.has_value());
  const std::string errors = Errors(bare);
  CHECK(errors.find("status_page.token_file: required when status_page.listen is not a loopback") !=
        std::string::npos);
  CHECK(errors.find("tls_cert_file and tls_key_file are required") != std::string::npos);

  const auto complete = ParseConfig(WithStatusPage(R"({"listen": "[::]:8443", "token_file": "status-token",
      "tls_cert_file": "status.crt", "tls_key_file": "status.key", "show_values": true, "refresh_seconds": 30})"),
                                    "/etc/ehealth-gateway");
  REQUIRE_MESSAGE(complete.has_value(), Errors(complete));
  CHECK(complete->status_page.host == "::");
  CHECK(complete->status_page.port == 8443);
  CHECK(complete->status_page.token_file == fs::path("/etc/ehealth-gateway/status-token"));
  CHECK(complete->status_page.tls_key_file == fs::path("/etc/ehealth-gateway/status.key"));
  CHECK(complete->status_page.show_values);
  CHECK(complete->status_page.refresh == 30s);

  // Disabled, the address does not matter.
  CHECK(ParseConfig(WithStatusPage(R"({"enabled": false, "listen": "0.0.0.0:8443"})"), "/").has_value());
}

TEST_CASE("Status page mistakes are named by path") {
  CHECK(Errors(ParseConfig(WithStatusPage(R"({"listen": "8780"})"), "/"))
            .find("status_page.listen: expected host:port") != std::string::npos);
  CHECK(Errors(ParseConfig(WithStatusPage(R"({"refresh_seconds": 1})"), "/"))
            .find("status_page.refresh_seconds") != std::string::npos);
  CHECK(Errors(ParseConfig(WithStatusPage(R"({"tls_cert_file": "a.crt"})"), "/"))
            .find("status_page.tls_key_file: tls_cert_file and tls_key_file go together") !=
        std::string::npos);
  CHECK(Errors(ParseConfig(WithStatusPage(R"({"show_value": true})"), "/"))
            .find("status_page.show_value: unknown key") != std::string::npos);
}

TEST_CASE("Storage windows: a week of raw readings, summaries for the retention, the raw never longer") {
  const auto with_storage = [](const std::string& storage) {
    std::string text = kMinimal;
    const std::string from = R"("storage": {"path": "data/gateway.db"})";
    text.replace(text.find(from), from.size(), R"("storage": {"path": "data/gateway.db", )" + storage + "}");
    return ParseConfig(text, "/");
  };
  const auto defaults = ParseConfig(kMinimal, "/");
  REQUIRE(defaults.has_value());
  CHECK(defaults->storage.raw_readings_retention == std::chrono::days(7));
  CHECK(defaults->storage.keep_free_disk_bytes == 32ull * 1024 * 1024);
  // A short retention alone bounds the raw readings too.
  const auto short_retention = with_storage(R"("readings_retention_days": 3)");
  REQUIRE_MESSAGE(short_retention.has_value(), Errors(short_retention));
  CHECK(short_retention->storage.raw_readings_retention == std::chrono::days(3));
  const auto both =
      with_storage(R"("readings_retention_days": 180, "raw_readings_days": 14, "keep_free_disk_bytes": 0)");
  REQUIRE_MESSAGE(both.has_value(), Errors(both));
  CHECK(both->storage.raw_readings_retention == std::chrono::days(14));
  CHECK(both->storage.readings_retention == std::chrono::days(180));
  CHECK(both->storage.keep_free_disk_bytes == 0);
  CHECK(Errors(with_storage(R"("readings_retention_days": 30, "raw_readings_days": 31)"))
            .find("storage.raw_readings_days: must be at most storage.readings_retention_days") !=
        std::string::npos);
  CHECK(Errors(with_storage(R"("raw_readings_days": 0)")).find("storage.raw_readings_days") !=
        std::string::npos);
}

TEST_CASE("WithRules replaces the top-level rules and leaves every other byte, comments included") {
  const std::string text =
      "// the installer's note\n{\n  \"gateway\": {\"id\": \"gw-1\"}, /* keep */\n"
      "  \"devices\": [{\"id\": \"cuff\", \"rules\": [\"not these\"]}],\n"
      "  \"rules\": [ {\"id\": \"old\"} ] // old rules\n}\n";
  auto replaced = ehg::config::WithRules(text, R"([{"id":"new"}])");
  REQUIRE(replaced);
  CHECK(*replaced ==
        "// the installer's note\n{\n  \"gateway\": {\"id\": \"gw-1\"}, /* keep */\n"
        "  \"devices\": [{\"id\": \"cuff\", \"rules\": [\"not these\"]}],\n"
        "  \"rules\": [{\"id\":\"new\"}] // old rules\n}\n");
  // Without rules: added as the last member.
  auto added = ehg::config::WithRules("{\"gateway\": {}} // end\n", "[]");
  REQUIRE(added);
  CHECK(*added == "{\"gateway\": {},\n  \"rules\": []\n} // end\n");
  auto empty = ehg::config::WithRules("{}", "[]");
  REQUIRE(empty);
  CHECK(*empty == "{\n  \"rules\": []\n}");
  CHECK_FALSE(ehg::config::WithRules("[1]", "[]"));
  CHECK_FALSE(ehg::config::WithRules("{", "[]"));
}
