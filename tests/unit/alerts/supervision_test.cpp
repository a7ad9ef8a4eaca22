#include <doctest/doctest.h>

#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ChangeKind;
using ehg::alerts::DeviceCondition;
using ehg::alerts::GatewayCondition;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::test::At;
using ehg::test::Harness;
using ehg::test::Kinds;
using ehg::test::kT0;
using Changes = std::vector<ChangeKind>;

namespace {

RuleSet Button(std::chrono::seconds clear_for = 0s) {
  RuleSet rules;
  ehg::alerts::EventRule rule;
  rule.common = {"emergency-button", Severity::kCritical, std::nullopt, clear_for};
  rule.metric = "button";
  rules.events.push_back(rule);
  return rules;
}

RuleSet DeviceRule(DeviceCondition condition) {
  RuleSet rules;
  ehg::alerts::DeviceRule rule;
  rule.common = {"device-rule", Severity::kLow, std::nullopt, 0s};
  rule.condition = condition;
  rule.expected_intervals = {{"cuff", 10min}, {"scale", 1h}};
  rules.devices.push_back(rule);
  return rules;
}

RuleSet News2(ehg::alerts::SpO2Scale scale = ehg::alerts::SpO2Scale::kScale1) {
  RuleSet rules;
  ehg::alerts::News2Rule rule;
  rule.common = {"news2", Severity::kInfo, std::nullopt, 0s};
  rule.spo2_scale = scale;
  rule.fresh_for = 1h;
  rule.min_parameters = 3;
  rules.news2.push_back(rule);
  return rules;
}

}  // namespace

TEST_CASE("Emergency button: critical at once, even with an unsynchronised clock, every repeat goes out") {
  Harness harness(Button());
  auto press = At(0s, "button", 1, "1", "button-1");
  press.time_uncertain = true;  // safety events do not wait for NTP
  const auto raised = harness.Feed(press);
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.changes[0].alert.severity == Severity::kCritical);
  // Someone pressing again is the most urgent news there is: an update at once, with the count and the
  // time of the latest press, never a suppressed repeat.
  for (int press_number = 2; press_number <= 4; ++press_number) {
    CAPTURE(press_number);
    const auto again = harness.Feed(At(std::chrono::seconds{5 * press_number}, "button", 1, "1", "button-1"));
    REQUIRE(Kinds(again) == Changes{ChangeKind::kUpdated});
    CHECK(again.suppressed_repeats == 0);
    CHECK(again.changes[0].alert.occurrences == static_cast<std::uint32_t>(press_number));
    CHECK(again.changes[0].alert.evidence.back().time == kT0 + std::chrono::seconds{5 * press_number});
  }
  CHECK(harness.Open("emergency-button")->suppressed_repeats == 0);
  // It is never resolved by time alone: only staff close it.
  CHECK(harness.Tick(kT0 + 24h).changes.empty());
  CHECK(harness.Open("emergency-button") != nullptr);
  // Releasing the button (0) is not a press.
  CHECK(harness.Feed(At(21s, "button", 0, "1", "button-1")).changes.empty());
}

TEST_CASE("An event rule with clear_for resolves that long after the last event") {
  Harness harness(Button(30min));
  CHECK(Kinds(harness.Feed(At(0s, "fall", 1, "1"))) == Changes{});  // another metric
  REQUIRE(Kinds(harness.Feed(At(0s, "button", 1, "1"))) == Changes{ChangeKind::kRaised});
  CHECK(Kinds(harness.Feed(At(10min, "button", 1, "1"))) == Changes{ChangeKind::kUpdated});
  CHECK(harness.Tick(kT0 + 39min).changes.empty());
  CHECK(Kinds(harness.Tick(kT0 + 40min)) == Changes{ChangeKind::kResolved});
}

