// The bucketed window behind trend and baseline rules, against a brute force over the raw readings, and
// the two window cases the issue found: windows silently cut to 20,000 readings.
#include "alerts/window.hpp"

#include <doctest/doctest.h>

#include <random>

#include "tests/unit/alerts/harness.hpp"

using namespace std::chrono_literals;
using ehg::alerts::BucketWidthFor;
using ehg::alerts::BucketWindow;
using ehg::alerts::ChangeKind;
using ehg::alerts::Evidence;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::alerts::WindowSample;
using ehg::test::Harness;
using ehg::test::Kinds;
using ehg::test::kT0;
using Changes = std::vector<ChangeKind>;

namespace {

Evidence Sample(std::chrono::milliseconds offset, double value, const std::string& device = "ox") {
  return Evidence{device, "spo2", value, "%", kT0 + offset};
}

}  // namespace

TEST_CASE("Bucket widths keep any window within 4000 buckets, and are whole minutes from a minute on") {
  CHECK(BucketWidthFor(10min) == 1s);
  CHECK(BucketWidthFor(1h) == 1s);
  CHECK(BucketWidthFor(4000s) == 1s);
  CHECK(BucketWidthFor(4001s) == 5s);
  CHECK(BucketWidthFor(24h) == 1min);
  CHECK(BucketWidthFor(72h) == 5min);
  CHECK(BucketWidthFor(std::chrono::days{7}) == 5min);
  CHECK(BucketWidthFor(std::chrono::days{31}) == 15min);
  CHECK(BucketWidthFor(std::chrono::days{90}) == 1h);
  for (const auto window : {60s, 3600s, 86400s, 604800s, 7776000s}) {
    CAPTURE(window.count());
    const auto width = BucketWidthFor(window);
    CHECK(window / width <= static_cast<long>(ehg::alerts::kMaxWindowBuckets));
    if (width >= 1min) CHECK(width % 1min == 0ms);
  }
}

TEST_CASE("A bucket window answers like a scan of the raw readings, rounded out to whole buckets") {
  // Random readings, in order and late, over several turns of the ring; every query is checked against
  // the readings whose bucket overlaps the query, within what the ring still holds.
  std::mt19937 random(20261202);
  for (const std::chrono::milliseconds width :
       {std::chrono::milliseconds{1s}, std::chrono::milliseconds{1min}}) {
    CAPTURE(width.count());
    const std::chrono::seconds span = std::chrono::duration_cast<std::chrono::seconds>(width * 100);
    BucketWindow window("spo2", "%", width, span);
    std::vector<Evidence> raw;
    std::chrono::milliseconds now{0};
    std::chrono::milliseconds newest{0};  // the newest reading the window was given
    std::uniform_int_distribution<int> step_ms(0, static_cast<int>(width.count() * 3));
    std::uniform_real_distribution<double> value(70, 100);
    std::uniform_int_distribution<int> late(0, 9);
    for (int i = 0; i < 3000; ++i) {
      now += std::chrono::milliseconds{step_ms(random)};
      std::chrono::milliseconds at = now;
      if (late(random) == 0) at -= std::chrono::milliseconds{step_ms(random) * 10};  // a late one
      const Evidence reading = Sample(at, value(random), i % 3 == 0 ? "spot" : "ox");
      const bool kept = window.Add(WindowSample::Of(reading));
      if (kept) raw.push_back(reading);
      newest = std::max(newest, at);
      // Query a random range ending at the newest time.
      const auto length = std::chrono::milliseconds{
          static_cast<long>(value(random) / 100.0 * static_cast<double>(span.count()) * 1000)};
      const auto to = kT0 + now;
      const auto from = to - length;
      const auto summary = window.Query(from, to);
      const auto bucket = [&](ehg::core::WallTime time) {
        return time.time_since_epoch().count() / width.count();
      };
      const long newest_bucket = bucket(kT0 + newest);
      const long oldest_held = newest_bucket - static_cast<long>(window.capacity()) + 1;
      std::uint64_t count = 0;
      double sum = 0;
      double low = 1e9;
      double high = -1e9;
      for (const Evidence& seen : raw) {
        const long b = bucket(seen.time);
        if (b < std::max(bucket(from), oldest_held) || b > bucket(to)) continue;
        ++count;
        sum += seen.value;
        low = std::min(low, seen.value);
        high = std::max(high, seen.value);
      }
      REQUIRE(summary.count == count);
      if (count == 0) continue;
      CHECK(summary.sum == doctest::Approx(sum));
      CHECK(summary.lowest.value == low);
      CHECK(summary.highest.value == high);
      // The evidence is a real reading of the range.
      CHECK(
          std::any_of(raw.begin(), raw.end(), [&](const Evidence& seen) { return seen == summary.lowest; }));
    }
  }
}

