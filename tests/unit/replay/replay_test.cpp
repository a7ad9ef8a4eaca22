#include "gateway/replay/replay.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/replay/reading_line.hpp"
#include "gateway/tz/time_zone.hpp"

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

TEST_CASE("Replay: a late reading is evaluated at the current time, may raise, never resolves") {
  ehg::replay::Replay replay(Rules(), nullptr, 60s);
  CHECK(replay
            .Feed(Line(R"({"time": "2026-01-05T07:00:00Z", "device": "ox", "metric": "spo2", "value": 95,
                             "unit": "%"})"))
            .empty());
  // A breach from an hour ago arrives after the normal reading: recent enough to raise, at the replay's
  // current time (the clock never goes back).
  const auto late = replay.Feed(Line(
      R"({"time": "2026-01-05T06:00:00Z", "device": "ox", "metric": "spo2", "value": 80, "unit": "%"})"));
  REQUIRE(late.size() == 1);
  CHECK(late[0].change.kind == ChangeKind::kRaised);
  CHECK(ehg::core::FormatIso8601(late[0].time) == "2026-01-05T07:00:00.000Z");
  CHECK(replay.summary().out_of_order == 1);
  // A late normal reading does not resolve it; a current one does.
  CHECK(replay
            .Feed(Line(R"({"time": "2026-01-05T06:30:00Z", "device": "ox", "metric": "spo2", "value": 97,
                             "unit": "%"})"))
            .empty());
  const auto current = replay.Feed(Line(
      R"({"time": "2026-01-05T07:01:00Z", "device": "ox", "metric": "spo2", "value": 97, "unit": "%"})"));
  REQUIRE(current.size() == 1);
  CHECK(current[0].change.kind == ChangeKind::kResolved);
}

namespace {

ehg::replay::ReplayAction Action(const std::string& text) {
  return std::get<ehg::replay::ReplayAction>(ehg::replay::ParseReplayLine(text).value());
}

std::string At(const ehg::replay::TimelineEntry& entry) {
  return ehg::core::FormatIso8601(entry.time);
}

ehg::core::WallTime Time(const char* text) {
  return ehg::core::ParseIso8601(text).value();
}

// spo2-low escalates every 15 minutes up to level 3 while nobody acknowledges it.
ehg::alerts::RuleSet EscalatingRules() {
  ehg::alerts::RuleSet rules = Rules();
  rules.thresholds[0].common.escalation = ehg::alerts::Escalation{15min, 3};
  return rules;
}

}  // namespace

TEST_CASE("Replay: an acknowledgement stops the escalation at its replay time") {
  const auto low = R"({"time": "2026-01-05T07:00:00Z", "device": "ox", "metric": "spo2", "value": 86,
                       "unit": "%"})";
  // Without the acknowledgement: escalations at 07:15, 07:30 and 07:45.
  ehg::replay::Replay unattended(EscalatingRules(), nullptr, 60s);
  REQUIRE(unattended.Feed(Line(low)).size() == 1);
  const auto escalations = unattended.RunUntil(Time("2026-01-05T08:30:00Z"));
  REQUIRE(escalations.size() == 3);
  CHECK(At(escalations[2]) == "2026-01-05T07:45:00.000Z");

  ehg::replay::Replay replay(EscalatingRules(), nullptr, 60s);
  REQUIRE(replay.Feed(Line(low)).size() == 1);
  const auto acknowledged = replay.Apply(Action(
      R"({"time": "2026-01-05T07:20:00Z", "action": "acknowledge", "rule": "spo2-low", "by": "nurse-17"})"));
  CHECK(acknowledged.outcome == ehg::alerts::ActionOutcome::kDone);
  CHECK(acknowledged.alert_id == "A0001");
  // The escalation due at 07:15 happens on the way, then the acknowledgement at 07:20.
  REQUIRE(acknowledged.timeline.size() == 2);
  CHECK(acknowledged.timeline[0].change.kind == ChangeKind::kEscalated);
  CHECK(At(acknowledged.timeline[0]) == "2026-01-05T07:15:00.000Z");
  CHECK(acknowledged.timeline[1].change.kind == ChangeKind::kAcknowledged);
  CHECK(At(acknowledged.timeline[1]) == "2026-01-05T07:20:00.000Z");
  const ehg::alerts::Alert& alert = acknowledged.timeline[1].change.alert;
  CHECK(alert.acknowledged_by == "nurse-17");
  CHECK(alert.acknowledged_at == Time("2026-01-05T07:20:00Z"));
  CHECK(alert.escalation_level == 1);
  // Nothing escalates after it.
  CHECK(replay.RunUntil(Time("2026-01-05T08:30:00Z")).empty());
  // A second acknowledgement changes nothing and says so.
  const auto again = replay.Apply(
      Action(R"({"time": "2026-01-05T08:31:00Z", "action": "acknowledge", "alert": "A0001", "by": "n-2"})"));
  CHECK(again.outcome == ehg::alerts::ActionOutcome::kAlreadyDone);
  CHECK(again.timeline.empty());
  const auto& summary = replay.summary();
  CHECK(summary.escalated == 1);
  CHECK(summary.acknowledged == 1);
  CHECK(summary.actions == 2);
  CHECK(summary.actions_already_done == 1);
  CHECK(summary.actions_without_alert == 0);
}

