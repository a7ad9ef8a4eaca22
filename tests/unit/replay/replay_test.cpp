#include "gateway/replay/replay.hpp"

#include <doctest/doctest.h>

#include "gateway/replay/reading_line.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ChangeKind;

namespace {

ehg::core::Reading Line(const std::string& text) {
  return ehg::replay::ParseReadingLine(text).value();
}

ehg::alerts::RuleSet Rules() {
  ehg::alerts::RuleSet rules;
  ehg::alerts::ThresholdRule spo2;
  spo2.common = {"spo2-low", ehg::alerts::Severity::kHigh, ehg::alerts::Escalation{15min, 2}, 0s};
  spo2.metric = "spo2";
  spo2.below = 90;
  rules.thresholds.push_back(spo2);
  return rules;
}

}  // namespace

TEST_CASE("Replay takes its clock from the readings and runs the timers between them") {
  ehg::replay::Replay replay(Rules(), std::make_shared<ehg::alerts::UtcZone>(), 60s);
  auto raised = replay.Feed(Line(
      R"({"time": "2026-01-05T07:00:00Z", "device": "ox", "metric": "spo2", "value": 86, "unit": "%"})"));
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].change.kind == ChangeKind::kRaised);
  CHECK(raised[0].change.alert.alert_id == "A0001");
  CHECK(ehg::core::FormatIso8601(raised[0].time) == "2026-01-05T07:00:00.000Z");
  // Forty minutes later: the escalations at 07:15 and 07:30 happen on the way, at their ticks.
  auto later = replay.Feed(Line(
      R"({"time": "2026-01-05T07:40:00Z", "device": "ox", "metric": "spo2", "value": 97, "unit": "%"})"));
  REQUIRE(later.size() == 3);
  CHECK(later[0].change.kind == ChangeKind::kEscalated);
  CHECK(ehg::core::FormatIso8601(later[0].time) == "2026-01-05T07:15:00.000Z");
  CHECK(later[1].change.alert.escalation_level == 2);
  CHECK(later[2].change.kind == ChangeKind::kResolved);
  const auto& summary = replay.summary();
  CHECK(summary.readings == 2);
  CHECK(summary.raised == 1);
  CHECK(summary.escalated == 2);
  CHECK(summary.resolved == 1);
}

TEST_CASE("Replay: a late reading is evaluated at the current time and counted out of order") {
  ehg::replay::Replay replay(Rules(), nullptr, 60s);
  CHECK(replay
            .Feed(Line(R"({"time": "2026-01-05T07:00:00Z", "device": "ox", "metric": "spo2", "value": 95,
                             "unit": "%"})"))
            .empty());
  CHECK(replay
            .Feed(Line(R"({"time": "2026-01-05T06:00:00Z", "device": "ox", "metric": "spo2", "value": 80,
                             "unit": "%"})"))
            .empty());
  CHECK(replay.summary().out_of_order == 1);
  CHECK(replay.RunUntil(ehg::core::ParseIso8601("2026-01-05T08:00:00Z").value()).empty());
}
