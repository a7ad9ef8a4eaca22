#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include "gateway/store/store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/store/store_test_support.hpp"

using namespace std::chrono_literals;
using ehg::Errc;
using ehg::core::EventIdGenerator;
using ehg::core::EventKind;
using ehg::core::ManualClock;
using ehg::core::Priority;
using ehg::core::WallTime;
using ehg::store::WriteBatch;
using ehg::test::MakeEvent;
using ehg::test::MakeReading;
using ehg::test::OpenOrFail;
using ehg::test::TempDir;

TEST_CASE("A batch stores readings with all their fields and returns their ids in order") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch batch;
  auto first = MakeReading("spo2", 96, "%", 1'000);
  first.device_time = WallTime{900ms};
  first.flags.Set(ehg::core::QualityFlag::kMotionArtefact);
  first.time_uncertain = true;
  first.sequence = 42;
  batch.readings.push_back(first);
  batch.readings.push_back(MakeReading("pulse_rate", 71, "/min", 1'000));
  const auto outcome = store->Write(batch);
  REQUIRE(outcome.has_value());
  REQUIRE(outcome->reading_ids.size() == 2);
  CHECK(outcome->reading_ids[0] < outcome->reading_ids[1]);

  SQLite::Database inspect((dir / "gateway.db").string(), SQLite::OPEN_READONLY);
  SQLite::Statement row(
      inspect,
      "SELECT device_id, metric, value, unit, device_time_ms, received_ms, time_uncertain, flags, "
      "sequence FROM readings WHERE id = ?");
  row.bind(1, outcome->reading_ids[0]);
  REQUIRE(row.executeStep());
  CHECK(row.getColumn(0).getString() == "device-1");
  CHECK(row.getColumn(1).getString() == "spo2");
  CHECK(row.getColumn(2).getDouble() == 96);
  CHECK(row.getColumn(3).getString() == "%");
  CHECK(row.getColumn(4).getInt64() == 900);
  CHECK(row.getColumn(5).getInt64() == 1'000);
  CHECK(row.getColumn(6).getInt() == 1);
  CHECK(row.getColumn(7).getInt() == static_cast<int>(ehg::core::QualityFlag::kMotionArtefact));
  CHECK(row.getColumn(8).getInt() == 42);
}

TEST_CASE("The outbox is read in priority order, FIFO within a priority") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch batch;
  batch.events = {MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 10),
                  MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 10),
                  MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 10),
                  MakeEvent(ids, EventKind::kAlert, Priority::kCritical, 10),
                  MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 10)};
  const auto events = batch.events;
  REQUIRE(store->Write(batch).has_value());
  const auto rows = store->PeekOutbox(10).value();
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].event.id == events[3].id);
  CHECK(rows[1].event.id == events[1].id);
  CHECK(rows[2].event.id == events[4].id);
  CHECK(rows[3].event.id == events[0].id);
  CHECK(rows[4].event.id == events[2].id);
  CHECK(rows[0].event.body == events[3].body);
  CHECK(store->outbox_stats().rows == 5);
  CHECK(store->outbox_stats().alert_rows == 3);
  CHECK(store->outbox_stats().bytes == 50);

  REQUIRE(store->RemoveFromOutbox({rows[0].sequence, rows[3].sequence}).has_value());
  const auto rest = store->PeekOutbox(10).value();
  REQUIRE(rest.size() == 3);
  CHECK(rest[0].event.id == events[1].id);
  CHECK(store->outbox_stats().rows == 3);
  CHECK(store->outbox_stats().bytes == 30);
  CHECK(store->outbox_stats().alert_rows == 2);
  // Removing a row that is already gone changes nothing.
  REQUIRE(store->RemoveFromOutbox({rows[0].sequence}).has_value());
  CHECK(store->outbox_stats().rows == 3);
  // The sizes kept while running equal what a fresh open computes from the table.
  const auto running = store->outbox_stats();
  store.reset();
  store = OpenOrFail({dir / "gateway.db"}, clock);
  CHECK(store->outbox_stats().rows == running.rows);
  CHECK(store->outbox_stats().bytes == running.bytes);
  CHECK(store->outbox_stats().alert_rows == running.alert_rows);
}