TEST_CASE("Battery low: one alert per device, with hysteresis") {
  Harness harness(DeviceRule(DeviceCondition::kBatteryLow));
  CHECK(harness.Feed(At(0s, "battery", 20, "%", "cuff")).changes.empty());  // 20 is not below 20
  const auto low = harness.Feed(At(1s, "battery", 19, "%", "cuff"));
  REQUIRE(Kinds(low) == Changes{ChangeKind::kRaised});
  CHECK(low.changes[0].alert.device_id == "cuff");
  CHECK(low.changes[0].alert.Key() == "device-rule@cuff");
  CHECK(Kinds(harness.Feed(At(2s, "battery", 10, "%", "scale"))) == Changes{ChangeKind::kRaised});
  CHECK(harness.Feed(At(3s, "battery", 24, "%", "cuff")).changes.empty());  // inside the hysteresis
  CHECK(Kinds(harness.Feed(At(4s, "battery", 25, "%", "cuff"))) == Changes{ChangeKind::kResolved});
  CHECK(harness.state.open.size() == 1);
}

TEST_CASE(
    "Silent device: quiet beyond its expected interval, counted from supervision start or last reading") {
  Harness harness(DeviceRule(DeviceCondition::kSilent));
  CHECK(harness.Tick(kT0).changes.empty());
  CHECK(harness.Feed(At(5min, "bp.systolic", 120, "mm[Hg]", "cuff")).changes.empty());
  CHECK(harness.Tick(kT0 + 14min).changes.empty());
  const auto silent = harness.Tick(kT0 + 15min);  // cuff: 10 min after its reading at 5 min
  REQUIRE(Kinds(silent) == Changes{ChangeKind::kRaised});
  CHECK(silent.changes[0].alert.device_id == "cuff");
  CHECK(harness.Tick(kT0 + 59min).changes.empty());
  CHECK(Kinds(harness.Tick(kT0 + 60min)) == Changes{ChangeKind::kRaised});  // scale: never heard
  // Any reading, even an unreliable one, shows the device is alive.
  auto flagged = At(61min, "bp.systolic", 120, "mm[Hg]", "cuff");
  flagged.flags.Set(ehg::core::QualityFlag::kCuffLoose);
  CHECK(Kinds(harness.Feed(flagged)) == Changes{ChangeKind::kResolved});
  // So does a late record uploaded from the device's memory (older than what the gateway has seen).
  CHECK(Kinds(harness.Tick(kT0 + 71min)) == Changes{ChangeKind::kRaised});  // the cuff is silent again
  auto late = At(3min, "bp.systolic", 118, "mm[Hg]", "cuff");
  late.received_at = kT0 + 72min;
  const auto uploaded = harness.Feed(std::vector<ehg::core::Reading>{late}, kT0 + 72min);
  CHECK(uploaded.out_of_order_readings == 1);
  CHECK(Kinds(uploaded) == Changes{ChangeKind::kResolved});
}

TEST_CASE("Sensor error flags raise a technical alert for the device, a clean reading clears it") {
  Harness harness(DeviceRule(DeviceCondition::kSensorError));
  auto error = At(0s, "spo2", 95, "%", "oximeter");
  error.flags.Set(ehg::core::QualityFlag::kSensorError);
  const auto raised = harness.Feed(error);
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.unreliable_readings == 1);  // and the value itself never reaches a clinical rule
  CHECK(Kinds(harness.Feed(At(1s, "spo2", 95, "%", "oximeter"))) == Changes{ChangeKind::kResolved});
}

TEST_CASE("Gateway storage near its budget, and a clock that stays unsynchronised") {
  RuleSet rules;
  ehg::alerts::GatewayRule storage;
  storage.common = {"storage", Severity::kMedium, std::nullopt, 0s};
  storage.condition = GatewayCondition::kStorageNearBudget;
  storage.storage_percent = 80;
  rules.gateway.push_back(storage);
  ehg::alerts::GatewayRule clock;
  clock.common = {"clock", Severity::kLow, std::nullopt, 0s};
  clock.condition = GatewayCondition::kClockUnsynchronised;
  clock.clock_unsynchronised_for = 30min;
  rules.gateway.push_back(clock);
  Harness harness(rules);
  CHECK(harness.Tick(kT0, {79.9, 29min}).changes.empty());
  const auto both = harness.Tick(kT0 + 1s, {80.0, 30min});
  CHECK(Kinds(both) == Changes{ChangeKind::kRaised, ChangeKind::kRaised});
  // Storage inside its 10-point band; the clock a minute later: neither is news.
  const auto quiet = harness.Tick(kT0 + 2s, {75.0, 31min});
  CHECK(quiet.changes.empty());
  CHECK(quiet.suppressed_repeats == 1);  // the clock's repeat
  CHECK(Kinds(harness.Tick(kT0 + 3s, {85.0, 32min})) ==
        Changes{ChangeKind::kUpdated});  // storage 5 points up
  CHECK(Kinds(harness.Tick(kT0 + 4s, {69.9, 0min})) == Changes{ChangeKind::kResolved, ChangeKind::kResolved});
}

