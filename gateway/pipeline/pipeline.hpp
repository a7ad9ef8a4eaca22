#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "alerts/evaluator.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/device_time.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/reading_sink.hpp"
#include "gateway/core/telemetry.hpp"
#include "gateway/store/store.hpp"

// The single owner of state changes: takes readings from drivers in small batches and, in one store
// transaction per batch, stores them, runs the rule engine, stores alert changes and appends the
// resulting events to the outbox. A driver hears that a reading was accepted only after the commit.
namespace ehg::pipeline {

struct PipelineOptions {
  std::string gateway_id;
  std::string resident_pseudonym;
  std::size_t queue_capacity = 4096;
  std::chrono::milliseconds batch_window{5};
  std::size_t batch_max = 512;
  // Raw readings are kept this long, their minute summaries for the whole retention (docs/storage.md).
  std::chrono::days raw_readings_retention{7};
  std::chrono::days readings_retention{90};
  std::uint64_t outbox_budget_bytes = 0;  // for the storage rule; 0 = not watched
  // How often time-based rules (schedules, inactivity, silence, escalation) are evaluated.
  std::chrono::milliseconds tick_interval{1000};
  // How far each device's own time may lie from the receive time (docs/rules.md, "Time"); devices not
  // listed get `default_clock_tolerance`.
  std::map<std::string, core::DeviceClockTolerance> clock_tolerances;
  core::DeviceClockTolerance default_clock_tolerance =
      core::DefaultClockTolerance(core::DeviceTiming::kStoredRecords);
  // Where the pipeline's counters are declared; none: a registry of its own (tests, tools).
  core::telemetry::Registry* telemetry = nullptr;
};

// Monotonic counters, readable from any thread (status page, metrics, tests). Each is declared once, in
// the constructor, on the registry the pipeline's options name (docs/status-page.md lists them).
struct PipelineCounters {
  explicit PipelineCounters(core::telemetry::Registry& registry);
  using Counter = core::telemetry::Counter;
  Counter submitted;
  Counter stored;
  Counter rejected_invalid;    // outside the catalogue: unknown metric, unit, range
  Counter refused_queue_full;  // Submit returned false: queue at capacity
  Counter refused_stopping;    // Submit returned false: shutting down
  Counter unreliable;          // stored, but excluded from clinical rules
  Counter batches;
  Counter store_failures;  // batches whose transaction failed
  Counter alerts_raised;
  Counter alerts_updated;
  Counter alerts_resolved;
  Counter alerts_escalated;
  Counter alerts_acknowledged;
  Counter alerts_delivered;
  Counter suppressed_repeats;  // repeats of open alerts not sent as updates
  // Stored; older than a reading of the metric already evaluated: may raise, never resolves.
  Counter out_of_order;
  Counter late_beyond_horizon;   // stored; too old to raise anything
  Counter device_clock_suspect;  // the device's time was implausible: receive time used
  Counter duplicates;            // stored; ignored by the rules
  // The same device measurement (device, metric, device time, sequence) arrived again: not stored twice.
  Counter already_stored;
  core::telemetry::Gauge open_alerts;  // now, not cumulative
  Counter dropped_observations;        // removed from the outbox to honour its budget
  Counter outbox_changes;              // uplink changes committed
  Counter outbox_change_failures;
  Counter outbox_changes_refused;   // ApplyOutboxChange returned false: queue full
  Counter device_statuses;          // device link changes recorded
  Counter device_statuses_refused;  // ReportDeviceStatus returned false
  // Removed by the store to make room at its cap or a full disk (store::RoomPolicy), by step.
  Counter room_delivered_readings;
  Counter room_waiting_readings;
  Counter room_recent_readings;
  Counter room_summaries;
  // Readings not stored because even after making room there was none left beside the alerts' reserve.
  Counter refused_full;
  Counter pruned_readings;  // raw readings past their retention window
  // Writes that failed because SQLite found the file damaged: the daemon checks the whole file at once.
  Counter corruption_seen;
};

// What each device delivered since the gateway started, for the status page and /metrics. The last
// values are kept for a config that allows showing them; nothing else reads them.
struct DeviceActivity {
  struct LastValue {
    double value = 0;
    std::string unit;
    core::WallTime received_at{};
  };
  std::map<std::string, std::uint64_t> stored_by_metric;
  std::uint64_t rejected = 0;  // refused by the catalogue check (unknown metric or unit, impossible value)
  std::map<std::string, LastValue> last_values;
};

struct ActivityReport {
  std::map<std::string, DeviceActivity> devices;
  // (severity, change: raised, updated, escalated, delivered, acknowledged, resolved) -> count.
  std::map<std::pair<std::string, std::string>, std::uint64_t> alert_changes;
};

using store::OutboxChange;
using store::OutboxSnapshot;

using store::OutboxChangeDone;
// Told on the pipeline thread after events were committed to the outbox: the most urgent of them.
using OutboxListener = std::function<void(core::Priority most_urgent)>;

class Pipeline final : public core::ReadingSink,
                       public core::DeviceStatusSink,
                       public store::OutboxChangeSink {
 public:
  // The store is used only by the pipeline thread between Start() and Stop().
  Pipeline(store::Store& store, const core::Clock& clock, core::EventIdGenerator& ids,
           PipelineOptions options, alerts::RuleSet rules,
           std::shared_ptr<const alerts::TimeZone> zone = std::make_shared<alerts::UtcZone>());
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Loads open alerts, rule states, device state and the readings the rules remember from the store,
  // then starts the pipeline thread.
  Result<void> Start();
  // Refuses new readings, commits everything already queued, joins the thread. Idempotent.
  void Stop();

  // Thread-safe. Overflow policy: when the queue holds queue_capacity readings, Submit refuses (false)
  // and counts it; the driver keeps what it must not lose and retries. Never blocks.
  [[nodiscard]] bool Submit(core::Reading reading, core::ReadingDone done = {}) override;

  // Thread-safe. Records the device's link state and appends a device event, in the next loop. Refuses
  // (false, counted) when kDeviceStatusCapacity changes wait; the driver keeps it and offers it again.
  [[nodiscard]] bool ReportDeviceStatus(core::DeviceStatusChange change) override;
  static constexpr std::size_t kDeviceStatusCapacity = 256;

  // Thread-safe. Queues a change for the next loop of the pipeline thread, before any readings of that
  // loop (removals free room in the outbox). Overflow policy: at most kOutboxChangeCapacity changes wait;
  // beyond that it refuses (false, counted) and the caller keeps the change and offers it again.
  // `done` is called on the pipeline thread.
  [[nodiscard]] bool ApplyOutboxChange(OutboxChange change, OutboxChangeDone done = {}) override;
  static constexpr std::size_t kOutboxChangeCapacity = 64;

  // Set before Start(). Called on the pipeline thread; must only post work elsewhere.
  void SetOutboxListener(OutboxListener listener) { outbox_listener_ = std::move(listener); }
  OutboxSnapshot outbox() const override;

  // Swaps the rule set between two batches; open alerts of rules that no longer exist stay open.
  void ReplaceRules(alerts::RuleSet rules);

  // Steady time of the pipeline thread's last loop (for the systemd watchdog).
  core::SteadyTime LastHeartbeat() const;
  const PipelineCounters& counters() const { return counters_; }
  ActivityReport activity() const;  // thread-safe copy

 private:
  struct Submission {
    core::Reading reading;
    core::ReadingDone done;
  };

  struct PendingChange {
    OutboxChange change;
    OutboxChangeDone done;
  };

  void Run();
  void ProcessChanges(std::deque<PendingChange>& changes);
  void ProcessDeviceStatuses(std::deque<core::DeviceStatusChange>& statuses);
  // The device's record as last committed, or a fresh one.
  store::DeviceRecord KnownDevice(const std::string& device_id) const;
  void ProcessBatch(std::deque<Submission>& batch);
  // The time model: judges each reading's device time against its receive time (logged once per
  // episode and device; counted once stored).
  void JudgeDeviceTimes(std::vector<core::Reading>& readings);
  const core::DeviceClockTolerance& ToleranceFor(const std::string& device_id) const;
  // Removes readings the store already holds (or that repeat inside the batch); false when the check
  // itself failed and every reading was refused.
  bool DropAlreadyStored(std::vector<Submission*>& accepted, std::vector<core::Reading>& readings);
  void AfterCommit(const store::WriteOutcome& outcome, const std::vector<core::Event>& events);
  void Housekeeping();
  // One step of retention (at most a few thousand rows, so readings never wait long behind it).
  void PruneStep();
  // One step of converting the readings an older build stored, when the pipeline has nothing else to do.
  void BackfillMinutes();
  // What the store may remove when full: never the evidence of an open alert, nor summaries a rule
  // window still reaches. Before every write.
  void UpdateRoomPolicy(core::WallTime now);
  // Counts what the store removed to make room; a gateway event at the start of each episode.
  void NoteRoomMade(const store::RoomMade& made);
  void Tick();
  // Rebuilds the rule engine's state from the store: at start, and when new rules may look back further.
  Result<void> RestoreEngineState();
  // Turns an evaluation into outbox events, alert records and rule states in `write`.
  void AddEvaluation(alerts::Evaluation& evaluation, store::WriteBatch& write, core::WallTime now);
  void CountEvaluation(const alerts::Evaluation& evaluation);

  store::Store& store_;
  const core::Clock& clock_;
  core::EventIdGenerator& ids_;
  PipelineOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Submission> queue_;
  std::deque<PendingChange> changes_;
  std::deque<core::DeviceStatusChange> device_statuses_;
  std::optional<alerts::RuleSet> pending_rules_;
  bool accepting_ = false;
  bool stop_requested_ = false;
  std::thread thread_;

  // Pipeline thread only.
  std::shared_ptr<const alerts::TimeZone> zone_;
  alerts::Evaluator evaluator_;
  alerts::EngineState engine_;
  std::optional<core::SteadyTime> next_tick_;
  std::optional<core::SteadyTime> clock_unsynchronised_since_;
  std::map<std::string, store::DeviceRecord> devices_;
  std::set<std::string> devices_with_suspect_clock_;
  std::optional<core::SteadyTime> next_housekeeping_;
  // Readings an older build stored still wait to be converted (store::Store::BackfillMinutes).
  bool backfill_pending_ = false;
  // Retention stopped at its step size: more raw readings are past their window.
  bool prune_pending_ = false;
  // Since when the store has been making room (an episode ends an hour after the last time).
  std::optional<core::SteadyTime> room_episode_last_;
  store::RoomMade room_episode_made_;

  OutboxListener outbox_listener_;

  std::atomic<std::int64_t> heartbeat_{0};
  std::atomic<std::uint64_t> outbox_rows_{0};
  std::atomic<std::uint64_t> outbox_bytes_{0};
  std::atomic<std::uint64_t> outbox_alert_rows_{0};
  std::atomic<std::uint64_t> dropped_total_{0};
  core::telemetry::OwnOrShared telemetry_;
  PipelineCounters counters_;
  mutable std::mutex activity_mutex_;
  ActivityReport activity_;
};

}  // namespace ehg::pipeline
