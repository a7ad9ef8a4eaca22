#include <doctest/doctest.h>

#include "tests/support/rules.hpp"
#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::AlertState;
using ehg::alerts::ChangeKind;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::test::Harness;
using ehg::test::Kinds;
using ehg::test::SpO2At;

namespace {

RuleSet LowSpO2(std::chrono::seconds for_duration = 0s, double hysteresis = 0,
                std::chrono::seconds clear_for = 0s) {
  RuleSet rules;
  rules.thresholds.push_back(ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 90.0, Severity::kHigh,
                                                  for_duration, hysteresis, clear_for));
  return rules;
}

using Changes = std::vector<ChangeKind>;

}  // namespace

TEST_CASE("A threshold is strict: the limit itself does not alert, just beyond it does") {
  Harness harness(LowSpO2());
  CHECK(harness.Feed(SpO2At(0s, 90)).changes.empty());
  const auto evaluation = harness.Feed(SpO2At(1s, 89.9));
  CHECK(Kinds(evaluation) == Changes{ChangeKind::kRaised});
  RuleSet above;
  above.thresholds.push_back(
      ehg::test::Threshold("pulse-high", "pulse_rate", 120.0, std::nullopt, Severity::kMedium));
  Harness pulse(above);
  CHECK(pulse.Feed(ehg::test::At(0s, "pulse_rate", 120, "/min")).changes.empty());
  CHECK(Kinds(pulse.Feed(ehg::test::At(1s, "pulse_rate", 120.1, "/min"))) == Changes{ChangeKind::kRaised});
}

TEST_CASE("A raised alert carries its rule, severity, the reading that caused it and when") {
  Harness harness(LowSpO2());
  const auto evaluation = harness.Feed(SpO2At(5s, 86));
  REQUIRE(evaluation.changes.size() == 1);
  const auto& alert = evaluation.changes[0].alert;
  CHECK(alert.rule_id == "spo2-low");
  CHECK(alert.metric == "spo2");
  CHECK(alert.severity == Severity::kHigh);
  CHECK(alert.state == AlertState::kRaised);
  CHECK(alert.raised_at == ehg::test::kT0 + 5s);
  CHECK(alert.worst_value == 86);
  REQUIRE(alert.evidence.size() == 1);
  CHECK(alert.evidence[0].device_id == "oximeter");
  CHECK(alert.evidence[0].value == 86);
  CHECK(alert.evidence[0].time == ehg::test::kT0 + 5s);
}

