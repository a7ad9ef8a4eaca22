// The time model at the engine (docs/rules.md, "Time"): device clocks that step back or jump ahead, late
// readings from another device of the same metric, stored-memory uploads, and repeats of events. Each
// case is one the engine used to get wrong silently.
#include <doctest/doctest.h>

#include "gateway/core/device_time.hpp"
#include "tests/support/rules.hpp"
#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ChangeKind;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::core::DeviceClockTolerance;
using ehg::core::DeviceTiming;
using ehg::test::Harness;
using ehg::test::Kinds;
using ehg::test::kT0;
using Changes = std::vector<ChangeKind>;

namespace {

const DeviceClockTolerance kStreaming = ehg::core::DefaultClockTolerance(DeviceTiming::kStreaming);
const DeviceClockTolerance kRecords = ehg::core::DefaultClockTolerance(DeviceTiming::kStoredRecords);

// SpO2 below 88 for 2 minutes, resolving at once when clear.
RuleSet Spo2Low(std::chrono::seconds for_duration = 120s) {
  RuleSet rules;
  rules.thresholds.push_back(
      ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 88, Severity::kHigh, for_duration));
  return rules;
}

// A reading received at kT0 + `received` whose device stamped it `device_offset` from then, judged by
// the time model as the pipeline judges it.
ehg::core::Reading Received(std::chrono::milliseconds received, std::chrono::milliseconds device_offset,
                            double spo2, const std::string& device = "oximeter",
                            const DeviceClockTolerance& tolerance = kStreaming) {
  ehg::core::Reading reading =
      ehg::test::MakeReading("spo2", spo2, "%", ehg::test::kTestEpochMs + received.count(), device);
  reading.device_time = reading.received_at + device_offset;
  ehg::core::JudgeDeviceTime(reading, tolerance);
  return reading;
}

struct Run {
  std::vector<ehg::alerts::AlertChange> changes;
  std::uint64_t out_of_order = 0;
  std::uint64_t suppressed = 0;
  std::uint64_t late_beyond_horizon = 0;

  std::size_t Count(ChangeKind kind, const std::string& rule) const {
    return static_cast<std::size_t>(std::count_if(changes.begin(), changes.end(), [&](const auto& change) {
      return change.kind == kind && change.alert.rule_id == rule;
    }));
  }
};

// Feeds readings one by one, each at its receive time, and collects what happened.
Run Feed(Harness& harness, const std::vector<ehg::core::Reading>& readings) {
  Run run;
  for (const ehg::core::Reading& reading : readings) {
    auto evaluation = harness.Feed(std::vector<ehg::core::Reading>{reading}, reading.received_at);
    run.out_of_order += evaluation.out_of_order_readings;
    run.suppressed += evaluation.suppressed_repeats;
    run.late_beyond_horizon += evaluation.late_beyond_horizon;
    for (auto& change : evaluation.changes)
      run.changes.push_back(std::move(change));
  }
  return run;
}

}  // namespace

TEST_CASE("Time model: the device time counts only when plausible against the receive time") {
  struct Case {
    const char* name;
    std::chrono::milliseconds offset;
    DeviceClockTolerance tolerance;
    ehg::core::DeviceTimeVerdict verdict;
  };
  using ehg::core::DeviceTimeVerdict;
  const Case cases[] = {
      {"streaming, on time", 0ms, kStreaming, DeviceTimeVerdict::kPlausible},
      {"streaming, 2 min ahead (the limit)", 2min, kStreaming, DeviceTimeVerdict::kPlausible},
      {"streaming, 2 min 1 ms ahead", 2min + 1ms, kStreaming, DeviceTimeVerdict::kAhead},
      {"streaming, 2 min behind (the limit)", -2min, kStreaming, DeviceTimeVerdict::kPlausible},
      {"streaming, an hour behind (clock stepped back)", -1h, kStreaming, DeviceTimeVerdict::kBehind},
      {"records, a week old upload", -24h * 7, kRecords, DeviceTimeVerdict::kPlausible},
      {"records, 31 days old", -24h * 31, kRecords, DeviceTimeVerdict::kBehind},
      {"records, 10 min ahead", 10min, kRecords, DeviceTimeVerdict::kAhead},
      {"records, a year ahead", 24h * 365, kRecords, DeviceTimeVerdict::kAhead},
  };
  for (const Case& item : cases) {
    CAPTURE(item.name);
    ehg::core::Reading reading = ehg::test::SpO2(95);
    reading.device_time = reading.received_at + item.offset;
    CHECK(ehg::core::JudgeDeviceTime(reading, item.tolerance) == item.verdict);
    const bool plausible = item.verdict == DeviceTimeVerdict::kPlausible;
    CHECK(reading.device_clock_suspect == !plausible);
    CHECK(reading.EffectiveTime() == (plausible ? *reading.device_time : reading.received_at));
  }
  // Without a device time there is nothing to judge; with the gateway's own clock unsynchronised there is
  // nothing to judge against (those readings are already time_uncertain).
  ehg::core::Reading no_time = ehg::test::SpO2(95);
  CHECK(ehg::core::JudgeDeviceTime(no_time, kStreaming) == DeviceTimeVerdict::kNoDeviceTime);
  ehg::core::Reading uncertain = ehg::test::SpO2(95);
  uncertain.device_time = uncertain.received_at + 24h * 365;
  uncertain.time_uncertain = true;
  CHECK(ehg::core::JudgeDeviceTime(uncertain, kStreaming) == DeviceTimeVerdict::kGatewayUncertain);
  CHECK_FALSE(uncertain.device_clock_suspect);
}