TEST_CASE("NEWS2 rule: raised from fresh readings with every sub-score, severity follows the risk") {
  Harness harness(News2());
  CHECK(harness.Feed(At(0s, "pulse_rate", 115, "/min", "oximeter")).changes.empty());      // 2
  CHECK(harness.Feed(At(1s, "body_temperature", 38.5, "Cel", "thermo")).changes.empty());  // 1, 2 params
  const auto raised = harness.Feed(At(2s, "spo2", 91, "%", "oximeter"));  // 3: total 6, medium
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  const auto& alert = raised.changes[0].alert;
  REQUIRE(alert.news2.has_value());
  CHECK(alert.news2->total == 6);
  CHECK(alert.news2->risk == ehg::alerts::News2Risk::kMedium);
  CHECK(alert.news2->partial);
  CHECK(alert.news2->components.size() == 3);
  CHECK(alert.severity == Severity::kHigh);
  CHECK(alert.worst_value == 6);
  CHECK(alert.evidence.size() == 3);  // the readings it was computed from
  // Worse: a systolic of 90 adds 3: total 9, high risk, critical.
  const auto worse = harness.Feed(At(3s, "bp.systolic", 90, "mm[Hg]", "cuff"));
  REQUIRE(Kinds(worse) == Changes{ChangeKind::kUpdated});
  CHECK(worse.changes[0].alert.news2->total == 9);
  CHECK(worse.changes[0].alert.severity == Severity::kCritical);
  // Everything back to normal: low risk clears it.
  for (const auto& reading :
       {At(4s, "spo2", 97, "%", "oximeter"), At(5s, "pulse_rate", 70, "/min", "oximeter"),
        At(6s, "body_temperature", 37, "Cel", "thermo")}) {
    harness.Feed(reading);
  }
  CHECK(harness.Feed(At(7s, "bp.systolic", 125, "mm[Hg]", "cuff")).changes.size() == 1);
  CHECK(harness.state.open.empty());
}

TEST_CASE("NEWS2 rule: stale readings do not count, and too few parameters give no score") {
  Harness harness(News2());
  CHECK(harness.Feed(At(0s, "pulse_rate", 135, "/min", "oximeter")).changes.empty());
  CHECK(harness.Feed(At(30min, "body_temperature", 39.5, "Cel", "thermo")).changes.empty());
  // At 61 min the pulse is older than the hour: two fresh parameters only, below min_parameters.
  CHECK(harness.Feed(At(61min, "spo2", 91, "%", "oximeter")).changes.empty());
  CHECK(Kinds(harness.Feed(At(62min, "pulse_rate", 135, "/min", "oximeter"))) ==
        Changes{ChangeKind::kRaised});
}

TEST_CASE("NEWS2 rule on scale 2: SpO2 88 in a COPD resident is no alert") {
  Harness scale2(News2(ehg::alerts::SpO2Scale::kScale2));
  Harness scale1(News2(ehg::alerts::SpO2Scale::kScale1));
  for (auto* harness : {&scale2, &scale1}) {
    harness->Feed(At(0s, "pulse_rate", 80, "/min", "oximeter"));
    harness->Feed(At(1s, "body_temperature", 37, "Cel", "thermo"));
  }
  CHECK(scale2.Feed(At(2s, "spo2", 88, "%", "oximeter")).changes.empty());
  CHECK(Kinds(scale1.Feed(At(2s, "spo2", 88, "%", "oximeter"))) == Changes{ChangeKind::kRaised});  // single 3
}
