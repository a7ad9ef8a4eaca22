#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/core/result.hpp"

// The gateway's durable state in one SQLite file (WAL, synchronous=FULL): readings, the outbox of
// events waiting to be sent, alert state, device state and durable counters.
namespace ehg::store {

// The schema version this build writes. Older files are migrated forward on open; newer ones refused.
inline constexpr int kSchemaVersion = 8;

struct StoreOptions {
  std::filesystem::path path;
  std::uint64_t outbox_budget_bytes = 64ull * 1024 * 1024;
  // Hard cap on the database file (SQLite max_page_count), so the gateway can never fill the SD card
  // that the rest of the system needs. 0 = no cap. Room is made inside it by the store's own policy
  // (RoomPolicy); only when nothing more may go does a write fail with Errc::kFull.
  std::uint64_t max_database_bytes = 0;
  // The file never grows into the last this many bytes of its file system: a full disk is a cap too.
  std::uint64_t keep_free_disk_bytes = 32ull * 1024 * 1024;
  // Free bytes on the database's file system (statvfs when empty); tests put a small disk here.
  std::function<std::optional<std::uint64_t>()> free_disk_bytes{};
  // Run PRAGMA quick_check over the whole file before opening (after a background check found a
  // problem, or when asked). Otherwise only the small tables the gateway cannot run without are checked
  // on open, so start-up does not grow with history (docs/storage.md, "Corruption").
  bool full_check = false;
};

// The room the store keeps for alerts: a batch with readings is written only while the database stays
// this far below its cap (an eighth of it, at least 64 KiB, at most 16 MiB).
std::uint64_t AlertReserveBytes(std::uint64_t capacity_bytes);

// A metric whose readings from `since` on are the evidence of an open alert: never removed to make room.
struct EvidenceSpan {
  std::string metric;
  core::WallTime since{};
};

// What the store may remove, oldest first and in this order, when the cap or the disk is reached:
//  1. raw readings older than `recent`, whose observations have been delivered;
//  2. raw readings older than `recent` still waiting in the outbox (the outbox keeps their values);
//  3. raw readings within `recent`;
//  4. minute summaries from before `summaries_needed_since` (older than any rule window reaches);
//  5. observations waiting in the outbox, as its budget drops them (counted as dropped observations):
//     the budget counts bodies, and the rows around many small ones take room too.
// Never an alert, an alert event, a rule state, a setting, an open alert's evidence, or a reading not
// yet summarised. Every reading removed keeps its minute summary (steps 1 to 3).
struct RoomPolicy {
  std::chrono::milliseconds recent{std::chrono::hours{1}};
  std::optional<core::WallTime> summaries_needed_since;  // none: summaries are never removed
  std::vector<EvidenceSpan> evidence;
};

// What was removed to make room, by RoomPolicy step.
struct RoomMade {
  std::uint64_t delivered_readings = 0;
  std::uint64_t waiting_readings = 0;
  std::uint64_t recent_readings = 0;
  std::uint64_t summaries = 0;
  std::uint64_t observations = 0;  // also in WriteOutcome::dropped_observations
  std::uint64_t total() const {
    return delivered_readings + waiting_readings + recent_readings + summaries + observations;
  }
};

struct OpenReport {
  int found_version = 0;  // 0 for a new file
  int version = kSchemaVersion;
  // The write-ahead log was left behind: the last run did not close the database (a kill, a power cut).
  // The caller checks the whole file in the background soon (docs/storage.md, "Corruption").
  bool unclean_shutdown = false;
  // Set when the file failed its integrity check and was moved aside; a fresh database was started.
  std::optional<std::filesystem::path> corrupt_file_moved_to;
  std::string corruption_reason;
};

// An open alert's persisted form. The alert engine's own representation is serialised into `detail`
// by the pipeline, so the store stays independent of the rule model.
struct AlertRecord {
  std::string alert_id;
  std::string rule_id;
  std::string severity;
  std::string state;
  bool open = true;
  core::WallTime raised_at{};
  core::WallTime updated_at{};
  std::string detail;  // JSON
};

struct DeviceRecord {
  std::string device_id;
  std::optional<core::WallTime> last_seen;
  std::optional<bool> connected;
  std::optional<double> battery_percent;
  std::string last_error;
  core::WallTime updated_at{};
};

struct OutboxRow {
  std::int64_t sequence = 0;  // insertion order
  core::Event event;
  std::uint32_t attempts = 0;
};

// A place in the outbox's sending order, to read on from.
struct OutboxPosition {
  core::Priority priority = core::Priority::kCritical;
  std::int64_t sequence = 0;
};

struct OutboxStats {
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::uint64_t alert_rows = 0;
};

// The outbox as the last commit left it, plus the lifetime count of dropped observations.
struct OutboxSnapshot {
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::uint64_t alert_rows = 0;
  std::uint64_t dropped_observations_total = 0;  // since the database was created (persisted)
};

// A care worker's decision on an alert, from a downlink command.
struct AlertAction {
  enum class Kind { kAcknowledge, kResolve };
  Kind kind = Kind::kAcknowledge;
  std::string alert_id;
  std::string by;    // the care worker, as the care system names them
  std::string note;  // resolve only
};

// What became of an AlertAction: applied, already so, or no such open alert.
struct AlertActionResult {
  bool ok = false;
  std::string detail;
};

// A signed command's id, remembered until the command could no longer be accepted anyway.
struct SeenCommand {
  std::string jti;
  core::WallTime remember_until{};
};

// What the uplink needs to refuse a command taken before: the ids it remembers, and the moment this
// database was created. A database that was replaced (found corrupt, deleted, a new SD card) has lost
// the ids it remembered, so a command issued before it existed is refused whatever its jti.
struct ReplayWindow {
  std::vector<SeenCommand> seen;                    // still remembered at the time asked for
  std::optional<core::WallTime> not_issued_before;  // absent in databases created by older versions
};

// The settings row that holds ReplayWindow::not_issued_before (milliseconds since the epoch).
inline constexpr std::string_view kCommandsNotIssuedBeforeSetting = "commands.not_issued_before_ms";

// What the uplink changes in the store: delivered rows out, new events (command results) and
// settings in. The pipeline applies it as one WriteBatch.
struct OutboxChange {
  std::vector<std::int64_t> sent_sequences;     // the broker acknowledged these rows
  std::vector<core::EventId> receipted_events;  // the care system confirmed these events
  // In the order of receipted_events: the uplink held that event's row (sent, waiting for this
  // receipt). A held row already gone was dropped by the budget on its way: it got through after all.
  std::vector<bool> receipt_held;
  std::vector<core::Event> events;
  std::map<std::string, std::string> settings;
  // Applied by the owner of the alert state (the pipeline) before the change is written.
  std::vector<AlertAction> alert_actions;
  std::vector<SeenCommand> seen_commands;
  std::optional<core::WallTime> forget_commands_before;  // ids remembered until before this are removed
};

// Everything one pipeline batch changes, written in one transaction.
struct WriteBatch {
  // The observation events among `events` are those of these readings, in the same order (the k-th
  // observation is the k-th reading's): the outbox row remembers its reading, so the store knows which
  // readings are delivered. A batch with readings may be written without them when there is no room
  // (WriteOutcome::readings_refused).
  std::vector<core::Reading> readings;
  std::vector<AlertRecord> alerts;    // insert or replace by alert_id
  std::vector<DeviceRecord> devices;  // insert or replace by device_id
  std::vector<core::Event> events;    // appended to the outbox
  // Outbox rows the broker acknowledged (PUBACK), each named once. Only the budget removes rows that
  // may still be in flight, so a row already gone was a dropped observation that got through.
  std::vector<std::int64_t> sent_sequences;
  // Events whose receipt the care system sent (any kind): their outbox rows are removed. Unknown ids
  // are ignored (a receipt may arrive twice, or name an observation the budget dropped meanwhile).
  std::vector<core::EventId> receipted_events;
  std::vector<bool> receipt_held;               // as OutboxChange::receipt_held
  std::map<std::string, std::string> settings;  // insert or replace by name
  // Alert rule states by key: insert or replace; nullopt deletes.
  std::map<std::string, std::optional<std::string>> rule_states;
  std::vector<SeenCommand> seen_commands;  // inserted; an id already there keeps its row
  std::optional<core::WallTime> forget_commands_before;