TEST_CASE("Case 1: a device clock that steps back an hour does not hide ten minutes of SpO2 80") {
  Harness harness(Spo2Low());
  std::vector<ehg::core::Reading> readings;
  for (int second = 0; second < 60; ++second)
    readings.push_back(Received(std::chrono::seconds{second}, 0ms, 96));
  // The battery is changed: the device's clock now runs an hour behind, and SpO2 falls to 80.
  for (int second = 60; second < 660; ++second)
    readings.push_back(Received(std::chrono::seconds{second}, -1h, 80));
  const Run run = Feed(harness, readings);
  REQUIRE(run.Count(ChangeKind::kRaised, "spo2-low") == 1);
  CHECK(run.out_of_order == 0);  // the readings count at their receive time, in order
  // Raised 2 minutes into the fall by receive time (60 s + 120 s), not an hour later.
  const auto raised = std::find_if(run.changes.begin(), run.changes.end(), [](const auto& change) {
    return change.kind == ChangeKind::kRaised && change.alert.rule_id == "spo2-low";
  });
  CHECK(raised->alert.raised_at == kT0 + 180s);
  // The installer is told once, not 600 times.
  CHECK(run.Count(ChangeKind::kRaised, std::string(ehg::alerts::kDefaultClockRuleId)) == 1);
  const auto* clock = harness.Open(ehg::alerts::AlertKey(ehg::alerts::kDefaultClockRuleId, "oximeter"));
  REQUIRE(clock != nullptr);
  CHECK(clock->metric == "device.clock");
  CHECK(clock->worst_value == doctest::Approx(-60.0));  // minutes the device is off
  CHECK(clock->severity == Severity::kLow);
}

TEST_CASE(
    "Case 1: a small step back within the tolerance is late for a while: it raises, it never resolves") {
  Harness harness(Spo2Low());
  std::vector<ehg::core::Reading> readings;
  for (int second = 0; second < 60; ++second)
    readings.push_back(Received(std::chrono::seconds{second}, 0ms, 96));
  // The clock steps back 90 s (within the streaming tolerance) as SpO2 falls: for 90 s every reading is
  // older than the last normal one.
  for (int second = 60; second < 400; ++second)
    readings.push_back(Received(std::chrono::seconds{second}, -90s, 80));
  const Run run = Feed(harness, readings);
  CHECK(run.out_of_order > 0);
  REQUIRE(run.Count(ChangeKind::kRaised, "spo2-low") == 1);
  // By effective time the first 90 s of low readings lie among the normal ones (two claims for the same
  // instants), so the 2 minutes count from the end of that overlap: raised at most the step (90 s) late.
  CHECK(run.changes.front().alert.raised_at <= kT0 + 60s + 90s + 120s);
  CHECK(run.Count(ChangeKind::kResolved, "spo2-low") == 0);
  CHECK(run.Count(ChangeKind::kRaised, std::string(ehg::alerts::kDefaultClockRuleId)) == 0);
}

