// Upgrading a gateway that has kept months of raw readings: the migration to schema 8 is instant and
// the conversion behind it (flags into the minute summaries, each source's newest reading, then the raw
// readings past their window removed) runs in the background of the real daemon. The daemon is killed
// with SIGKILL again and again while it converts; whatever the moment, nothing is lost or done twice.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "gateway/store/schema.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/damaged_page.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using ehg::test::Process;

namespace {

constexpr std::int64_t kDayMs = 86'400'000;

struct Source {
  std::string device;
  std::string metric;
  friend auto operator<=>(const Source&, const Source&) = default;
};

// What the conversion must produce, computed from the version-7 file before the daemon sees it.
struct Expected {
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::int64_t> minute_flags;  // or-ed
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::int64_t> minute_counts;
  std::map<Source, double> newest;         // by effective time
  std::map<Source, double> newest_usable;  // no flags
  std::vector<std::int64_t> received;      // every reading's receive time
};

// A version-7 database as that build left it: the schema from its own migrations, `days` of a 1 Hz-ish
// oximeter (SpO2 and pulse rate, some readings flagged), a cuff's stored records and a motion sensor,
// and the minute summaries version 7 wrote beside them (without flags, which it did not keep).
Expected MakeVersion7(const std::filesystem::path& path, std::int64_t now_ms, int days, int readings) {
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL");
  SQLite::Transaction transaction(db);
  const auto migrations = ehg::store::Migrations();
  for (std::size_t version = 0; version < 7; ++version)
    db.exec(std::string(migrations[version]));
  db.exec("PRAGMA user_version = 7");
  db.exec("INSERT INTO settings (name, value) VALUES ('commands.not_issued_before_ms', '0')");
  SQLite::Statement insert(
      db,
      "INSERT INTO readings (device_id, metric, value, unit, device_time_ms, received_ms, "
      "flags, sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  Expected expected;
  std::map<Source, std::int64_t> newest_at;
  std::map<Source, std::int64_t> newest_usable_at;
  const std::int64_t start = now_ms - days * kDayMs;
  const std::int64_t step = days * kDayMs / readings;
  for (int i = 0; i < readings; ++i) {
    const std::int64_t received = start + i * step;
    Source source{"ox", i % 2 == 0 ? "spo2" : "pulse_rate"};
    std::string unit = i % 2 == 0 ? "%" : "/min";
    double value = i % 2 == 0 ? 90 + i % 9 : 60 + i % 30;
    std::optional<std::int64_t> device_time;
    std::optional<std::int64_t> sequence;
    if (i % 1000 == 500) {  // the cuff's records, stamped by its own clock
      source = {"cuff", "body_weight"};
      unit = "kg";
      value = 70 + i % 5;
      device_time = received - 30'000;
      sequence = i / 1000;
    } else if (i % 3000 == 1500) {
      source = {"hall", "motion"};
      unit = "1";
      value = (i / 3000) % 2;
    }
    const std::int64_t flags = i % 97 == 0 ? 1 : 0;
    insert.reset();
    insert.bind(1, source.device);
    insert.bind(2, source.metric);
    insert.bind(3, value);
    insert.bind(4, unit);
    if (device_time)
      insert.bind(5, *device_time);
    else
      insert.bind(5);
    insert.bind(6, received);
    insert.bind(7, flags);
    if (sequence)
      insert.bind(8, *sequence);
    else
      insert.bind(8);
    insert.exec();
    const std::int64_t effective = device_time.value_or(received);
    const auto minute = std::tuple{source.metric, source.device, effective - effective % 60'000};
    expected.minute_flags[minute] |= flags;
    ++expected.minute_counts[minute];
    if (!newest_at.contains(source) || newest_at[source] <= effective) {
      newest_at[source] = effective;
      expected.newest[source] = value;
    }
    if (flags == 0 && (!newest_usable_at.contains(source) || newest_usable_at[source] <= effective)) {
      newest_usable_at[source] = effective;
      expected.newest_usable[source] = value;
    }
    expected.received.push_back(received);
  }
  // The summaries as version 7 wrote them with each batch.
  db.exec(
      "INSERT INTO reading_minutes (metric, minute_ms, device_id, readings, usable, usable_sum, usable_min, "
      "usable_min_ms, usable_max, usable_max_ms) "
      "SELECT metric, e - e % 60000, device_id, count(*), sum(flags = 0), "
      "sum(CASE WHEN flags = 0 THEN value END), min(CASE WHEN flags = 0 THEN value END), min(e), "
      "max(CASE WHEN flags = 0 THEN value END), max(e) "
      "FROM (SELECT *, coalesce(device_time_ms, received_ms) AS e FROM readings) GROUP BY 1, 2, 3");
  transaction.commit();
  return expected;
}

std::optional<std::int64_t> ConvertPosition(const std::filesystem::path& path) {
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
  if (!db.tableExists("settings")) return std::nullopt;
  SQLite::Statement query(db, "SELECT value FROM settings WHERE name = 'store.convert_through_id'");
  if (!query.executeStep()) return std::nullopt;
  return std::stoll(query.getColumn(0).getString());
}

}  // namespace

TEST_CASE("kill -9 during the conversion of a large version-7 file: resumed, nothing lost or done twice") {
  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.devices = false;
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const auto database = dir / "data" / "gateway.db";
  std::filesystem::create_directories(database.parent_path());
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const Expected expected = MakeVersion7(database, now_ms, 10, 300'000);

  std::mt19937 random(20261202);
  std::optional<std::int64_t> position = 300'000;
  int kills = 0;
  // Killed at random moments until the conversion is through (at most 30 times; a slow build finishes
  // it in the last run below).
  while (position && kills < 30) {
    Process daemon = ehg::test::StartDaemon(config);
    REQUIRE(daemon.WaitForOutput("gateway running", 20s));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 700)(random)));
    daemon.Signal(SIGKILL);
    REQUIRE(daemon.Wait(10s) == 128 + SIGKILL);
    ++kills;
    SQLite::Database db(database.string(), SQLite::OPEN_READWRITE);  // read-write: recovers the WAL
    REQUIRE(db.execAndGet("PRAGMA user_version").getInt() == 8);
    const auto now_at = ConvertPosition(database);
    CHECK(now_at <= position);  // it only moves on
    position = now_at;
  }
  MESSAGE("killed " << kills << " times during the conversion");
  CHECK(kills >= 3);