TEST_CASE("Replay: a resolve with a note closes the alert and an action naming no open alert is counted") {
  ehg::replay::Replay replay(EscalatingRules(), nullptr, 60s);
  REQUIRE(replay
              .Feed(Line(R"({"time": "2026-01-05T07:00:00Z", "device": "ox", "metric": "spo2", "value": 86,
                             "unit": "%"})"))
              .size() == 1);
  const auto resolved = replay.Apply(Action(
      R"({"time": "2026-01-05T07:10:00Z", "action": "resolve", "alert": "A0001", "by": "nurse-17",
          "note": "called, fine"})"));
  CHECK(resolved.outcome == ehg::alerts::ActionOutcome::kDone);
  REQUIRE(resolved.timeline.size() == 1);
  CHECK(resolved.timeline[0].change.kind == ChangeKind::kResolved);
  CHECK(At(resolved.timeline[0]) == "2026-01-05T07:10:00.000Z");
  CHECK(resolved.timeline[0].change.alert.resolved_by == "nurse-17");
  CHECK(resolved.timeline[0].change.alert.resolution_note == "called, fine");
  // Resolved: no escalation at 07:15.
  CHECK(replay.RunUntil(Time("2026-01-05T08:00:00Z")).empty());

  // The alert is closed now; by id, by rule, and a per-device key that no rule has.
  for (const char* line :
       {R"({"time": "2026-01-05T08:01:00Z", "action": "resolve", "alert": "A0001", "by": "nurse-17"})",
        R"({"time": "2026-01-05T08:02:00Z", "action": "acknowledge", "rule": "spo2-low", "by": "nurse-17"})",
        R"({"time": "2026-01-05T08:03:00Z", "action": "acknowledge", "rule": "spo2-low", "device": "ox",
            "by": "nurse-17"})"}) {
    CAPTURE(line);
    const auto unknown = replay.Apply(Action(line));
    CHECK(unknown.outcome == ehg::alerts::ActionOutcome::kUnknownAlert);
    CHECK(unknown.alert_id.empty());
    CHECK(unknown.timeline.empty());
  }
  CHECK(replay.summary().actions == 4);
  CHECK(replay.summary().actions_without_alert == 3);
  CHECK(replay.summary().resolved == 1);
}

