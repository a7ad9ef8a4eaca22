// Ninety days on an SD card: raw readings for a short window, minute summaries and each source's newest
// reading for the whole retention, and room made by the store's own policy when the cap or the disk is
// reached (docs/storage.md).
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "gateway/store/store.hpp"
#include "tests/support/damaged_page.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/store/store_test_support.hpp"

using namespace std::chrono_literals;
using ehg::core::EventKind;
using ehg::core::ManualClock;
using ehg::core::Priority;
using ehg::core::QualityFlag;
using ehg::core::Reading;
using ehg::core::WallTime;
using ehg::store::ReadingQuery;
using ehg::store::Store;
using ehg::store::StoreOptions;
using ehg::store::WriteBatch;
using ehg::test::MakeEvent;
using ehg::test::MakeReading;
using ehg::test::OpenOrFail;
using ehg::test::TempDir;

namespace {

constexpr std::int64_t kT0 = ehg::test::kTestEpochMs;

Reading At(const std::string& metric, double value, std::int64_t ms, const std::string& device = "ox") {
  return MakeReading(metric, value, metric == "spo2" ? "%" : "1", ms, device);
}

std::vector<Reading> Latest(Store& store, bool usable, bool nonzero) {
  ReadingQuery query;
  query.latest_per_source = true;
  query.usable_only = usable;
  query.nonzero_only = nonzero;
  return store.LoadReadings(query).value();
}

const Reading* Find(const std::vector<Reading>& readings, const std::string& device,
                    const std::string& metric) {
  const auto found = std::find_if(readings.begin(), readings.end(), [&](const Reading& reading) {
    return reading.device_id == device && reading.metric == metric;
  });
  return found == readings.end() ? nullptr : &*found;
}

std::int64_t Count(const std::filesystem::path& path, const std::string& sql) {
  SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

// A second's worth of a 20 Hz stream: readings with their observation events (small bodies, so the
// readings are what fills the file).
WriteBatch Second(ehg::core::EventIdGenerator& ids, std::int64_t start_ms, const std::string& metric = "spo2",
                  std::size_t body_bytes = 40) {
  WriteBatch batch;
  for (int i = 0; i < 20; ++i) {
    batch.readings.push_back(At(metric, 90 + i % 8, start_ms + i * 50));
    batch.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, body_bytes));
  }
  return batch;
}

StoreOptions Capped(const std::filesystem::path& path, std::uint64_t cap) {
  StoreOptions options;
  options.path = path;
  options.outbox_budget_bytes = cap / 2;
  options.max_database_bytes = cap;
  options.free_disk_bytes = [] { return std::optional<std::uint64_t>(std::uint64_t{1} << 40); };
  return options;
}

}  // namespace

