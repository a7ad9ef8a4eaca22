#include <doctest/doctest.h>

#include "tests/support/rules.hpp"
#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ChangeKind;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::test::Harness;
using ehg::test::Kinds;
using Changes = std::vector<ChangeKind>;

namespace {

ehg::core::Reading Weight(std::chrono::hours offset, double kg) {
  return ehg::test::At(offset, "body_weight", kg, "kg", "scale");
}

RuleSet WeightGain() {
  RuleSet rules;
  rules.trends.push_back(ehg::test::Trend("weight-gain-72h", "body_weight", 2.0, 72h));
  return rules;
}

RuleSet WeightBaseline() {
  RuleSet rules;
  ehg::alerts::BaselineRule rule;
  rule.common = {"weight-over-baseline", Severity::kMedium, std::nullopt, 0s};
  rule.metric = "body_weight";
  rule.above_by = 1.5;
  rule.baseline_window = std::chrono::days{7};
  rule.min_readings = 4;
  rules.baselines.push_back(rule);
  return rules;
}

}  // namespace

TEST_CASE("Trend: a rise of more than 2 kg against any reading of the last 72 h") {
  Harness harness(WeightGain());
  CHECK(harness.Feed(Weight(0h, 80.0)).changes.empty());  // nothing to compare with yet
  CHECK(harness.Feed(Weight(24h, 81.0)).changes.empty());
  CHECK(harness.Feed(Weight(48h, 82.0)).changes.empty());  // exactly +2.0: not more than 2
  const auto raised = harness.Feed(Weight(71h, 82.1));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  const auto& alert = raised.changes[0].alert;
  CHECK(alert.worst_value == doctest::Approx(2.1));
  CHECK(alert.reference_value == doctest::Approx(80.0));
  REQUIRE(alert.evidence.size() == 2);
  CHECK(alert.evidence[0].value == 80.0);  // the reading it rose from
  CHECK(alert.evidence[1].value == 82.1);
}

TEST_CASE("Trend: the window edge: a reading 72 h old still counts, an older one does not") {
  Harness harness(WeightGain());
  CHECK(harness.Feed(Weight(0h, 80.0)).changes.empty());
  CHECK(harness.Feed(Weight(72h + 1h, 82.5)).changes.empty());  // 80.0 is 73 h old: out of the window
  Harness edge(WeightGain());
  CHECK(edge.Feed(Weight(0h, 80.0)).changes.empty());
  CHECK(Kinds(edge.Feed(Weight(72h, 82.5))) == Changes{ChangeKind::kRaised});
}

TEST_CASE("Trend: clears when the change is no longer beyond the limit") {
  Harness harness(WeightGain());
  CHECK(harness.Feed(Weight(0h, 80.0)).changes.empty());
  CHECK(Kinds(harness.Feed(Weight(24h, 82.5))) == Changes{ChangeKind::kRaised});
  CHECK(Kinds(harness.Feed(Weight(48h, 81.0))) == Changes{ChangeKind::kResolved});
}

TEST_CASE("Trend: a fall rule measures against the highest reading of the window") {
  RuleSet rules;
  rules.trends.push_back(ehg::test::Trend("weight-loss", "body_weight", -3.0, 168h, Severity::kLow));
  Harness harness(rules);
  CHECK(harness.Feed(Weight(0h, 70.0)).changes.empty());
  CHECK(harness.Feed(Weight(24h, 71.0)).changes.empty());
  const auto raised = harness.Feed(Weight(48h, 67.9));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.changes[0].alert.worst_value == doctest::Approx(-3.1));
  CHECK(raised.changes[0].alert.reference_value == 71.0);
}

TEST_CASE("Baseline: above the resident's own 7-day mean by more than the margin, once the mean is known") {
  Harness harness(WeightBaseline());
  // Three readings are not a baseline yet (min_readings 4): even a big jump does nothing.
  for (int day = 0; day < 3; ++day)
    CHECK(harness.Feed(Weight(std::chrono::hours{24 * day}, 80.0)).changes.empty());
  CHECK(harness.Feed(Weight(72h, 83.0)).changes.empty());
  // Now four readings (80, 80, 80, 83): mean 80.75. 82.25 is exactly +1.5: not more.
  CHECK(harness.Feed(Weight(96h, 82.25)).changes.empty());
  // Mean of five: (80*3 + 83 + 82.25) / 5 = 81.05; 82.6 is +1.55.
  const auto raised = harness.Feed(Weight(120h, 82.6));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.changes[0].alert.reference_value == doctest::Approx(81.05));
  CHECK(raised.changes[0].alert.worst_value == doctest::Approx(1.55));
}

TEST_CASE("Baseline: readings older than the baseline window leave the mean") {
  Harness harness(WeightBaseline());
  for (int day = 0; day < 4; ++day)
    CHECK(harness.Feed(Weight(std::chrono::hours{24 * day}, 90.0)).changes.empty());
  // Eight days later the old readings are gone: no baseline, no alert, whatever the value.
  CHECK(harness.Feed(Weight(24h * 12, 70.0)).changes.empty());
}

TEST_CASE("Trend history is rebuilt by Remember without raising anything") {
  Harness harness(WeightGain());
  harness.evaluator.Remember(harness.state, Weight(0h, 80.0));
  CHECK(harness.state.open.empty());
  CHECK(Kinds(harness.Feed(Weight(24h, 82.5))) == Changes{ChangeKind::kRaised});
  REQUIRE(harness.evaluator.Windows().size() == 1);
  CHECK(harness.evaluator.Windows()[0].metric == "body_weight");
  CHECK(harness.evaluator.Windows()[0].span == 72h);
}

TEST_CASE("Baseline: a re-sent older record is a duplicate and does not count twice in the mean") {
  Harness harness(WeightBaseline());
  for (int day = 0; day < 4; ++day)
    harness.Feed(Weight(std::chrono::hours{24 * day}, day == 1 ? 84.0 : 80.0));
  // The scale re-syncs after a reconnect and sends Tuesday's 84.0 again.
  const auto again = harness.Feed(Weight(24h, 84.0));
  CHECK(again.duplicate_readings == 1);
  CHECK(again.out_of_order_readings == 0);
  REQUIRE(harness.state.windows.size() == 1);
  CHECK(harness.state.windows.begin()->second.Query(ehg::test::kT0, ehg::test::kT0 + 96h).count == 4);
  // Mean (80 + 84 + 80 + 80) / 4 = 81: 82.6 is 1.6 over it. Counted twice, the mean would be 81.6.
  const auto raised = harness.Feed(Weight(96h, 82.6));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.changes[0].alert.reference_value == doctest::Approx(81.0));
}
