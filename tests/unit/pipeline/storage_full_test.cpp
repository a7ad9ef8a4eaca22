// Storage over months, through the pipeline on a stepped clock. A full store never stops new readings or
// alerts: the same 20 Hz feed with alerts through a real 1 MiB-capped store and through an uncapped one,
// with no uplink (the outbox only grows); the store makes room by its own policy and the accepted
// readings are compared. Retention removes raw readings after their window, never on a wrong clock.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <mutex>

#include "gateway/pipeline/pipeline.hpp"
#include "tests/support/readings.hpp"
#include "tests/support/rules.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::core::EventKind;
using ehg::core::Reading;
using ehg::pipeline::Pipeline;

namespace {

struct Run {
  std::uint64_t offered = 0;
  std::uint64_t accepted = 0;
  std::uint64_t offered_at_cap = 0;  // in the second half, when the capped store is full
  std::uint64_t accepted_at_cap = 0;
  std::uint64_t alerts_raised = 0;
  std::uint64_t alert_rows = 0;  // alert events waiting in the outbox at the end
  std::uint64_t room_made = 0;
  std::uint64_t making_room_events = 0;
  std::uint64_t file_bytes = 0;
};

// `minutes` of a 20 Hz oximeter whose SpO2 dips below 90 for 20 s every 2 minutes (an alert raised and
// resolved each time), a reading at a time as a driver submits them, one second of clock per step.
Run Feed(std::uint64_t cap_bytes, int minutes) {
  ehg::test::TempDir dir;
  ehg::core::ManualClock clock{ehg::core::WallTime{std::chrono::milliseconds{ehg::test::kTestEpochMs}}};
  ehg::core::EventIdGenerator ids{clock};
  ehg::store::StoreOptions store_options;
  store_options.path = dir / "gateway.db";
  store_options.outbox_budget_bytes = 256 * 1024;
  store_options.max_database_bytes = cap_bytes;
  store_options.free_disk_bytes = [] { return std::optional<std::uint64_t>(std::uint64_t{1} << 40); };
  auto store = std::move(ehg::store::Store::Open(store_options, clock).value());
  ehg::pipeline::PipelineOptions options;
  options.gateway_id = "gw-1";
  options.resident_pseudonym = "r-0001";
  options.queue_capacity = 256;
  options.batch_window = 2ms;
  ehg::alerts::RuleSet rules;
  rules.thresholds.push_back(
      ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 90.0, ehg::alerts::Severity::kHigh, 5s));
  Pipeline pipeline(*store, clock, ids, options, rules);
  REQUIRE(pipeline.Start().has_value());

  Run run;
  std::mutex mutex;
  std::uint64_t answered = 0;
  std::uint64_t accepted = 0;
  for (int second = 0; second < minutes * 60; ++second) {
    const bool dip = second % 120 >= 60 && second % 120 < 80;
    const std::uint64_t accepted_before = accepted;
    for (int i = 0; i < 20; ++i) {
      Reading reading =
          ehg::test::SpO2(dip ? 86 : 95 + i % 3, ehg::test::kTestEpochMs + second * 1000LL + i * 50);
      ++run.offered;
      const bool submitted =
          pipeline.Submit(reading, [&](const Reading&, const ehg::Result<std::int64_t>& stored) {
            std::lock_guard lock(mutex);
            ++answered;
            if (stored) ++accepted;
          });
      REQUIRE(submitted);
    }
    REQUIRE(ehg::test::WaitUntil(
        [&] {
          std::lock_guard lock(mutex);
          return answered == run.offered;
        },
        30s));
    if (second >= minutes * 30) {
      std::lock_guard lock(mutex);
      run.offered_at_cap += 20;
      run.accepted_at_cap += accepted - accepted_before;
    }
    clock.Advance(1s);
  }
  pipeline.Stop();
  run.accepted = accepted;
  const auto& counters = pipeline.counters();
  run.alerts_raised = counters.alerts_raised.load();
  run.room_made = counters.room_delivered_readings + counters.room_waiting_readings +
                  counters.room_recent_readings + counters.room_summaries;
  run.alert_rows = store->outbox_stats().alert_rows;
  const auto rows = store->PeekOutbox(100'000).value();
  for (const auto& row : rows) {
    if (row.event.kind == EventKind::kGateway &&
        row.event.body.find("storage.making_room") != std::string::npos)
      ++run.making_room_events;
  }
  run.file_bytes = store->usage().value().file_bytes;
  return run;
}

}  // namespace

