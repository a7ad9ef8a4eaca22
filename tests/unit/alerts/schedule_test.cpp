#include <doctest/doctest.h>

#include "gateway/tz/time_zone.hpp"
#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ChangeKind;
using ehg::alerts::DailyWindow;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::alerts::TimeOfDay;
using ehg::core::WallTime;
using ehg::test::Harness;
using ehg::test::Kinds;
using Changes = std::vector<ChangeKind>;

namespace {

std::shared_ptr<const ehg::alerts::TimeZone> Oslo() {
  return ehg::tz::LoadTimeZone("Europe/Oslo").value();
}

// A UTC time given as its parts.
WallTime Utc(int year, unsigned month, unsigned day, int hour, int minute = 0, int second = 0) {
  const std::chrono::sys_days date =
      std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day};
  return WallTime{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second};
}

ehg::core::Reading SystolicAt(WallTime time) {
  ehg::core::Reading reading =
      ehg::test::MakeReading("bp.systolic", 130, "mm[Hg]", time.time_since_epoch().count(), "bp-cuff");
  reading.device_time = time;
  return reading;
}

ehg::core::Reading EventAt(WallTime time, const std::string& metric, double value = 1) {
  ehg::core::Reading reading =
      ehg::test::MakeReading(metric, value, "1", time.time_since_epoch().count(), "sensor");
  return reading;
}

RuleSet DailyBp(TimeOfDay from = TimeOfDay{0}) {
  RuleSet rules;
  ehg::alerts::MissedRule rule;
  rule.common = {"bp-missed", Severity::kLow, std::nullopt, 0s};
  rule.metric = "bp.systolic";
  rule.daily_by = TimeOfDay{11 * 60};
  rule.daily_from = from;
  rules.missed.push_back(rule);
  return rules;
}

}  // namespace

TEST_CASE("Time zone: Oslo's spring-forward gap and autumn repeat map as documented") {
  const auto oslo = Oslo();
  const auto day = [](int y, unsigned m, unsigned d) {
    return std::chrono::local_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
  };
  // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 does not exist: the jump's instant.
  CHECK(ehg::alerts::AtLocalTime(*oslo, day(2026, 3, 29), TimeOfDay{150}) == Utc(2026, 3, 29, 1));
  CHECK(ehg::alerts::AtLocalTime(*oslo, day(2026, 3, 29), TimeOfDay{180}) == Utc(2026, 3, 29, 1));
  CHECK(ehg::alerts::AtLocalTime(*oslo, day(2026, 3, 29), TimeOfDay{60}) == Utc(2026, 3, 29, 0));
  // 2026-10-25: 03:00 CEST goes back to 02:00 CET. 02:30 happens twice: the first one (CEST).
  CHECK(ehg::alerts::AtLocalTime(*oslo, day(2026, 10, 25), TimeOfDay{150}) == Utc(2026, 10, 25, 0, 30));
  CHECK(ehg::alerts::AtLocalTime(*oslo, day(2026, 10, 25), TimeOfDay{11 * 60}) == Utc(2026, 10, 25, 10));
  CHECK(ehg::alerts::LocalDay(*oslo, Utc(2026, 3, 28, 23, 30)) == day(2026, 3, 29));  // 00:30 local
}

