#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "alerts/evaluator.hpp"
#include "tests/support/readings.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ChangeKind;
using ehg::alerts::Evaluator;
using ehg::alerts::OpenAlerts;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::alerts::ThresholdRule;
using ehg::core::Reading;
using ehg::core::WallTime;

namespace {

Reading SpO2(double value, WallTime time = WallTime{1'000ms}) {
  return ehg::test::SpO2(value, time.time_since_epoch().count());
}

struct Harness {
  Evaluator evaluator;
  OpenAlerts open;
  int next_id = 0;

  explicit Harness(RuleSet rules) : evaluator(std::move(rules)) {}

  ehg::alerts::Evaluation Feed(std::vector<Reading> readings, WallTime now = WallTime{1'000ms}) {
    return evaluator.OnReadings(readings, open, now, [this] { return "alert-" + std::to_string(++next_id); });
  }
};

RuleSet LowSpO2() {
  return RuleSet{{ThresholdRule{"spo2-low", "spo2", std::nullopt, 90.0, Severity::kHigh}}};
}

}  // namespace

TEST_CASE("A threshold is strict: the threshold value itself does not alert") {
  Harness harness(LowSpO2());
  CHECK(harness.Feed({SpO2(90)}).changes.empty());
  const auto evaluation = harness.Feed({SpO2(89)});
  REQUIRE(evaluation.changes.size() == 1);
  CHECK(evaluation.changes[0].kind == ChangeKind::kRaised);
}

TEST_CASE("A raised alert carries its rule, severity, time and the reading that caused it") {
  Harness harness(LowSpO2());
  const auto evaluation = harness.Feed({SpO2(88, WallTime{500ms})}, WallTime{1'000ms});
  REQUIRE(evaluation.changes.size() == 1);
  const auto& alert = evaluation.changes[0].alert;
  CHECK(alert.alert_id == "alert-1");
  CHECK(alert.rule_id == "spo2-low");
  CHECK(alert.severity == Severity::kHigh);
  CHECK(alert.raised_at == WallTime{1'000ms});
  CHECK(alert.worst_value == 88);
  REQUIRE(alert.evidence.size() == 1);
  CHECK(alert.evidence[0].value == 88);
  CHECK(alert.evidence[0].time == WallTime{500ms});
  CHECK(harness.open.count("spo2-low") == 1);
}

TEST_CASE("Repeats update the open alert instead of raising new ones, keeping the worst value") {
  Harness harness(LowSpO2());
  harness.Feed({SpO2(88)});
  const auto evaluation = harness.Feed({SpO2(85), SpO2(87)}, WallTime{2'000ms});
  REQUIRE(evaluation.changes.size() == 2);
  CHECK(evaluation.changes[0].kind == ChangeKind::kUpdated);
  CHECK(evaluation.changes[1].kind == ChangeKind::kUpdated);
  const auto& alert = harness.open.at("spo2-low");
  CHECK(alert.alert_id == "alert-1");
  CHECK(alert.occurrences == 3);
  CHECK(alert.worst_value == 85);
  CHECK(alert.updated_at == WallTime{2'000ms});
}

TEST_CASE("The first reliable reading back inside resolves the alert") {
  Harness harness(LowSpO2());
  harness.Feed({SpO2(88)});
  const auto evaluation = harness.Feed({SpO2(94)});
  REQUIRE(evaluation.changes.size() == 1);
  CHECK(evaluation.changes[0].kind == ChangeKind::kResolved);
  CHECK(evaluation.changes[0].alert.alert_id == "alert-1");
  CHECK(evaluation.changes[0].alert.state == ehg::alerts::AlertState::kResolved);
  CHECK(harness.open.empty());
  // A new breach afterwards is a new alert.
  REQUIRE(harness.Feed({SpO2(87)}).changes.size() == 1);
  CHECK(harness.open.at("spo2-low").alert_id == "alert-2");
}

TEST_CASE("Readings flagged unreliable or with an uncertain time never alert, and are counted") {
  Harness harness(LowSpO2());
  Reading finger_out = SpO2(60);
  finger_out.flags.Set(ehg::core::QualityFlag::kFingerOut);
  Reading uncertain = SpO2(80);
  uncertain.time_uncertain = true;
  const auto evaluation = harness.Feed({finger_out, uncertain});
  CHECK(evaluation.changes.empty());
  CHECK(evaluation.unreliable_readings == 2);
  // Nor do they resolve an open alert.
  harness.Feed({SpO2(85)});
  Reading artefact_good = SpO2(97);
  artefact_good.flags.Set(ehg::core::QualityFlag::kMotionArtefact);
  CHECK(harness.Feed({artefact_good}).changes.empty());
  CHECK(harness.open.count("spo2-low") == 1);
}

TEST_CASE("A band rule fires on either side and tracks the worst excess") {
  Harness harness(RuleSet{{ThresholdRule{"pulse-band", "pulse_rate", 120.0, 45.0, Severity::kMedium}}});
  Reading fast;
  fast.device_id = "cuff";
  fast.metric = "pulse_rate";
  fast.unit = "/min";
  fast.value = 125;
  Reading slow = fast;
  slow.value = 38;  // 7 below vs 5 above: worse
  harness.Feed({fast});
  harness.Feed({slow});
  CHECK(harness.open.at("pulse-band").worst_value == 38);
  CHECK(harness.open.at("pulse-band").occurrences == 2);
}

TEST_CASE("Rules only see their own metric, and each rule has its own alert") {
  RuleSet rules{{ThresholdRule{"spo2-low", "spo2", std::nullopt, 90.0, Severity::kHigh},
                 ThresholdRule{"spo2-very-low", "spo2", std::nullopt, 85.0, Severity::kCritical},
                 ThresholdRule{"pulse-high", "pulse_rate", 120.0, std::nullopt, Severity::kMedium}}};
  Harness harness(std::move(rules));
  const auto evaluation = harness.Feed({SpO2(84)});
  CHECK(evaluation.changes.size() == 2);
  CHECK(harness.open.count("spo2-low") == 1);
  CHECK(harness.open.count("spo2-very-low") == 1);
  CHECK(harness.open.count("pulse-high") == 0);
}

TEST_CASE("Evidence is bounded: the raising reading and the latest ones are kept") {
  Harness harness(LowSpO2());
  for (int i = 0; i < 20; ++i)
    harness.Feed({SpO2(80 + (i % 5), WallTime{std::chrono::milliseconds(i)})});
  const auto& evidence = harness.open.at("spo2-low").evidence;
  REQUIRE(evidence.size() == ehg::alerts::Alert::kMaxEvidence);
  CHECK(evidence.front().time == WallTime{0ms});
  CHECK(evidence.back().time == WallTime{19ms});
  CHECK(evidence[1].time == WallTime{std::chrono::milliseconds(20 - ehg::alerts::Alert::kMaxEvidence + 1)});
}
