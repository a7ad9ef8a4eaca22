#include <doctest/doctest.h>

#include <string>

#include "gateway/config/config.hpp"

using namespace std::chrono_literals;
using ehg::alerts::Severity;

namespace {

std::string WithRules(const std::string& rules, const std::string& devices = "[]") {
  return R"({
  "gateway": {"id": "gw-1", "tenant": "0301"},
  "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
  "broker": {"uri": "ssl://broker.example.no:8883"},
  "tls": {"ca_file": "ca.pem", "cert_file": "gw.pem", "key_file": "gw.key"},
  "security": {"insecure_plaintext_payloads_for_development": true},
  "storage": {"path": "gateway.db"},
  "devices": )" +
         devices + R"(,
  "rules": )" +
         rules + "}";
}

std::vector<std::string> Errors(const std::string& text) {
  const auto config = ehg::config::ParseConfig(text, "/etc/ehealth-gateway");
  std::vector<std::string> errors;
  if (config) return errors;
  for (const auto& error : config.error())
    errors.push_back(error.path + ": " + error.message);
  return errors;
}

}  // namespace

TEST_CASE("Every rule kind parses into its struct, with units and defaults") {
  const auto config = ehg::config::ParseConfig(WithRules(R"([
    {"id": "spo2-low", "kind": "threshold", "metric": "spo2", "below": 88, "for_seconds": 15,
     "hysteresis": 2, "clear_for_minutes": 5, "severity": "high",
     "escalation": {"after_minutes": 15, "max_level": 2}},
    {"id": "gain", "kind": "trend", "metric": "body_weight", "rise": 2, "window_hours": 72, "severity": "medium"},
    {"id": "baseline", "kind": "baseline", "metric": "body_weight", "above_by": 1.5, "baseline_days": 7,
     "min_readings": 4, "severity": "medium"},
    {"id": "bp-daily", "kind": "missed", "metric": "bp.systolic", "daily_by": "11:00", "daily_from": "05:00",
     "severity": "low"},
    {"id": "weight-daily", "kind": "missed", "metric": "body_weight", "within_hours": 26, "severity": "low"},
    {"id": "quiet", "kind": "inactivity", "quiet_hours": 4, "between": ["08:00", "22:00"], "severity": "high"},
    {"id": "button", "kind": "event", "metric": "button", "severity": "critical"},
    {"id": "door-night", "kind": "event", "metric": "door", "between": ["23:00", "06:00"], "severity": "high",
     "clear_for_minutes": 30},
    {"id": "news2", "kind": "news2", "spo2_scale": 2, "fresh_minutes": 60, "min_risk": "medium",
     "min_parameters": 3},
    {"id": "battery", "kind": "battery_low", "below": 15, "severity": "low"},
    {"id": "silent", "kind": "device_silent", "severity": "medium"},
    {"id": "sensor", "kind": "sensor_error", "severity": "low"},
    {"id": "storage", "kind": "storage", "above_percent": 75, "severity": "medium"},
    {"id": "clock", "kind": "clock", "unsynchronised_for_minutes": 20, "severity": "low"}
  ])",
                                                         R"([
    {"id": "cuff", "type": "sim", "profile": "blood_pressure", "interval_seconds": 60},
    {"id": "scale", "type": "ble", "profile": "weight_scale", "address": "A4:C1:38:0D:2E:51",
     "expected_interval_hours": 30}
  ])"),
                                               "/etc");
  if (!config) {
    for (const auto& error : config.error())
      MESSAGE(error.ToString());
  }
  REQUIRE(config.has_value());
  const auto& rules = config->rules;
  CHECK(rules.size() == 14);
  REQUIRE(rules.thresholds.size() == 1);
  const auto& spo2 = rules.thresholds[0];
  CHECK(spo2.below == 88);
  CHECK(spo2.persistence.for_duration == 15s);
  CHECK(spo2.persistence.hysteresis == 2);
  CHECK(spo2.common.clear_for == 5min);
  REQUIRE(spo2.common.escalation.has_value());
  CHECK(spo2.common.escalation->after == 15min);
  CHECK(spo2.common.escalation->max_level == 2);
  CHECK(rules.trends.at(0).window == 72h);
  CHECK(rules.trends.at(0).rise == 2);
  CHECK(rules.baselines.at(0).baseline_window == std::chrono::days{7});
  CHECK(rules.baselines.at(0).min_readings == 4);
  CHECK(rules.missed.at(0).daily_by->minutes == 11 * 60);
  CHECK(rules.missed.at(0).daily_from.minutes == 5 * 60);
  CHECK(rules.missed.at(1).within == 26h);
  CHECK(rules.inactivity.at(0).quiet_for == 4h);
  CHECK(rules.inactivity.at(0).metrics == std::vector<std::string>{"motion", "door"});
  CHECK(rules.events.at(1).window->from.minutes == 23 * 60);
  CHECK(rules.events.at(1).common.clear_for == 30min);
  CHECK(rules.news2.at(0).spo2_scale == ehg::alerts::SpO2Scale::kScale2);
  CHECK(rules.news2.at(0).min_risk == ehg::alerts::News2Risk::kMedium);
  CHECK(rules.news2.at(0).common.severity == Severity::kInfo);  // a floor: the risk decides
  CHECK(rules.devices.at(0).battery_below == 15);
  // The silence rule watches every configured device: a simulated one at three intervals, others as set.
  CHECK(rules.devices.at(1).expected_intervals ==
        std::map<std::string, std::chrono::seconds>{{"cuff", 180s}, {"scale", 30h}});
  CHECK(rules.gateway.at(0).storage_percent == 75);
  CHECK(rules.gateway.at(1).clock_unsynchronised_for == 20min);
}