TEST_CASE("Time of day parses HH:MM strictly") {
  CHECK(TimeOfDay::Parse("08:00")->minutes == 480);
  CHECK(TimeOfDay::Parse("23:59")->minutes == 1439);
  CHECK(TimeOfDay::Parse("00:00")->ToString() == "00:00");
  CHECK(TimeOfDay::Parse("07:05")->ToString() == "07:05");
  for (const char* bad : {"24:00", "8:00", "08:60", "0800", "08:0a", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(TimeOfDay::Parse(bad).has_value());
  }
}

TEST_CASE("Daily window across midnight, on a day the clocks change") {
  const auto oslo = Oslo();
  const DailyWindow night{TimeOfDay{23 * 60}, TimeOfDay{6 * 60}};
  // The night into 2026-03-29: 23:00 CET (22:00 UTC) to 06:00 CEST (04:00 UTC): 6 hours long.
  const auto span = night.Containing(*oslo, Utc(2026, 3, 29, 1));
  REQUIRE(span.has_value());
  CHECK(span->start == Utc(2026, 3, 28, 22));
  CHECK(span->end == Utc(2026, 3, 29, 4));
  CHECK_FALSE(night.Contains(*oslo, Utc(2026, 3, 29, 4)));
  CHECK(night.Contains(*oslo, Utc(2026, 3, 29, 3, 59, 59)));
  CHECK_FALSE(night.Contains(*oslo, Utc(2026, 3, 28, 21, 59, 59)));
}

TEST_CASE("Missed measurement: the daily deadline is 11:00 local, also on both clock-change days") {
  Harness harness(DailyBp(), Oslo());
  CHECK(harness.Tick(Utc(2026, 3, 27, 12)).changes.empty());  // first look: supervision starts here
  // 28 March (CET): no reading. 11:00 local is 10:00 UTC.
  CHECK(harness.Tick(Utc(2026, 3, 28, 9, 59, 59)).changes.empty());
  const auto missed = harness.Tick(Utc(2026, 3, 28, 10));
  REQUIRE(Kinds(missed) == Changes{ChangeKind::kRaised});
  CHECK(missed.changes[0].alert.metric == "bp.systolic");
  CHECK(harness.Tick(Utc(2026, 3, 28, 10, 0, 1)).changes.empty());  // raised once
  CHECK(Kinds(harness.Feed(SystolicAt(Utc(2026, 3, 28, 15)))) == Changes{ChangeKind::kResolved});
  // 29 March, the clocks went forward at 01:00 UTC: 11:00 CEST is 09:00 UTC, not 10:00.
  CHECK(harness.Tick(Utc(2026, 3, 29, 8, 59, 59)).changes.empty());
  CHECK(Kinds(harness.Tick(Utc(2026, 3, 29, 9))) == Changes{ChangeKind::kRaised});
  CHECK(Kinds(harness.Feed(SystolicAt(Utc(2026, 3, 29, 9, 30)))) == Changes{ChangeKind::kResolved});
  // 30 March: measured at 10:30 CEST (08:30 UTC), before the deadline: nothing at 09:00 UTC.
  CHECK(harness.Feed(SystolicAt(Utc(2026, 3, 30, 8, 30))).changes.empty());
  CHECK(harness.Tick(Utc(2026, 3, 30, 9)).changes.empty());

  Harness autumn(DailyBp(), Oslo());
  CHECK(autumn.Tick(Utc(2026, 10, 24, 12)).changes.empty());
  // 25 October, back to CET at 01:00 UTC: 11:00 CET is 10:00 UTC.
  CHECK(autumn.Tick(Utc(2026, 10, 25, 9, 59, 59)).changes.empty());
  CHECK(Kinds(autumn.Tick(Utc(2026, 10, 25, 10))) == Changes{ChangeKind::kRaised});
}

TEST_CASE("Missed measurement: a reading before the day's window does not count for that day") {
  Harness harness(DailyBp(TimeOfDay{6 * 60}), Oslo());
  CHECK(harness.Tick(Utc(2026, 1, 4, 12)).changes.empty());
  CHECK(harness.Feed(SystolicAt(Utc(2026, 1, 5, 4, 59))).changes.empty());  // 05:59 local
  CHECK(Kinds(harness.Tick(Utc(2026, 1, 5, 10))) == Changes{ChangeKind::kRaised});
  Harness in_time(DailyBp(TimeOfDay{6 * 60}), Oslo());
  CHECK(in_time.Tick(Utc(2026, 1, 4, 12)).changes.empty());
  CHECK(in_time.Feed(SystolicAt(Utc(2026, 1, 5, 5))).changes.empty());  // 06:00 local
  CHECK(in_time.Tick(Utc(2026, 1, 5, 10)).changes.empty());
}

TEST_CASE("Missed measurement: a restart after the deadline still checks that day, once") {
  Harness harness(DailyBp(), Oslo());
  CHECK(harness.Tick(Utc(2026, 1, 4, 12)).changes.empty());
  // The gateway was off from 09:00 to 14:00 UTC: the first tick afterwards sees the missed deadline.
  const ehg::alerts::EngineState saved = harness.state;
  Harness restarted(DailyBp(), Oslo());
  restarted.state.rules = saved.rules;  // what the store kept
  CHECK(Kinds(restarted.Tick(Utc(2026, 1, 5, 14))) == Changes{ChangeKind::kRaised});
  CHECK(restarted.Tick(Utc(2026, 1, 5, 14, 0, 1)).changes.empty());
}

TEST_CASE("Missed measurement within an interval: none for `within` since the last one (or since watching)") {
  RuleSet rules;
  ehg::alerts::MissedRule rule;
  rule.common = {"weight-daily", Severity::kLow, std::nullopt, 0s};
  rule.metric = "body_weight";
  rule.within = 26h;
  rules.missed.push_back(rule);
  Harness harness(rules);
  const WallTime start = ehg::test::kT0;
  CHECK(harness.Tick(start).changes.empty());
  CHECK(harness.Feed(ehg::test::At(2h, "body_weight", 80, "kg", "scale")).changes.empty());
  CHECK(harness.Tick(start + 2h + 26h - 1s).changes.empty());
  CHECK(Kinds(harness.Tick(start + 2h + 26h)) == Changes{ChangeKind::kRaised});
  CHECK(Kinds(harness.Feed(ehg::test::At(29h, "body_weight", 80, "kg", "scale"))) ==
        Changes{ChangeKind::kResolved});
}

TEST_CASE("Inactivity: N hours without motion inside the day window, the night is not counted") {
  RuleSet rules;
  ehg::alerts::InactivityRule rule;
  rule.common = {"no-activity", Severity::kHigh, std::nullopt, 0s};
  rule.quiet_for = 4h;
  rule.window = {TimeOfDay{8 * 60}, TimeOfDay{22 * 60}};  // 07:00-21:00 UTC in January
  rules.inactivity.push_back(rule);
  Harness harness(rules, Oslo());
  CHECK(harness.Tick(Utc(2026, 1, 5, 0)).changes.empty());
  CHECK(harness.Feed({EventAt(Utc(2026, 1, 5, 7, 30), "motion")}, Utc(2026, 1, 5, 7, 30)).changes.empty());
  CHECK(harness.Tick(Utc(2026, 1, 5, 11, 29, 59)).changes.empty());
  const auto raised = harness.Tick(Utc(2026, 1, 5, 11, 30));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.changes[0].alert.severity == Severity::kHigh);
  CHECK(Kinds(harness.Feed({EventAt(Utc(2026, 1, 5, 12), "door")}, Utc(2026, 1, 5, 12))) ==
        Changes{ChangeKind::kResolved});
  // A motion sensor's "clear" (0) is not activity.
  CHECK(harness.Feed({EventAt(Utc(2026, 1, 5, 13), "motion", 0)}, Utc(2026, 1, 5, 13)).changes.empty());
  // Last activity 20:00 UTC; the night does not count: the four hours run from 07:00 UTC next morning.
  CHECK(harness.Feed({EventAt(Utc(2026, 1, 5, 20), "motion")}, Utc(2026, 1, 5, 20)).changes.empty());
  CHECK(harness.Tick(Utc(2026, 1, 6, 6)).changes.empty());
  CHECK(harness.Tick(Utc(2026, 1, 6, 10, 59, 59)).changes.empty());
  CHECK(Kinds(harness.Tick(Utc(2026, 1, 6, 11))) == Changes{ChangeKind::kRaised});
}