TEST_CASE("A failing batch stores nothing at all") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch batch;
  batch.readings.push_back(MakeReading("spo2", 97, "%"));
  const auto event = MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 10);
  batch.events = {event, event};  // the same event id twice violates the outbox's uniqueness
  const auto outcome = store->Write(batch);
  REQUIRE_FALSE(outcome.has_value());
  CHECK(store->CountReadings().value() == 0);
  CHECK(store->outbox_stats().rows == 0);
  CHECK(store->PeekOutbox(10).value().empty());
  // And the store is usable afterwards.
  batch.events = {event};
  const auto retried = store->Write(batch);
  if (!retried) MESSAGE(retried.error().message);
  CHECK(retried.has_value());
  CHECK(store->CountReadings().value() == 1);
}

TEST_CASE("Outbox budget: the oldest observations go first, alerts never, drops are counted durably") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  const auto path = dir / "gateway.db";
  std::vector<ehg::core::Event> observations;
  {
    auto store = OpenOrFail({path, 1'000}, clock);
    WriteBatch batch;
    for (int i = 0; i < 9; ++i)
      batch.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 100));
    observations = batch.events;
    REQUIRE(store->Write(batch).value().dropped_observations == 0);
    CHECK(store->outbox_stats().bytes == 900);

    // 300 bytes of alerts need room: the three oldest observations make it.
    WriteBatch alerts;
    alerts.events = {MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 150),
                     MakeEvent(ids, EventKind::kAlert, Priority::kCritical, 150)};
    const auto outcome = store->Write(alerts);
    REQUIRE(outcome.has_value());
    CHECK(outcome->dropped_observations == 2);
    CHECK_FALSE(outcome->over_budget_with_undroppable);
    CHECK(store->outbox_stats().bytes == 1'000);
    const auto rows = store->PeekOutbox(100).value();
    REQUIRE(rows.size() == 9);
    CHECK(rows[2].event.id == observations[2].id);  // observations 0 and 1 were dropped
  }
  auto store = OpenOrFail({path, 1'000}, clock);
  CHECK(store->ReadCounter(ehg::store::kDroppedObservations).value() == 2);
  CHECK(store->ReadCounter(ehg::store::kDroppedObservationBytes).value() == 200);
  CHECK(store->outbox_stats().bytes == 1'000);  // recomputed on open
}

TEST_CASE("With only alerts left, alerts are still stored beyond the budget, new observations are dropped") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  auto store = OpenOrFail({dir / "gateway.db", 300}, clock);
  WriteBatch alerts;
  alerts.events = {MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 200),
                   MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 200)};
  const auto first = store->Write(alerts);
  REQUIRE(first.has_value());
  CHECK(first->over_budget_with_undroppable);
  CHECK(store->outbox_stats().alert_rows == 2);

  WriteBatch mixed;
  mixed.events = {MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 50),
                  MakeEvent(ids, EventKind::kDevice, Priority::kNormal, 50),
                  MakeEvent(ids, EventKind::kAlert, Priority::kCritical, 50)};
  const auto second = store->Write(mixed);
  REQUIRE(second.has_value());
  CHECK(second->dropped_observations == 1);
  CHECK(store->outbox_stats().rows == 4);  // two alerts, the device event, the new alert
  CHECK(store->ReadCounter(ehg::store::kDroppedObservations).value() == 1);
}