TEST_CASE("Each source's newest reading outlives the raw window, and an older arrival never replaces it") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch batch;
  batch.readings.push_back(At("spo2", 95, kT0));
  Reading flagged = At("spo2", 70, kT0 + 1000);
  flagged.flags.Set(QualityFlag::kMotionArtefact);
  batch.readings.push_back(flagged);
  batch.readings.push_back(At("spo2", 93, kT0 + 2000, "spot"));
  batch.readings.push_back(At("motion", 1, kT0, "hall"));
  batch.readings.push_back(At("motion", 0, kT0 + 3000, "hall"));
  REQUIRE(store->Write(batch).has_value());
  // A late upload from the oximeter's memory: older than what is known, so not the newest.
  WriteBatch late;
  Reading old = At("spo2", 88, kT0 + 5000);
  old.device_time = WallTime{std::chrono::milliseconds{kT0 - 600'000}};
  late.readings.push_back(old);
  REQUIRE(store->Write(late).has_value());

  // The raw window passes: every raw reading goes, the newest of each source stays.
  REQUIRE(store
              ->PruneReadings(WallTime{std::chrono::milliseconds{kT0 + 3'600'000}},
                              WallTime{std::chrono::milliseconds{kT0 - 86'400'000}})
              .value() == 6);
  CHECK(store->CountReadings().value() == 0);

  const auto any = Latest(*store, false, false);
  REQUIRE(any.size() == 3);
  CHECK(Find(any, "ox", "spo2")->value == 70);  // the flagged one is the newest of all
  CHECK(Find(any, "spot", "spo2")->value == 93);
  CHECK(Find(any, "hall", "motion")->value == 0);
  CHECK(std::is_sorted(any.begin(), any.end(), [](const Reading& a, const Reading& b) {
    return a.EffectiveTime() < b.EffectiveTime();
  }));
  const auto usable = Latest(*store, true, false);
  CHECK(Find(usable, "ox", "spo2")->value == 95);
  const auto events = Latest(*store, false, true);
  REQUIRE(Find(events, "hall", "motion") != nullptr);
  CHECK(Find(events, "hall", "motion")->value == 1);
  CHECK(Find(events, "hall", "motion")->received_at == WallTime{std::chrono::milliseconds{kT0}});

  // The minute keeps the flags of its readings.
  const auto minutes = store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value();
  const auto ox_minute =
      std::find_if(minutes.begin(), minutes.end(), [](const ehg::store::MinuteSummary& minute) {
        return minute.device_id == "ox" && minute.minute == WallTime{std::chrono::milliseconds{kT0}};
      });
  REQUIRE(ox_minute != minutes.end());
  CHECK(ox_minute->flags == static_cast<std::uint32_t>(QualityFlag::kMotionArtefact));

  // The summary retention takes the newest values with it.
  REQUIRE(store
              ->PruneReadings(WallTime{std::chrono::milliseconds{kT0 + 3'600'000}},
                              WallTime{std::chrono::milliseconds{kT0 + 3'600'000}})
              .has_value());
  CHECK(Latest(*store, false, false).empty());
  CHECK(store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value().empty());
}

TEST_CASE("A newest reading stamped beyond any plausible clock gives way to the next real one") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch ahead;
  Reading year_ahead = At("spo2", 99, kT0);
  year_ahead.device_time = WallTime{std::chrono::milliseconds{kT0 + 365LL * 86'400'000}};
  ahead.readings.push_back(year_ahead);  // as an older build stored it, with no time model
  REQUIRE(store->Write(ahead).has_value());
  WriteBatch now;
  now.readings.push_back(At("spo2", 91, kT0 + 1000));
  REQUIRE(store->Write(now).has_value());
  CHECK(Find(Latest(*store, false, false), "ox", "spo2")->value == 91);
}

