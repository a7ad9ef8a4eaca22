#include <doctest/doctest.h>

#include "tests/support/rules.hpp"
#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ActionOutcome;
using ehg::alerts::AlertState;
using ehg::alerts::ChangeKind;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::test::Harness;
using ehg::test::Kinds;
using ehg::test::kT0;
using ehg::test::SpO2At;
using Changes = std::vector<ChangeKind>;

namespace {

RuleSet Escalating() {
  RuleSet rules;
  auto rule = ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 90.0, Severity::kHigh);
  rule.common.escalation = ehg::alerts::Escalation{15min, 3};
  rules.thresholds.push_back(rule);
  return rules;
}

}  // namespace

TEST_CASE(
    "Escalation: not acknowledged within escalate_after, re-sent with the level raised, up to the max") {
  Harness harness(Escalating());
  REQUIRE(Kinds(harness.Feed(SpO2At(0s, 88))) == Changes{ChangeKind::kRaised});
  CHECK(harness.Tick(kT0 + 15min - 1ms).changes.empty());
  const auto first = harness.Tick(kT0 + 15min);
  REQUIRE(Kinds(first) == Changes{ChangeKind::kEscalated});
  CHECK(first.changes[0].alert.escalation_level == 1);
  CHECK(Kinds(harness.Tick(kT0 + 30min)) == Changes{ChangeKind::kEscalated});
  const auto last = harness.Tick(kT0 + 45min);
  REQUIRE(Kinds(last) == Changes{ChangeKind::kEscalated});
  CHECK(last.changes[0].alert.escalation_level == 3);
  CHECK(harness.Tick(kT0 + 10h).changes.empty());  // max_level reached
}

TEST_CASE("Escalation after a long outage catches up in one change, not a burst") {
  Harness harness(Escalating());
  REQUIRE(Kinds(harness.Feed(SpO2At(0s, 88))) == Changes{ChangeKind::kRaised});
  const auto caught_up = harness.Tick(kT0 + 40min);
  REQUIRE(Kinds(caught_up) == Changes{ChangeKind::kEscalated});
  CHECK(caught_up.changes[0].alert.escalation_level == 2);
  CHECK(caught_up.changes[0].alert.next_escalation_at == kT0 + 45min);
}

TEST_CASE("Acknowledged by a care worker: recorded with who, stops escalation, repeat is no-op") {
  Harness harness(Escalating());
  const auto raised = harness.Feed(SpO2At(0s, 88));
  const std::string alert_id = raised.changes.at(0).alert.alert_id;
  auto ack = harness.evaluator.Acknowledge(harness.state, alert_id, "nurse-17", kT0 + 5min);
  CHECK(ack.outcome == ActionOutcome::kDone);
  REQUIRE(Kinds(ack.evaluation) == Changes{ChangeKind::kAcknowledged});
  CHECK(ack.evaluation.changes[0].alert.acknowledged_by == "nurse-17");
  CHECK(ack.evaluation.changes[0].alert.acknowledged_at == kT0 + 5min);
  CHECK(ack.evaluation.changes[0].alert.state == AlertState::kAcknowledged);
  CHECK(harness.Tick(kT0 + 2h).changes.empty());  // no escalation once acknowledged
  CHECK(harness.evaluator.Acknowledge(harness.state, alert_id, "nurse-18", kT0 + 6min).outcome ==
        ActionOutcome::kAlreadyDone);
  CHECK(harness.evaluator.Acknowledge(harness.state, "no-such-alert", "nurse-17", kT0).outcome ==
        ActionOutcome::kUnknownAlert);
  // The condition clearing still resolves an acknowledged alert.
  CHECK(Kinds(harness.Feed(SpO2At(3h, 96))) == Changes{ChangeKind::kResolved});
}

TEST_CASE("Resolved by staff while the condition holds: no new alert until the condition has cleared once") {
  Harness harness(Escalating());
  const std::string alert_id = harness.Feed(SpO2At(0s, 88)).changes.at(0).alert.alert_id;
  auto resolved =
      harness.evaluator.Resolve(harness.state, alert_id, "nurse-17", "resident seen, stable", kT0 + 1min);
  CHECK(resolved.outcome == ActionOutcome::kDone);
  REQUIRE(Kinds(resolved.evaluation) == Changes{ChangeKind::kResolved});
  CHECK(resolved.evaluation.changes[0].alert.resolved_by == "nurse-17");
  CHECK(resolved.evaluation.changes[0].alert.resolution_note == "resident seen, stable");
  CHECK(harness.evaluator.Resolve(harness.state, alert_id, "nurse-17", "", kT0 + 2min).outcome ==
        ActionOutcome::kUnknownAlert);
  CHECK(harness.Feed(SpO2At(2min, 87)).changes.empty());
  CHECK(harness.Feed(SpO2At(3min, 95)).changes.empty());  // cleared: armed again
  const auto again = harness.Feed(SpO2At(4min, 87));
  REQUIRE(Kinds(again) == Changes{ChangeKind::kRaised});
  CHECK(again.changes[0].alert.alert_id != alert_id);
}

TEST_CASE("Delivered: a receipt for any of the alert's events marks it, once, nothing is sent for it") {
  Harness harness(Escalating());
  harness.Feed(SpO2At(0s, 88));
  harness.state.open.at("spo2-low").event_ids = {"event-a", "event-b"};
  CHECK(harness.evaluator.MarkDelivered(harness.state, "event-x", kT0 + 1s).changes.empty());
  const auto delivered = harness.evaluator.MarkDelivered(harness.state, "event-b", kT0 + 1s);
  REQUIRE(Kinds(delivered) == Changes{ChangeKind::kDelivered});
  CHECK_FALSE(ehg::alerts::Published(ChangeKind::kDelivered));
  CHECK(delivered.changes[0].alert.state == AlertState::kDelivered);
  CHECK(delivered.changes[0].alert.delivered_at == kT0 + 1s);
  CHECK(harness.evaluator.MarkDelivered(harness.state, "event-a", kT0 + 2s).changes.empty());
  // Delivered is not acknowledged: escalation goes on.
  CHECK(Kinds(harness.Tick(kT0 + 15min)) == Changes{ChangeKind::kEscalated});
}

TEST_CASE("Rule states record persistence timers so a restart resumes them") {
  RuleSet rules;
  rules.thresholds.push_back(
      ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 90.0, Severity::kHigh, 60s));
  Harness before(rules);
  const auto pending = before.Feed(SpO2At(0s, 88));
  CHECK(pending.rule_states_changed == std::set<std::string>{"spo2-low"});
  REQUIRE(before.state.rules.count("spo2-low") == 1);
  CHECK(before.state.rules.at("spo2-low").pending_since == kT0);
  // A new evaluator with only the persisted parts: the duration continues from 0 s, not from the restart.
  Harness after(rules);
  after.state.rules = before.state.rules;
  after.state.open = before.state.open;
  CHECK(after.Feed(SpO2At(30s, 88)).changes.empty());
  CHECK(Kinds(after.Feed(SpO2At(60s, 88))) == Changes{ChangeKind::kRaised});
  // Nothing pending any more; what is kept is the span the alert was raised for (late readings in it
  // raise nothing again).
  REQUIRE(after.state.rules.count("spo2-low") == 1);
  const auto& rule = after.state.rules.at("spo2-low");
  CHECK_FALSE(rule.pending_since.has_value());
  CHECK(rule.pending_evidence.empty());
  REQUIRE(rule.alerted.size() == 1);
  CHECK(rule.alerted[0].first == kT0);
  CHECK(rule.alerted[0].last == ehg::core::WallTime::max());
}