  // The last run: the conversion finishes, and the raw readings older than 7 days are removed.
  const auto milliseconds_now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t last_start = milliseconds_now();
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 20s));
  const std::string older =
      "SELECT count(*) FROM readings WHERE received_ms < " + std::to_string(last_start - 7 * kDayMs);
  bool pruned = false;
  for (int poll = 0; poll < 600 && !pruned; ++poll) {
    std::this_thread::sleep_for(100ms);
    SQLite::Database db(database.string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    pruned = !ConvertPosition(database) && db.execAndGet(older).getInt64() == 0;
  }
  CHECK(pruned);
  daemon.Signal(SIGTERM);
  REQUIRE(daemon.Wait(15s) == 0);
  const std::int64_t last_end = milliseconds_now();

  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
  // The raw readings of the last 7 days are all there (those that passed the line while the last run
  // pruned may be either way), the older ones gone.
  const auto window_start = last_end - 7 * kDayMs;
  const auto in_window = std::count_if(expected.received.begin(), expected.received.end(),
                                       [&](std::int64_t received) { return received >= window_start; });
  CHECK(db.execAndGet(older).getInt64() == 0);
  CHECK(db.execAndGet("SELECT count(*) FROM readings WHERE received_ms >= " + std::to_string(window_start))
            .getInt64() == in_window);
  // Every minute keeps its count (summarised once) and now the flags of its readings.
  SQLite::Statement minutes(db, "SELECT metric, device_id, minute_ms, readings, flags FROM reading_minutes");
  std::size_t seen = 0;
  std::size_t wrong = 0;
  while (minutes.executeStep()) {
    const auto key = std::tuple{minutes.getColumn(0).getString(), minutes.getColumn(1).getString(),
                                minutes.getColumn(2).getInt64()};
    ++seen;
    const auto count = expected.minute_counts.find(key);
    const auto flags = expected.minute_flags.find(key);
    if (count == expected.minute_counts.end() || count->second != minutes.getColumn(3).getInt64() ||
        flags->second != minutes.getColumn(4).getInt64()) {
      ++wrong;
    }
  }
  CHECK(seen == expected.minute_counts.size());
  CHECK(wrong == 0);
  // Each source's newest reading, any and clinically usable.
  for (const auto& [kind, values] : {std::pair{0, &expected.newest}, std::pair{1, &expected.newest_usable}}) {
    for (const auto& [source, value] : *values) {
      const auto& reading_source = source;  // clang 14 cannot capture a structured binding
      CAPTURE(reading_source.device);
      CAPTURE(reading_source.metric);
      SQLite::Statement latest(
          db, "SELECT value FROM latest_readings WHERE device_id = ? AND metric = ? AND kind = ?");
      latest.bind(1, source.device);
      latest.bind(2, source.metric);
      latest.bind(3, kind);
      REQUIRE(latest.executeStep());
      CHECK(latest.getColumn(0).getDouble() == value);
    }
  }
}