TEST_CASE(
    "A database full of alerts refuses the next (Errc::kFull), keeps what it had, and recovers after space "
    "frees") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  // Small cap and a budget too large to protect it: the database itself runs out of pages, with nothing
  // in it the store may remove to make room (observations would be: retention_test.cpp).
  auto store = OpenOrFail({dir / "gateway.db", 1ull << 30, 256 * 1024}, clock);
  std::uint64_t stored = 0;
  ehg::Result<ehg::store::WriteOutcome> outcome;
  for (int i = 0; i < 1'000; ++i) {
    WriteBatch batch;
    batch.events.push_back(MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 2'000));
    outcome = store->Write(batch);
    if (!outcome) break;
    ++stored;
  }
  REQUIRE_FALSE(outcome.has_value());
  CHECK(outcome.error().code == Errc::kFull);
  CHECK(stored > 10);
  CHECK(store->outbox_stats().rows == stored);
  CHECK(store->IntegrityCheck().value() == "ok");

  const auto rows = store->PeekOutbox(50).value();
  std::vector<std::int64_t> sent;
  for (const auto& row : rows)
    sent.push_back(row.sequence);
  REQUIRE(store->RemoveFromOutbox(sent).has_value());
  WriteBatch batch;
  batch.events.push_back(MakeEvent(ids, EventKind::kAlert, Priority::kCritical, 2'000));
  const auto after = store->Write(batch);
  if (!after) MESSAGE(after.error().message);
  CHECK(after.has_value());
}

TEST_CASE("Alert and device state round-trip, only open alerts are loaded") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch batch;
  batch.alerts = {
      {"a-1", "spo2-low", "high", "raised", true, WallTime{1'000ms}, WallTime{2'000ms}, R"({"x":1})"},
      {"a-2", "pulse-high", "medium", "resolved", false, WallTime{1'000ms}, WallTime{3'000ms}, "{}"},
  };
  batch.devices = {{"oximeter", WallTime{5'000ms}, true, 80.0, "", WallTime{5'000ms}},
                   {"cuff", std::nullopt, std::nullopt, std::nullopt, "no answer", WallTime{6'000ms}}};
  REQUIRE(store->Write(batch).has_value());
  // Resolving updates the same row.
  WriteBatch resolve;
  resolve.alerts = {
      {"a-1", "spo2-low", "high", "resolved", false, WallTime{1'000ms}, WallTime{4'000ms}, "{}"}};
  resolve.alerts.push_back(
      {"a-3", "fever", "medium", "acknowledged", true, WallTime{7'000ms}, WallTime{8'000ms}, "{}"});
  REQUIRE(store->Write(resolve).has_value());

  const auto open = store->LoadOpenAlerts().value();
  REQUIRE(open.size() == 1);
  CHECK(open[0].alert_id == "a-3");
  CHECK(open[0].state == "acknowledged");
  CHECK(open[0].raised_at == WallTime{7'000ms});

  const auto devices = store->LoadDevices().value();
  REQUIRE(devices.size() == 2);
  CHECK(devices[0].device_id == "cuff");
  CHECK_FALSE(devices[0].last_seen.has_value());
  CHECK_FALSE(devices[0].connected.has_value());
  CHECK(devices[0].last_error == "no answer");
  CHECK(devices[1].device_id == "oximeter");
  CHECK(devices[1].last_seen == WallTime{5'000ms});
  CHECK(devices[1].connected == true);
  CHECK(devices[1].battery_percent == 80.0);
}

TEST_CASE("Retention removes only readings older than the cutoff") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch batch;
  for (std::int64_t t : {1'000, 2'000, 3'000, 4'000})
    batch.readings.push_back(MakeReading("spo2", 97, "%", t));
  REQUIRE(store->Write(batch).has_value());
  CHECK(store->PruneReadingsBefore(WallTime{3'000ms}).value() == 2);
  CHECK(store->CountReadings().value() == 2);
}

TEST_CASE(
    "Acknowledged rows and receipted events of any kind leave the outbox in the same batch as new events") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch first;
  first.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 10));
  first.events.push_back(MakeEvent(ids, EventKind::kAlert, Priority::kCritical, 20));
  first.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 30));
  first.events.push_back(MakeEvent(ids, EventKind::kDevice, Priority::kNormal, 40));
  REQUIRE(store->Write(first).has_value());
  const auto rows = store->PeekOutbox(10).value();
  REQUIRE(rows.size() == 4);
  REQUIRE(rows[0].event.kind == EventKind::kAlert);
  REQUIRE(rows[1].event.kind == EventKind::kDevice);

  WriteBatch second;
  second.sent_sequences = {rows[2].sequence};
  // Receipts name an alert, an observation, an unknown id and the alert again (a repeated receipt).
  second.receipted_events = {rows[0].event.id, rows[3].event.id, ids.Next(), rows[0].event.id};
  second.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 5));
  const auto outcome = store->Write(second);
  REQUIRE(outcome.has_value());
  CHECK(outcome->removed_rows == 3);
  CHECK(outcome->delivered_after_drop == 0);
  CHECK(outcome->receipt_matched == std::vector<bool>{true, true, false, false});
  const auto left = store->PeekOutbox(10).value();
  REQUIRE(left.size() == 2);
  CHECK(left[0].event.id == rows[1].event.id);  // the device event nobody confirmed stays
  CHECK(left[1].event.kind == EventKind::kObservation);
  const auto stats = store->outbox_stats();
  CHECK(stats.rows == 2);
  CHECK(stats.bytes == 45);
  CHECK(stats.alert_rows == 0);
}

TEST_CASE(
    "A receipt for a held row the budget had dropped corrects the dropped count, a repeated one does not") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  WriteBatch first;
  first.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 10));
  REQUIRE(store->Write(first).has_value());
  const auto row = store->PeekOutbox(1).value().at(0);
  WriteBatch receipt;
  receipt.receipted_events = {row.event.id};
  receipt.receipt_held = {false};
  REQUIRE(store->Write(receipt).value().removed_rows == 1);
  // The same id again: not held (a repeated receipt) changes nothing; held (the uplink had sent the
  // row, so only the budget can have removed it) counts as delivered after a drop.
  receipt.receipt_held = {false};
  CHECK(store->Write(receipt).value().delivered_after_drop == 0);
  receipt.receipt_held = {true};
  CHECK(store->Write(receipt).value().delivered_after_drop == 1);
}