  bool empty() const {
    return readings.empty() && alerts.empty() && devices.empty() && events.empty() &&
           sent_sequences.empty() && receipted_events.empty() && settings.empty() && rule_states.empty() &&
           seen_commands.empty() && !forget_commands_before;
  }
};

struct WriteOutcome {
  std::vector<std::int64_t> reading_ids;  // in the order of WriteBatch::readings
  std::uint64_t removed_rows = 0;         // by sent_sequences and receipted_events
  // Acknowledged rows, or held rows receipted, that were no longer there: observations the budget
  // dropped while their message was already on its way. They were delivered after all, so the dropped counter
  // is corrected by them.
  std::uint64_t delivered_after_drop = 0;
  // In the order of WriteBatch::receipted_events: whether that event's row was still in the outbox.
  std::vector<bool> receipt_matched;
  // Observations removed to stay within the outbox budget (older rows or events of this batch).
  std::uint64_t dropped_observations = 0;
  // The outbox is above its budget although only events that must never be dropped remain.
  bool over_budget_with_undroppable = false;
  // In the order of OutboxChange::alert_actions (filled by the pipeline, not the store).
  std::vector<AlertActionResult> alert_action_results;
  // Removed by the RoomPolicy to make room for this batch.
  RoomMade room_made;
  // There was no room for the batch's readings even after making room: the rest of the batch (alerts,
  // device state, other events) was written without them and their observations; reading_ids is empty.
  bool readings_refused = false;
};

// What makes a measurement the device identifies the same measurement when it arrives again: its record
// number, or its own time when that time was plausible; with a suspect time (a reset clock runs on from
// 2000-01-01, a stuck one stamps everything alike) the claimed time and the value. Equal identities are
// one measurement. Readings without a device time or record number have none: never repeats.
struct ReadingIdentity {
  std::string device_id;
  std::string metric;
  std::optional<std::int64_t> device_time_ms;  // a plausible device time
  std::optional<std::int64_t> sequence;        // the record number
  std::optional<std::int64_t> claimed_ms;      // a suspect device time, of a reading without a record number
  double claimed_value = 0;                    // with claimed_ms only

