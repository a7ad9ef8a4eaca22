#include "gateway/store/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <tuple>

#include "gateway/core/atomic_file.hpp"
#include "gateway/core/log.hpp"
#include "gateway/store/schema.hpp"

namespace ehg::store {
namespace {

using std::chrono::milliseconds;

Error FromSqlite(const SQLite::Exception& exception, std::string_view doing) {
  const int primary = exception.getErrorCode() & 0xff;
  Errc code = Errc::kInternal;
  switch (primary) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = Errc::kCorrupt;
      break;
    case SQLITE_FULL:
      code = Errc::kFull;
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      code = Errc::kIo;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = Errc::kBusy;
      break;
    default:
      break;
  }
  return Error{code, std::string(doing) + ": " + exception.what()};
}

std::int64_t ToMilliseconds(core::WallTime time) {
  return time.time_since_epoch().count();
}
core::WallTime FromMilliseconds(std::int64_t value) {
  return core::WallTime{milliseconds{value}};
}

void BindOptional(SQLite::Statement& statement, int index, const std::optional<std::int64_t>& value) {
  if (value) {
    statement.bind(index, static_cast<std::int64_t>(*value));
  } else {
    statement.bind(index);
  }
}

std::string CompactUtc(core::WallTime time) {
  std::string iso = core::FormatIso8601(time);  // 2026-01-01T00:00:00.000Z
  std::string compact;
  for (const char c : iso.substr(0, 19)) {
    if (c != '-' && c != ':') compact += c;
  }
  return compact + "Z";
}

// Moves a corrupt database and its WAL/SHM companions aside so nothing of them mixes into the new file.
Result<std::filesystem::path> MoveAside(const std::filesystem::path& path, const core::Clock& clock) {
  std::filesystem::path target;
  for (int attempt = 0;; ++attempt) {
    target = path;
    target += ".corrupt-" + CompactUtc(clock.Now()) + (attempt > 0 ? "-" + std::to_string(attempt) : "");
    std::error_code error;
    if (!std::filesystem::exists(target, error)) break;
    if (attempt > 100) return Fail(Errc::kIo, "no free name to move " + path.string() + " aside");
  }
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::path from = path;
    from += suffix;
    std::filesystem::path to = target;
    to += suffix;
    std::error_code error;
    if (!std::filesystem::exists(from, error)) continue;
    std::filesystem::rename(from, to, error);
    if (error) return Fail(Errc::kIo, "cannot move " + from.string() + " aside: " + error.message());
  }
  if (auto synced = core::SyncDirectory(path.parent_path().empty() ? "." : path.parent_path()); !synced) {
    return tl::unexpected(synced.error());
  }
  return target;
}

Result<std::vector<OutboxRow>> ReadOutbox(SQLite::Database& db, std::size_t limit,
                                          const std::optional<OutboxPosition>& after) {
  std::vector<OutboxRow> rows;
  try {
    SQLite::Statement query(
        db, after ? "SELECT seq, event_id, kind, priority, created_ms, body, attempts FROM outbox "
                    "WHERE (priority, seq) > (?, ?) ORDER BY priority, seq LIMIT ?"
                  : "SELECT seq, event_id, kind, priority, created_ms, body, attempts FROM outbox "
                    "ORDER BY priority, seq LIMIT ?");
    int index = 1;
    if (after) {
      query.bind(index++, static_cast<int>(after->priority));
      query.bind(index++, after->sequence);
    }
    query.bind(index, static_cast<std::int64_t>(limit));
    while (query.executeStep()) {
      OutboxRow row;
      row.sequence = query.getColumn(0).getInt64();
      const auto id = core::EventId::Parse(query.getColumn(1).getString());
      const auto kind = core::ParseEventKind(query.getColumn(2).getString());
      if (!id || !kind)
        return Fail(Errc::kCorrupt, "outbox row " + std::to_string(row.sequence) + " is malformed");
      row.event.id = *id;
      row.event.kind = *kind;
      row.event.priority = static_cast<core::Priority>(query.getColumn(3).getInt());
      row.event.created = FromMilliseconds(query.getColumn(4).getInt64());
      row.event.body = query.getColumn(5).getString();
      row.attempts = static_cast<std::uint32_t>(query.getColumn(6).getInt());
      rows.push_back(std::move(row));
    }
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading the outbox"));
  }
  return rows;
}

OutboxStats ReadOutboxStats(SQLite::Database& db) {
  SQLite::Statement query(db,
                          "SELECT count(*), coalesce(sum(bytes), 0), "
                          "coalesce(sum(kind = 'alert'), 0) FROM outbox");
  query.executeStep();
  OutboxStats stats;
  stats.rows = static_cast<std::uint64_t>(query.getColumn(0).getInt64());
  stats.bytes = static_cast<std::uint64_t>(query.getColumn(1).getInt64());
  stats.alert_rows = static_cast<std::uint64_t>(query.getColumn(2).getInt64());
  return stats;
}

// Runs a `DELETE ... RETURNING bytes, kind = 'alert'` statement and adjusts the cached sizes by what it
// removed, so no full-table sum is needed after every acknowledgement. Returns the rows removed.
std::uint64_t RemoveAndAccount(SQLite::Statement& remove, OutboxStats& stats) {
  std::uint64_t removed = 0;
  while (remove.executeStep()) {
    stats.bytes -= static_cast<std::uint64_t>(remove.getColumn(0).getInt64());
    --stats.rows;
    if (remove.getColumn(1).getInt() != 0) --stats.alert_rows;
    ++removed;
  }
  return removed;
}

Result<ReplayWindow> ReadReplayWindow(SQLite::Database& db, core::WallTime now) {
  try {
    SQLite::Statement query(db,
                            "SELECT jti, remember_until_ms FROM seen_commands WHERE remember_until_ms >= ?");
    query.bind(1, static_cast<std::int64_t>(now.time_since_epoch().count()));
    ReplayWindow window;
    while (query.executeStep()) {
      window.seen.push_back({query.getColumn(0).getString(),
                             core::WallTime(std::chrono::milliseconds(query.getColumn(1).getInt64()))});
    }
    SQLite::Statement floor(db, "SELECT value FROM settings WHERE name = ?");
    floor.bind(1, std::string(kCommandsNotIssuedBeforeSetting));
    if (floor.executeStep()) {
      std::int64_t floor_ms = 0;
      const std::string text = floor.getColumn(0).getString();
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), floor_ms);
      // A floor that does not read is the safe case's opposite: refuse to guess, fail the read.
      if (error != std::errc() || end != text.data() + text.size()) {
        return Fail(Errc::kCorrupt, "store: the command replay floor is not a number");
      }
      window.not_issued_before = core::WallTime(std::chrono::milliseconds(floor_ms));
    }
    return window;
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading seen command ids"));
  }
}

// Open alerts, oldest first. Throws SQLite::Exception.
std::vector<AlertRecord> ReadOpenAlerts(SQLite::Database& db) {
  std::vector<AlertRecord> alerts;
  SQLite::Statement query(
      db,
      "SELECT alert_id, rule_id, severity, state, raised_ms, updated_ms, detail FROM alerts "
      "WHERE is_open = 1 ORDER BY raised_ms");
  while (query.executeStep()) {
    AlertRecord record;
    record.alert_id = query.getColumn(0).getString();
    record.rule_id = query.getColumn(1).getString();
    record.severity = query.getColumn(2).getString();
    record.state = query.getColumn(3).getString();
    record.open = true;
    record.raised_at = FromMilliseconds(query.getColumn(4).getInt64());
    record.updated_at = FromMilliseconds(query.getColumn(5).getInt64());
    record.detail = query.getColumn(6).getString();
    alerts.push_back(std::move(record));
  }
  return alerts;
}

// Every device's last known state, by id. Throws SQLite::Exception.
std::vector<DeviceRecord> ReadDevices(SQLite::Database& db) {
  std::vector<DeviceRecord> devices;
  SQLite::Statement query(
      db,
      "SELECT device_id, last_seen_ms, connected, battery_percent, last_error, updated_ms "
      "FROM devices ORDER BY device_id");
  while (query.executeStep()) {
    DeviceRecord record;
    record.device_id = query.getColumn(0).getString();
    if (!query.getColumn(1).isNull()) record.last_seen = FromMilliseconds(query.getColumn(1).getInt64());
    if (!query.getColumn(2).isNull()) record.connected = query.getColumn(2).getInt() != 0;
    if (!query.getColumn(3).isNull()) record.battery_percent = query.getColumn(3).getDouble();
    record.last_error = query.getColumn(4).getString();
    record.updated_at = FromMilliseconds(query.getColumn(5).getInt64());
    devices.push_back(std::move(record));
  }
  return devices;
}