TEST_CASE("The outbox reader sees committed rows through its own connection") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  auto reader = ehg::store::OutboxReader::Open(dir / "gateway.db");
  REQUIRE(reader.has_value());
  CHECK((*reader)->Peek(10).value().empty());
  WriteBatch batch;
  batch.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 10));
  batch.events.push_back(MakeEvent(ids, EventKind::kAlert, Priority::kHigh, 20));
  REQUIRE(store->Write(batch).has_value());
  const auto rows = (*reader)->Peek(10).value();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].event.kind == EventKind::kAlert);
  CHECK(rows[0].event.body.size() == 20);
  const auto stats = (*reader)->Stats().value();
  CHECK(stats.rows == 2);
  CHECK(stats.alert_rows == 1);
  CHECK(stats.bytes == 30);
}

TEST_CASE("The outbox reader refuses a file that does not exist") {
  TempDir dir;
  auto reader = ehg::store::OutboxReader::Open(dir / "missing.db");
  REQUIRE_FALSE(reader.has_value());
  CHECK(reader.error().code == Errc::kIo);
}

TEST_CASE(
    "An observation dropped by the budget while in flight, then acknowledged, is not counted as dropped") {
  TempDir dir;
  ManualClock clock;
  EventIdGenerator ids(clock);
  auto store = OpenOrFail({dir / "gateway.db", 64 * 1024}, clock);
  WriteBatch first;
  first.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 40 * 1024));
  REQUIRE(store->Write(first).has_value());
  const auto in_flight = store->PeekOutbox(1).value().at(0).sequence;
  WriteBatch second;  // pushes the first observation out while "its message is on its way"
  second.events.push_back(MakeEvent(ids, EventKind::kObservation, Priority::kBulk, 40 * 1024));
  REQUIRE(store->Write(second).value().dropped_observations == 1);
  CHECK(store->ReadCounter(ehg::store::kDroppedObservations).value() == 1);
  WriteBatch acknowledged;
  acknowledged.sent_sequences = {in_flight};
  const auto outcome = store->Write(acknowledged);
  REQUIRE(outcome.has_value());
  CHECK(outcome->delivered_after_drop == 1);
  CHECK(store->ReadCounter(ehg::store::kDroppedObservations).value() == 0);
  CHECK(store->outbox_stats().rows == 1);
}