TEST_CASE("Persistence: the alert is raised exactly when the breach has lasted `for`, not a moment before") {
  Harness harness(LowSpO2(15s));
  CHECK(harness.Feed(SpO2At(0s, 88)).changes.empty());
  CHECK(harness.Feed(SpO2At(10s, 87)).changes.empty());
  CHECK(harness.Feed(SpO2At(14'999ms, 88)).changes.empty());
  const auto raised = harness.Feed(SpO2At(15s, 89));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  // Every breaching reading of the pending period is evidence; the worst is what was seen at raise time.
  CHECK(raised.changes[0].alert.evidence.size() == 4);
  CHECK(raised.changes[0].alert.evidence.front().time == ehg::test::kT0);
}

TEST_CASE("Persistence: a clear reading in between restarts the duration") {
  Harness harness(LowSpO2(15s));
  CHECK(harness.Feed(SpO2At(0s, 88)).changes.empty());
  CHECK(harness.Feed(SpO2At(10s, 95)).changes.empty());
  CHECK(harness.Feed(SpO2At(15s, 88)).changes.empty());  // counted from 15 s now
  CHECK(harness.Feed(SpO2At(29s, 88)).changes.empty());
  CHECK(Kinds(harness.Feed(SpO2At(30s, 88))) == Changes{ChangeKind::kRaised});
}

TEST_CASE("Persistence: two breaching readings further apart than `for` do not prove it held in between") {
  Harness harness(LowSpO2(15s));
  CHECK(harness.Feed(SpO2At(0s, 88)).changes.empty());
  CHECK(harness.Feed(SpO2At(16s, 88)).changes.empty());  // gap 16 s > 15 s: starts again here
  CHECK(Kinds(harness.Feed(SpO2At(31s, 88))) == Changes{ChangeKind::kRaised});
}

TEST_CASE("Persistence: unreliable readings in between neither alert nor break the duration") {
  Harness harness(LowSpO2(15s));
  CHECK(harness.Feed(SpO2At(0s, 88)).changes.empty());
  auto finger_out = SpO2At(5s, 99);
  finger_out.flags.Set(ehg::core::QualityFlag::kFingerOut);
  const auto ignored = harness.Feed(finger_out);
  CHECK(ignored.changes.empty());
  CHECK(ignored.unreliable_readings == 1);
  CHECK(harness.Feed(SpO2At(10s, 88)).changes.empty());
  CHECK(Kinds(harness.Feed(SpO2At(15s, 88))) == Changes{ChangeKind::kRaised});
}

TEST_CASE("Readings with quality flags or an uncertain time never raise a clinical alert, they are counted") {
  Harness harness(LowSpO2());
  std::chrono::seconds time = 0s;
  for (const auto flag : {ehg::core::QualityFlag::kMotionArtefact, ehg::core::QualityFlag::kFingerOut,
                          ehg::core::QualityFlag::kCuffLoose, ehg::core::QualityFlag::kSearching}) {
    time += 1s;
    auto reading = SpO2At(time, 70);
    reading.flags.Set(flag);
    const auto evaluation = harness.Feed(reading);
    CHECK(evaluation.changes.empty());
    CHECK(evaluation.unreliable_readings == 1);
  }
  auto uncertain = SpO2At(10s, 70);
  uncertain.time_uncertain = true;
  CHECK(harness.Feed(uncertain).unreliable_readings == 1);
  CHECK(harness.state.open.empty());
}

TEST_CASE("Hysteresis: values around the limit do not flap, the alert clears only well inside") {
  Harness harness(LowSpO2(0s, 2.0));
  CHECK(Kinds(harness.Feed(SpO2At(0s, 89))) == Changes{ChangeKind::kRaised});
  // 90, 91, 90.5 are back over the limit but inside the hysteresis band: no resolve, no new alert.
  for (int i = 1; i <= 6; ++i) {
    const double value = i % 2 == 0 ? 90 : 91.9;
    CAPTURE(value);
    CHECK(harness.Feed(SpO2At(std::chrono::seconds{i}, value)).changes.empty());
  }
  const auto repeat = harness.Feed(SpO2At(7s, 89.5));
  CHECK(repeat.changes.empty());  // a repeat no worse than the worst: counted, not sent
  CHECK(repeat.suppressed_repeats == 1);
  CHECK(harness.Open("spo2-low")->occurrences == 2);
  CHECK(Kinds(harness.Feed(SpO2At(8s, 92))) == Changes{ChangeKind::kResolved});  // 90 + 2, inclusive
  CHECK(harness.state.open.empty());
}

TEST_CASE("clear_for: the condition must stay clear that long, a breach meanwhile keeps the alert") {
  Harness harness(LowSpO2(0s, 0, 60s));
  CHECK(Kinds(harness.Feed(SpO2At(0s, 88))) == Changes{ChangeKind::kRaised});
  CHECK(harness.Feed(SpO2At(10s, 95)).changes.empty());
  CHECK(harness.Feed(SpO2At(40s, 89)).changes.empty());  // breach again: the clear time restarts
  CHECK(harness.Feed(SpO2At(50s, 95)).changes.empty());
  CHECK(harness.Feed(SpO2At(109'999ms, 95)).changes.empty());
  const auto resolved = harness.Feed(SpO2At(110s, 95));
  REQUIRE(Kinds(resolved) == Changes{ChangeKind::kResolved});
  CHECK(resolved.changes[0].alert.resolved_by == ehg::alerts::kResolvedByCondition);
  CHECK(resolved.changes[0].alert.state == AlertState::kResolved);
  CHECK(resolved.changes[0].alert.occurrences == 2);
}

TEST_CASE("Repeats update the open alert when worse, and are counted when not") {
  Harness harness(LowSpO2());
  REQUIRE(Kinds(harness.Feed(SpO2At(0s, 88))) == Changes{ChangeKind::kRaised});
  const auto worse = harness.Feed(SpO2At(1s, 85));
  REQUIRE(Kinds(worse) == Changes{ChangeKind::kUpdated});
  CHECK(worse.changes[0].alert.worst_value == 85);
  CHECK(worse.changes[0].alert.occurrences == 2);
  CHECK(worse.changes[0].alert.alert_id == "alert-1");
  CHECK(harness.Feed(SpO2At(2s, 87)).suppressed_repeats == 1);
  CHECK(harness.Feed(SpO2At(3s, 86)).suppressed_repeats == 1);
  // Not worse, but the last update is older than the repeat interval: an update carries the count.
  const auto due = harness.Feed(SpO2At(3s + ehg::alerts::kRepeatUpdateInterval, 87));
  REQUIRE(Kinds(due) == Changes{ChangeKind::kUpdated});
  CHECK(due.changes[0].alert.occurrences == 5);
  CHECK(due.changes[0].alert.suppressed_repeats == 2);
  CHECK(due.changes[0].alert.worst_value == 85);
  CHECK(harness.next_id == 1);  // never a second alert
}

TEST_CASE("A band rule (above and below) fires on either side and clears inside") {
  RuleSet rules;
  rules.thresholds.push_back(
      ehg::test::Threshold("pulse-band", "pulse_rate", 120.0, 45.0, Severity::kMedium));
  Harness harness(rules);
  CHECK(Kinds(harness.Feed(ehg::test::At(0s, "pulse_rate", 44, "/min"))) == Changes{ChangeKind::kRaised});
  // 130 is 10 beyond the upper limit, worse than 1 below the lower one.
  CHECK(Kinds(harness.Feed(ehg::test::At(1s, "pulse_rate", 130, "/min"))) == Changes{ChangeKind::kUpdated});
  CHECK(Kinds(harness.Feed(ehg::test::At(2s, "pulse_rate", 80, "/min"))) == Changes{ChangeKind::kResolved});
}

TEST_CASE("Duplicates are ignored and counted, out-of-order readings do not move the rule") {
  Harness harness(LowSpO2(15s));
  CHECK(harness.Feed(SpO2At(0s, 88)).changes.empty());
  const auto duplicate = harness.Feed(SpO2At(0s, 88));
  CHECK(duplicate.duplicate_readings == 1);
  CHECK(harness.Feed(SpO2At(10s, 88)).changes.empty());
  // A late reading from before the last one: stored, but it must not clear (or raise) anything.
  const auto late = harness.Feed(SpO2At(5s, 97));
  CHECK(late.out_of_order_readings == 1);
  CHECK(late.changes.empty());
  CHECK(Kinds(harness.Feed(SpO2At(15s, 88))) == Changes{ChangeKind::kRaised});
  // The same time with a different value is a new measurement, not a duplicate.
  CHECK(harness.Feed(SpO2At(15s, 87)).duplicate_readings == 0);
}

TEST_CASE("A batch of readings in one call is evaluated in order") {
  Harness harness(LowSpO2());
  const auto evaluation = harness.Feed({SpO2At(0s, 88), SpO2At(1s, 86), SpO2At(2s, 96)}, ehg::test::kT0 + 3s);
  CHECK(Kinds(evaluation) == Changes{ChangeKind::kRaised, ChangeKind::kUpdated, ChangeKind::kResolved});
  CHECK(evaluation.changes[0].alert.raised_at == ehg::test::kT0 + 3s);  // the evaluation's clock
}

TEST_CASE("Several rules on one metric each keep their own alert") {
  RuleSet rules = LowSpO2();
  rules.thresholds.push_back(
      ehg::test::Threshold("spo2-very-low", "spo2", std::nullopt, 85.0, Severity::kCritical));
  Harness harness(rules);
  CHECK(Kinds(harness.Feed(SpO2At(0s, 88))) == Changes{ChangeKind::kRaised});
  const auto both = harness.Feed(SpO2At(1s, 84));
  CHECK(Kinds(both) == Changes{ChangeKind::kUpdated, ChangeKind::kRaised});
  CHECK(both.changes[1].alert.severity == Severity::kCritical);
  CHECK(harness.state.open.size() == 2);
}