// A reading's effective time in SQL, as core::Reading::EffectiveTime() computes it (a suspect device
// time is stored in claimed_device_time_ms, not device_time_ms).
constexpr std::string_view kEffectiveMs = "COALESCE(device_time_ms, received_ms)";
// How far a plausible device time can be ahead of its receive time at most (the longest clock_ahead the
// config allows): an effective time bound becomes a receive time bound that the indexes answer.
constexpr std::int64_t kMaxAheadMs = 24 * 3600 * 1000;
// The stored-records tolerance (core::DefaultClockTolerance) that readings stored before the time model
// are judged by when they are summarised (the store does not know their devices' kinds).
constexpr std::int64_t kBackfillAheadMs = 5 * 60 * 1000;
constexpr std::int64_t kBackfillBehindMs = 30LL * 24 * 3600 * 1000;
constexpr std::string_view kBackfillSetting = "store.minutes_backfill_through_id";
constexpr std::string_view kConvertSetting = "store.convert_through_id";

// The newest reading of a source is kept three ways (latest_readings.kind): any reading, the newest
// clinically usable one (no quality flags, a certain time), and the newest non-zero one (an event that
// happened: motion detected, a door opened).
enum class LatestKind { kAny = 0, kUsable = 1, kNonzero = 2 };

bool UsableForLatest(const core::Reading& reading) {
  return reading.flags.bits() == 0 && !reading.time_uncertain;
}

// Per device, metric and kind, the index of the batch's newest reading (the later one on a tie).
std::map<std::tuple<std::string, std::string, int>, std::size_t> NewestPerSource(
    const std::vector<core::Reading>& readings) {
  std::map<std::tuple<std::string, std::string, int>, std::size_t> newest;
  const auto offer = [&](std::size_t index, LatestKind kind) {
    const core::Reading& reading = readings[index];
    auto [found, inserted] =
        newest.try_emplace({reading.device_id, reading.metric, static_cast<int>(kind)}, index);
    if (!inserted && readings[found->second].EffectiveTime() <= reading.EffectiveTime())
      found->second = index;
  };
  for (std::size_t i = 0; i < readings.size(); ++i) {
    offer(i, LatestKind::kAny);
    if (UsableForLatest(readings[i])) offer(i, LatestKind::kUsable);
    if (readings[i].value != 0) offer(i, LatestKind::kNonzero);
  }
  return newest;
}

// Binds a reading's stored columns from `first` on, in the order device_id, metric, value, unit,
// device_time_ms, received_ms, time_uncertain, flags, sequence, claimed_device_time_ms. A suspect device
// time is stored as the claim, never as the device time.
void BindReading(SQLite::Statement& statement, int first, const core::Reading& reading) {
  statement.bind(first, reading.device_id);
  statement.bind(first + 1, reading.metric);
  statement.bind(first + 2, reading.value);
  statement.bind(first + 3, reading.unit);
  const std::optional<std::int64_t> device_time =
      reading.device_time ? std::optional<std::int64_t>(ToMilliseconds(*reading.device_time)) : std::nullopt;
  BindOptional(statement, first + 4, reading.device_clock_suspect ? std::nullopt : device_time);
  statement.bind(first + 5, static_cast<std::int64_t>(ToMilliseconds(reading.received_at)));
  statement.bind(first + 6, reading.time_uncertain ? 1 : 0);
  statement.bind(first + 7, static_cast<std::int64_t>(reading.flags.bits()));
  BindOptional(statement, first + 8,
               reading.sequence ? std::optional<std::int64_t>(*reading.sequence) : std::nullopt);
  BindOptional(statement, first + 9, reading.device_clock_suspect ? device_time : std::nullopt);
}

// The reverse of BindReading, from the columns starting at `first`.
core::Reading ColumnsToReading(SQLite::Statement& query, int first) {
  core::Reading reading;
  reading.device_id = query.getColumn(first).getString();
  reading.metric = query.getColumn(first + 1).getString();
  reading.value = query.getColumn(first + 2).getDouble();
  reading.unit = query.getColumn(first + 3).getString();
  if (!query.getColumn(first + 4).isNull())
    reading.device_time = FromMilliseconds(query.getColumn(first + 4).getInt64());
  reading.received_at = FromMilliseconds(query.getColumn(first + 5).getInt64());
  reading.time_uncertain = query.getColumn(first + 6).getInt() != 0;
  reading.flags = core::QualityFlags(static_cast<std::uint32_t>(query.getColumn(first + 7).getInt64()));
  if (!query.getColumn(first + 8).isNull())
    reading.sequence = static_cast<std::uint32_t>(query.getColumn(first + 8).getInt64());
  if (!query.getColumn(first + 9).isNull()) {
    reading.device_time = FromMilliseconds(query.getColumn(first + 9).getInt64());
    reading.device_clock_suspect = true;
  }
  return reading;
}
constexpr std::string_view kReadingColumns =
    "device_id, metric, value, unit, device_time_ms, received_ms, time_uncertain, flags, sequence, "
    "claimed_device_time_ms";

std::optional<std::int64_t> ParseId(const std::string& text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

constexpr std::int64_t kMinuteMs = 60'000;

// SQLite's page cache per connection, in KiB (its default is 2,000). The daemon's two long-lived
// connections grew to that as the file grew: with six devices and 1,000 alerts, 1.6 MiB of the process's
// own memory (docs/benchmarks.md). The writer's hot pages are the B-tree paths it appends to; the
// outbox reader reads each row's body once, so a cache only keeps bodies already sent. The kernel's page
// cache holds the rest of the file for the scans of a start-up or a retention pass.
constexpr int kWriterPageCacheKiB = 256;
constexpr int kReaderPageCacheKiB = 128;

void LimitPageCache(SQLite::Database& db, int kib) {
  db.exec("PRAGMA cache_size = -" + std::to_string(kib));
}

// What a batch will take in the file, roughly, to decide before writing whether room must be made: a
// reading's row with its index entries (about 115 bytes measured) and its share of the summaries, an
// event's body plus its row and index entries.
constexpr std::uint64_t kReadingBytes = 160;
constexpr std::uint64_t kEventOverheadBytes = 100;

core::WallTime MinuteOf(core::WallTime time) {
  const std::int64_t ms = time.time_since_epoch().count();
  return core::WallTime{std::chrono::milliseconds{ms - (((ms % kMinuteMs) + kMinuteMs) % kMinuteMs)}};
}

// The batch's readings per metric, device and minute (one upsert each instead of one per reading).
std::vector<MinuteSummary> SummariseMinutes(const std::vector<core::Reading>& readings) {
  std::vector<MinuteSummary> minutes;
  for (const core::Reading& reading : readings) {
    const core::WallTime time = reading.EffectiveTime();
    const core::WallTime minute_start = MinuteOf(time);
    auto found = std::find_if(minutes.begin(), minutes.end(), [&](const MinuteSummary& minute) {
      return minute.minute == minute_start && minute.metric == reading.metric &&
             minute.device_id == reading.device_id;
    });
    if (found == minutes.end()) {
      minutes.push_back(
          MinuteSummary{reading.metric, reading.device_id, minute_start, 0, 0, 0, 0, {}, 0, {}});
      found = std::prev(minutes.end());
    }
    MinuteSummary& minute = *found;
    ++minute.readings;
    minute.flags |= reading.flags.bits();
    if (!core::ClinicallyUsable(reading)) continue;
    if (minute.usable == 0 || reading.value < minute.usable_min) {
      minute.usable_min = reading.value;
      minute.usable_min_time = time;
    }
    if (minute.usable == 0 || reading.value > minute.usable_max) {
      minute.usable_max = reading.value;
      minute.usable_max_time = time;
    }
    ++minute.usable;
    minute.usable_sum += reading.value;
  }
  return minutes;
}

}  // namespace

struct Store::Impl {
  Impl(std::filesystem::path file, std::uint64_t budget, std::unique_ptr<SQLite::Database> database)
      : path(std::move(file)), outbox_budget_bytes(budget), db(std::move(database)) {}

  std::filesystem::path path;
  std::uint64_t outbox_budget_bytes;
  std::unique_ptr<SQLite::Database> db;
  OutboxStats stats;
  std::unique_ptr<SQLite::Statement> insert_reading;
  std::unique_ptr<SQLite::Statement> insert_event;
  std::unique_ptr<SQLite::Statement> upsert_alert;
  std::unique_ptr<SQLite::Statement> upsert_device;
  std::unique_ptr<SQLite::Statement> remove_sent;
  std::unique_ptr<SQLite::Statement> remove_receipted;
  std::unique_ptr<SQLite::Statement> upsert_rule_state;
  std::unique_ptr<SQLite::Statement> delete_rule_state;
  std::unique_ptr<SQLite::Statement> find_identity;
  std::unique_ptr<SQLite::Statement> find_claimed_identity;
  std::unique_ptr<SQLite::Statement> upsert_minute;
  std::unique_ptr<SQLite::Statement> upsert_latest;

  const core::Clock* clock = nullptr;
  std::uint64_t hard_cap_bytes = 0;
  std::uint64_t keep_free_disk_bytes = 0;
  std::function<std::optional<std::uint64_t>()> free_disk_bytes;
  std::uint64_t page_size = 4096;
  std::int64_t max_page_count_set = 0;
  RoomPolicy room_policy;

