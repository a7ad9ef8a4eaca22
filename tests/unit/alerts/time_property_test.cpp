// Property test of the time model (issue 20): random interleavings of readings from two devices of one
// metric, a streaming oximeter and a spot-check oximeter that uploads its memory late, with random
// device-clock faults. Whatever the order and the faults:
//   - no alert is resolved by a reading older than a breach the engine had already seen;
//   (a stored record whose time is implausible was taken at an unknown time: it may raise, it places no
//   breach in time, so it takes no part in either property)
//   - every breach that persists for `for` by effective time (all readings of both devices, sorted by
//     effective time) raises: an alert covers it, that is an alert was open while one of its readings
//     was processed, or an alert's episode (from its earliest evidence to the reading that resolved it,
//     by effective time) overlaps it.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "gateway/core/device_time.hpp"
#include "tests/support/rules.hpp"
#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::ChangeKind;
using ehg::core::WallTime;
using ms = std::chrono::milliseconds;

namespace {

constexpr double kLimit = 88;

struct Fed {
  ehg::core::Reading reading;  // as judged by the time model
  bool breach = false;
  bool alert_open_after = false;
};

struct Scenario {
  std::chrono::seconds for_duration{};
  std::vector<ehg::core::Reading> arrivals;  // in arrival (receive) order, not yet judged
  std::string faults;                        // for the failure message
};

Scenario Generate(std::uint32_t seed) {
  std::mt19937 random(seed);
  const auto uniform = [&](long low, long high) {
    return std::uniform_int_distribution<long>(low, high)(random);
  };
  Scenario scenario;
  const std::chrono::seconds fors[] = {0s, 30s, 120s};
  scenario.for_duration = fors[uniform(0, 2)];
  const ms duration = 40min;
  // The resident's true SpO2: stretches of low and normal.
  std::vector<std::pair<ms, bool>> stretches;  // start, low
  for (ms at{0}; at < duration; at += ms{uniform(10'000, 8 * 60'000)})
    stretches.emplace_back(at, uniform(0, 9) < 4);
  const auto low_at = [&](ms at) {
    bool low = false;
    for (const auto& [start, is_low] : stretches)
      if (start <= at) low = is_low;
    return low;
  };
  const auto value_at = [&](ms at) {
    return low_at(at) ? static_cast<double>(uniform(80, 87)) : static_cast<double>(uniform(90, 99));
  };
  const auto make = [&](const std::string& device, ms taken, ms received, ms clock_offset) {
    ehg::core::Reading reading = ehg::test::MakeReading("spo2", value_at(taken), "%",
                                                        ehg::test::kTestEpochMs + received.count(), device);
    reading.device_time = ehg::test::kT0 + taken + clock_offset;
    return reading;
  };
  // The streaming oximeter: one clock fault at a random moment, or none.
  const ms fault_at{uniform(0, duration.count())};
  const ms offsets[] = {-1h, -90s, -20s, 30s, 10min, 24h * 365, 0ms};
  const long fault = uniform(0, 6);
  const bool glitch_only = uniform(0, 1) == 0;  // one reading stamped wrong, or every one from then on
  scenario.faults = "for=" + std::to_string(scenario.for_duration.count()) + "s, stream fault " +
                    std::to_string(offsets[fault].count()) + " ms at " + std::to_string(fault_at.count()) +
                    (glitch_only ? " (one reading)" : " (from then on)");
  bool glitched = false;
  std::vector<ehg::core::Reading> readings;
  for (ms at{0}; at < duration; at += ms{uniform(1000, 8000)}) {
    ms offset{0};
    if (at >= fault_at && !(glitch_only && glitched)) {
      offset = offsets[fault];
      glitched = true;
    }
    readings.push_back(make("oximeter", at, at + ms{uniform(0, 800)}, offset));
  }
  // The spot-check: measures now and then, uploads its memory every few minutes; its clock may be off.
  const ms spot_offsets[] = {0ms, 0ms, -10min, 24h * 365, -24h * 40};
  const ms spot_offset = spot_offsets[uniform(0, 4)];
  scenario.faults += ", spot-check clock " + std::to_string(spot_offset.count()) + " ms";
  ms next_upload{uniform(60'000, 15 * 60'000)};
  std::vector<ms> memory;
  const auto upload = [&](ms when) {
    for (std::size_t i = 0; i < memory.size(); ++i)
      readings.push_back(make("spot-check", memory[i], when + ms{static_cast<long>(i)}, spot_offset));
    memory.clear();
  };
  for (ms at{uniform(0, 60'000)}; at < duration; at += ms{uniform(20'000, 90'000)}) {
    while (next_upload <= at) {
      upload(next_upload);
      next_upload += ms{uniform(2 * 60'000, 15 * 60'000)};
    }
    memory.push_back(at);
  }
  upload(std::max(next_upload, duration));
  std::stable_sort(readings.begin(), readings.end(),
                   [](const auto& a, const auto& b) { return a.received_at < b.received_at; });
  scenario.arrivals = std::move(readings);
  return scenario;
}

}  // namespace

TEST_CASE(
    "Property: two oximeters, late uploads and clock faults: no resolve on older readings, no missed "
    "breach") {
  const auto streaming = ehg::core::DefaultClockTolerance(ehg::core::DeviceTiming::kStreaming);
  const auto records = ehg::core::DefaultClockTolerance(ehg::core::DeviceTiming::kStoredRecords);
  std::size_t persistent_breaches = 0;
  std::size_t late_readings = 0;
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    const Scenario scenario = Generate(seed);
    CAPTURE(seed);
    CAPTURE(scenario.faults);
    ehg::alerts::RuleSet rules;
    rules.thresholds.push_back(ehg::test::Threshold("spo2-low", "spo2", std::nullopt, kLimit,
                                                    ehg::alerts::Severity::kHigh, scenario.for_duration));
    ehg::test::Harness harness(rules);
    std::vector<Fed> fed;
    std::optional<WallTime> newest_breach_seen;
    std::map<std::string, std::pair<WallTime, WallTime>> episodes;  // alert id -> earliest evidence, end
    for (ehg::core::Reading reading : scenario.arrivals) {
      ehg::core::JudgeDeviceTime(reading, reading.device_id == "oximeter" ? streaming : records);
      const bool breach = reading.value < kLimit;
      const auto evaluation = harness.Feed(std::vector<ehg::core::Reading>{reading}, reading.received_at);
      late_readings += evaluation.out_of_order_readings;
      bool raised = false;
      for (const auto& change : evaluation.changes) {
        if (change.alert.rule_id != "spo2-low") continue;
        raised = raised || change.kind == ChangeKind::kRaised;
        auto [episode, first] = episodes.try_emplace(change.alert.alert_id, WallTime::max(), WallTime::max());
        for (const auto& evidence : change.alert.evidence)
          episode->second.first = std::min(episode->second.first, evidence.time);
        if (change.kind == ChangeKind::kResolved) {
          // Resolved by this reading: never one older than a breach already seen.
          REQUIRE(newest_breach_seen.has_value());
          CHECK(reading.EffectiveTime() >= *newest_breach_seen);
          CHECK(change.alert.evidence.back().time == reading.EffectiveTime());
          episodes[change.alert.alert_id].second = reading.EffectiveTime();
        }
      }
      // A stored record taken at an unknown time (its receive time is only an upper bound) places no
      // breach in time: it may raise, and it takes no part in what must raise.
      if (breach && !reading.taken_at_unknown)
        newest_breach_seen =
            std::max(newest_breach_seen.value_or(reading.EffectiveTime()), reading.EffectiveTime());
      fed.push_back({reading, breach, raised || harness.Open("spo2-low") != nullptr});
    }
    // The breaches that persisted by effective time: maximal runs of breaching readings, no two further
    // apart than `for`, spanning at least `for`; a normal reading at the same instant breaks a run.
    std::vector<const Fed*> by_time;
    for (const Fed& item : fed) {
      if (!item.reading.taken_at_unknown) by_time.push_back(&item);
    }
    std::stable_sort(by_time.begin(), by_time.end(), [](const Fed* a, const Fed* b) {
      if (a->reading.EffectiveTime() != b->reading.EffectiveTime())
        return a->reading.EffectiveTime() < b->reading.EffectiveTime();
      return !a->breach && b->breach;
    });
    std::vector<const Fed*> run;
    const auto check_run = [&] {
      if (run.empty()) return;
      const auto span = run.back()->reading.EffectiveTime() - run.front()->reading.EffectiveTime();
      if (span >= scenario.for_duration) {
        ++persistent_breaches;
        const WallTime from = run.front()->reading.EffectiveTime();
        const WallTime to = run.back()->reading.EffectiveTime();
        const bool alerted =
            std::any_of(run.begin(), run.end(), [](const Fed* item) { return item->alert_open_after; }) ||
            std::any_of(episodes.begin(), episodes.end(), [&](const auto& episode) {
              return episode.second.first <= to && episode.second.second >= from;
            });
        CAPTURE(ehg::core::FormatIso8601(run.front()->reading.EffectiveTime()));
        CAPTURE(ehg::core::FormatIso8601(run.back()->reading.EffectiveTime()));
        CHECK(alerted);
      }
      run.clear();
    };
    for (const Fed* item : by_time) {
      if (!item->breach) {
        check_run();
        continue;
      }
      if (!run.empty() &&
          item->reading.EffectiveTime() - run.back()->reading.EffectiveTime() > scenario.for_duration)
        check_run();
      run.push_back(item);
    }
    check_run();
  }
  // The generator must exercise what the property is about.
  CHECK(persistent_breaches > 300);
  CHECK(late_readings > 1000);
}