  friend auto operator<=>(const ReadingIdentity&, const ReadingIdentity&) = default;
};
std::optional<ReadingIdentity> IdentityOf(const core::Reading& reading);

// Which stored readings to load (the rule engine's memory on start). Times are effective times (the
// device's time when known, else the receive time).
struct ReadingQuery {
  std::vector<std::string> metrics;  // empty = every metric
  std::optional<core::WallTime> since;
  std::optional<core::WallTime> until;         // effective time at most this
  std::optional<std::int64_t> stored_through;  // stored as row id at most this (oldest rows first)
  bool usable_only = false;                    // no quality flags and a certain time
  bool nonzero_only = false;                   // events that happened (motion detected, door opened)
  // Only the newest reading per device and metric: answered from latest_readings, which keeps it for
  // every source whatever the raw retention removed (plus raw rows not yet converted, if any).
  bool latest_per_source = false;
};

// The stored summary of one metric of one device over one minute of effective time. The usable_* fields
// summarise only the clinically usable readings (core::ClinicallyUsable); they are what the alert
// engine's windows are rebuilt from.
struct MinuteSummary {
  std::string metric;
  std::string device_id;
  core::WallTime minute{};  // start of the minute
  std::uint64_t readings = 0;
  std::uint64_t usable = 0;
  double usable_sum = 0;
  double usable_min = 0;
  core::WallTime usable_min_time{};
  double usable_max = 0;
  core::WallTime usable_max_time{};
  std::uint32_t flags = 0;  // the quality flags of all its readings, or-ed (core::QualityFlags bits)
};

// Told once an OutboxChange was committed (its outcome), or why nothing of it was stored.
using OutboxChangeDone = std::function<void(const Result<WriteOutcome>&)>;

// The owner of the writer connection takes outbox changes from other threads through this (the
// pipeline implements it), so the store keeps one writer.
class OutboxChangeSink {
 public:
  virtual ~OutboxChangeSink() = default;
  // Thread-safe and asynchronous. false = not accepted now (nothing happened); offer it again later.
  [[nodiscard]] virtual bool ApplyOutboxChange(OutboxChange change, OutboxChangeDone done) = 0;
  // Thread-safe: the outbox as the last commit left it.
  virtual OutboxSnapshot outbox() const = 0;
};

// Counter names persisted in the counters table.
inline constexpr std::string_view kDroppedObservations = "outbox.dropped_observations";
inline constexpr std::string_view kDroppedObservationBytes = "outbox.dropped_observation_bytes";

// Owns the one writable SQLite connection. Not thread-safe: the pipeline thread only.
class Store {
 public:
  // Opens or creates the database and migrates it forward in one transaction.
  // A database newer than this build is refused (Errc::kUnsupported) and left untouched.
  // A file that is not a database or fails `PRAGMA quick_check` is moved aside to
  // `<path>.corrupt-<UTC time>` (with its -wal and -shm) and a fresh database is created; the report
  // says so, so the caller can raise a loud error event. I/O errors (permissions, full disk) are
  // returned as errors and never cause the file to be moved.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, const core::Clock& clock,
                                             OpenReport* report = nullptr);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Writes the whole batch in one BEGIN IMMEDIATE transaction, applying the outbox budget: when the
  // outbox would exceed it, the oldest observations are removed first (counted); events that are not
  // observations are never removed. If Write returns an error, nothing of the batch was stored.
  Result<WriteOutcome> Write(const WriteBatch& batch);

