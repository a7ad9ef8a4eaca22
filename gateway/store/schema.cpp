#include "gateway/store/schema.hpp"

#include <array>

#include "gateway/store/store.hpp"

namespace ehg::store {
namespace {

// Version 1: readings and the outbox.
constexpr std::string_view kVersion1 = R"sql(
CREATE TABLE readings (
  id             INTEGER PRIMARY KEY,
  device_id      TEXT    NOT NULL,
  metric         TEXT    NOT NULL,
  value          REAL    NOT NULL,
  unit           TEXT    NOT NULL,
  device_time_ms INTEGER,
  received_ms    INTEGER NOT NULL,
  time_uncertain INTEGER NOT NULL DEFAULT 0,
  flags          INTEGER NOT NULL DEFAULT 0,
  sequence       INTEGER
);
CREATE INDEX readings_by_received ON readings (received_ms);
CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id   TEXT    NOT NULL UNIQUE,
  kind       TEXT    NOT NULL,
  priority   INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  body       TEXT    NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_by_priority ON outbox (priority, seq);
)sql";

// Version 2: alert and device state, durable counters, the outbox's byte size per row (for the budget)
// and an index for duplicate detection of device records.
constexpr std::string_view kVersion2 = R"sql(
CREATE TABLE alerts (
  alert_id   TEXT    PRIMARY KEY,
  rule_id    TEXT    NOT NULL,
  severity   TEXT    NOT NULL,
  state      TEXT    NOT NULL,
  is_open    INTEGER NOT NULL,
  raised_ms  INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  detail     TEXT    NOT NULL
);
CREATE INDEX alerts_open ON alerts (rule_id) WHERE is_open = 1;
CREATE TABLE devices (
  device_id       TEXT    PRIMARY KEY,
  last_seen_ms    INTEGER,
  connected       INTEGER,
  battery_percent REAL,
  last_error      TEXT    NOT NULL DEFAULT '',
  updated_ms      INTEGER NOT NULL
);
CREATE TABLE counters (
  name  TEXT    PRIMARY KEY,
  value INTEGER NOT NULL
);
ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET bytes = length(CAST(body AS BLOB));
CREATE INDEX outbox_bulk ON outbox (kind, seq);
CREATE INDEX readings_by_device ON readings (device_id, metric, device_time_ms);
)sql";

// Version 3: small persisted settings that commands change at run time (the heartbeat interval).
constexpr std::string_view kVersion3 = R"sql(
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql";

// Version 4: where each alert rule stands between alerts (persistence timers, schedules), so a restart
// resumes them; an index to find the freshest readings per metric quickly on start.
constexpr std::string_view kVersion4 = R"sql(
CREATE TABLE rule_states (
  rule_key TEXT PRIMARY KEY,
  detail   TEXT NOT NULL
);
CREATE INDEX readings_by_metric ON readings (metric, received_ms);
)sql";

// Version 5: a measurement the device identifies (its own time or record number) is stored once, however
// often it arrives (an indication retransmitted, a meter re-sending its memory after a reconnect).
// Duplicates an older build stored are removed first, keeping the first copy.
constexpr std::string_view kVersion5 = R"sql(
DELETE FROM readings WHERE (device_time_ms IS NOT NULL OR sequence IS NOT NULL) AND id NOT IN (
  SELECT min(id) FROM readings WHERE device_time_ms IS NOT NULL OR sequence IS NOT NULL
  GROUP BY device_id, metric, coalesce(device_time_ms, -1), coalesce(sequence, -1));
CREATE UNIQUE INDEX readings_identity ON readings
  (device_id, metric, coalesce(device_time_ms, -1), coalesce(sequence, -1))
  WHERE device_time_ms IS NOT NULL OR sequence IS NOT NULL;
)sql";

// Version 6: the ids (jti) of signed commands already taken, until they expire, so a command replayed
// from a capture is refused even after a restart.
constexpr std::string_view kVersion6 = R"sql(
CREATE TABLE seen_commands (
  jti              TEXT    PRIMARY KEY,
  remember_until_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_commands_expiry ON seen_commands (remember_until_ms);
)sql";

