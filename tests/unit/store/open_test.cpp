#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include "gateway/store/store.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/store/store_test_support.hpp"

namespace fs = std::filesystem;
using ehg::Errc;
using ehg::core::ManualClock;
using ehg::store::OpenReport;
using ehg::store::Store;
using ehg::test::CopyFixture;
using ehg::test::OpenOrFail;
using ehg::test::ReadBytes;
using ehg::test::TempDir;

TEST_CASE("A new database is created at the current schema, in WAL mode with full fsync") {
  TempDir dir;
  ManualClock clock;
  OpenReport report;
  auto store = OpenOrFail({dir / "gateway.db"}, clock, &report);
  CHECK(report.found_version == 0);
  CHECK(report.version == ehg::store::kSchemaVersion);
  CHECK_FALSE(report.corrupt_file_moved_to.has_value());
  CHECK(store->IntegrityCheck().value() == "ok");

  SQLite::Database inspect((dir / "gateway.db").string(), SQLite::OPEN_READONLY);
  CHECK(inspect.execAndGet("PRAGMA user_version").getInt() == ehg::store::kSchemaVersion);
  CHECK(inspect.execAndGet("PRAGMA journal_mode").getString() == "wal");
  for (const char* table : {"readings", "outbox", "alerts", "devices", "counters", "settings"}) {
    CAPTURE(table);
    CHECK(inspect.tableExists(table));
  }
}

TEST_CASE("Reopening a current database migrates nothing and keeps data") {
  TempDir dir;
  ManualClock clock;
  {
    auto store = OpenOrFail({dir / "gateway.db"}, clock);
    ehg::store::WriteBatch batch;
    batch.readings.push_back(ehg::test::MakeReading("spo2", 97, "%"));
    REQUIRE(store->Write(batch).has_value());
  }
  OpenReport report;
  auto store = OpenOrFail({dir / "gateway.db"}, clock, &report);
  CHECK(report.found_version == ehg::store::kSchemaVersion);
  CHECK(store->CountReadings().value() == 1);
}

TEST_CASE("A version-1 database is migrated forward with its data") {
  TempDir dir;
  ManualClock clock;
  const fs::path path = CopyFixture("schema-v1.db", dir.path());
  ehg::test::LogCapture log;
  OpenReport report;
  auto store = OpenOrFail({path}, clock, &report);
  CHECK(report.found_version == 1);
  CHECK(report.version == ehg::store::kSchemaVersion);
  CHECK(log.Contains("msg=\"database schema migrated\" from_version=1 to_version=" +
                     std::to_string(ehg::store::kSchemaVersion)));
  CHECK(store->CountReadings().value() == 3);

  // Outbox rows survive, with their byte sizes filled in (UTF-8 bytes, not characters).
  const auto stats = store->outbox_stats();
  CHECK(stats.rows == 2);
  CHECK(stats.alert_rows == 1);
  CHECK(stats.bytes == std::string(R"({"metric":"spo2"})").size() +
                           std::string(R"({"rule_id":"spo2-low","note":"æ"})").size());
  const auto rows = store->PeekOutbox(10).value();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].event.kind == ehg::core::EventKind::kAlert);  // alerts first
  CHECK(rows[0].event.id.ToString() == "01942b6c-4a00-7000-8000-000000000002");
  CHECK(store->IntegrityCheck().value() == "ok");
}

TEST_CASE("A version-2 database is migrated forward with its outbox and counters") {
  TempDir dir;
  ManualClock clock;
  const fs::path path = CopyFixture("schema-v2.db", dir.path());
  OpenReport report;
  auto store = OpenOrFail({path}, clock, &report);
  CHECK(report.found_version == 2);
  CHECK(store->outbox_stats().rows == 2);
  CHECK(store->ReadCounter(ehg::store::kDroppedObservations).value() == 7);
  // Only where summarising (schema version 7) and converting (version 8) the stored readings have got to.
  CHECK(store->LoadSettings().value().size() == 2);
  CHECK(store->MinutesPendingThrough().value().has_value());
  CHECK(store->ConversionPendingThrough().value() == store->MinutesPendingThrough().value());
  ehg::store::WriteBatch batch;
  batch.settings["uplink.heartbeat_interval_seconds"] = "30";
  REQUIRE(store->Write(batch).has_value());
  CHECK(store->LoadSettings().value().at("uplink.heartbeat_interval_seconds") == "30");
  CHECK(store->IntegrityCheck().value() == "ok");
}

TEST_CASE("A database from a newer release is refused and left untouched") {
  TempDir dir;
  ManualClock clock;
  const fs::path path = CopyFixture("schema-future.db", dir.path());
  const std::string before = ReadBytes(path);
  auto opened = Store::Open({path}, clock);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == Errc::kUnsupported);
  CHECK(opened.error().message.find("schema version 99, newer than this build understands (" +
                                    std::to_string(ehg::store::kSchemaVersion) + ")") != std::string::npos);
  CHECK(ReadBytes(path) == before);
  CHECK_FALSE(fs::exists(path.string() + "-wal"));
  int siblings = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path()))
    ++siblings;
  CHECK(siblings == 1);  // nothing moved aside, nothing created
}