TEST_CASE("Case 2: one reading stamped a year ahead does not hide everything after it") {
  for (const auto& [name, tolerance] :
       {std::pair{"streaming", kStreaming}, std::pair{"stored records", kRecords}}) {
    const auto& case_name = name;  // clang 14 cannot capture a structured binding
    CAPTURE(case_name);
    Harness harness(Spo2Low());
    std::vector<ehg::core::Reading> readings;
    readings.push_back(Received(0s, 24h * 365, 96, "oximeter", tolerance));  // the glitch
    for (int second = 1; second < 300; ++second)
      readings.push_back(Received(std::chrono::seconds{second}, 0ms, 80, "oximeter", tolerance));
    const Run run = Feed(harness, readings);
    // A stored record with an impossible time was taken at an unknown time: judged like a late one.
    CHECK(run.out_of_order == (tolerance.timing == DeviceTiming::kStoredRecords ? 1 : 0));
    CHECK(run.Count(ChangeKind::kRaised, "spo2-low") == 1);
    // One glitch, one technical alert; it resolves after an hour of plausible times.
    CHECK(run.Count(ChangeKind::kRaised, std::string(ehg::alerts::kDefaultClockRuleId)) == 1);
    const Run later = Feed(harness, {Received(61min, 0ms, 96, "oximeter", tolerance),
                                     Received(62min, 0ms, 96, "oximeter", tolerance)});
    CHECK(later.Count(ChangeKind::kResolved, std::string(ehg::alerts::kDefaultClockRuleId)) == 1);
  }
}

TEST_CASE("Case 3: a late reading from another device never resolves an alert newer readings raised") {
  Harness harness(Spo2Low());
  std::vector<ehg::core::Reading> low;
  for (int second = 600; second <= 780; second += 10)
    low.push_back(Received(std::chrono::seconds{second}, 0ms, 84, "oximeter"));
  REQUIRE(Feed(harness, low).Count(ChangeKind::kRaised, "spo2-low") == 1);
  // A spot-check oximeter uploads its memory: normal values from before the breach began.
  std::vector<ehg::core::Reading> memory;
  for (int minute = 1; minute <= 9; ++minute)
    memory.push_back(Received(790s + std::chrono::seconds{minute}, -std::chrono::minutes{10 + minute}, 97,
                              "spot-check", kRecords));
  const Run uploaded = Feed(harness, memory);
  CHECK(uploaded.changes.empty());
  CHECK(uploaded.out_of_order == memory.size());
  REQUIRE(harness.Open("spo2-low") != nullptr);
  // A current normal reading from any device resolves it, with evidence newer than the breach.
  const Run current = Feed(harness, {Received(900s, 0ms, 96, "spot-check", kRecords)});
  REQUIRE(current.Count(ChangeKind::kResolved, "spo2-low") == 1);
  CHECK(current.changes.back().alert.evidence.back().time == kT0 + 900s);
}

TEST_CASE("Case 3, the other order: the late normal reading first, then the breach, raises as usual") {
  Harness harness(Spo2Low());
  CHECK(Feed(harness, {Received(600s, -5min, 97, "spot-check", kRecords)}).changes.empty());
  std::vector<ehg::core::Reading> low;
  for (int second = 600; second <= 780; second += 10)
    low.push_back(Received(std::chrono::seconds{second}, 0ms, 84, "oximeter"));
  CHECK(Feed(harness, low).Count(ChangeKind::kRaised, "spo2-low") == 1);
}

TEST_CASE("A stored-memory upload of a persistent breach raises, with the uploaded readings as evidence") {
  Harness harness(Spo2Low());
  CHECK(Feed(harness, {Received(3600s, 0ms, 96, "oximeter")}).changes.empty());
  // Thirty minutes ago the spot-check oximeter recorded 5 minutes of SpO2 82; it uploads now.
  std::vector<ehg::core::Reading> memory;
  for (int second = 0; second <= 300; second += 30)
    memory.push_back(Received(3601s + std::chrono::seconds{second / 30},
                              -30min + std::chrono::seconds{second}, 82, "spot-check", kRecords));
  const Run run = Feed(harness, memory);
  REQUIRE(run.Count(ChangeKind::kRaised, "spo2-low") == 1);
  const auto& alert = run.changes.front().alert;
  CHECK(alert.evidence.front().device_id == "spot-check");
  CHECK(alert.evidence.front().time == kT0 + 3601s - 30min);
  // It is not resolved by the late readings, but by the next current one.
  CHECK(Feed(harness, {Received(3700s, 0ms, 96, "oximeter")}).Count(ChangeKind::kResolved, "spo2-low") == 1);
}