TEST_CASE("Rule mistakes are reported with their path") {
  CHECK(Errors(WithRules(R"([{"id": "a", "kind": "missed", "metric": "bp.systolic", "severity": "low"}])")) ==
        std::vector<std::string>{
            "rules[0]: a missed rule needs either \"daily_by\" or a \"within_...\" duration (one of them)"});
  CHECK(Errors(WithRules(R"([{"id": "a", "kind": "missed", "metric": "bp.systolic", "daily_by": "09:00",
                             "daily_from": "10:00", "severity": "low"}])")) ==
        std::vector<std::string>{"rules[0].daily_from: must be earlier in the day than daily_by"});
  CHECK(
      Errors(WithRules(R"([{"id": "a", "kind": "threshold", "metric": "spo2", "below": 90, "for_seconds": 10,
                             "for_minutes": 1, "severity": "low"}])")) ==
      std::vector<std::string>{"rules[0].for_minutes: give for once (already given as for_seconds)"});
  CHECK(Errors(WithRules(R"([{"id": "a", "kind": "inactivity", "quiet_hours": 4, "between": ["8:00", "22:00"],
                             "severity": "low"}])")) ==
        std::vector<std::string>{
            "rules[0].between[0]: expected a local time of day as \"HH:MM\" (24 h), got \"8:00\""});
  CHECK(Errors(WithRules(R"([{"id": "a", "kind": "event", "metric": "spo2", "severity": "low"}])")) ==
        std::vector<std::string>{"rules[0].metric: metric \"spo2\" is not an event metric"});
  CHECK(Errors(WithRules(R"([{"id": "a", "kind": "news2", "spo2_scale": 3}])")) ==
        std::vector<std::string>{
            "rules[0].spo2_scale: expected an SpO2 scale (a whole number) between 1 and 2, got 3"});
  CHECK(Errors(WithRules(
            R"([{"id": "a", "kind": "trend", "metric": "body_weight", "rise": 2, "severity": "low"}])")) ==
        std::vector<std::string>{"rules[0].window_hours: required: the time the change is measured over"});
  CHECK(
      Errors(WithRules(R"([{"id": "a", "kind": "threshold", "metric": "spo2", "below": 90, "severity": "low",
                             "escalation": {"after_seconds": 5}}])")) ==
      std::vector<std::string>{
          "rules[0].escalation.after_seconds: expected seconds between 30 and 172800, got 5"});
  CHECK(
      Errors(WithRules(R"([{"id": "a", "kind": "threshold", "metric": "spo2", "below": 90, "severity": "low",
                             "hysteresis": -1}])")) ==
      std::vector<std::string>{"rules[0].hysteresis: expected a margin between 0 and 70, got -1"});
}