TEST_CASE("A 1 MiB-capped store keeps taking a 20 Hz feed and its alerts as an uncapped one does") {
  constexpr int kMinutes = 12;  // the capped store is full after about four
  const Run uncapped = Feed(0, kMinutes);
  const Run capped = Feed(1024 * 1024, kMinutes);
  MESSAGE("accepted: uncapped " << uncapped.accepted << " of " << uncapped.offered << ", capped "
                                << capped.accepted << " of " << capped.offered << " (at the cap: "
                                << capped.accepted_at_cap << " of " << capped.offered_at_cap
                                << "); readings removed to make room: " << capped.room_made << "; file "
                                << capped.file_bytes << " bytes");
  REQUIRE(uncapped.accepted == uncapped.offered);
  CHECK(static_cast<double>(capped.accepted) >= 0.9 * static_cast<double>(uncapped.accepted));
  CHECK(static_cast<double>(capped.accepted_at_cap) >= 0.9 * static_cast<double>(capped.offered_at_cap));
  CHECK(capped.file_bytes <= 1024 * 1024);
  CHECK(capped.room_made > 0);            // the cap was reached: this is the full case
  CHECK(capped.making_room_events == 1);  // one episode, one gateway event
  // Every alert change raised and resolved in both, and every alert event still waiting to be sent.
  CHECK(capped.alerts_raised == uncapped.alerts_raised);
  CHECK(capped.alerts_raised == kMinutes / 2);
  CHECK(capped.alert_rows == uncapped.alert_rows);
}

TEST_CASE("Raw readings go after their window while the clock is right, their summaries stay") {
  ehg::test::TempDir dir;
  ehg::core::ManualClock clock{ehg::core::WallTime{std::chrono::milliseconds{ehg::test::kTestEpochMs}}};
  ehg::core::EventIdGenerator ids{clock};
  ehg::store::StoreOptions store_options;
  store_options.path = dir / "gateway.db";
  auto store = std::move(ehg::store::Store::Open(store_options, clock).value());
  ehg::pipeline::PipelineOptions options;
  options.gateway_id = "gw-1";
  options.resident_pseudonym = "r-0001";
  options.batch_window = 2ms;
  Pipeline pipeline(*store, clock, ids, options, ehg::alerts::RuleSet{});
  REQUIRE(pipeline.Start().has_value());
  std::atomic<int> stored{0};
  for (int i = 0; i < 10; ++i) {
    REQUIRE(pipeline.Submit(ehg::test::SpO2(95, ehg::test::kTestEpochMs + i * 1000),
                            [&](const Reading&, const ehg::Result<std::int64_t>& result) {
                              if (result) ++stored;
                            }));
  }
  REQUIRE(ehg::test::WaitUntil([&] { return stored == 10; }));
  const auto count = [&](const char* table) {
    SQLite::Database db(store_options.path.string(), SQLite::OPEN_READONLY);
    return db.execAndGet(std::string("SELECT count(*) FROM ") + table).getInt64();
  };
  // Eight days later, but the clock is not known to be right: nothing is deleted on its word.
  clock.SetSynchronised(false);
  clock.Advance(std::chrono::hours(24 * 8));
  CHECK_FALSE(ehg::test::WaitUntil([&] { return count("readings") < 10; }, 1500ms));
  clock.SetSynchronised(true);
  clock.Advance(std::chrono::minutes(61));  // the next hourly housekeeping
  CHECK(ehg::test::WaitUntil([&] { return count("readings") == 0; }));
  pipeline.Stop();
  CHECK(pipeline.counters().pruned_readings == 10);
  CHECK(count("reading_minutes") == 1);
  CHECK(count("latest_readings") >= 1);
}