TEST_CASE("Retention removes raw readings in steps and keeps the minute summaries for the whole retention") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch batch;
  for (int minute = 0; minute < 10; ++minute)
    batch.readings.push_back(At("spo2", 90 + minute, kT0 + minute * 60'000));
  REQUIRE(store->Write(batch).has_value());
  const WallTime raw_cutoff{std::chrono::milliseconds{kT0 + 5 * 60'000}};
  const WallTime summary_cutoff{std::chrono::milliseconds{kT0 + 2 * 60'000}};
  CHECK(store->PruneReadings(raw_cutoff, summary_cutoff, 3).value() == 3);
  CHECK(store->PruneReadings(raw_cutoff, summary_cutoff, 3).value() == 2);
  CHECK(store->PruneReadings(raw_cutoff, summary_cutoff, 3).value() == 0);
  CHECK(store->CountReadings().value() == 5);
  const auto minutes = store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value();
  REQUIRE(minutes.size() == 8);
  CHECK(minutes.front().minute == summary_cutoff);
  CHECK(minutes.front().usable_sum == 92);
}

TEST_CASE("At the cap a 20 Hz stream keeps being stored: the oldest raw readings make room, alerts stay") {
  TempDir dir;
  ManualClock clock;
  ehg::core::EventIdGenerator ids{clock};
  const auto path = dir / "gateway.db";
  constexpr std::uint64_t kCap = 1024 * 1024;
  auto store = OpenOrFail(Capped(path, kCap), clock);
  // A short raw window, so that each kind of room is made within the two hours.
  ehg::store::RoomPolicy policy;
  policy.recent = 30s;
  store->SetRoomPolicy(policy);
  std::uint64_t alerts_written = 0;
  ehg::store::RoomMade made;
  std::uint64_t refused = 0;
  // Two hours of stream, 7,200 batches: several times what fits. Half the time the uplink is away.
  for (int second = 0; second < 7200; ++second) {
    const std::int64_t now = kT0 + second * 1000LL;
    clock.SetWall(WallTime{std::chrono::milliseconds{now}});
    WriteBatch batch = Second(ids, now, "spo2", 300);  // an observation's body is a few hundred bytes
    if (second % 300 == 0) {
      batch.events.push_back(MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 600));
      ++alerts_written;
    }
    if (second % 600 < 300) {
      // The uplink is connected: what it sent before is acknowledged.
      const auto rows = store->PeekOutbox(200).value();
      for (const auto& row : rows)
        if (row.event.kind == EventKind::kObservation) batch.sent_sequences.push_back(row.sequence);
    }
    const auto written = store->Write(batch);
    REQUIRE_MESSAGE(written.has_value(), written.error().message);
    refused += written->readings_refused ? 1u : 0u;
    made.delivered_readings += written->room_made.delivered_readings;
    made.waiting_readings += written->room_made.waiting_readings;
    made.recent_readings += written->room_made.recent_readings;
  }
  CHECK(refused == 0);
  MESSAGE("room made: " << made.delivered_readings << " delivered, " << made.waiting_readings << " waiting, "
                        << made.recent_readings << " recent readings");
  CHECK(made.delivered_readings > 0);
  CHECK(made.waiting_readings > 0);
  CHECK(made.total() > 100'000);
  const auto usage = store->usage().value();
  CHECK(usage.file_bytes <= kCap);
  // Every alert is still waiting in the outbox; the newest readings are all there.
  CHECK(store->outbox_stats().alert_rows == alerts_written);
  CHECK(Count(path, "SELECT count(*) FROM readings WHERE received_ms >= " +
                        std::to_string(kT0 + 7190 * 1000LL)) == 200);
  // The summaries of the removed minutes are kept: two hours of minutes.
  CHECK(store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value().size() == 120);
  CHECK(store->IntegrityCheck().value() == "ok");
}

TEST_CASE("Room is made in order: delivered raw readings, then waiting ones, then recent, never evidence") {
  TempDir dir;
  ManualClock clock;
  ehg::core::EventIdGenerator ids{clock};
  const auto path = dir / "gateway.db";
  auto store = OpenOrFail(Capped(path, 512 * 1024), clock);
  // Three hours ago: pulse rate, the evidence of an open alert; two hours ago: SpO2, delivered; then
  // SpO2 still waiting in the outbox.
  const std::int64_t start = kT0 - 3 * 3'600'000LL;
  clock.SetWall(WallTime{std::chrono::milliseconds{start}});
  ehg::store::RoomPolicy policy;
  policy.evidence.push_back({"pulse_rate", WallTime{std::chrono::milliseconds{start}}});
  store->SetRoomPolicy(policy);
  for (int second = 0; second < 10; ++second) {
    const auto written = store->Write(Second(ids, start + second * 1000LL, "pulse_rate"));
    REQUIRE(written.has_value());
    REQUIRE(written->room_made.total() == 0);
  }
  for (int second = 0; second < 10; ++second) {
    const auto written = store->Write(Second(ids, start + 3'600'000LL + second * 1000LL));
    REQUIRE(written.has_value());
    REQUIRE(written->room_made.total() == 0);
  }
  std::vector<std::int64_t> sent;
  const auto rows = store->PeekOutbox(100'000).value();
  for (const auto& row : rows)
    sent.push_back(row.sequence);
  WriteBatch acknowledge;
  acknowledge.sent_sequences = sent;
  REQUIRE(store->Write(acknowledge).has_value());
  for (int second = 0; second < 10; ++second) {
    const auto written = store->Write(Second(ids, start + 7'200'000LL + second * 1000LL));
    REQUIRE(written.has_value());
    REQUIRE(written->room_made.total() == 0);
  }
  const std::string pulse = "SELECT count(*) FROM readings WHERE metric = 'pulse_rate'";
  const std::string delivered = "SELECT count(*) FROM readings WHERE metric = 'spo2' AND received_ms < " +
                                std::to_string(start + 7'200'000LL);
  const std::string waiting = "SELECT count(*) FROM readings WHERE metric = 'spo2' AND received_ms >= " +
                              std::to_string(start + 7'200'000LL) + " AND received_ms < " +
                              std::to_string(kT0);
  REQUIRE(Count(path, pulse) == 200);
  REQUIRE(Count(path, delivered) == 200);
  REQUIRE(Count(path, waiting) == 200);

  // Now: a stream until each kind of room has been made.
  clock.SetWall(WallTime{std::chrono::milliseconds{kT0}});
  ehg::store::RoomMade made;
  for (int second = 0; second < 20'000 && made.recent_readings == 0; ++second) {
    clock.SetWall(WallTime{std::chrono::milliseconds{kT0 + second * 1000LL}});
    const auto written = store->Write(Second(ids, kT0 + second * 1000LL));
    REQUIRE(written.has_value());
    REQUIRE_FALSE(written->readings_refused);
    const ehg::store::RoomMade& now = written->room_made;
    if (now.waiting_readings > 0) CHECK(Count(path, delivered) == 0);  // all delivered ones went first
    if (now.recent_readings > 0) CHECK(Count(path, waiting) == 0);
    made.delivered_readings += now.delivered_readings;
    made.waiting_readings += now.waiting_readings;
    made.recent_readings += now.recent_readings;
  }
  CHECK(made.delivered_readings == 200);
  CHECK(made.waiting_readings == 200);
  CHECK(made.recent_readings > 0);
  CHECK(Count(path, pulse) == 200);  // the evidence of the open alert
}

TEST_CASE("With no room left beside the alerts' reserve, readings are refused and the batch's alert stored") {
  TempDir dir;
  ManualClock clock;
  ehg::core::EventIdGenerator ids{clock};
  const auto path = dir / "gateway.db";
  auto store = OpenOrFail(Capped(path, 512 * 1024), clock);
  // Everything is the evidence of an open alert: nothing may go.
  ehg::store::RoomPolicy policy;
  policy.evidence.push_back({"spo2", WallTime{}});
  store->SetRoomPolicy(policy);
  std::optional<ehg::store::WriteOutcome> refused;
  std::uint64_t stored = 0;
  for (int second = 0; second < 10'000; ++second) {
    WriteBatch batch = Second(ids, kT0 + second * 1000LL);
    batch.events.push_back(MakeEvent(ids, EventKind::kAlert, Priority::kCritical, 300));
    const auto written = store->Write(batch);
    REQUIRE_MESSAGE(written.has_value(), written.error().message);
    if (written->readings_refused) {
      refused = *written;
      break;
    }
    stored += 20;
  }
  REQUIRE(refused.has_value());
  CHECK(refused->reading_ids.empty());
  // No reading could go (the outbox's waiting observations did, last of all).
  CHECK(refused->room_made.delivered_readings + refused->room_made.waiting_readings +
            refused->room_made.recent_readings ==
        0);
  CHECK(store->CountReadings().value() == stored);
  // The alerts keep coming in the reserve, with no readings beside them.
  const std::uint64_t alerts_before = store->outbox_stats().alert_rows;
  for (int i = 0; i < 50; ++i) {
    WriteBatch alert_only;
    alert_only.events.push_back(MakeEvent(ids, EventKind::kAlert, Priority::kCritical, 300));
    REQUIRE(store->Write(alert_only).has_value());
  }
  CHECK(store->outbox_stats().alert_rows == alerts_before + 50);
  CHECK(store->usage().value().file_bytes <= 512 * 1024);
}

TEST_CASE("A nearly full disk is a cap: the file never grows into the space kept free") {
  TempDir dir;
  ManualClock clock;
  ehg::core::EventIdGenerator ids{clock};
  const auto path = dir / "gateway.db";
  StoreOptions options;
  options.path = path;
  options.keep_free_disk_bytes = 1024 * 1024;
  // The disk: 600 KiB left beyond what is kept free when the file was made, less what it has grown since
  // (the size as the store last reported it, so the disk does not ask the store back).
  std::uint64_t file_at_start = 0;
  std::uint64_t file_now = 0;
  options.free_disk_bytes = [&]() -> std::optional<std::uint64_t> {
    return options.keep_free_disk_bytes + 600 * 1024 - (file_now - file_at_start);
  };
  auto store = OpenOrFail(options, clock);
  file_at_start = file_now = store->usage().value().file_bytes;
  std::uint64_t made = 0;
  for (int second = 0; second < 3000; ++second) {
    const auto written = store->Write(Second(ids, kT0 + second * 1000LL));
    REQUIRE_MESSAGE(written.has_value(), written.error().message);
    CHECK_FALSE(written->readings_refused);
    made += written->room_made.total();
    file_now = store->usage().value().file_bytes;
  }
  CHECK(made > 0);
  CHECK(store->usage().value().file_bytes <= file_at_start + 600 * 1024);
}

TEST_CASE("Start-up checks the essential tables, and the whole-file check finds damage in the readings") {
  TempDir dir;
  ManualClock clock;
  const auto path = dir / "gateway.db";
  {
    auto store = OpenOrFail({path}, clock);
    for (int second = 0; second < 200; ++second) {
      WriteBatch batch;
      for (int i = 0; i < 100; ++i)
        batch.readings.push_back(At("spo2", 90 + i % 9, kT0 + second * 1000LL + i));
      REQUIRE(store->Write(batch).has_value());
    }
  }
  // A page in the middle of the readings turns to rubbish, as a failing SD card leaves it.
  REQUIRE(ehg::test::DamageReadingsPage(path) > 100);
  ehg::store::OpenReport report;
  {
    auto store = OpenOrFail({path}, clock, &report);  // the essential tables are sound
    CHECK_FALSE(report.corrupt_file_moved_to.has_value());
    CHECK_FALSE(report.unclean_shutdown);
  }
  const auto checked = ehg::store::QuickCheckWholeFile(path);
  REQUIRE(checked.has_value());
  CHECK(*checked != "ok");
  StoreOptions full;
  full.path = path;
  full.full_check = true;
  auto store = OpenOrFail(full, clock, &report);
  CHECK(report.corrupt_file_moved_to.has_value());
  CHECK(store->CountReadings().value() == 0);
}

TEST_CASE("A database the last run did not close is reported, so that the whole file gets checked") {
  TempDir dir;
  ManualClock clock;
  const auto path = dir / "gateway.db";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto store = Store::Open({path}, clock);
    if (!store) ::_exit(2);
    WriteBatch batch;
    batch.readings.push_back(At("spo2", 95, kT0));
    ::_exit((*store)->Write(batch).has_value() ? 0 : 3);  // no destructor: the log stays behind
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  ehg::store::OpenReport report;
  {
    auto store = OpenOrFail({path}, clock, &report);
    CHECK(report.unclean_shutdown);
    CHECK(store->CountReadings().value() == 1);
  }
  OpenOrFail({path}, clock, &report);
  CHECK_FALSE(report.unclean_shutdown);
}

TEST_CASE("Converting a version-7 database: the newest values and flags come from its readings in steps") {
  TempDir dir;
  ManualClock clock;
  const auto path = dir / "gateway.db";
  {
    auto store = OpenOrFail({path}, clock);
    WriteBatch batch;
    for (int i = 0; i < 10; ++i) {
      Reading reading = At("spo2", 90 + i, kT0 + i * 1000LL);
      if (i == 3) reading.flags.Set(QualityFlag::kLowPerfusion);
      batch.readings.push_back(reading);
    }
    batch.readings.push_back(At("motion", 1, kT0, "hall"));
    REQUIRE(store->Write(batch).has_value());
  }
  {
    // Back to version 7: what that build had (summaries without flags, no newest values).
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec(
        "DROP TABLE latest_readings; ALTER TABLE reading_minutes DROP COLUMN flags; "
        "ALTER TABLE outbox DROP COLUMN reading_id; PRAGMA user_version = 7;");
  }
  ehg::store::OpenReport report;
  auto store = OpenOrFail({path}, clock, &report);
  CHECK(report.found_version == 7);
  CHECK(store->ConversionPendingThrough().value() == std::optional<std::int64_t>{11});
  // Before the conversion the newest values come from the rows themselves.
  CHECK(Find(Latest(*store, false, false), "ox", "spo2")->value == 99);
  // Unconverted rows are not pruned.
  CHECK(store->PruneReadings(WallTime::max(), WallTime{}, 100).value() == 0);
  CHECK(store->BackfillMinutes(4).value() == 4);
  CHECK(store->ConversionPendingThrough().value() == std::optional<std::int64_t>{7});
  CHECK(store->BackfillMinutes(4).value() == 4);
  CHECK(store->BackfillMinutes(4).value() == 3);
  CHECK_FALSE(store->ConversionPendingThrough().value().has_value());
  CHECK(store->BackfillMinutes(4).value() == 0);
  const auto minutes = store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value();
  REQUIRE(minutes.size() == 1);
  CHECK(minutes[0].flags == static_cast<std::uint32_t>(QualityFlag::kLowPerfusion));
  CHECK(minutes[0].readings == 10);  // summarised once, by the build that stored them
  // Now raw rows may go, and the newest values stay.
  CHECK(store->PruneReadings(WallTime::max(), WallTime{}, 100).value() == 11);
  CHECK(Find(Latest(*store, false, false), "ox", "spo2")->value == 99);
  CHECK(Find(Latest(*store, true, false), "ox", "spo2")->value == 99);
  CHECK(Find(Latest(*store, false, true), "hall", "motion")->value == 1);
}