TEST_CASE("Late breaches do not add up across a late normal reading, nor across a gap longer than for") {
  Harness harness(Spo2Low());
  CHECK(Feed(harness, {Received(3600s, 0ms, 96, "oximeter")}).changes.empty());
  // Alternating low and normal every 30 s for 5 minutes: never 2 minutes of breach.
  std::vector<ehg::core::Reading> memory;
  for (int step = 0; step <= 10; ++step)
    memory.push_back(Received(3601s + std::chrono::seconds{step}, -30min + std::chrono::seconds{30 * step},
                              step % 2 == 0 ? 82 : 95, "spot-check", kRecords));
  // And two low readings 3 minutes apart: they do not prove the 3 minutes in between.
  memory.push_back(Received(3620s, -20min, 82, "spot-check", kRecords));
  memory.push_back(Received(3621s, -17min, 82, "spot-check", kRecords));
  const Run run = Feed(harness, memory);
  CHECK(run.Count(ChangeKind::kRaised, "spo2-low") == 0);
}

TEST_CASE("A late breach older than the late horizon raises nothing and is counted") {
  Harness harness(Spo2Low(0s));
  CHECK(Feed(harness, {Received(48h, 0ms, 96, "oximeter")}).changes.empty());
  const Run run = Feed(harness, {Received(48h + 1s, -25h, 80, "spot-check", kRecords)});
  CHECK(run.changes.empty());
  CHECK(run.late_beyond_horizon == 1);
  const Run recent = Feed(harness, {Received(48h + 2s, -23h, 80, "spot-check", kRecords)});
  CHECK(recent.Count(ChangeKind::kRaised, "spo2-low") == 1);
}

TEST_CASE("A late breach joins the breach newer readings are pending on") {
  Harness harness(Spo2Low());
  // The streaming oximeter has been low for 90 s (not yet the 2 minutes).
  std::vector<ehg::core::Reading> low;
  for (int second = 600; second <= 690; second += 10)
    low.push_back(Received(std::chrono::seconds{second}, 0ms, 84, "oximeter"));
  CHECK(Feed(harness, low).changes.empty());
  // The spot-check's record from 60 s before that shows the breach began earlier: 2.5 minutes in all.
  const Run run = Feed(harness, {Received(691s, -151s, 83, "spot-check", kRecords)});
  CHECK(run.Count(ChangeKind::kRaised, "spo2-low") == 1);
}

TEST_CASE("A late normal reading does not restart the clearing of an open alert") {
  RuleSet rules;
  rules.thresholds.push_back(
      ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 88, Severity::kHigh, 0s, 0, 5min));
  Harness harness(rules);
  REQUIRE(Feed(harness, {Received(0s, 0ms, 84)}).Count(ChangeKind::kRaised, "spo2-low") == 1);
  CHECK(Feed(harness, {Received(60s, 0ms, 95)}).changes.empty());  // clearing since 60 s
  // A late low reading from before the clearing began neither resolves nor restarts the clearing.
  CHECK(Feed(harness, {Received(200s, -170s, 84, "spot-check", kRecords)})
            .Count(ChangeKind::kUpdated, "spo2-low") == 0);
  CHECK(Kinds(harness.Feed(std::vector<ehg::core::Reading>{Received(360s, 0ms, 95)}, kT0 + 360s)) ==
        Changes{ChangeKind::kResolved});
}

TEST_CASE("Events: every press while the alert is open goes out at once, late presses too") {
  RuleSet rules;
  ehg::alerts::EventRule button;
  button.common = {"emergency-button", Severity::kCritical, std::nullopt, 0s};
  button.metric = "button";
  rules.events.push_back(button);
  Harness harness(rules);
  REQUIRE(Kinds(harness.Feed(ehg::test::At(0s, "button", 1, "1", "button-1"))) ==
          Changes{ChangeKind::kRaised});
  for (int press = 2; press <= 5; ++press) {
    CAPTURE(press);
    const auto again = harness.Feed(ehg::test::At(std::chrono::seconds{press}, "button", 1, "1", "button-1"));
    REQUIRE(Kinds(again) == Changes{ChangeKind::kUpdated});
    CHECK(again.changes[0].alert.occurrences == static_cast<std::uint32_t>(press));
    CHECK(again.suppressed_repeats == 0);
  }
  // A press the pendant stored while out of range arrives late: still an update, never suppressed.
  auto stored = ehg::test::At(1500ms, "button", 1, "1", "button-1");
  stored.received_at = kT0 + 10s;
  const auto late = harness.Feed(std::vector<ehg::core::Reading>{stored}, kT0 + 10s);
  REQUIRE(Kinds(late) == Changes{ChangeKind::kUpdated});
  CHECK(late.changes[0].alert.occurrences == 6);
}