TEST_CASE("A corrupt file is moved aside with its original bytes, and a fresh database starts") {
  for (const char* fixture : {"not-a-database.db", "truncated.db"}) {
    CAPTURE(fixture);
    TempDir dir;
    ManualClock clock(ehg::core::WallTime{std::chrono::milliseconds{1'767'225'600'000}});
    const fs::path path = CopyFixture(fixture, dir.path());
    const std::string original = ReadBytes(path);
    ehg::test::LogCapture log;
    OpenReport report;
    auto store = OpenOrFail({path}, clock, &report);
    REQUIRE(report.corrupt_file_moved_to.has_value());
    CHECK(*report.corrupt_file_moved_to == dir / "gateway.db.corrupt-20260101T000000Z");
    CHECK_FALSE(report.corruption_reason.empty());
    CHECK(ReadBytes(*report.corrupt_file_moved_to) == original);
    CHECK(log.Contains(
        "level=error msg=\"database failed its integrity check; moved aside and started fresh\""));
    CHECK(report.found_version == 0);
    CHECK(store->IntegrityCheck().value() == "ok");
    ehg::store::WriteBatch batch;
    batch.readings.push_back(ehg::test::MakeReading("spo2", 97, "%"));
    CHECK(store->Write(batch).has_value());
  }
}

TEST_CASE("Two corruptions in the same second keep both files") {
  TempDir dir;
  ManualClock clock;
  const fs::path path = CopyFixture("not-a-database.db", dir.path());
  {
    OpenReport report;
    auto store = OpenOrFail({path}, clock, &report);
    REQUIRE(report.corrupt_file_moved_to.has_value());
  }
  fs::remove(path);
  fs::remove(path.string() + "-wal");
  fs::remove(path.string() + "-shm");
  fs::copy_file(fs::path(EHG_FIXTURES_DIR) / "store" / "not-a-database.db", path);
  OpenReport report;
  auto store = OpenOrFail({path}, clock, &report);
  REQUIRE(report.corrupt_file_moved_to.has_value());
  CHECK(report.corrupt_file_moved_to->string().ends_with("-1"));
}

TEST_CASE("An I/O failure is an error and never moves the file aside") {
  TempDir dir;
  ManualClock clock;
  fs::create_directory(dir / "gateway.db");  // a directory where the file should be
  auto opened = Store::Open({dir / "gateway.db"}, clock);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == Errc::kIo);
  CHECK(fs::is_directory(dir / "gateway.db"));
}

TEST_CASE("Migrating to version 5 removes repeated device measurements, keeping the first") {
  TempDir dir;
  ManualClock clock;
  const auto path = dir / "gateway.db";
  { auto store = OpenOrFail({path}, clock); }
  {
    // Turn the file back into a version-4 database holding what version 4 allowed: repeats.
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec(
        "DROP INDEX readings_identity; DROP TABLE seen_commands; DROP TABLE reading_minutes; "
        "DROP INDEX readings_claimed_identity; ALTER TABLE readings DROP COLUMN claimed_device_time_ms; "
        "DROP TABLE latest_readings; ALTER TABLE outbox DROP COLUMN reading_id; PRAGMA user_version = 4;");
    db.exec(
        "INSERT INTO readings (device_id, metric, value, unit, device_time_ms, received_ms, sequence) VALUES "
        "('cuff', 'bp.systolic', 128, 'mm[Hg]', 1000, 2000, NULL),"
        "('cuff', 'bp.systolic', 128, 'mm[Hg]', 1000, 3000, NULL),"
        "('meter', 'glucose', 5.5, 'mmol/L', 1000, 2000, 7),"
        "('meter', 'glucose', 5.5, 'mmol/L', 1000, 4000, 7),"
        "('meter', 'glucose', 6.1, 'mmol/L', 1000, 4000, 8),"
        "('oximeter', 'spo2', 96, '%', NULL, 2000, NULL),"
        "('oximeter', 'spo2', 96, '%', NULL, 2000, NULL)");
  }
  OpenReport report;
  auto store = OpenOrFail({path}, clock, &report);
  CHECK(report.found_version == 4);
  CHECK(store->CountReadings().value() == 5);
  SQLite::Database inspect(path.string(), SQLite::OPEN_READONLY);
  CHECK(inspect.execAndGet("SELECT received_ms FROM readings WHERE device_id = 'cuff'").getInt64() == 2000);
  CHECK(inspect.execAndGet("SELECT count(*) FROM readings WHERE device_id = 'oximeter'").getInt() == 2);
}