TEST_CASE("A bucket window ignores what its ring no longer covers and empties buckets it moves onto") {
  BucketWindow window("spo2", "%", 1s, 10s);
  CHECK(window.Add(WindowSample::Of(Sample(0s, 90))));
  CHECK(window.Add(WindowSample::Of(Sample(100s, 95))));  // a whole turn later: the old bucket is gone
  CHECK(window.Query(kT0, kT0 + 100s).count == 1);
  CHECK_FALSE(window.Add(WindowSample::Of(Sample(50s, 80))));  // older than the ring reaches
  CHECK(window.Query(kT0, kT0 + 100s).lowest.value == 95);
  // A stored minute summary fills one bucket with its count and extremes.
  BucketWindow minutes("spo2", "%", 1min, 24h);
  minutes.Add(WindowSample{kT0, 60, 60 * 95.0, 91, kT0 + 10s, "ox", 99, kT0 + 50s, "spot"});
  const auto summary = minutes.Query(kT0, kT0 + 1h);
  CHECK(summary.count == 60);
  CHECK(summary.Mean() == doctest::Approx(95));
  CHECK(summary.lowest == Evidence{"ox", "spo2", 91, "%", kT0 + 10s});
  CHECK(summary.highest == Evidence{"spot", "spo2", 99, "%", kT0 + 50s});
}

TEST_CASE("Case 4: a 24 h trend sees its whole window at 1 Hz (more than 20,000 readings)") {
  RuleSet rules;
  ehg::alerts::TrendRule trend;
  trend.common = {"spo2-fall-24h", Severity::kMedium, std::nullopt, 0s};
  trend.metric = "spo2";
  trend.fall = 5;
  trend.window = 24h;
  rules.trends.push_back(trend);
  Harness harness(rules);
  // 97 % early in the day, then a slow drift to 93 % for the last 20 hours (72,000 readings): the 97 %
  // readings are 20-24 h old, far beyond the last 20,000.
  std::vector<ehg::core::Reading> batch;
  for (int second = 0; second < 24 * 3600; ++second) {
    batch.push_back(ehg::test::SpO2At(std::chrono::seconds{second}, second < 4 * 3600 ? 97 : 93));
    if (batch.size() == 1000) {
      CHECK(harness.Feed(batch, batch.back().EffectiveTime()).changes.empty());
      batch.clear();
    }
  }
  // 91.5 % is 5.5 below the highest reading of the last 24 h (97 %, 23 h ago): raised.
  const auto raised = harness.Feed(ehg::test::SpO2At(24h + 1s, 91.5));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.changes[0].alert.reference_value == 97);
  CHECK(raised.changes[0].alert.evidence.front().time <= kT0 + 4h);
}

TEST_CASE("Case 4: a 7-day baseline averages the whole 7 days at a sample every 5 s") {
  RuleSet rules;
  ehg::alerts::BaselineRule baseline;
  baseline.common = {"spo2-baseline", Severity::kMedium, std::nullopt, 0s};
  baseline.metric = "spo2";
  baseline.below_by = 8;
  baseline.baseline_window = std::chrono::days{7};
  baseline.min_readings = 100;
  rules.baselines.push_back(baseline);
  Harness harness(rules);
  // Six days at 96 %, then a day at 88 % (17,280 readings). The 7-day mean is about 94.9 %: 86 % is 8.9
  // below it. Cut to the last 20,000 readings the mean would be about 89.1 %, and nothing would be raised.
  std::vector<ehg::core::Reading> batch;
  const auto end = std::chrono::days{7};
  for (std::chrono::seconds at{0}; at < end; at += 5s) {
    batch.push_back(ehg::test::SpO2At(at, at < std::chrono::days{6} ? 96 : 88));
    if (batch.size() == 1000) {
      CHECK(harness.Feed(batch, batch.back().EffectiveTime()).changes.empty());
      batch.clear();
    }
  }
  harness.Feed(batch, batch.back().EffectiveTime());
  const auto raised = harness.Feed(ehg::test::SpO2At(end + 1s, 86));
  REQUIRE(Kinds(raised) == Changes{ChangeKind::kRaised});
  CHECK(raised.changes[0].alert.reference_value == doctest::Approx((6 * 96.0 + 88.0) / 7).epsilon(0.002));
}

TEST_CASE("A journal undoes exactly what happened since it began, a whole turn of the ring included") {
  std::mt19937 random(42);
  BucketWindow window("spo2", "%", 1s, 60s);
  std::chrono::milliseconds now{0};
  for (int round = 0; round < 300; ++round) {
    // Some readings outside any journal, then a journaled batch that is undone or kept.
    for (int i = 0; i < 5; ++i) {
      now += std::chrono::milliseconds{std::uniform_int_distribution<int>(0, 3000)(random)};
      window.Add(WindowSample::Of(Sample(now, 90 + i, i % 2 ? "ox" : "spot")));
    }
    const BucketWindow before = window;
    window.BeginJournal();
    auto at = now;
    const int batch = std::uniform_int_distribution<int>(1, 20)(random);
    for (int i = 0; i < batch; ++i) {
      // Mostly small steps, sometimes a jump over the whole ring, sometimes a late reading.
      const int kind = std::uniform_int_distribution<int>(0, 9)(random);
      if (kind == 0)
        at += 5min;
      else if (kind == 1)
        at -= 20s;
      else
        at += std::chrono::milliseconds{std::uniform_int_distribution<int>(0, 2000)(random)};
      window.Add(WindowSample::Of(Sample(at, 70 + i, "device-" + std::to_string(i))));
    }
    if (round % 2 == 0) {
      window.Undo();
      REQUIRE(window == before);
    } else {
      window.EndJournal();
      now = std::max(now, at);
    }
  }
}