TEST_CASE("Numeric repeats stay suppressed unless worse (the alarm-fatigue rule is for numbers only)") {
  Harness harness(Spo2Low(0s));
  REQUIRE(Kinds(harness.Feed(ehg::test::SpO2At(0s, 84))) == Changes{ChangeKind::kRaised});
  const auto same = harness.Feed(ehg::test::SpO2At(1s, 85));
  CHECK(same.changes.empty());
  CHECK(same.suppressed_repeats == 1);
  CHECK(Kinds(harness.Feed(ehg::test::SpO2At(2s, 80))) == Changes{ChangeKind::kUpdated});
}

TEST_CASE("A configured device_clock rule replaces the built-in one") {
  RuleSet rules;
  ehg::alerts::DeviceRule clock;
  clock.common = {"clock-check", Severity::kMedium, std::nullopt, 0s};
  clock.condition = ehg::alerts::DeviceCondition::kClockWrong;
  rules.devices.push_back(clock);
  Harness harness(rules);
  CHECK(harness.evaluator.rules().devices.size() == 1);
  const Run run = Feed(harness, {Received(0s, 24h, 96)});
  REQUIRE(run.Count(ChangeKind::kRaised, "clock-check") == 1);
  CHECK(run.changes[0].alert.severity == Severity::kMedium);
  // clear_for 0: the next plausible time resolves it.
  CHECK(Feed(harness, {Received(1s, 0ms, 96)}).Count(ChangeKind::kResolved, "clock-check") == 1);
}

// Regressions found by review: each a way a late or oddly stamped reading could raise twice, raise on
// nothing, resolve on the past, or freeze the engine.
namespace {

// Measured at kT0 + taken (the device's clock right), received at kT0 + received, judged.
ehg::core::Reading Taken(std::chrono::milliseconds taken, std::chrono::milliseconds received, double spo2,
                         const std::string& device, const DeviceClockTolerance& tolerance) {
  ehg::core::Reading reading =
      ehg::test::MakeReading("spo2", spo2, "%", ehg::test::kTestEpochMs + received.count(), device);
  reading.device_time = kT0 + taken;
  ehg::core::JudgeDeviceTime(reading, tolerance);
  return reading;
}

}  // namespace

TEST_CASE("Late readings inside a breach already alerted and resolved raise nothing again (for 0)") {
  Harness harness(Spo2Low(0s));
  std::vector<ehg::core::Reading> in_order;
  for (int second = 0; second <= 20; second += 10)
    in_order.push_back(
        Taken(std::chrono::seconds{second}, std::chrono::seconds{second}, 82, "oximeter", kStreaming));
  for (int second = 30; second <= 40; second += 10)
    in_order.push_back(
        Taken(std::chrono::seconds{second}, std::chrono::seconds{second}, 96, "oximeter", kStreaming));
  const Run first = Feed(harness, in_order);
  REQUIRE(first.Count(ChangeKind::kRaised, "spo2-low") == 1);
  REQUIRE(first.Count(ChangeKind::kResolved, "spo2-low") == 1);
  // The spot-check's low reading from 15 s, inside the episode that was alerted, arrives at 60 s.
  CHECK(Feed(harness, {Taken(15s, 60s, 83, "spot-check", kRecords)}).Count(ChangeKind::kRaised, "spo2-low") ==
        0);
  // One from after the resolution is a breach of its own.
  CHECK(Feed(harness, {Taken(35s, 61s, 83, "spot-check", kRecords)}).Count(ChangeKind::kRaised, "spo2-low") ==
        1);
}

TEST_CASE("A late normal reading that splits an alerted breach does not make its second half raise again") {
  Harness harness(Spo2Low(60s));
  std::vector<ehg::core::Reading> in_order;
  for (int second = 0; second <= 200; second += 10)
    in_order.push_back(
        Taken(std::chrono::seconds{second}, std::chrono::seconds{second}, 82, "oximeter", kStreaming));
  for (int second = 210; second <= 230; second += 10)
    in_order.push_back(
        Taken(std::chrono::seconds{second}, std::chrono::seconds{second}, 96, "oximeter", kStreaming));
  const Run first = Feed(harness, in_order);
  REQUIRE(first.Count(ChangeKind::kRaised, "spo2-low") == 1);
  const Run late = Feed(
      harness, {Taken(70s, 240s, 95, "spot-check", kRecords), Taken(100s, 241s, 83, "spot-check", kRecords)});
  CHECK(late.Count(ChangeKind::kRaised, "spo2-low") == 0);
}