  SQLite::Statement& Prepared(std::unique_ptr<SQLite::Statement>& slot, const char* sql) {
    if (!slot) slot = std::make_unique<SQLite::Statement>(*db, sql);
    slot->reset();
    slot->clearBindings();
    return *slot;
  }

  // After a failed statement: finish every cached statement (a statement left mid-step keeps its
  // transaction busy), then roll back whatever of the batch was written.
  void RollbackIfOpen() noexcept {
    for (auto* statement : {&insert_reading, &insert_event, &upsert_alert, &upsert_device, &remove_sent,
                            &remove_receipted, &upsert_rule_state, &delete_rule_state, &find_identity,
                            &find_claimed_identity, &upsert_minute, &upsert_latest}) {
      if (*statement) (*statement)->tryReset();
    }
    if (sqlite3_get_autocommit(db->getHandle()) == 0) {
      const int result = sqlite3_exec(db->getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
      if (result != SQLITE_OK) {
        core::LogError("rollback failed", {{"reason", sqlite3_errmsg(db->getHandle())}});
      }
    }
  }

  // Adds the summaries to the stored minutes. Inside the caller's transaction.
  void UpsertMinutes(const std::vector<MinuteSummary>& minutes) {
    for (const MinuteSummary& minute : minutes) {
      SQLite::Statement& upsert = Prepared(
          upsert_minute,
          "INSERT INTO reading_minutes (metric, minute_ms, device_id, readings, usable, "
          "usable_sum, usable_min, "
          "usable_min_ms, usable_max, usable_max_ms, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (metric, minute_ms, device_id) DO UPDATE SET "
          "readings = readings + excluded.readings, usable = usable + excluded.usable, "
          "flags = flags | excluded.flags, "
          "usable_sum = coalesce(usable_sum, 0) + coalesce(excluded.usable_sum, 0), "
          "usable_min_ms = CASE WHEN usable_min IS NULL OR excluded.usable_min < usable_min "
          "THEN excluded.usable_min_ms ELSE usable_min_ms END, "
          "usable_min = CASE WHEN usable_min IS NULL OR excluded.usable_min < usable_min "
          "THEN excluded.usable_min ELSE usable_min END, "
          "usable_max_ms = CASE WHEN usable_max IS NULL OR excluded.usable_max > usable_max "
          "THEN excluded.usable_max_ms ELSE usable_max_ms END, "
          "usable_max = CASE WHEN usable_max IS NULL OR excluded.usable_max > usable_max "
          "THEN excluded.usable_max ELSE usable_max END");
      upsert.bind(1, minute.metric);
      upsert.bind(2, static_cast<std::int64_t>(ToMilliseconds(minute.minute)));
      upsert.bind(3, minute.device_id);
      upsert.bind(4, static_cast<std::int64_t>(minute.readings));
      upsert.bind(5, static_cast<std::int64_t>(minute.usable));
      if (minute.usable > 0) {
        upsert.bind(6, minute.usable_sum);
        upsert.bind(7, minute.usable_min);
        upsert.bind(8, static_cast<std::int64_t>(ToMilliseconds(minute.usable_min_time)));
        upsert.bind(9, minute.usable_max);
        upsert.bind(10, static_cast<std::int64_t>(ToMilliseconds(minute.usable_max_time)));
      } else {
        for (int column = 6; column <= 10; ++column)
          upsert.bind(column);
      }
      upsert.bind(11, static_cast<std::int64_t>(minute.flags));
      upsert.exec();
    }
  }

  // Keeps each source's newest reading (latest_readings) up to date with these readings. Inside the
  // caller's transaction. A stored "newest" beyond the furthest a device clock may be ahead of now (an
  // older build's, or a gateway clock that was wrong) gives way to any reading.
  void UpsertLatest(const std::vector<core::Reading>& readings) {
    const std::int64_t beyond = ToMilliseconds(clock->Now()) + kMaxAheadMs;
    for (const auto& [key, index] : NewestPerSource(readings)) {
      const core::Reading& reading = readings[index];
      SQLite::Statement& upsert = Prepared(
          upsert_latest,
          "INSERT INTO latest_readings (device_id, metric, value, unit, device_time_ms, received_ms, "
          "time_uncertain, flags, sequence, claimed_device_time_ms, kind, effective_ms) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, metric, kind) DO UPDATE SET "
          "value = excluded.value, unit = excluded.unit, device_time_ms = excluded.device_time_ms, "
          "received_ms = excluded.received_ms, time_uncertain = excluded.time_uncertain, "
          "flags = excluded.flags, sequence = excluded.sequence, "
          "claimed_device_time_ms = excluded.claimed_device_time_ms, effective_ms = excluded.effective_ms "
          "WHERE excluded.effective_ms >= latest_readings.effective_ms OR latest_readings.effective_ms > ?");
      BindReading(upsert, 1, reading);
      upsert.bind(11, std::get<2>(key));
      upsert.bind(12, static_cast<std::int64_t>(ToMilliseconds(reading.EffectiveTime())));
      upsert.bind(13, beyond);
      upsert.exec();
    }
  }

  std::int64_t Pragma(const char* name) { return db->execAndGet(std::string("PRAGMA ") + name).getInt64(); }

  std::optional<std::int64_t> SettingId(std::string_view name) {
    SQLite::Statement query(*db, "SELECT value FROM settings WHERE name = ?");
    query.bind(1, std::string(name));
    if (!query.executeStep()) return std::nullopt;
    const auto id = ParseId(query.getColumn(0).getString());
    if (!id)
      throw SQLite::Exception("store: setting " + std::string(name) + " is not a row id", SQLITE_CORRUPT);
    return id;
  }
  // Rows with an id at most this are not converted yet (0 when all are): retention and room-making
  // leave them alone.
  std::int64_t UnconvertedThrough() {
    return std::max(SettingId(kBackfillSetting).value_or(0), SettingId(kConvertSetting).value_or(0));
  }

  Store::Usage MeasureUsage() {
    Store::Usage usage;
    const auto pages = static_cast<std::uint64_t>(Pragma("page_count"));
    const auto free_pages = static_cast<std::uint64_t>(Pragma("freelist_count"));
    usage.file_bytes = pages * page_size;
    usage.used_bytes = (pages - std::min(pages, free_pages)) * page_size;
    if (hard_cap_bytes > 0) usage.capacity_bytes = hard_cap_bytes;
    std::optional<std::uint64_t> free_disk;
    if (free_disk_bytes) {
      free_disk = free_disk_bytes();
    } else {
      struct statvfs info {};
      if (::statvfs(path.c_str(), &info) == 0)
        free_disk = static_cast<std::uint64_t>(info.f_bavail) * static_cast<std::uint64_t>(info.f_frsize);
    }
    if (free_disk) {
      const std::uint64_t growth = *free_disk > keep_free_disk_bytes ? *free_disk - keep_free_disk_bytes : 0;
      const std::uint64_t disk_capacity = usage.file_bytes + growth;
      usage.capacity_bytes =
          usage.capacity_bytes ? std::min(*usage.capacity_bytes, disk_capacity) : disk_capacity;
    }
    return usage;
  }

  // SQLite's own hard stop at the capacity (it cannot be set below the file's current size: pages freed
  // inside the file are reused first).
  void LimitPages(std::uint64_t capacity_bytes) {
    const auto pages = static_cast<std::int64_t>(std::max<std::uint64_t>(1, capacity_bytes / page_size));
    if (pages == max_page_count_set) return;
    db->exec("PRAGMA max_page_count = " + std::to_string(pages));
    max_page_count_set = pages;
  }

  // Below the first observation still waiting in the outbox, every reading's observation has left.
  std::int64_t DeliveredBelow() {
    SQLite::Statement query(*db,
                            "SELECT reading_id FROM outbox WHERE kind = 'observation' ORDER BY seq LIMIT 1");
    if (!query.executeStep()) return std::numeric_limits<std::int64_t>::max();
    // An observation queued by an older build does not name its reading: nothing is known delivered.
    return query.getColumn(0).isNull() ? 0 : query.getColumn(0).getInt64();
  }

  // Removes what the RoomPolicy allows, in its order, oldest first and a chunk at a time, until the
  // pages in use are at most `target_bytes` or nothing more may go. Inside the caller's transaction;
  // observations dropped from the outbox are accounted in `stats` and `outcome`.
  RoomMade MakeRoom(std::uint64_t target_bytes, OutboxStats& outbox, WriteOutcome& outcome,
                    std::uint64_t& dropped_bytes) {
    RoomMade made;
    const auto used = [&] { return MeasureUsage().used_bytes; };
    if (used() <= target_bytes) return made;
    const std::int64_t unconverted = UnconvertedThrough();
    const std::int64_t now_ms = ToMilliseconds(clock->Now());
    const std::int64_t recent_cutoff = now_ms - room_policy.recent.count();
    std::string evidence;
    for (std::size_t i = 0; i < room_policy.evidence.size(); ++i)
      evidence += " AND NOT (metric = ? AND " + std::string(kEffectiveMs) + " >= ?)";
    constexpr std::int64_t kChunk = 500;
    const auto remove_readings = [&](std::string_view condition, std::optional<std::int64_t> below_id,
                                     std::uint64_t& counted) {
      SQLite::Statement remove(*db,
                               "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE id > ? " +
                                   std::string(condition) + evidence + " ORDER BY id LIMIT ?)");
      while (used() > target_bytes) {
        remove.reset();
        int index = 1;
        remove.bind(index++, unconverted);
        if (!condition.empty()) remove.bind(index++, recent_cutoff);
        if (below_id) remove.bind(index++, *below_id);
        for (const EvidenceSpan& span : room_policy.evidence) {
          remove.bind(index++, span.metric);
          remove.bind(index++, static_cast<std::int64_t>(ToMilliseconds(span.since)));
        }
        remove.bind(index, kChunk);
        const int removed = remove.exec();
        counted += static_cast<std::uint64_t>(removed);
        if (removed < kChunk) return;
      }
    };
    remove_readings("AND received_ms < ? AND id < ?", DeliveredBelow(), made.delivered_readings);
    remove_readings("AND received_ms < ?", std::nullopt, made.waiting_readings);
    remove_readings("", std::nullopt, made.recent_readings);
    if (room_policy.summaries_needed_since) {
      SQLite::Statement remove(
          *db,
          "DELETE FROM reading_minutes WHERE (metric, minute_ms, device_id) IN (SELECT metric, minute_ms, "
          "device_id FROM reading_minutes WHERE minute_ms < ? ORDER BY minute_ms LIMIT ?)");
      while (used() > target_bytes) {
        remove.reset();
        remove.bind(1, static_cast<std::int64_t>(ToMilliseconds(*room_policy.summaries_needed_since)));
        remove.bind(2, kChunk);
        const int removed = remove.exec();
        made.summaries += static_cast<std::uint64_t>(removed);
        if (removed < kChunk) break;
      }
    }
    // Last, observations still waiting to be sent, oldest first, as the outbox budget drops them
    // (counted and reported upstream): their rows can outgrow the budget, which counts only bodies.
    SQLite::Statement remove(
        *db,
        "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE kind = 'observation' "
        "ORDER BY seq LIMIT ?) RETURNING bytes, 0");
    while (used() > target_bytes) {
      remove.reset();
      remove.bind(1, kChunk);
      std::uint64_t removed = 0;
      std::uint64_t removed_bytes = 0;
      while (remove.executeStep()) {
        removed_bytes += static_cast<std::uint64_t>(remove.getColumn(0).getInt64());
        ++removed;
      }
      outbox.rows -= std::min(outbox.rows, removed);
      outbox.bytes -= std::min(outbox.bytes, removed_bytes);
      dropped_bytes += removed_bytes;
      made.observations += removed;
      outcome.dropped_observations += removed;
      if (removed < static_cast<std::uint64_t>(kChunk)) break;
    }
    return made;
  }

  void LoadStats() { stats = ReadOutboxStats(*db); }

  // Counters count things that happened: a correction never takes one below zero.
  void AddToCounter(std::string_view name, std::int64_t amount) {
    SQLite::Statement update(*db,
                             "INSERT INTO counters (name, value) VALUES (?, ?) "
                             "ON CONFLICT (name) DO UPDATE SET value = max(0, value + excluded.value)");
    update.bind(1, std::string(name));
    update.bind(2, static_cast<std::int64_t>(amount));
    update.exec();
  }
};

namespace {

// `now` is the creation time of a new database (from_version 0): the floor of its command replay
// window, written in the same transaction as the schema so that no database exists without it.
Result<void> Migrate(SQLite::Database& db, int from_version, core::WallTime now) {
  const auto migrations = Migrations();
  db.exec("BEGIN IMMEDIATE");
  try {
    for (int version = from_version + 1; version <= kSchemaVersion; ++version) {
      db.exec(std::string(migrations[static_cast<std::size_t>(version - 1)]));
    }
    if (from_version == 0) {
      SQLite::Statement floor(db, "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)");
      floor.bind(1, std::string(kCommandsNotIssuedBeforeSetting));
      floor.bind(2, std::to_string(now.time_since_epoch().count()));
      floor.exec();
    }
    db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    db.exec("COMMIT");
  } catch (const SQLite::Exception& exception) {
    sqlite3_exec(db.getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
    return tl::unexpected(
        FromSqlite(exception, "migrating schema from version " + std::to_string(from_version)));
  }
  return {};
}

// The tables the gateway cannot run without: small, whatever the history. The readings and their
// summaries, which grow with it, are checked in the background (QuickCheckWholeFile).
constexpr std::array<std::string_view, 8> kEssentialTables{
    "outbox", "alerts", "settings", "rule_states", "devices", "counters", "seen_commands", "latest_readings"};

// "ok", or the problems PRAGMA quick_check found (of the whole file, or of one table and its indexes).
// Throws SQLite::Exception.
std::string QuickCheck(SQLite::Database& db, std::optional<std::string_view> table) {
  SQLite::Statement check(
      db, table ? "PRAGMA quick_check(\"" + std::string(*table) + "\")" : "PRAGMA quick_check");
  std::string problems;
  while (check.executeStep()) {
    const std::string line = check.getColumn(0).getString();
    if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
  }
  return problems.empty() ? "ok" : problems;
}

Result<std::unique_ptr<SQLite::Database>> OpenAndMigrate(const std::filesystem::path& path,
                                                         std::uint64_t max_database_bytes, bool full_check,
                                                         core::WallTime now, OpenReport& report) {
  try {
    // A write-ahead log left behind with frames in it: the last run never closed the database.
    std::filesystem::path wal = path;
    wal += "-wal";
    std::error_code error;
    const auto wal_bytes = std::filesystem::file_size(wal, error);
    report.unclean_shutdown = !error && wal_bytes > 0;
    auto db = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db->setBusyTimeout(5000);
    // The difference between "start fresh, loudly" and a crash loop on a damaged SD card. Start-up checks
    // what it must, in time independent of history; the whole file when asked to.
    {
      std::string problems;
      if (full_check) {
        problems = QuickCheck(*db, std::nullopt);
      } else {
        SQLite::Statement tables(*db, "SELECT name FROM sqlite_schema WHERE type = 'table'");
        std::vector<std::string> present;
        while (tables.executeStep())
          present.push_back(tables.getColumn(0).getString());
        for (const std::string_view table : kEssentialTables) {
          if (std::find(present.begin(), present.end(), table) == present.end()) continue;
          const std::string found = QuickCheck(*db, table);
          if (found != "ok") problems += (problems.empty() ? "" : "; ") + found;
        }
      }
      if (problems != "ok" && !problems.empty())
        return Fail(Errc::kCorrupt, "integrity check failed: " + problems);
    }
    const int version = db->execAndGet("PRAGMA user_version").getInt();
    report.found_version = version;
    if (version > kSchemaVersion) {
      return Fail(Errc::kUnsupported,
                  "database " + path.string() + " has schema version " + std::to_string(version) +
                      ", newer than this build understands (" + std::to_string(kSchemaVersion) +
                      "); refusing to touch it. Install the newer ehealth-gateway again, or "
                      "restore a backup made by this version");
    }
    if (db->execAndGet("PRAGMA journal_mode = WAL").getString() != "wal") {
      return Fail(Errc::kIo, "cannot switch " + path.string() + " to WAL mode");
    }
    db->exec("PRAGMA synchronous = FULL");
    db->exec("PRAGMA foreign_keys = ON");
    if (max_database_bytes > 0) {
      const auto page_size = static_cast<std::uint64_t>(db->execAndGet("PRAGMA page_size").getInt64());
      db->exec("PRAGMA max_page_count = " +
               std::to_string(std::max<std::uint64_t>(1, max_database_bytes / page_size)));
    }
    if (version < kSchemaVersion) {
      if (auto migrated = Migrate(*db, version, now); !migrated) return tl::unexpected(migrated.error());
      core::LogInfo("database schema migrated",
                    {{"from_version", version}, {"to_version", kSchemaVersion}, {"path", path.string()}});
    }
    // After the migrations, which rewrite tables of a file that may hold 90 days: they keep SQLite's default.
    LimitPageCache(*db, kWriterPageCacheKiB);
    report.version = kSchemaVersion;
    return db;
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "opening " + path.string()));
  }
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const core::Clock& clock,
                                           OpenReport* report) {
  OpenReport local;
  OpenReport& out = report != nullptr ? *report : local;
  out = OpenReport{};
  auto opened =
      OpenAndMigrate(options.path, options.max_database_bytes, options.full_check, clock.Now(), out);
  if (!opened && opened.error().code == Errc::kCorrupt) {
    auto moved = MoveAside(options.path, clock);
    if (!moved) return tl::unexpected(moved.error().WithContext("store: recovering from a corrupt database"));
    out.corrupt_file_moved_to = *moved;
    out.corruption_reason = opened.error().message;
    core::LogError(
        "database failed its integrity check; moved aside and started fresh",
        {{"path", options.path.string()}, {"moved_to", moved->string()}, {"reason", opened.error().message}});
    opened = OpenAndMigrate(options.path, options.max_database_bytes, false, clock.Now(), out);
  }
  if (!opened) return tl::unexpected(opened.error().WithContext("store"));
  auto impl = std::make_unique<Impl>(options.path, options.outbox_budget_bytes, std::move(*opened));
  impl->clock = &clock;
  impl->hard_cap_bytes = options.max_database_bytes;
  impl->keep_free_disk_bytes = options.keep_free_disk_bytes;
  impl->free_disk_bytes = options.free_disk_bytes;
  try {
    impl->page_size = static_cast<std::uint64_t>(impl->Pragma("page_size"));
    impl->LoadStats();
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading outbox size"));
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::filesystem::path& Store::path() const {
  return impl_->path;
}
OutboxStats Store::outbox_stats() const {
  return impl_->stats;
}

std::uint64_t AlertReserveBytes(std::uint64_t capacity_bytes) {
  return std::clamp<std::uint64_t>(capacity_bytes / 8, 64 * 1024, 16 * 1024 * 1024);
}

Result<WriteOutcome> Store::Write(const WriteBatch& batch) {
  auto written = WriteOnce(batch, true);
  // No room for the readings after all (the cap or the disk, nearer than the estimate said): the rest
  // of the batch still goes in, in the room kept for it. An alert is never refused for a reading.
  if (!written && written.error().code == Errc::kFull && !batch.readings.empty()) {
    written = WriteOnce(batch, false);
  }
  return written;
}

Result<WriteOutcome> Store::WriteOnce(const WriteBatch& batch, bool with_readings) {
  Impl& impl = *impl_;
  WriteOutcome outcome;
  OutboxStats stats = impl.stats;
  std::uint64_t dropped_bytes = 0;
  try {
    impl.db->exec("BEGIN IMMEDIATE");
    const Usage usage = impl.MeasureUsage();
    if (usage.capacity_bytes) {
      // Readings stay below the capacity minus the alerts' reserve; when this batch would pass that
      // line, room is made for it and for a sixteenth of the capacity more, so this runs now and then,
      // not for every batch.
      const std::uint64_t capacity = *usage.capacity_bytes;
      const std::uint64_t reserve = AlertReserveBytes(capacity);
      const std::uint64_t line = capacity > reserve ? capacity - reserve : 0;
      std::uint64_t needed = 0;
      for (const core::Event& event : batch.events)
        needed += event.body.size() + kEventOverheadBytes;
      if (with_readings) needed += batch.readings.size() * kReadingBytes;
      if (usage.used_bytes + needed > line) {
        const std::uint64_t target = line > needed + capacity / 16 ? line - needed - capacity / 16 : 0;
        outcome.room_made = impl.MakeRoom(target, stats, outcome, dropped_bytes);
        if (with_readings && !batch.readings.empty() && impl.MeasureUsage().used_bytes + needed > line) {
          with_readings = false;  // the reserve is the alerts'
        }
      }
      impl.LimitPages(capacity);
    }
    outcome.readings_refused = !with_readings && !batch.readings.empty();
    for (const core::Reading& reading : batch.readings) {
      if (!with_readings) break;
      SQLite::Statement& insert =
          impl.Prepared(impl.insert_reading,
                        "INSERT INTO readings (device_id, metric, value, unit, "
                        "device_time_ms, received_ms, time_uncertain, "
                        "flags, sequence, claimed_device_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      BindReading(insert, 1, reading);
      insert.exec();
      outcome.reading_ids.push_back(impl.db->getLastInsertRowid());
    }
    if (with_readings) {
      impl.UpsertMinutes(SummariseMinutes(batch.readings));
      impl.UpsertLatest(batch.readings);
    }
    for (const AlertRecord& alert : batch.alerts) {
      SQLite::Statement& upsert = impl.Prepared(impl.upsert_alert,
                                                "INSERT OR REPLACE INTO alerts (alert_id, rule_id, severity, "
                                                "state, is_open, raised_ms, updated_ms, "
                                                "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      upsert.bind(1, alert.alert_id);
      upsert.bind(2, alert.rule_id);
      upsert.bind(3, alert.severity);
      upsert.bind(4, alert.state);
      upsert.bind(5, alert.open ? 1 : 0);
      upsert.bind(6, static_cast<std::int64_t>(ToMilliseconds(alert.raised_at)));
      upsert.bind(7, static_cast<std::int64_t>(ToMilliseconds(alert.updated_at)));
      upsert.bind(8, alert.detail);
      upsert.exec();
    }
    for (const DeviceRecord& device : batch.devices) {
      SQLite::Statement& upsert = impl.Prepared(
          impl.upsert_device,
          "INSERT OR REPLACE INTO devices (device_id, last_seen_ms, connected, battery_percent, last_error, "
          "updated_ms) VALUES (?, ?, ?, ?, ?, ?)");
      upsert.bind(1, device.device_id);
      BindOptional(
          upsert, 2,
          device.last_seen ? std::optional<std::int64_t>(ToMilliseconds(*device.last_seen)) : std::nullopt);
      BindOptional(upsert, 3,
                   device.connected ? std::optional<std::int64_t>(*device.connected ? 1 : 0) : std::nullopt);
      if (device.battery_percent) {
        upsert.bind(4, *device.battery_percent);
      } else {
        upsert.bind(4);
      }
      upsert.bind(5, device.last_error);
      upsert.bind(6, static_cast<std::int64_t>(ToMilliseconds(device.updated_at)));
      upsert.exec();
    }

    for (const std::int64_t sequence : batch.sent_sequences) {
      SQLite::Statement& remove =
          impl.Prepared(impl.remove_sent, "DELETE FROM outbox WHERE seq = ? RETURNING bytes, kind = 'alert'");
      remove.bind(1, sequence);
      const std::uint64_t removed = RemoveAndAccount(remove, stats);
      outcome.removed_rows += removed;
      if (removed == 0) ++outcome.delivered_after_drop;
    }
    for (std::size_t i = 0; i < batch.receipted_events.size(); ++i) {
      SQLite::Statement& remove = impl.Prepared(
          impl.remove_receipted, "DELETE FROM outbox WHERE event_id = ? RETURNING bytes, kind = 'alert'");
      remove.bind(1, batch.receipted_events[i].ToString());
      const std::uint64_t removed = RemoveAndAccount(remove, stats);
      outcome.removed_rows += removed;
      outcome.receipt_matched.push_back(removed > 0);
      if (removed == 0 && i < batch.receipt_held.size() && batch.receipt_held[i])
        ++outcome.delivered_after_drop;
    }
    if (outcome.delivered_after_drop > 0) {
      impl.AddToCounter(kDroppedObservations, -static_cast<std::int64_t>(outcome.delivered_after_drop));
    }
    for (const auto& [name, value] : batch.settings) {
      SQLite::Statement upsert(*impl.db, "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)");
      upsert.bind(1, name);
      upsert.bind(2, value);
      upsert.exec();
    }
    for (const SeenCommand& seen : batch.seen_commands) {
      SQLite::Statement insert(*impl.db,
                               "INSERT OR IGNORE INTO seen_commands (jti, remember_until_ms) VALUES (?, ?)");
      insert.bind(1, seen.jti);
      insert.bind(2, static_cast<std::int64_t>(seen.remember_until.time_since_epoch().count()));
      insert.exec();
    }
    if (batch.forget_commands_before) {
      SQLite::Statement forget(*impl.db, "DELETE FROM seen_commands WHERE remember_until_ms < ?");
      forget.bind(1, static_cast<std::int64_t>(batch.forget_commands_before->time_since_epoch().count()));
      forget.exec();
    }
    for (const auto& [key, detail] : batch.rule_states) {
      if (detail) {
        SQLite::Statement& upsert = impl.Prepared(
            impl.upsert_rule_state, "INSERT OR REPLACE INTO rule_states (rule_key, detail) VALUES (?, ?)");
        upsert.bind(1, key);
        upsert.bind(2, *detail);
        upsert.exec();
      } else {
        SQLite::Statement& remove =
            impl.Prepared(impl.delete_rule_state, "DELETE FROM rule_states WHERE rule_key = ?");
        remove.bind(1, key);
        remove.exec();
      }
    }

    // The outbox budget: make room by removing the oldest observations, never anything else.
    std::uint64_t incoming = 0;
    for (const core::Event& event : batch.events) {
      if (outcome.readings_refused && event.kind == core::EventKind::kObservation) continue;
      incoming += event.body.size();
    }
    std::vector<bool> keep(batch.events.size(), true);
    if (stats.bytes + incoming > impl.outbox_budget_bytes) {
      SQLite::Statement oldest(
          *impl.db, "SELECT seq, bytes FROM outbox WHERE kind = 'observation' ORDER BY seq LIMIT 256");
      SQLite::Statement remove(*impl.db, "DELETE FROM outbox WHERE seq = ?");
      bool more = true;
      while (more && stats.bytes + incoming > impl.outbox_budget_bytes) {
        oldest.reset();
        more = false;
        std::vector<std::pair<std::int64_t, std::uint64_t>> victims;
        while (oldest.executeStep()) {
          victims.emplace_back(oldest.getColumn(0).getInt64(),
                               static_cast<std::uint64_t>(oldest.getColumn(1).getInt64()));
        }
        for (const auto& [sequence, bytes] : victims) {
          if (stats.bytes + incoming <= impl.outbox_budget_bytes) break;
          remove.reset();
          remove.bind(1, static_cast<std::int64_t>(sequence));
          remove.exec();
          stats.bytes -= bytes;
          --stats.rows;
          ++outcome.dropped_observations;
          dropped_bytes += bytes;
          more = true;
        }
      }
      // Still too full: this batch's own observations go, oldest first.
      for (std::size_t i = 0; i < batch.events.size() && stats.bytes + incoming > impl.outbox_budget_bytes;
           ++i) {
        if (batch.events[i].kind != core::EventKind::kObservation || outcome.readings_refused) continue;
        keep[i] = false;
        incoming -= batch.events[i].body.size();
        ++outcome.dropped_observations;
        dropped_bytes += batch.events[i].body.size();
      }
      outcome.over_budget_with_undroppable = stats.bytes + incoming > impl.outbox_budget_bytes;
    }
    std::size_t observation = 0;  // the k-th observation is the k-th reading's
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
      const core::Event& event = batch.events[i];
      const bool is_observation = event.kind == core::EventKind::kObservation;
      const bool names_reading = is_observation && observation < outcome.reading_ids.size();
      const std::int64_t reading_id = names_reading ? outcome.reading_ids[observation] : 0;
      if (is_observation) ++observation;
      if (!keep[i] || (is_observation && outcome.readings_refused)) continue;
      SQLite::Statement& insert =
          impl.Prepared(impl.insert_event,
                        "INSERT INTO outbox (event_id, kind, priority, created_ms, body, bytes, reading_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)");
      insert.bind(1, event.id.ToString());
      insert.bind(2, std::string(core::ToString(event.kind)));
      insert.bind(3, static_cast<int>(event.priority));
      insert.bind(4, static_cast<std::int64_t>(ToMilliseconds(event.created)));
      insert.bind(5, event.body);
      insert.bind(6, static_cast<std::int64_t>(event.body.size()));
      if (names_reading) {
        insert.bind(7, reading_id);
      } else {
        insert.bind(7);
      }
      insert.exec();
      ++stats.rows;
      stats.bytes += event.body.size();
      if (event.kind == core::EventKind::kAlert) ++stats.alert_rows;
    }
    if (outcome.dropped_observations > 0) {
      impl.AddToCounter(kDroppedObservations, static_cast<std::int64_t>(outcome.dropped_observations));
      impl.AddToCounter(kDroppedObservationBytes, static_cast<std::int64_t>(dropped_bytes));
    }
    impl.db->exec("COMMIT");
  } catch (const SQLite::Exception& exception) {
    impl.RollbackIfOpen();
    return tl::unexpected(FromSqlite(exception, "store: writing a batch"));
  }
  impl.stats = stats;
  return outcome;
}

Result<std::vector<OutboxRow>> Store::PeekOutbox(std::size_t limit, std::optional<OutboxPosition> after) {
  return ReadOutbox(*impl_->db, limit, after);
}

Result<void> Store::RemoveFromOutbox(const std::vector<std::int64_t>& sequences) {
  Impl& impl = *impl_;
  // Runs after every broker acknowledgement: adjust the cached sizes by what was deleted instead of
  // summing the whole outbox again.
  OutboxStats stats = impl.stats;
  try {
    impl.db->exec("BEGIN IMMEDIATE");
    SQLite::Statement remove(*impl.db, "DELETE FROM outbox WHERE seq = ? RETURNING bytes, kind = 'alert'");
    for (const std::int64_t sequence : sequences) {
      remove.reset();
      remove.bind(1, sequence);
      RemoveAndAccount(remove, stats);
    }
    remove.reset();
    impl.db->exec("COMMIT");
  } catch (const SQLite::Exception& exception) {
    impl.RollbackIfOpen();
    return tl::unexpected(FromSqlite(exception, "store: removing sent events"));
  }
  impl.stats = stats;
  return {};
}

Result<std::vector<AlertRecord>> Store::LoadOpenAlerts() {
  try {
    return ReadOpenAlerts(*impl_->db);
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: loading open alerts"));
  }
}

Result<ReplayWindow> Store::LoadReplayWindow(core::WallTime now) {
  return ReadReplayWindow(*impl_->db, now);
}

Result<std::map<std::string, std::string>> Store::LoadSettings() {
  std::map<std::string, std::string> settings;
  try {
    SQLite::Statement query(*impl_->db, "SELECT name, value FROM settings");
    while (query.executeStep())
      settings[query.getColumn(0).getString()] = query.getColumn(1).getString();
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: loading settings"));
  }
  return settings;
}

Result<std::map<std::string, std::string>> Store::LoadRuleStates() {
  std::map<std::string, std::string> states;
  try {
    SQLite::Statement query(*impl_->db, "SELECT rule_key, detail FROM rule_states");
    while (query.executeStep())
      states[query.getColumn(0).getString()] = query.getColumn(1).getString();
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: loading rule states"));
  }
  return states;
}

Result<std::vector<core::Reading>> Store::LoadReadings(const ReadingQuery& request) {
  if (request.latest_per_source) return LoadLatest(request);
  return LoadRaw(request);
}

Result<std::vector<core::Reading>> Store::LoadLatest(const ReadingQuery& request) {
  std::vector<core::Reading> readings;
  try {
    const LatestKind kind = request.nonzero_only  ? LatestKind::kNonzero
                            : request.usable_only ? LatestKind::kUsable
                                                  : LatestKind::kAny;
    std::string sql = "SELECT " + std::string(kReadingColumns) + " FROM latest_readings WHERE kind = ?";
    if (!request.metrics.empty()) {
      sql += " AND metric IN (";
      for (std::size_t i = 0; i < request.metrics.size(); ++i)
        sql += i == 0 ? "?" : ", ?";
      sql += ")";
    }
    if (request.since) sql += " AND effective_ms >= ?";
    if (request.until) sql += " AND effective_ms <= ?";
    SQLite::Statement query(*impl_->db, sql);
    int index = 1;
    query.bind(index++, static_cast<int>(kind));
    for (const std::string& metric : request.metrics)
      query.bind(index++, metric);
    if (request.since) query.bind(index++, static_cast<std::int64_t>(ToMilliseconds(*request.since)));
    if (request.until) query.bind(index++, static_cast<std::int64_t>(ToMilliseconds(*request.until)));
    while (query.executeStep())
      readings.push_back(ColumnsToReading(query, 0));
    // Rows an older build stored that the conversion has not reached: their newest from the rows.
    if (const std::int64_t unconverted = impl_->UnconvertedThrough(); unconverted > 0) {
      ReadingQuery raw = request;
      raw.stored_through = std::min(request.stored_through.value_or(unconverted), unconverted);
      auto older = LoadRaw(raw);
      if (!older) return older;
      std::map<std::pair<std::string, std::string>, core::Reading> newest;
      for (core::Reading& reading : readings)
        newest[{reading.device_id, reading.metric}] = std::move(reading);
      for (core::Reading& reading : *older) {
        auto [found, inserted] = newest.try_emplace({reading.device_id, reading.metric}, reading);
        if (!inserted && found->second.EffectiveTime() < reading.EffectiveTime()) found->second = reading;
      }
      readings.clear();
      for (auto& [source, reading] : newest)
        readings.push_back(std::move(reading));
    }
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: loading the newest readings"));
  }
  std::stable_sort(readings.begin(), readings.end(), [](const core::Reading& a, const core::Reading& b) {
    return a.EffectiveTime() < b.EffectiveTime();
  });
  return readings;
}

Result<std::vector<core::Reading>> Store::LoadRaw(const ReadingQuery& request) {
  std::string where = "1";
  if (!request.metrics.empty()) {
    where += " AND metric IN (";
    for (std::size_t i = 0; i < request.metrics.size(); ++i)
      where += i == 0 ? "?" : ", ?";
    where += ")";
  }
  // The receive time bounds let SQLite answer from an index on received_ms.
  if (request.since)
    where += " AND received_ms >= ? - " + std::to_string(kMaxAheadMs) + " AND " + std::string(kEffectiveMs) +
             " >= ?";
  if (request.until) where += " AND " + std::string(kEffectiveMs) + " <= ?";
  if (request.stored_through) where += " AND id <= ?";
  if (request.usable_only) where += " AND flags = 0 AND time_uncertain = 0";
  if (request.nonzero_only) where += " AND value != 0";
  const std::string columns(kReadingColumns);
  // SQLite fills the bare columns of a MAX() aggregate from the row that holds the maximum.
  const std::string sql = request.latest_per_source
                              ? "SELECT " + columns + ", MAX(" + std::string(kEffectiveMs) +
                                    ") AS effective FROM readings WHERE " + where +
                                    " GROUP BY device_id, metric ORDER BY effective"
                              : "SELECT " + columns + " FROM readings WHERE " + where + " ORDER BY " +
                                    std::string(kEffectiveMs) + ", id";
  std::vector<core::Reading> readings;
  try {
    SQLite::Statement query(*impl_->db, sql);
    int index = 1;
    for (const std::string& metric : request.metrics)
      query.bind(index++, metric);
    if (request.since) {
      query.bind(index++, static_cast<std::int64_t>(ToMilliseconds(*request.since)));
      query.bind(index++, static_cast<std::int64_t>(ToMilliseconds(*request.since)));
    }
    if (request.until) query.bind(index++, static_cast<std::int64_t>(ToMilliseconds(*request.until)));
    if (request.stored_through) query.bind(index++, *request.stored_through);
    while (query.executeStep())
      readings.push_back(ColumnsToReading(query, 0));
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: loading readings"));
  }
  return readings;
}

std::optional<ReadingIdentity> IdentityOf(const core::Reading& reading) {
  if (!reading.sequence && !reading.device_time) return std::nullopt;
  ReadingIdentity identity;
  identity.device_id = reading.device_id;
  identity.metric = reading.metric;
  if (reading.sequence) identity.sequence = std::int64_t{*reading.sequence};
  if (reading.device_time && !reading.device_clock_suspect) {
    identity.device_time_ms = ToMilliseconds(*reading.device_time);
  } else if (reading.device_time && !reading.sequence) {
    identity.claimed_ms = ToMilliseconds(*reading.device_time);
    identity.claimed_value = reading.value;
  }
  return identity;
}

Result<std::vector<MinuteSummary>> Store::LoadUsableMinutes(const std::string& metric, core::WallTime since,
                                                            core::WallTime until) {
  std::vector<MinuteSummary> minutes;
  try {
    SQLite::Statement query(
        *impl_->db,
        "SELECT device_id, minute_ms, readings, usable, usable_sum, usable_min, usable_min_ms, "
        "usable_max, usable_max_ms, flags FROM reading_minutes WHERE metric = ? AND minute_ms >= ? "
        "AND minute_ms <= ? AND usable > 0 ORDER BY minute_ms");
    query.bind(1, metric);
    query.bind(2, static_cast<std::int64_t>(ToMilliseconds(since)));
    query.bind(3, static_cast<std::int64_t>(ToMilliseconds(until)));
    while (query.executeStep()) {
      MinuteSummary minute;
      minute.metric = metric;
      minute.device_id = query.getColumn(0).getString();
      minute.minute = FromMilliseconds(query.getColumn(1).getInt64());
      minute.readings = static_cast<std::uint64_t>(query.getColumn(2).getInt64());
      minute.usable = static_cast<std::uint64_t>(query.getColumn(3).getInt64());
      minute.usable_sum = query.getColumn(4).getDouble();
      minute.usable_min = query.getColumn(5).getDouble();
      minute.usable_min_time = FromMilliseconds(query.getColumn(6).getInt64());
      minute.usable_max = query.getColumn(7).getDouble();
      minute.usable_max_time = FromMilliseconds(query.getColumn(8).getInt64());
      minute.flags = static_cast<std::uint32_t>(query.getColumn(9).getInt64());
      minutes.push_back(std::move(minute));
    }
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: loading minute summaries"));
  }
  return minutes;
}

Result<std::optional<std::int64_t>> Store::MinutesPendingThrough() {
  try {
    SQLite::Statement query(*impl_->db, "SELECT value FROM settings WHERE name = ?");
    query.bind(1, std::string(kBackfillSetting));
    if (!query.executeStep()) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(std::stoll(query.getColumn(0).getString()));
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading the summary backfill position"));
  } catch (const std::exception&) {
    return Fail(Errc::kCorrupt, "store: the summary backfill position is not a number");
  }
}

Result<std::optional<std::int64_t>> Store::ConversionPendingThrough() {
  try {
    const std::int64_t through = impl_->UnconvertedThrough();
    return through > 0 ? std::optional<std::int64_t>(through) : std::nullopt;
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading the conversion position"));
  }
}

Result<std::uint64_t> Store::BackfillMinutes(std::int64_t rows) {
  Impl& impl = *impl_;
  std::uint64_t converted = 0;
  try {
    // Rows at most `summarise_through` are not summarised yet (version 7), rows at most `convert_through`
    // have not given their flags to their minutes and their values to latest_readings (version 8).
    const std::optional<std::int64_t> summarise_through = impl.SettingId(kBackfillSetting);
    const std::optional<std::int64_t> convert_through = impl.SettingId(kConvertSetting);
    const std::int64_t upper = std::max(summarise_through.value_or(0), convert_through.value_or(0));
    if (upper <= 0) return std::uint64_t{0};
    const std::int64_t lower = upper - std::max<std::int64_t>(1, rows);  // exclusive
    impl.db->exec("BEGIN IMMEDIATE");
    if (summarise_through && *summarise_through > lower) {
      // Device times beyond the stored-records tolerance become claims: the reading counts when received.
      SQLite::Statement judge(
          *impl.db,
          "UPDATE OR IGNORE readings SET claimed_device_time_ms = device_time_ms, device_time_ms = NULL "
          "WHERE id > ? AND id <= ? AND device_time_ms IS NOT NULL "
          "AND (device_time_ms > received_ms + ? OR device_time_ms < received_ms - ?)");
      judge.bind(1, lower);
      judge.bind(2, *summarise_through);
      judge.bind(3, kBackfillAheadMs);
      judge.bind(4, kBackfillBehindMs);
      judge.exec();
    }
    SQLite::Statement select(*impl.db, "SELECT id, " + std::string(kReadingColumns) +
                                           " FROM readings WHERE id > ? AND id <= ? ORDER BY id");
    select.bind(1, lower);
    select.bind(2, upper);
    std::vector<core::Reading> to_summarise;  // not summarised at all yet
    std::vector<core::Reading> to_flag;       // summarised without their flags
    std::vector<core::Reading> to_remember;   // not yet in latest_readings
    while (select.executeStep()) {
      const std::int64_t id = select.getColumn(0).getInt64();
      core::Reading reading = ColumnsToReading(select, 1);
      ++converted;
      if (convert_through && id <= *convert_through) to_remember.push_back(reading);
      if (summarise_through && id <= *summarise_through) {
        to_summarise.push_back(std::move(reading));
      } else if (convert_through && id <= *convert_through && reading.flags.bits() != 0) {
        to_flag.push_back(std::move(reading));
      }
    }
    impl.UpsertMinutes(SummariseMinutes(to_summarise));
    SQLite::Statement flag(*impl.db,
                           "UPDATE reading_minutes SET flags = flags | ? WHERE metric = ? AND minute_ms = ? "
                           "AND device_id = ?");
    for (const MinuteSummary& minute : SummariseMinutes(to_flag)) {
      flag.reset();
      flag.bind(1, static_cast<std::int64_t>(minute.flags));
      flag.bind(2, minute.metric);
      flag.bind(3, static_cast<std::int64_t>(ToMilliseconds(minute.minute)));
      flag.bind(4, minute.device_id);
      flag.exec();
    }
    impl.UpsertLatest(to_remember);
    // Each position moves below this step, or goes when no older row is left.
    SQLite::Statement older(*impl.db, "SELECT 1 FROM readings WHERE id <= ? LIMIT 1");
    older.bind(1, lower);
    const bool more = older.executeStep();
    for (const auto& [setting, through] :
         {std::pair{kBackfillSetting, summarise_through}, std::pair{kConvertSetting, convert_through}}) {
      if (!through || *through <= lower) continue;
      if (more) {
        SQLite::Statement move(*impl.db, "UPDATE settings SET value = ? WHERE name = ?");
        move.bind(1, std::to_string(lower));
        move.bind(2, std::string(setting));
        move.exec();
      } else {
        SQLite::Statement done(*impl.db, "DELETE FROM settings WHERE name = ?");
        done.bind(1, std::string(setting));
        done.exec();
      }
    }
    impl.db->exec("COMMIT");
  } catch (const SQLite::Exception& exception) {
    impl.RollbackIfOpen();
    return tl::unexpected(FromSqlite(exception, "store: converting stored readings"));
  }
  return converted;
}

Result<std::vector<bool>> Store::AlreadyStored(const std::vector<core::Reading>& readings) {
  std::vector<bool> stored;
  stored.reserve(readings.size());
  try {
    for (const core::Reading& reading : readings) {
      const std::optional<ReadingIdentity> identity = IdentityOf(reading);
      if (!identity) {
        stored.push_back(false);
        continue;
      }
      if (identity->claimed_ms) {
        // The claim and the value (readings_claimed_identity).
        SQLite::Statement& find = impl_->Prepared(impl_->find_claimed_identity,
                                                  "SELECT 1 FROM readings WHERE device_id = ? AND metric = ? "
                                                  "AND claimed_device_time_ms = ? AND value = ? "
                                                  "AND claimed_device_time_ms IS NOT NULL LIMIT 1");
        find.bind(1, identity->device_id);
        find.bind(2, identity->metric);
        find.bind(3, *identity->claimed_ms);
        find.bind(4, identity->claimed_value);
        stored.push_back(find.executeStep());
        find.reset();
        continue;
      }
      // The same terms as the readings_identity index, so SQLite answers from it.
      SQLite::Statement& find = impl_->Prepared(
          impl_->find_identity,
          "SELECT 1 FROM readings WHERE device_id = ? AND metric = ? AND coalesce(device_time_ms, -1) = ? "
          "AND coalesce(sequence, -1) = ? AND (device_time_ms IS NOT NULL OR sequence IS NOT NULL) LIMIT 1");
      find.bind(1, identity->device_id);
      find.bind(2, identity->metric);
      find.bind(3, identity->device_time_ms.value_or(-1));
      find.bind(4, identity->sequence.value_or(-1));
      stored.push_back(find.executeStep());
      find.reset();
    }
  } catch (const SQLite::Exception& exception) {
    impl_->RollbackIfOpen();
    return tl::unexpected(FromSqlite(exception, "store: looking for duplicates"));
  }
  return stored;
}

Result<std::vector<DeviceRecord>> Store::LoadDevices() {
  try {
    return ReadDevices(*impl_->db);
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: loading devices"));
  }
}

Result<std::int64_t> Store::ReadCounter(std::string_view name) {
  try {
    SQLite::Statement query(*impl_->db, "SELECT value FROM counters WHERE name = ?");
    query.bind(1, std::string(name));
    return query.executeStep() ? query.getColumn(0).getInt64() : 0;
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading counter"));
  }
}

Result<std::uint64_t> Store::CountReadings() {
  try {
    return static_cast<std::uint64_t>(impl_->db->execAndGet("SELECT count(*) FROM readings").getInt64());
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: counting readings"));
  }
}

Result<std::uint64_t> Store::PruneReadings(core::WallTime raw_cutoff, core::WallTime summary_cutoff,
                                           std::uint64_t limit) {
  Impl& impl = *impl_;
  try {
    impl.db->exec("BEGIN IMMEDIATE");
    // Through the receive-time index; rows not yet converted stay until they are.
    SQLite::Statement remove(
        *impl.db,
        "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE received_ms < ? "
        "AND id > ? LIMIT ?)");
    remove.bind(1, static_cast<std::int64_t>(ToMilliseconds(raw_cutoff)));
    remove.bind(2, impl.UnconvertedThrough());
    remove.bind(3, static_cast<std::int64_t>(limit));
    const auto removed = static_cast<std::uint64_t>(remove.exec());
    // Once per pass, in its last step. The summaries are keyed by metric first: one range per metric
    // (every metric with summaries has a newest value, which is never older than its summaries), not a
    // scan of all of them (290 ms cold at 90 days of a home).
    if (removed < limit) {
      std::vector<std::string> metrics;
      SQLite::Statement list(*impl.db, "SELECT DISTINCT metric FROM latest_readings");
      while (list.executeStep())
        metrics.push_back(list.getColumn(0).getString());
      SQLite::Statement remove_minutes(*impl.db,
                                       "DELETE FROM reading_minutes WHERE metric = ? AND minute_ms < ?");
      for (const std::string& metric : metrics) {
        remove_minutes.reset();
        remove_minutes.bind(1, metric);
        remove_minutes.bind(2, static_cast<std::int64_t>(ToMilliseconds(summary_cutoff)));
        remove_minutes.exec();
      }
      SQLite::Statement remove_latest(*impl.db, "DELETE FROM latest_readings WHERE effective_ms < ?");
      remove_latest.bind(1, static_cast<std::int64_t>(ToMilliseconds(summary_cutoff)));
      remove_latest.exec();
    }
    impl.db->exec("COMMIT");
    return removed;
  } catch (const SQLite::Exception& exception) {
    impl.RollbackIfOpen();
    return tl::unexpected(FromSqlite(exception, "store: pruning old readings"));
  }
}

Result<std::uint64_t> Store::PruneReadingsBefore(core::WallTime cutoff) {
  std::uint64_t total = 0;
  constexpr std::uint64_t kStep = 20'000;
  while (true) {
    auto removed = PruneReadings(cutoff, cutoff, kStep);
    if (!removed) return removed;
    total += *removed;
    if (*removed < kStep) return total;
  }
}

void Store::SetRoomPolicy(RoomPolicy policy) {
  impl_->room_policy = std::move(policy);
}

Result<Store::Usage> Store::usage() {
  try {
    return impl_->MeasureUsage();
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: measuring the database"));
  }
}

Result<std::string> Store::IntegrityCheck() {
  try {
    SQLite::Statement check(*impl_->db, "PRAGMA integrity_check");
    std::string result;
    while (check.executeStep())
      result += (result.empty() ? "" : "; ") + check.getColumn(0).getString();
    return result;
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: integrity check"));
  }
}

struct OutboxReader::Impl {
  std::unique_ptr<SQLite::Database> db;
};

Result<std::unique_ptr<OutboxReader>> OutboxReader::Open(const std::filesystem::path& path) {
  try {
    // Read-write open but query_only: a WAL reader needs to update the shared-memory index, which a
    // SQLITE_OPEN_READONLY connection cannot do when it is the first to open the file.
    auto db = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READWRITE);
    db->setBusyTimeout(5000);
    db->exec("PRAGMA query_only = ON");
    LimitPageCache(*db, kReaderPageCacheKiB);
    auto impl = std::make_unique<Impl>();
    impl->db = std::move(db);
    return std::unique_ptr<OutboxReader>(new OutboxReader(std::move(impl)));
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: opening " + path.string() + " for reading"));
  }
}

OutboxReader::OutboxReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutboxReader::~OutboxReader() = default;

Result<std::vector<OutboxRow>> OutboxReader::Peek(std::size_t limit, std::optional<OutboxPosition> after) {
  return ReadOutbox(*impl_->db, limit, after);
}

Result<OutboxStats> OutboxReader::Stats() {
  try {
    return ReadOutboxStats(*impl_->db);
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading outbox size"));
  }
}

Result<ReplayWindow> OutboxReader::LoadReplayWindow(core::WallTime now) {
  return ReadReplayWindow(*impl_->db, now);
}

}  // namespace ehg::store

namespace ehg::store {

Result<std::uint64_t> CountOpenAlerts(const std::filesystem::path& path, std::string_view severity) {
  try {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    db.exec("PRAGMA query_only = ON");
    SQLite::Statement query(db, "SELECT count(*) FROM alerts WHERE is_open = 1 AND severity = ?");
    query.bind(1, std::string(severity));
    query.executeStep();
    return static_cast<std::uint64_t>(query.getColumn(0).getInt64());
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: counting open alerts"));
  }
}

Result<StatusView> ReadStatusView(const std::filesystem::path& path) {
  try {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    db.exec("PRAGMA query_only = ON");
    StatusView view;
    SQLite::Transaction snapshot(db);  // both lists from the same moment
    view.open_alerts = ReadOpenAlerts(db);
    view.devices = ReadDevices(db);
    return view;
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading the status view"));
  }
}

Result<std::string> QuickCheckWholeFile(const std::filesystem::path& path, const std::atomic<bool>* cancel) {
  try {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    db.exec("PRAGMA query_only = ON");
    if (cancel != nullptr) {
      sqlite3_progress_handler(
          db.getHandle(), 10'000,
          [](void* flag) { return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0; },
          const_cast<std::atomic<bool>*>(cancel));
    }
    return QuickCheck(db, std::nullopt);
  } catch (const SQLite::Exception& exception) {
    if (cancel != nullptr && cancel->load())
      return Fail(Errc::kClosed, "store: check of the whole file stopped");
    // A page so damaged that the check itself stops on it is a finding, not a failure to check.
    Error error = FromSqlite(exception, "store: checking " + path.string());
    if (error.code == Errc::kCorrupt) return std::move(error.message);
    return tl::unexpected(std::move(error));
  }
}

Result<int> ReadSchemaVersion(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    if (error) return Fail(Errc::kIo, "store: " + path.string() + ": " + error.message());
    return 0;
  }
  try {
    // Read-write (query only) rather than read-only: a read-only connection cannot read a WAL database
    // whose -shm file is missing.
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    db.exec("PRAGMA query_only = ON");
    return db.execAndGet("PRAGMA user_version").getInt();
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading the schema version"));
  }
}

Result<std::optional<std::uint32_t>> LastStoredSequence(const std::filesystem::path& path,
                                                        std::string_view device_id, std::string_view metric) {
  try {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    db.exec("PRAGMA query_only = ON");
    SQLite::Statement query(db, "SELECT max(sequence) FROM readings WHERE device_id = ? AND metric = ?");
    query.bind(1, std::string(device_id));
    query.bind(2, std::string(metric));
    if (!query.executeStep() || query.getColumn(0).isNull()) return std::optional<std::uint32_t>();
    return std::optional<std::uint32_t>(static_cast<std::uint32_t>(query.getColumn(0).getInt64()));
  } catch (const SQLite::Exception& exception) {
    return tl::unexpected(FromSqlite(exception, "store: reading the last sequence number"));
  }
}

}  // namespace ehg::store