TEST_CASE("Replay: the clock follows the receive time, not a device clock a year ahead") {
  ehg::replay::Replay replay(EscalatingRules(), nullptr, 60s);
  const auto raised = replay.Feed(
      Line(R"({"time": "2026-01-05T07:00:00Z", "device_time": "2027-01-05T07:00:00Z", "device": "ox",
                           "metric": "spo2", "value": 86, "unit": "%"})"));
  // The SpO2 alert, and the device's clock reported as wrong (the time model judged it implausible).
  REQUIRE(raised.size() == 2);
  CHECK(At(raised[0]) == "2026-01-05T07:00:00.000Z");
  CHECK(raised[0].change.alert.rule_id == "device-clock");
  CHECK(raised[1].change.alert.rule_id == "spo2-low");
  CHECK(replay.summary().device_clock_suspect == 1);
  // The escalation clock is the gateway's: at 07:15 received time, not a year later.
  const auto acknowledged = replay.Apply(
      Action(R"({"time": "2026-01-05T07:16:00Z", "action": "acknowledge", "rule": "spo2-low", "by": "n"})"));
  REQUIRE(acknowledged.timeline.size() == 2);
  CHECK(At(acknowledged.timeline[0]) == "2026-01-05T07:15:00.000Z");
  CHECK(acknowledged.timeline[0].change.kind == ChangeKind::kEscalated);
  CHECK(At(acknowledged.timeline[1]) == "2026-01-05T07:16:00.000Z");
}

TEST_CASE("Replay fixture: an emergency button escalates until acknowledged, then is resolved with a note") {
  // tests/fixtures/replay/button-acknowledged.jsonl against the COPD example: what docs/rules.md shows.
  const auto config =
      ehg::config::LoadConfig(std::filesystem::path(EHG_SOURCE_DIR) / "examples/copd-resident.json");
  REQUIRE(config.has_value());
  auto zone = ehg::tz::LoadTimeZone(config->resident.time_zone);
  REQUIRE(zone.has_value());
  ehg::replay::Replay replay(config->rules, *zone, 60s);
  auto file = ehg::replay::ReadingsFile::Open(std::filesystem::path(EHG_FIXTURES_DIR) /
                                              "replay/button-acknowledged.jsonl");
  REQUIRE(file.has_value());
  std::vector<std::string> timeline;
  const auto record = [&](const std::vector<ehg::replay::TimelineEntry>& entries) {
    for (const auto& entry : entries) {
      timeline.push_back(At(entry) + " " + std::string(ehg::alerts::ToString(entry.change.kind)) + " " +
                         entry.change.alert.alert_id + " " + entry.change.alert.rule_id);
    }
  };
  std::string line;
  while (file->ReadLine(line).value() == ehg::replay::ReadingsFile::Next::kLine) {
    auto parsed = ehg::replay::ParseReplayLine(line);
    REQUIRE(parsed.has_value());
    std::visit(
        [&](const auto& item) {
          using T = std::decay_t<decltype(item)>;
          if constexpr (std::is_same_v<T, ehg::core::Reading>) {
            record(replay.Feed(item));
          } else {
            const auto done = replay.Apply(item);
            CHECK(done.outcome == ehg::alerts::ActionOutcome::kDone);
            record(done.timeline);
          }
        },
        *parsed);
  }
  record(replay.RunUntil(Time("2026-03-25T19:00:00Z")));
  // Raised at the press, escalated once at 18:08 (5 minutes; the 18:04 reading's device clock, a year
  // ahead, does not move the replay clock but is reported as wrong), nothing more after the
  // acknowledgement at 18:12.
  CHECK(timeline == std::vector<std::string>{
                        "2026-03-25T18:03:00.000Z raised A0001 emergency-button",
                        "2026-03-25T18:04:00.000Z raised A0002 device-clock",
                        "2026-03-25T18:08:00.000Z escalated A0001 emergency-button",
                        "2026-03-25T18:12:00.000Z acknowledged A0001 emergency-button",
                        "2026-03-25T18:40:00.000Z resolved A0001 emergency-button",
                    });
  CHECK(replay.summary().actions == 2);
  CHECK(replay.summary().actions_without_alert == 0);
}