TEST_CASE("A late breach does not join the pending breach across a normal reading between them") {
  Harness harness(Spo2Low(60s));
  const Run first = Feed(
      harness, {Taken(0s, 0s, 96, "oximeter", kStreaming), Taken(30s, 30s, 96, "oximeter", kStreaming),
                Taken(60s, 60s, 82, "oximeter", kStreaming), Taken(75s, 75s, 82, "oximeter", kStreaming)});
  REQUIRE(first.changes.empty());
  // By effective time: low at 10 s, normal at 30 s, low from 60 to 75 s: nothing persisted for 60 s.
  CHECK(Feed(harness, {Taken(10s, 76s, 83, "spot-check", kRecords)}).Count(ChangeKind::kRaised, "spo2-low") ==
        0);
}

TEST_CASE(
    "A stored record with a time beyond the tolerance was taken at an unknown time: it never resolves") {
  Harness harness(Spo2Low(0s));
  REQUIRE(Feed(harness, {Taken(0s, 0s, 82, "oximeter", kStreaming)}).Count(ChangeKind::kRaised, "spo2-low") ==
          1);
  // A spot-check uploads a normal record it says is 40 days old.
  const auto old = Taken(-24h * 40, 20s, 97, "spot-check", kRecords);
  REQUIRE(old.device_clock_suspect);
  REQUIRE(old.taken_at_unknown);
  CHECK(Feed(harness, {old}).Count(ChangeKind::kResolved, "spo2-low") == 0);
  // A streaming device's reading with an impossible time is from now: it does resolve.
  auto streaming = Taken(-1h, 30s, 97, "oximeter", kStreaming);
  REQUIRE_FALSE(streaming.taken_at_unknown);
  CHECK(Feed(harness, {streaming}).Count(ChangeKind::kResolved, "spo2-low") == 1);
}

TEST_CASE("The first upload of a stored memory weeks old raises nothing: only the last 24 hours raise") {
  Harness harness(Spo2Low(60s));
  std::vector<ehg::core::Reading> memory;
  for (int minute = 0; minute <= 3; ++minute)
    memory.push_back(Taken(-24h * 20 + std::chrono::minutes{minute}, std::chrono::milliseconds{minute}, 82,
                           "spot-check", kRecords));
  const Run run = Feed(harness, memory);
  CHECK(run.Count(ChangeKind::kRaised, "spo2-low") == 0);
  CHECK(run.late_beyond_horizon == memory.size());
}

TEST_CASE("A reading a year ahead that skipped the time model is not evaluated and freezes nothing") {
  Harness harness(Spo2Low(0s));
  auto glitch = ehg::test::SpO2(97);
  glitch.device_time = glitch.received_at + 24h * 365;  // not judged: as a caller without the model
  CHECK(harness.Feed(std::vector<ehg::core::Reading>{glitch}, glitch.received_at).unreliable_readings == 1);
  const Run run =
      Feed(harness, {Taken(1s, 1s, 82, "oximeter", kStreaming), Taken(2s, 2s, 96, "oximeter", kStreaming)});
  CHECK(run.out_of_order == 0);
  CHECK(run.Count(ChangeKind::kRaised, "spo2-low") == 1);
  CHECK(run.Count(ChangeKind::kResolved, "spo2-low") == 1);
}

TEST_CASE("A stored record beyond the tolerance: an old one is history, one from a reset clock may raise") {
  Harness harness(Spo2Low(0s));
  // A meter's memory: a low reading it says is 40 days old. Believed old, it raises nothing.
  const auto old = Taken(-24h * 40, 1s, 82, "spot-check", kRecords);
  REQUIRE(old.taken_at_unknown);
  const Run history = Feed(harness, {old});
  CHECK(history.Count(ChangeKind::kRaised, "spo2-low") == 0);
  CHECK(history.late_beyond_horizon == 1);
  // After a battery change the clock restarted at 2000-01-01: the low reading was taken recently,
  // when exactly is unknown. It raises.
  auto reset = ehg::test::MakeReading("spo2", 82, "%", ehg::test::kTestEpochMs + 2000, "spot-check");
  reset.device_time = ehg::core::WallTime{std::chrono::sys_days{std::chrono::year{2000} / 1 / 3}};
  ehg::core::JudgeDeviceTime(reset, kRecords);
  REQUIRE(reset.taken_at_unknown);
  CHECK(Feed(harness, {reset}).Count(ChangeKind::kRaised, "spo2-low") == 1);
}