// Version 7: the time model (docs/rules.md, "Time"). A reading whose device time was implausible counts
// at its receive time: its device_time_ms is NULL (so the effective time, COALESCE(device_time_ms,
// received_ms), and the identity index stay as they were) and claimed_device_time_ms keeps what the device
// claimed. Such a reading is a repeat only by its record number, or by its claimed time and value (a
// reset clock runs on from 2000-01-01, so its claims still tell records apart).
// Per-minute summaries of every metric and device feed the alert engine's trend and baseline windows on
// start without reading raw history. Readings already stored are judged and summarised afterwards in
// the background, a few thousand at a time (Store::BackfillMinutes), so the migration itself is
// instant however large the file: the setting store.minutes_backfill_through_id is the highest row id
// not yet summarised (rows are numbered in the order they were stored).
constexpr std::string_view kVersion7 = R"sql(
ALTER TABLE readings ADD COLUMN claimed_device_time_ms INTEGER;
CREATE INDEX readings_claimed_identity ON readings (device_id, metric, claimed_device_time_ms, value)
  WHERE claimed_device_time_ms IS NOT NULL;
CREATE TABLE reading_minutes (
  metric        TEXT    NOT NULL,
  minute_ms     INTEGER NOT NULL,
  device_id     TEXT    NOT NULL,
  readings      INTEGER NOT NULL,
  usable        INTEGER NOT NULL,
  usable_sum    REAL,
  usable_min    REAL,
  usable_min_ms INTEGER,
  usable_max    REAL,
  usable_max_ms INTEGER,
  PRIMARY KEY (metric, minute_ms, device_id)
) WITHOUT ROWID;
INSERT INTO settings (name, value)
  SELECT 'store.minutes_backfill_through_id', CAST(max(id) AS TEXT) FROM readings HAVING count(*) > 0;
)sql";

// Version 8: 90 days on an SD card (docs/storage.md, "Retention" and "A full disk"). Raw readings are
// kept for a short window and the minute summaries for the whole retention, so a minute also keeps the
// quality flags of its readings. The newest reading of every source (any, clinically usable, and a
// non-zero event) gets a table of its own, because the engine needs it on start however old it is and
// a query for it over raw rows grew with history. An outbox observation names its reading, so the store
// knows which readings are delivered. As with version 7, the migration is instant: readings already
// stored are converted (flags, newest values) by the pipeline in the background, newest first, and the
// setting store.convert_through_id is the highest row id not yet converted.
constexpr std::string_view kVersion8 = R"sql(
ALTER TABLE reading_minutes ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN reading_id INTEGER;
CREATE TABLE latest_readings (
  device_id              TEXT    NOT NULL,
  metric                 TEXT    NOT NULL,
  kind                   INTEGER NOT NULL,
  value                  REAL    NOT NULL,
  unit                   TEXT    NOT NULL,
  device_time_ms         INTEGER,
  received_ms            INTEGER NOT NULL,
  time_uncertain         INTEGER NOT NULL,
  flags                  INTEGER NOT NULL,
  sequence               INTEGER,
  claimed_device_time_ms INTEGER,
  effective_ms           INTEGER NOT NULL,
  PRIMARY KEY (device_id, metric, kind)
) WITHOUT ROWID;
INSERT INTO settings (name, value)
  SELECT 'store.convert_through_id', CAST(max(id) AS TEXT) FROM readings HAVING count(*) > 0;
)sql";

constexpr std::array<std::string_view, 8> kMigrations{kVersion1, kVersion2, kVersion3, kVersion4,
                                                      kVersion5, kVersion6, kVersion7, kVersion8};
static_assert(kMigrations.size() == kSchemaVersion, "one migration per schema version");

}  // namespace

std::span<const std::string_view> Migrations() {
  return kMigrations;
}

}  // namespace ehg::store