TEST_CASE("A damaged page found by the background check: the gateway stops, its next start begins afresh") {
  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.oximeter_interval_seconds = 0.002;  // enough readings for a file of many pages
  options.outbox_budget_bytes = 65536;        // with no broker, so the readings are most of the file
  auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const auto database = dir / "data" / "gateway.db";
  {
    Process daemon = ehg::test::StartDaemon(config);
    REQUIRE(daemon.WaitForOutput("gateway running", 20s));
    std::this_thread::sleep_for(3s);
    daemon.Signal(SIGTERM);
    REQUIRE(daemon.Wait(15s) == 0);
  }
  // A page in the middle of the readings turns to rubbish, as a failing SD card leaves it...
  REQUIRE(ehg::test::DamageReadingsPage(database) > 100);
  // ...and the power goes: a write-ahead log is left behind.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      SQLite::Database db(database.string(), SQLite::OPEN_READWRITE);
      db.exec("INSERT OR REPLACE INTO settings (name, value) VALUES ('test.power_cut', '1')");
      ::_exit(0);  // before the connection closes: the log stays
    } catch (...) {
      ::_exit(2);
    }
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WEXITSTATUS(status) == 0);
  auto wal = database;
  wal += "-wal";
  REQUIRE(std::filesystem::exists(wal));
  REQUIRE(std::filesystem::file_size(wal) > 0);

  options.devices = false;  // nothing writes: the check alone finds it
  config = ehg::test::WriteDaemonConfig(dir.path(), options);
  {
    Process daemon = ehg::test::StartDaemon(config);
    REQUIRE(daemon.WaitForOutput("gateway running", 20s));  // start-up did not read the readings
    INFO(daemon.Output());
    CHECK(daemon.WaitForOutput("the last run did not close the database", 1s));
    REQUIRE(daemon.WaitForOutput("database damaged", 30s));
    CHECK(daemon.Wait(15s) == 1);  // a failure: systemd starts it again
  }
  auto marker = database;
  marker += ".check-whole-file";
  CHECK(std::filesystem::exists(marker));
  {
    Process daemon = ehg::test::StartDaemon(config);
    REQUIRE(daemon.WaitForOutput("gateway running", 20s));
    CHECK(daemon.Output().find("moved aside and started fresh") != std::string::npos);
    daemon.Signal(SIGTERM);
    REQUIRE(daemon.Wait(15s) == 0);
  }
  CHECK_FALSE(std::filesystem::exists(marker));
  std::size_t moved = 0;
  for (const auto& entry : std::filesystem::directory_iterator(database.parent_path()))
    moved += entry.path().filename().string().find("gateway.db.corrupt-") == 0 ? 1u : 0u;
  CHECK(moved >= 1);
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM outbox WHERE body LIKE '%storage.corrupt_database_replaced%'")
            .getInt() == 1);
}