TEST_CASE("Door opened at night: an event rule with a window across midnight") {
  RuleSet rules;
  ehg::alerts::EventRule rule;
  rule.common = {"door-night", Severity::kHigh, std::nullopt, 0s};
  rule.metric = "door";
  rule.window = DailyWindow{TimeOfDay{23 * 60}, TimeOfDay{6 * 60}};
  rules.events.push_back(rule);
  Harness harness(rules, Oslo());
  CHECK(harness.Feed({EventAt(Utc(2026, 1, 5, 21, 59), "door")}, Utc(2026, 1, 5, 21, 59)).changes.empty());
  CHECK(Kinds(harness.Feed({EventAt(Utc(2026, 1, 5, 22), "door")}, Utc(2026, 1, 5, 22))) ==
        Changes{ChangeKind::kRaised});  // 23:00 local
  CHECK(harness.Feed({EventAt(Utc(2026, 1, 5, 22, 10), "door", 0)}, Utc(2026, 1, 5, 22, 10)).changes.empty());
  const auto morning = harness.Feed({EventAt(Utc(2026, 1, 6, 5), "door")}, Utc(2026, 1, 6, 5));  // 06:00
  CHECK(morning.changes.empty());
  CHECK(morning.suppressed_repeats == 0);  // outside the window: not even a repeat
  // A door event stamped with an uncertain clock cannot be placed in the night: counted, not alerted.
  Harness uncertain(rules, Oslo());
  auto reading = EventAt(Utc(2026, 1, 5, 23), "door");
  reading.time_uncertain = true;
  const auto evaluation = uncertain.Feed({reading}, Utc(2026, 1, 5, 23));
  CHECK(evaluation.changes.empty());
  CHECK(evaluation.unreliable_readings == 1);
}