TEST_CASE("Device clock tolerances: defaults by how the device delivers, overridden per device") {
  const auto config = ehg::config::ParseConfig(
      WithRules(
          R"([{"id": "clock-check", "kind": "device_clock", "severity": "medium", "clear_for_minutes": 30}])",
          R"([
    {"id": "oximeter", "type": "serial", "port": "/dev/ttyUSB0", "protocol": "nonin-df2"},
    {"id": "bp", "type": "serial", "port": "/dev/ttyUSB1", "protocol": "beurer-bm"},
    {"id": "glucose", "type": "ble", "address": "AA:BB:CC:DD:EE:01", "profile": "glucose"},
    {"id": "heart", "type": "ble", "address": "AA:BB:CC:DD:EE:02", "profile": "heart_rate"},
    {"id": "sim", "type": "sim", "profile": "pulse_oximeter"},
    {"id": "tight", "type": "ble", "address": "AA:BB:CC:DD:EE:03", "profile": "weight_scale",
     "clock_ahead_seconds": 30, "clock_behind_days": 2}
  ])"),
      "/etc/ehealth-gateway");
  REQUIRE(config.has_value());
  const auto streaming = ehg::core::DefaultClockTolerance(ehg::core::DeviceTiming::kStreaming);
  const auto records = ehg::core::DefaultClockTolerance(ehg::core::DeviceTiming::kStoredRecords);
  CHECK(streaming == ehg::core::DeviceClockTolerance{2min, 2min, ehg::core::DeviceTiming::kStreaming});
  CHECK(records == ehg::core::DeviceClockTolerance{5min, std::chrono::days{30},
                                                   ehg::core::DeviceTiming::kStoredRecords});
  const auto tolerance = [&](const std::string& id) {
    for (const auto& device : config->devices)
      if (device.id == id) return ehg::config::ClockTolerance(device);
    FAIL("no device " << id);
    return ehg::core::DeviceClockTolerance{};
  };
  CHECK(tolerance("oximeter") == streaming);
  CHECK(tolerance("bp") == records);
  CHECK(tolerance("glucose") == records);
  CHECK(tolerance("heart") == streaming);
  CHECK(tolerance("sim") == streaming);
  CHECK(tolerance("tight") ==
        ehg::core::DeviceClockTolerance{30s, std::chrono::days{2}, ehg::core::DeviceTiming::kStoredRecords});
  // The device_clock rule replaces the built-in one.
  REQUIRE(config->rules.devices.size() == 1);
  CHECK(config->rules.devices[0].condition == ehg::alerts::DeviceCondition::kClockWrong);
  CHECK(config->rules.devices[0].common.clear_for == 30min);
  CHECK(config->rules.devices[0].common.severity == Severity::kMedium);
}

TEST_CASE("Clock tolerances out of range are named by path") {
  const auto errors = Errors(WithRules("[]", R"([
    {"id": "a", "type": "sim", "profile": "pulse_oximeter", "clock_ahead_days": 2},
    {"id": "b", "type": "sim", "profile": "pulse_oximeter", "clock_behind_days": 91},
    {"id": "c", "type": "sim", "profile": "pulse_oximeter", "clock_behind_hours": "1"}
  ])"));
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].starts_with("devices[0].clock_ahead_days: "));
  CHECK(errors[1].starts_with("devices[1].clock_behind_days: "));
  CHECK(errors[2].starts_with("devices[2].clock_behind_hours: "));
}