  // Outbox in sending order: priority, then insertion order; only rows after `after` when given.
  Result<std::vector<OutboxRow>> PeekOutbox(std::size_t limit, std::optional<OutboxPosition> after = {});
  Result<void> RemoveFromOutbox(const std::vector<std::int64_t>& sequences);
  OutboxStats outbox_stats() const;

  Result<std::vector<AlertRecord>> LoadOpenAlerts();
  Result<std::map<std::string, std::string>> LoadSettings();
  // Command ids still remembered at `now`, and the floor.
  Result<ReplayWindow> LoadReplayWindow(core::WallTime now);
  Result<std::map<std::string, std::string>> LoadRuleStates();
  // Oldest first.
  Result<std::vector<core::Reading>> LoadReadings(const ReadingQuery& query);
  // The minutes of `metric` from `since` to `until` that hold usable readings, oldest first (an index
  // range). Readings stored before schema version 7 are in them only once BackfillMinutes reached them.
  Result<std::vector<MinuteSummary>> LoadUsableMinutes(const std::string& metric, core::WallTime since,
                                                       core::WallTime until);
  // Readings stored before schema version 7 are judged (a device time beyond the stored-records tolerance
  // becomes a claim and the reading counts at its receive time) and summarised into minutes; readings
  // stored before version 8 give their quality flags to their minutes and their newest values to
  // latest_readings. Both in steps of `rows`, newest first, each step one transaction (resumable: a kill
  // loses at most the step). MinutesPendingThrough: the highest row id not yet summarised;
  // ConversionPendingThrough: the highest not yet converted at all (summaries, flags, newest values);
  // nullopt when all are. Retention and room-making leave such rows alone until they are done.
  Result<std::optional<std::int64_t>> MinutesPendingThrough();
  Result<std::optional<std::int64_t>> ConversionPendingThrough();
  // One step; returns how many readings it converted (0 when there is nothing left to do).
  Result<std::uint64_t> BackfillMinutes(std::int64_t rows = 5000);
  // For each reading, whether the store already holds it: same device, metric, device time and device
  // sequence number (IdentityOf). Readings without an identity are never duplicates.
  Result<std::vector<bool>> AlreadyStored(const std::vector<core::Reading>& readings);