TEST_CASE(
    "A measurement the device identifies is recognised as already stored, in the store or twice in a batch") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  auto cuff = MakeReading("bp.systolic", 128, "mm[Hg]", 5'000);
  cuff.device_time = WallTime{4'000ms};
  auto glucose = MakeReading("glucose", 5.5, "mmol/L", 5'000);
  glucose.sequence = 7;
  auto streaming = MakeReading("spo2", 96, "%", 5'000);  // no device time, no sequence: never a repeat
  WriteBatch batch;
  batch.readings = {cuff, glucose, streaming};
  REQUIRE(store->Write(batch).has_value());

  auto other_time = cuff;
  other_time.device_time = WallTime{4'001ms};
  auto other_metric = cuff;
  other_metric.metric = "bp.diastolic";
  auto other_sequence = glucose;
  other_sequence.sequence = 8;
  auto other_device = glucose;
  other_device.device_id = "device-2";
  const auto stored = store->AlreadyStored(
      {cuff, glucose, streaming, other_time, other_metric, other_sequence, other_device});
  REQUIRE(stored.has_value());
  CHECK(*stored == std::vector<bool>{true, true, false, false, false, false, false});

  // The unique index is the last line of defence: a second copy cannot be written.
  WriteBatch again;
  again.readings = {cuff};
  CHECK_FALSE(store->Write(again).has_value());
  CHECK(store->CountReadings().value() == 3);

  auto last = ehg::store::LastStoredSequence(dir / "gateway.db", "device-1", "glucose");
  REQUIRE(last.has_value());
  CHECK(*last == 7u);
  CHECK_FALSE(ehg::store::LastStoredSequence(dir / "gateway.db", "device-2", "glucose").value().has_value());
}

TEST_CASE("Minute summaries: every reading counted, usable ones summarised at their effective time") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  const std::int64_t minute = ehg::test::kTestEpochMs;  // a whole minute
  WriteBatch batch;
  batch.readings.push_back(MakeReading("spo2", 95, "%", minute + 1000, "ox"));
  batch.readings.push_back(MakeReading("spo2", 91, "%", minute + 2000, "ox"));
  auto flagged = MakeReading("spo2", 70, "%", minute + 3000, "ox");
  flagged.flags.Set(ehg::core::QualityFlag::kMotionArtefact);  // counted, not summarised
  batch.readings.push_back(flagged);
  batch.readings.push_back(MakeReading("spo2", 97, "%", minute + 4000, "spot"));
  // The device claims a time a year ahead; judged suspect, it counts at its receive time in this minute.
  auto suspect = MakeReading("spo2", 99, "%", minute + 5000, "ox");
  suspect.device_time = WallTime{std::chrono::milliseconds{minute + 5000}} + std::chrono::days{365};
  suspect.device_clock_suspect = true;
  batch.readings.push_back(suspect);
  batch.readings.push_back(MakeReading("spo2", 90, "%", minute + 61'000, "ox"));  // the next minute
  REQUIRE(store->Write(batch).has_value());
  WriteBatch later;  // a second batch adds to the same minute
  later.readings.push_back(MakeReading("spo2", 89, "%", minute + 30'000, "ox"));
  REQUIRE(store->Write(later).has_value());

  const auto minutes =
      store->LoadUsableMinutes("spo2", WallTime{std::chrono::milliseconds{minute}}, WallTime::max()).value();
  REQUIRE(minutes.size() == 3);  // ox and spot in the first minute, ox in the second
  const auto& ox = minutes[0].device_id == "ox" ? minutes[0] : minutes[1];
  const auto& spot = minutes[0].device_id == "ox" ? minutes[1] : minutes[0];
  CHECK(ox.minute == WallTime{std::chrono::milliseconds{minute}});
  CHECK(ox.readings == 5);
  CHECK(ox.usable == 4);
  CHECK(ox.usable_sum == doctest::Approx(95 + 91 + 99 + 89));
  CHECK(ox.usable_min == 89);
  CHECK(ox.usable_min_time == WallTime{std::chrono::milliseconds{minute + 30'000}});
  CHECK(ox.usable_max == 99);
  CHECK(ox.usable_max_time == WallTime{std::chrono::milliseconds{minute + 5000}});
  CHECK(spot.usable == 1);
  CHECK(minutes[2].minute == WallTime{std::chrono::milliseconds{minute + 60'000}});
  // Only minutes from `since` on.
  CHECK(
      store->LoadUsableMinutes("spo2", WallTime{std::chrono::milliseconds{minute + 60'000}}, WallTime::max())
          .value()
          .size() == 1);
  CHECK(store->LoadUsableMinutes("pulse_rate", WallTime{}, WallTime::max()).value().empty());

  // The suspect reading comes back as stored: its claim kept, its effective time the receive time.
  ehg::store::ReadingQuery spo2;
  spo2.metrics = {"spo2"};
  const auto loaded = store->LoadReadings(spo2).value();
  const auto found = std::find_if(loaded.begin(), loaded.end(), [](const auto& r) { return r.value == 99; });
  REQUIRE(found != loaded.end());
  CHECK(found->device_clock_suspect);
  CHECK(found->device_time == suspect.device_time);
  CHECK(found->EffectiveTime() == suspect.received_at);
  // Retention removes the summaries with the readings.
  REQUIRE(store->PruneReadingsBefore(WallTime{std::chrono::milliseconds{minute + 60'000}}).has_value());
  CHECK(store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value().size() == 1);
}

TEST_CASE("Migrating to version 7 is instant, the stored readings are judged and summarised in steps") {
  TempDir dir;
  ManualClock clock;
  const auto path = dir / "gateway.db";
  { auto store = OpenOrFail({path}, clock); }
  {
    // Turn the file back into a version-6 database with readings, one stamped a year ahead (what the
    // gateway stored before the time model).
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec(
        "DROP TABLE reading_minutes; DROP INDEX readings_claimed_identity; DROP TABLE latest_readings; "
        "ALTER TABLE outbox DROP COLUMN reading_id; "
        "ALTER TABLE readings DROP COLUMN claimed_device_time_ms; PRAGMA user_version = 6;");
    db.exec(
        "INSERT INTO readings (device_id, metric, value, unit, device_time_ms, received_ms, flags) VALUES "
        "('ox', 'spo2', 95, '%', 1767225601000, 1767225601100, 0),"
        "('ox', 'spo2', 88, '%', 1767225602000, 1767225602100, 0),"
        "('ox', 'spo2', 60, '%', 1767225603000, 1767225603100, 1),"
        "('ox', 'spo2', 97, '%', NULL, 1767225604000, 0),"
        "('ox', 'spo2', 93, '%', 1767225661000, 1767225661100, 0),"
        "('ox', 'spo2', 99, '%', 1798761605000, 1767225605000, 0)");
  }
  ehg::store::OpenReport report;
  auto store = OpenOrFail({path}, clock, &report);
  CHECK(report.found_version == 6);
  CHECK(store->MinutesPendingThrough().value() == std::optional<std::int64_t>{6});
  CHECK(store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value().empty());
  // A reading stored now is summarised at once; the old ones in steps (of 4 rows here), newest first.
  WriteBatch live;
  live.readings.push_back(MakeReading("spo2", 91, "%", 1767225662000, "ox"));
  REQUIRE(store->Write(live).has_value());
  CHECK(store->BackfillMinutes(4).value() == 4);
  CHECK(store->MinutesPendingThrough().value() == std::optional<std::int64_t>{2});
  CHECK(store->BackfillMinutes(4).value() == 2);
  CHECK_FALSE(store->MinutesPendingThrough().value().has_value());
  CHECK(store->BackfillMinutes(4).value() == 0);
  const auto minutes = store->LoadUsableMinutes("spo2", WallTime{}, WallTime::max()).value();
  REQUIRE(minutes.size() == 2);
  // The minute of 00:00: 95, 88, the flagged 60 (counted, not summarised), 97, and the reading a year
  // ahead, judged now: it counts at its receive time, 00:00:05.
  CHECK(minutes[0].minute == WallTime{std::chrono::milliseconds{1767225600000}});
  CHECK(minutes[0].readings == 5);
  CHECK(minutes[0].usable == 4);
  CHECK(minutes[0].usable_sum == doctest::Approx(95 + 88 + 97 + 99));
  CHECK(minutes[0].usable_min == 88);
  CHECK(minutes[0].usable_min_time == WallTime{std::chrono::milliseconds{1767225602000}});
  CHECK(minutes[0].usable_max == 99);
  CHECK(minutes[0].usable_max_time == WallTime{std::chrono::milliseconds{1767225605000}});
  CHECK(minutes[1].usable == 2);  // 93 and the live 91
  CHECK(minutes[1].usable_sum == doctest::Approx(93 + 91));
  const auto readings = store->LoadReadings({}).value();
  REQUIRE(readings.size() == 7);
  CHECK(std::count_if(readings.begin(), readings.end(),
                      [](const auto& r) { return r.device_clock_suspect; }) == 1);
}

TEST_CASE(
    "A suspect device time is a claim: its readings are told apart by claim and value, records by number") {
  TempDir dir;
  ManualClock clock;
  auto store = OpenOrFail({dir / "gateway.db"}, clock);
  // After a battery change the clock runs on from 2000-01-01.
  const WallTime reset{std::chrono::milliseconds{946'684'800'000}};
  const auto reading = [&](double value, std::chrono::seconds since_reset,
                           std::optional<std::uint32_t> sequence) {
    auto made = MakeReading("spo2", value, "%", ehg::test::kTestEpochMs + since_reset.count() * 1000, "ox");
    made.device_time = reset + since_reset;
    made.device_clock_suspect = true;
    made.sequence = sequence;
    return made;
  };
  WriteBatch batch;
  batch.readings = {reading(80, 0s, {}), reading(80, 10s, {}), reading(79, 20s, {})};
  REQUIRE(store->Write(batch).has_value());
  CHECK(store->CountReadings().value() == 3);
  // The memory sent again (the same claims and values) is a repeat; a new measurement is not.
  CHECK(store->AlreadyStored({reading(80, 10s, {}), reading(81, 30s, {}), reading(81, 10s, {})}).value() ==
        std::vector<bool>{true, false, false});
  // With a record number, the number decides, whatever the clock says.
  WriteBatch records;
  records.readings = {reading(5.5, 0s, 7)};
  records.readings[0].metric = "glucose";
  records.readings[0].unit = "mmol/L";
  REQUIRE(store->Write(records).has_value());
  auto again = records.readings[0];
  again.device_time = reset + 1h;
  CHECK(store->AlreadyStored({again}).value() == std::vector<bool>{true});
  again.sequence = 8;
  CHECK(store->AlreadyStored({again}).value() == std::vector<bool>{false});
  // A plausible device time still identifies its measurement.
  auto plausible = MakeReading("spo2", 96, "%", ehg::test::kTestEpochMs, "ox");
  plausible.device_time = plausible.received_at;
  WriteBatch one;
  one.readings = {plausible};
  REQUIRE(store->Write(one).has_value());
  CHECK(store->AlreadyStored({plausible}).value() == std::vector<bool>{true});
  // The claim is kept, the device time column holds no implausible time.
  const auto loaded = store->LoadReadings({}).value();
  CHECK(std::count_if(loaded.begin(), loaded.end(), [](const auto& r) { return r.device_clock_suspect; }) ==
        4);
}