  Result<std::vector<DeviceRecord>> LoadDevices();
  Result<std::int64_t> ReadCounter(std::string_view name);
  Result<std::uint64_t> CountReadings();

  // Retention, in steps so the writer is never held for long: removes at most `limit` raw readings
  // received before `raw_cutoff` (their minute summaries stay) and, in the last step (fewer than `limit`
  // readings left), the summaries and newest values from before `summary_cutoff`. Returns how many
  // readings.
  Result<std::uint64_t> PruneReadings(core::WallTime raw_cutoff, core::WallTime summary_cutoff,
                                      std::uint64_t limit = 20'000);
  // Removes raw readings and summaries received before `cutoff` (both retention windows the same).
  Result<std::uint64_t> PruneReadingsBefore(core::WallTime cutoff);

  // What may go when the cap or the disk is reached (the pipeline keeps it up to date).
  void SetRoomPolicy(RoomPolicy policy);
  // The bytes the database's pages use now (its file size minus free pages), and what it may use.
  struct Usage {
    std::uint64_t used_bytes = 0;
    std::uint64_t file_bytes = 0;
    std::optional<std::uint64_t> capacity_bytes;  // the cap or the disk, whichever is nearer
  };
  Result<Usage> usage();

  // PRAGMA integrity_check: "ok" or the first problems found.
  Result<std::string> IntegrityCheck();

  const std::filesystem::path& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  Result<WriteOutcome> WriteOnce(const WriteBatch& batch, bool with_readings);
  Result<std::vector<core::Reading>> LoadLatest(const ReadingQuery& query);
  Result<std::vector<core::Reading>> LoadRaw(const ReadingQuery& query);
  std::unique_ptr<Impl> impl_;
};

// A second, read-only connection to the same file for the uplink thread, so reading the outbox never
// waits for the pipeline's fsync (WAL lets readers run beside the one writer). Not thread-safe: one
// thread only. Sees every transaction committed before each call.
class OutboxReader {
 public:
  // The database must exist (the Store creates and migrates it first).
  static Result<std::unique_ptr<OutboxReader>> Open(const std::filesystem::path& path);
  ~OutboxReader();
  OutboxReader(const OutboxReader&) = delete;
  OutboxReader& operator=(const OutboxReader&) = delete;

  // Outbox in sending order (priority, then insertion order), at most `limit` rows, only rows after
  // `after` when given (an index range scan: reading on from a position costs nothing for the rows
  // before it).
  Result<std::vector<OutboxRow>> Peek(std::size_t limit, std::optional<OutboxPosition> after = {});
  Result<OutboxStats> Stats();
  // Command ids still remembered at `now`, and the floor.
  Result<ReplayWindow> LoadReplayWindow(core::WallTime now);

 private:
  struct Impl;
  explicit OutboxReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// PRAGMA quick_check over the whole file through a read-only connection of its own, so it runs beside
// the writer (any thread; it reads every page: seconds for months of history). "ok" or the problems;
// Errc::kClosed soon after `cancel` becomes true.
Result<std::string> QuickCheckWholeFile(const std::filesystem::path& path,
                                        const std::atomic<bool>* cancel = nullptr);

// How many alerts of this severity are open, through a read-only connection of its own (any thread).
Result<std::uint64_t> CountOpenAlerts(const std::filesystem::path& path, std::string_view severity);

// What the status page shows from the database: open alerts (oldest first) and the devices' last known
// state, through a read-only connection of its own (any thread).
struct StatusView {
  std::vector<AlertRecord> open_alerts;
  std::vector<DeviceRecord> devices;
};
Result<StatusView> ReadStatusView(const std::filesystem::path& path);

// The schema version of the database file (0 when the file does not exist), without migrating it; any
// version, newer ones included. For the update helper and the package's downgrade check.
Result<int> ReadSchemaVersion(const std::filesystem::path& path);

// The highest device sequence number stored for a device and metric (a glucose meter's last record), read
// through a connection of its own, so any thread may ask.
Result<std::optional<std::uint32_t>> LastStoredSequence(const std::filesystem::path& path,
                                                        std::string_view device_id, std::string_view metric);

}  // namespace ehg::store
