#include "gateway/pipeline/pipeline.hpp"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "gateway/core/log.hpp"
#include "gateway/core/thread_name.hpp"
#include "gateway/core/vital_signs.hpp"
#include "gateway/pipeline/event_bodies.hpp"

namespace ehg::pipeline {
namespace {

constexpr std::chrono::minutes kHousekeepingInterval{60};
constexpr std::chrono::milliseconds kBackfillPause{50};
// The longest the thread sleeps without work, so the watchdog heartbeat keeps moving.
constexpr std::chrono::milliseconds kIdleWake{500};

// The engine state as it was before a transaction, put back when the transaction fails, so the rules
// never remember what the store does not have. Readings change everything; timers, receipts and care
// workers' decisions change only the alerts and rule states (kept without copying the reading memory).
class EngineSavepoint {
 public:
  // Alerts, rule states and the rules' verdict runs (timed rules step them too).
  explicit EngineSavepoint(alerts::EngineState& engine)
      : engine_(&engine), open_(engine.open), rules_(engine.rules), runs_(engine.runs) {}

  // Everything readings of `metrics` can change: a copy of the state without the windows, whose changes
  // the windows themselves journal (a window is a few hundred kilobytes; a batch changes a few buckets).
  // Unless rolled back, the windows keep their changes when the savepoint goes.
  EngineSavepoint(alerts::EngineState& engine, std::set<std::string> metrics)
      : engine_(&engine), metrics_(std::move(metrics)) {
    std::map<std::string, alerts::BucketWindow> windows = std::move(engine.windows);
    engine.windows.clear();
    whole_ = engine;
    engine.windows = std::move(windows);
    for (auto& [key, window] : engine.windows) {
      if (metrics_.count(window.metric()) == 0) continue;
      window.BeginJournal();
      journaled_.insert(key);
    }
  }
  ~EngineSavepoint() {
    for (const std::string& key : journaled_) {
      if (auto found = engine_->windows.find(key); found != engine_->windows.end())
        found->second.EndJournal();
    }
  }
  EngineSavepoint(const EngineSavepoint&) = delete;
  EngineSavepoint& operator=(const EngineSavepoint&) = delete;

  void RollBack() {
    alerts::EngineState& engine = *engine_;
    if (!whole_) {
      engine.open = std::move(open_);
      engine.rules = std::move(rules_);
      engine.runs = std::move(runs_);
      return;
    }
    std::map<std::string, alerts::BucketWindow> windows = std::move(engine.windows);
    engine = std::move(*whole_);
    // Windows made during the batch go; the others undo what the batch did to them.
    std::erase_if(windows, [this](const auto& entry) {
      return metrics_.count(entry.second.metric()) > 0 && journaled_.count(entry.first) == 0;
    });
    for (const std::string& key : journaled_) {
      if (auto found = windows.find(key); found != windows.end()) found->second.Undo();
    }
    journaled_.clear();
    engine.windows = std::move(windows);
  }

 private:
  alerts::EngineState* engine_ = nullptr;
  std::optional<alerts::EngineState> whole_;
  std::set<std::string> metrics_;
  std::set<std::string> journaled_;  // keys of the windows with an open journal
  alerts::OpenAlerts open_;
  std::map<std::string, alerts::RuleState> rules_;
  std::map<std::string, std::vector<alerts::VerdictRun>> runs_;
};

store::AlertRecord ToRecord(const alerts::Alert& alert) {
  return store::AlertRecord{alert.alert_id,
                            alert.rule_id,
                            std::string(alerts::ToString(alert.severity)),
                            std::string(alerts::ToString(alert.state)),
                            alert.state != alerts::AlertState::kResolved,
                            alert.raised_at,
                            alert.updated_at,
                            AlertToJson(alert)};
}

// Families of several of the pipeline's counters (docs/status-page.md, "GET /metrics").
const core::telemetry::Family kReadingsRefused{
    "ehg_readings_refused_total",
    "Readings the pipeline refused since start: outside the catalogue (invalid), its queue full (the driver "
    "offers them again) or stopping.",
    {"reason"}};
const core::telemetry::Family kAlertChanges{
    "ehg_alert_changes_total",
    "Alert changes the rule engine made since start, all severities, by change.",
    {"change"}};
const core::telemetry::Family kTimeJudged{
    "ehg_readings_time_judged_total",
    "Readings since start whose device time was implausible (receive time used), that arrived late (older "
    "than a reading of their metric already evaluated: may raise, never resolve), or late beyond the 24 h a "
    "late reading may raise in.",
    {"judgement"}};
const core::telemetry::Family kRoomMade{
    "ehg_store_room_made_total",
    "Rows the store removed to make room at its cap or a full disk since start, by what they were.",
    {"what"}};

}  // namespace

PipelineCounters::PipelineCounters(core::telemetry::Registry& registry)
    : submitted(registry.AddCounter(
          {"ehg_readings_submitted_total",
           "Readings the drivers offered the pipeline since start, refused ones included.",
           {}})),
      stored(registry.AddCounter(
          {"ehg_readings_stored_total", "Readings stored since start, all devices.", {}})),
      rejected_invalid(registry.AddCounter(kReadingsRefused, {"invalid"})),
      refused_queue_full(registry.AddCounter(kReadingsRefused, {"queue_full"})),
      refused_stopping(registry.AddCounter(kReadingsRefused, {"stopping"})),
      unreliable(registry.AddCounter(
          {"ehg_readings_unreliable_total",
           "Readings stored since start but left out of clinical rules (the device flagged them unreliable).",
           {}})),
      batches(registry.AddCounter(
          {"ehg_pipeline_batches_total", "Batches the pipeline committed since start.", {}})),
      store_failures(registry.AddCounter(
          {"ehg_store_failures_total", "Batches whose database transaction failed since start.", {}})),
      alerts_raised(registry.AddCounter(kAlertChanges, {"raised"})),
      alerts_updated(registry.AddCounter(kAlertChanges, {"updated"})),
      alerts_resolved(registry.AddCounter(kAlertChanges, {"resolved"})),
      alerts_escalated(registry.AddCounter(kAlertChanges, {"escalated"})),
      alerts_acknowledged(registry.AddCounter(kAlertChanges, {"acknowledged"})),
      alerts_delivered(registry.AddCounter(kAlertChanges, {"delivered"})),
      suppressed_repeats(registry.AddCounter(kAlertChanges, {"repeat_suppressed"})),
      out_of_order(registry.AddCounter(kTimeJudged, {"late"})),
      late_beyond_horizon(registry.AddCounter(kTimeJudged, {"late_beyond_horizon"})),
      device_clock_suspect(registry.AddCounter(kTimeJudged, {"device_clock_suspect"})),
      duplicates(registry.AddCounter(
          {"ehg_readings_duplicate_total",
           "Readings stored since start that repeat one the rules already saw (ignored by the rules).",
           {}})),
      already_stored(registry.AddCounter(
          {"ehg_readings_already_stored_total",
           "Device measurements that arrived again since start (same device, metric, time, sequence): not "
           "stored twice.",
           {}})),
      open_alerts(
          registry.AddGauge({"ehg_pipeline_open_alerts", "Alerts the rule engine holds open now.", {}})),
      dropped_observations(registry.AddCounter(core::telemetry::DroppedFamily(), {"outbox_budget"})),
      outbox_changes(
          registry.AddCounter({"ehg_outbox_changes_total",
                               "Changes to the outbox (acknowledged events) committed since start.",
                               {}})),
      outbox_change_failures(registry.AddCounter(
          {"ehg_outbox_change_failures_total",
           "Outbox changes whose database transaction failed since start (the uplink offers them again).",
           {}})),
      outbox_changes_refused(registry.AddCounter(
          {"ehg_outbox_changes_refused_total",
           "Outbox changes the pipeline refused since start because its queue was full (offered again).",
           {}})),
      device_statuses(registry.AddCounter(
          {"ehg_device_statuses_total", "Device link changes recorded since start.", {}})),
      device_statuses_refused(registry.AddCounter(
          {"ehg_device_statuses_refused_total",
           "Device link changes the pipeline refused since start because its queue was full (offered again).",
           {}})),
      room_delivered_readings(registry.AddCounter(kRoomMade, {"delivered_readings"})),
      room_waiting_readings(registry.AddCounter(kRoomMade, {"waiting_readings"})),
      room_recent_readings(registry.AddCounter(kRoomMade, {"recent_readings"})),
      room_summaries(registry.AddCounter(kRoomMade, {"summaries"})),
      refused_full(registry.AddCounter(core::telemetry::DroppedFamily(), {"store_full"})),
      pruned_readings(registry.AddCounter(
          {"ehg_store_readings_pruned_total", "Raw readings removed past their retention since start.", {}})),
      corruption_seen(registry.AddCounter({"ehg_store_corruption_seen_total",
                                           "Database writes since start that failed because the file is "
                                           "damaged (a whole-file check follows).",
                                           {}})) {}

Pipeline::Pipeline(store::Store& store, const core::Clock& clock, core::EventIdGenerator& ids,
                   PipelineOptions options, alerts::RuleSet rules,
                   std::shared_ptr<const alerts::TimeZone> zone)
    : store_(store),
      clock_(clock),
      ids_(ids),
      options_(std::move(options)),
      zone_(std::move(zone)),
      evaluator_(std::move(rules), zone_),
      telemetry_(options_.telemetry),
      counters_(telemetry_.get()) {}

Pipeline::~Pipeline() {
  Stop();
}

Result<void> Pipeline::RestoreEngineState() {
  alerts::EngineState engine;
  auto alerts = store_.LoadOpenAlerts();
  if (!alerts) return tl::unexpected(alerts.error());
  for (const store::AlertRecord& record : *alerts) {
    auto alert = AlertFromJson(record.detail);
    if (!alert) {
      // An unreadable alert must not stop the gateway; it stays in the store for inspection.
      core::LogError("open alert could not be restored",
                     {{"alert_id", record.alert_id}, {"reason", alert.error().message}});
      continue;
    }
    engine.open[alert->Key()] = std::move(*alert);
  }
  auto rule_states = store_.LoadRuleStates();
  if (!rule_states) return tl::unexpected(rule_states.error());
  for (const auto& [key, detail] : *rule_states) {
    auto state = RuleStateFromJson(detail);
    if (!state) {
      core::LogError("rule state could not be restored; the rule starts afresh",
                     {{"rule", key}, {"reason", state.error().message}});
      continue;
    }
    engine.rules[key] = std::move(*state);
  }
  // The readings the rules remember. Windows of a minute's buckets or more come from the per-minute
  // summaries (a week of a 1 Hz oximeter is 10,080 rows, not 604,800); shorter ones, which reach back at
  // most about an hour, from the readings themselves.
  const core::WallTime now = clock_.Now();
  // Nothing the store holds from beyond the furthest a device clock may be ahead is taken: a reading
  // stored by an older build with a time a year ahead would otherwise be the newest of its metric.
  const core::WallTime until = now + alerts::kFurthestAhead;
  auto pending = store_.MinutesPendingThrough();
  if (!pending) return tl::unexpected(pending.error());
  auto converting = store_.ConversionPendingThrough();
  if (!converting) return tl::unexpected(converting.error());
  backfill_pending_ = converting->has_value();
  const auto restore_readings = [&](const alerts::WindowSpec& spec,
                                    store::ReadingQuery query) -> Result<void> {
    auto readings = store_.LoadReadings(query);
    if (!readings) return tl::unexpected(readings.error());
    for (const core::Reading& reading : *readings) {
      const alerts::Evidence evidence{reading.device_id, reading.metric, reading.value, reading.unit,
                                      reading.EffectiveTime()};
      evaluator_.RestoreWindow(engine, spec, alerts::WindowSample::Of(evidence));
    }
    return {};
  };
  for (const alerts::WindowSpec& spec : evaluator_.Windows()) {
    const core::WallTime since = now - spec.span - spec.bucket;
    store::ReadingQuery raw;
    raw.metrics = {spec.metric};
    raw.since = since;
    raw.until = until;
    raw.usable_only = true;
    if (spec.bucket >= std::chrono::minutes{1}) {
      auto minutes = store_.LoadUsableMinutes(spec.metric, since, until);
      if (!minutes) return tl::unexpected(minutes.error());
      for (const store::MinuteSummary& minute : *minutes) {
        evaluator_.RestoreWindow(
            engine, spec,
            alerts::WindowSample{minute.minute, minute.usable, minute.usable_sum, minute.usable_min,
                                 minute.usable_min_time, minute.device_id, minute.usable_max,
                                 minute.usable_max_time, minute.device_id});
      }
      // Readings an older build stored and the backfill has not summarised yet.
      if (!*pending) continue;
      raw.stored_through = **pending;
    }
    if (auto restored = restore_readings(spec, raw); !restored) return restored;
  }
  // The newest reading per source within the longest look-back a rule can have (a `within` schedule of
  // up to 60 days): older ones decide nothing, and the bound keeps start-up time independent of retention.
  const core::WallTime recent = now - std::chrono::days{60};
  std::vector<std::string> event_metrics;
  for (const core::MetricInfo& metric : core::AllMetrics()) {
    if (metric.kind == core::MetricKind::kEvent) event_metrics.emplace_back(metric.name);
  }
  for (int kind = 0; kind < 3; ++kind) {
    store::ReadingQuery query;  // any reading, usable ones (freshest values), activity
    query.since = recent;
    query.until = until;
    query.latest_per_source = true;
    query.usable_only = kind == 1;
    if (kind == 2) {
      query.metrics = event_metrics;
      query.nonzero_only = true;
    }
    auto readings = store_.LoadReadings(query);
    if (!readings) return tl::unexpected(readings.error());
    for (core::Reading& reading : *readings) {
      reading.taken_at_unknown = reading.device_clock_suspect &&
                                 ToleranceFor(reading.device_id).timing == core::DeviceTiming::kStoredRecords;
      evaluator_.RememberLatest(engine, reading);
    }
  }
  for (const auto& [id, device] : devices_) {
    if (device.last_seen) {
      auto& last_seen = engine.last_seen_by_device[id];
      last_seen = std::max(last_seen, *device.last_seen);
    }
  }
  engine_ = std::move(engine);
  counters_.open_alerts.Set(static_cast<double>(engine_.open.size()));
  return {};
}

Result<void> Pipeline::Start() {
  auto devices = store_.LoadDevices();
  if (!devices) return tl::unexpected(devices.error().WithContext("pipeline: start"));
  for (store::DeviceRecord& device : *devices)
    devices_[device.device_id] = std::move(device);
  if (auto restored = RestoreEngineState(); !restored) {
    return tl::unexpected(restored.error().WithContext("pipeline: start"));
  }

  auto dropped = store_.ReadCounter(store::kDroppedObservations);
  if (!dropped) return tl::unexpected(dropped.error().WithContext("pipeline: start"));
  dropped_total_.store(static_cast<std::uint64_t>(*dropped));
  AfterCommit({}, {});

  heartbeat_.store(clock_.SteadyNow().time_since_epoch().count());
  {
    std::lock_guard lock(mutex_);
    accepting_ = true;
    stop_requested_ = false;
  }
  thread_ = std::thread([this] { Run(); });
  core::LogInfo("pipeline started", {{"open_alerts", engine_.open.size()},
                                     {"rule_states", engine_.rules.size()},
                                     {"rules", evaluator_.rules().size()}});
  return {};
}

void Pipeline::Stop() {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    stop_requested_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    core::LogInfo("pipeline stopped", {{"stored", counters_.stored.load()}});
  }
}

bool Pipeline::Submit(core::Reading reading, core::ReadingDone done) {
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) {
      ++counters_.refused_stopping;
      return false;
    }
    if (queue_.size() >= options_.queue_capacity) {
      const std::uint64_t refused = ++counters_.refused_queue_full;
      // Log the first refusal and then every 1000th, so a stuck store does not also flood the journal.
      if (refused % 1000 == 1) {
        core::LogWarning("pipeline queue full, reading refused", {{"device", reading.device_id},
                                                                  {"capacity", options_.queue_capacity},
                                                                  {"refused_total", refused}});
      }
      return false;
    }
    queue_.push_back(Submission{std::move(reading), std::move(done)});
    ++counters_.submitted;
  }
  wake_.notify_one();
  return true;
}

bool Pipeline::ApplyOutboxChange(OutboxChange change, OutboxChangeDone done) {
  {
    std::lock_guard lock(mutex_);
    if (!accepting_ || changes_.size() >= kOutboxChangeCapacity) {
      ++counters_.outbox_changes_refused;
      return false;
    }
    changes_.push_back(PendingChange{std::move(change), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

bool Pipeline::ReportDeviceStatus(core::DeviceStatusChange change) {
  {
    std::lock_guard lock(mutex_);
    if (!accepting_ || device_statuses_.size() >= kDeviceStatusCapacity) {
      ++counters_.device_statuses_refused;
      return false;
    }
    device_statuses_.push_back(std::move(change));
  }
  wake_.notify_one();
  return true;
}

OutboxSnapshot Pipeline::outbox() const {
  return OutboxSnapshot{outbox_rows_.load(), outbox_bytes_.load(), outbox_alert_rows_.load(),
                        dropped_total_.load()};
}

void Pipeline::ReplaceRules(alerts::RuleSet rules) {
  {
    std::lock_guard lock(mutex_);
    pending_rules_ = std::move(rules);
  }
  wake_.notify_one();
}

core::SteadyTime Pipeline::LastHeartbeat() const {
  return core::SteadyTime{core::SteadyTime::duration{heartbeat_.load()}};
}

void Pipeline::Run() {
  core::NameThisThread("ehg-pipeline");
  std::unique_lock lock(mutex_);
  while (true) {
    // While old readings wait to be summarised, the idle loop does a step of that every kBackfillPause.
    wake_.wait_for(lock, backfill_pending_ || prune_pending_ ? kBackfillPause : kIdleWake, [this] {
      return !queue_.empty() || !changes_.empty() || !device_statuses_.empty() || stop_requested_ ||
             pending_rules_;
    });
    bool rules_replaced = false;
    if (pending_rules_) {
      evaluator_ = alerts::Evaluator(std::move(*pending_rules_), zone_);
      pending_rules_.reset();
      rules_replaced = true;
    }
    if (!queue_.empty() && !stop_requested_ && options_.batch_window.count() > 0) {
      // Gather a little more so one fsync covers many readings.
      wake_.wait_for(lock, options_.batch_window,
                     [this] { return queue_.size() >= options_.batch_max || stop_requested_; });
    }
    std::deque<PendingChange> changes;
    changes.swap(changes_);
    std::deque<core::DeviceStatusChange> statuses;
    statuses.swap(device_statuses_);
    std::deque<Submission> batch;
    while (!queue_.empty() && batch.size() < options_.batch_max) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool finished = stop_requested_ && queue_.empty() && changes_.empty() && device_statuses_.empty();
    lock.unlock();
    if (rules_replaced) {
      // A new trend rule may look back further than the old rules did: reload what it needs.
      if (auto restored = RestoreEngineState(); !restored) {
        core::LogError("rule state not reloaded for the new rules", {{"reason", restored.error().message}});
      }
      core::LogInfo("rules replaced", {{"rules", evaluator_.rules().size()}});
    }
    if (!changes.empty()) ProcessChanges(changes);
    if (!statuses.empty()) ProcessDeviceStatuses(statuses);
    if (!batch.empty()) ProcessBatch(batch);
    Tick();
    Housekeeping();
    if (batch.empty() && changes.empty() && backfill_pending_) BackfillMinutes();
    if (batch.empty() && changes.empty() && prune_pending_ && !backfill_pending_) PruneStep();
    heartbeat_.store(clock_.SteadyNow().time_since_epoch().count());
    lock.lock();
    if (finished) break;
  }
}

store::DeviceRecord Pipeline::KnownDevice(const std::string& device_id) const {
  const auto known = devices_.find(device_id);
  return known != devices_.end() ? known->second : store::DeviceRecord{device_id, {}, {}, {}, {}, {}};
}

void Pipeline::ProcessDeviceStatuses(std::deque<core::DeviceStatusChange>& statuses) {
  const EventContext context{options_.gateway_id, options_.resident_pseudonym};
  const core::WallTime now = clock_.Now();
  store::WriteBatch write;
  std::map<std::string, store::DeviceRecord> touched;
  for (const core::DeviceStatusChange& change : statuses) {
    auto [entry, first] = touched.try_emplace(change.device_id);
    if (first) entry->second = KnownDevice(change.device_id);
    entry->second.connected = change.connected;
    entry->second.last_error = change.connected ? std::string() : change.detail;
    entry->second.updated_at = now;
    core::Event event{ids_.Next(), core::EventKind::kDevice, core::Priority::kNormal, now, {}};
    event.body = DeviceEventBody(context, event.id, change);
    write.events.push_back(std::move(event));
  }
  for (auto& [id, device] : touched)
    write.devices.push_back(device);
  UpdateRoomPolicy(now);
  auto written = store_.Write(write);
  if (written) NoteRoomMade(written->room_made);
  if (!written) {
    ++counters_.store_failures;
    if (written.error().code == Errc::kCorrupt) ++counters_.corruption_seen;
    core::LogError("device status not stored", {{"changes", statuses.size()},
                                                {"code", ToString(written.error().code)},
                                                {"reason", written.error().message}});
    return;
  }
  counters_.device_statuses += statuses.size();
  AfterCommit(*written, write.events);
  for (auto& [id, device] : touched)
    devices_[id] = std::move(device);
}

void Pipeline::ProcessChanges(std::deque<PendingChange>& changes) {
  // All waiting changes share one transaction: one fsync for many acknowledgements.
  store::WriteBatch write;
  for (PendingChange& pending : changes) {
    OutboxChange& change = pending.change;
    write.sent_sequences.insert(write.sent_sequences.end(), change.sent_sequences.begin(),
                                change.sent_sequences.end());
    write.receipted_events.insert(write.receipted_events.end(), change.receipted_events.begin(),
                                  change.receipted_events.end());
    // Kept parallel to receipted_events (a change that says nothing held nothing).
    change.receipt_held.resize(change.receipted_events.size(), false);
    write.receipt_held.insert(write.receipt_held.end(), change.receipt_held.begin(),
                              change.receipt_held.end());
    for (core::Event& event : change.events)
      write.events.push_back(event);
    for (auto& [name, value] : change.settings)
      write.settings[name] = value;
    write.seen_commands.insert(write.seen_commands.end(), change.seen_commands.begin(),
                               change.seen_commands.end());
    if (change.forget_commands_before) write.forget_commands_before = change.forget_commands_before;
  }
  // Receipts mark their alerts delivered; care workers' decisions change alerts, in the same transaction.
  const core::WallTime now = clock_.Now();
  EngineSavepoint savepoint(engine_);
  alerts::Evaluation evaluation;
  for (const core::EventId& event_id : write.receipted_events)
    evaluation.Append(evaluator_.MarkDelivered(engine_, event_id.ToString(), now));
  std::vector<store::AlertActionResult> action_results;
  for (PendingChange& pending : changes) {
    for (const store::AlertAction& action : pending.change.alert_actions) {
      const bool acknowledge = action.kind == store::AlertAction::Kind::kAcknowledge;
      alerts::ActionResult result =
          acknowledge ? evaluator_.Acknowledge(engine_, action.alert_id, action.by, now)
                      : evaluator_.Resolve(engine_, action.alert_id, action.by, action.note, now);
      const char* done = acknowledge ? "acknowledged" : "resolved";
      switch (result.outcome) {
        case alerts::ActionOutcome::kDone:
          action_results.push_back({true, std::string(done)});
          break;
        case alerts::ActionOutcome::kAlreadyDone:
          action_results.push_back({true, "already " + std::string(done)});
          break;
        case alerts::ActionOutcome::kUnknownAlert:
          action_results.push_back({false, "no open alert with this id (unknown or already resolved)"});
          break;
      }
      evaluation.Append(std::move(result.evaluation));
    }
  }
  AddEvaluation(evaluation, write, now);

  UpdateRoomPolicy(now);
  auto written = store_.Write(write);
  if (written) NoteRoomMade(written->room_made);
  if (!written) {
    savepoint.RollBack();
    counters_.outbox_change_failures += changes.size();
    if (written.error().code == Errc::kCorrupt) ++counters_.corruption_seen;
    core::LogError("uplink change not stored", {{"changes", changes.size()},
                                                {"code", ToString(written.error().code)},
                                                {"reason", written.error().message}});
    for (PendingChange& pending : changes) {
      if (pending.done) pending.done(tl::unexpected(written.error()));
    }
    return;
  }
  counters_.outbox_changes += changes.size();
  AfterCommit(*written, write.events);
  CountEvaluation(evaluation);
  // Each caller hears the outcome of its own receipts.
  std::size_t receipt_offset = 0;
  std::size_t action_offset = 0;
  for (PendingChange& pending : changes) {
    const std::size_t receipts = pending.change.receipted_events.size();
    const std::size_t actions = pending.change.alert_actions.size();
    if (pending.done) {
      store::WriteOutcome own;
      own.removed_rows = written->removed_rows;
      const auto first = written->receipt_matched.begin() + static_cast<std::ptrdiff_t>(receipt_offset);
      own.receipt_matched.assign(first, first + static_cast<std::ptrdiff_t>(receipts));
      const auto first_action = action_results.begin() + static_cast<std::ptrdiff_t>(action_offset);
      own.alert_action_results.assign(first_action, first_action + static_cast<std::ptrdiff_t>(actions));
      pending.done(own);
    }
    receipt_offset += receipts;
    action_offset += actions;
  }
}

void Pipeline::AfterCommit(const store::WriteOutcome& outcome, const std::vector<core::Event>& events) {
  const store::OutboxStats stats = store_.outbox_stats();
  outbox_rows_.store(stats.rows);
  outbox_bytes_.store(stats.bytes);
  outbox_alert_rows_.store(stats.alert_rows);
  dropped_total_ += outcome.dropped_observations;
  dropped_total_ -= std::min(dropped_total_.load(), outcome.delivered_after_drop);
  if (events.empty() || !outbox_listener_) return;
  core::Priority most_urgent = core::Priority::kBulk;
  for (const core::Event& event : events)
    most_urgent = std::min(most_urgent, event.priority);
  outbox_listener_(most_urgent);
}

bool Pipeline::DropAlreadyStored(std::vector<Submission*>& accepted, std::vector<core::Reading>& readings) {
  auto stored = store_.AlreadyStored(readings);
  if (!stored) {
    ++counters_.store_failures;
    core::LogError("duplicate check failed; readings refused",
                   {{"readings", readings.size()}, {"reason", stored.error().message}});
    for (Submission* submission : accepted) {
      if (submission->done) submission->done(submission->reading, tl::unexpected(stored.error()));
    }
    return false;
  }
  // A measurement repeated inside one batch counts as stored once too.
  std::set<store::ReadingIdentity> in_batch;
  std::vector<Submission*> kept_submissions;
  std::vector<core::Reading> kept_readings;
  for (std::size_t i = 0; i < readings.size(); ++i) {
    const core::Reading& reading = readings[i];
    bool duplicate = (*stored)[i];
    if (const auto identity = store::IdentityOf(reading); !duplicate && identity)
      duplicate = !in_batch.insert(*identity).second;
    if (!duplicate) {
      kept_submissions.push_back(accepted[i]);
      kept_readings.push_back(reading);
      continue;
    }
    ++counters_.already_stored;
    core::LogInfo("measurement already stored; the repeat is ignored",
                  {{"device", reading.device_id}, {"metric", reading.metric}});
    if (accepted[i]->done) {
      accepted[i]->done(accepted[i]->reading,
                        Fail(Errc::kRejected, "already stored (the device sent it again)"));
    }
  }
  accepted = std::move(kept_submissions);
  readings = std::move(kept_readings);
  return true;
}

const core::DeviceClockTolerance& Pipeline::ToleranceFor(const std::string& device_id) const {
  const auto tolerance = options_.clock_tolerances.find(device_id);
  return tolerance != options_.clock_tolerances.end() ? tolerance->second : options_.default_clock_tolerance;
}

void Pipeline::JudgeDeviceTimes(std::vector<core::Reading>& readings) {
  for (core::Reading& reading : readings) {
    const core::DeviceTimeVerdict verdict = core::JudgeDeviceTime(reading, ToleranceFor(reading.device_id));
    if (verdict == core::DeviceTimeVerdict::kPlausible) {
      if (devices_with_suspect_clock_.erase(reading.device_id) > 0)
        core::LogInfo("device clock plausible again", {{"device", reading.device_id}});
    } else if (reading.device_clock_suspect) {
      if (devices_with_suspect_clock_.insert(reading.device_id).second) {
        core::LogWarning("device clock implausible; its readings count at their receive time",
                         {{"device", reading.device_id}, {"clock", core::ToString(verdict)}});
      }
    }
  }
}

void Pipeline::ProcessBatch(std::deque<Submission>& batch) {
  const core::WallTime now = clock_.Now();
  const EventContext context{options_.gateway_id, options_.resident_pseudonym};

  // Validate against the catalogue; what fails is refused with a reason, counted and logged.
  std::vector<Submission*> accepted;
  store::WriteBatch write;
  for (Submission& submission : batch) {
    const core::Reading& reading = submission.reading;
    if (auto valid = core::ValidateReading(reading); !valid) {
      ++counters_.rejected_invalid;
      {
        std::lock_guard lock(activity_mutex_);
        ++activity_.devices[reading.device_id].rejected;
      }
      core::LogWarning(
          "reading rejected",
          {{"device", reading.device_id}, {"metric", reading.metric}, {"reason", valid.error().message}});
      core::LogDebug("rejected reading value", {{"device", reading.device_id}, {"value", reading.value}});
      if (submission.done) submission.done(reading, tl::unexpected(valid.error()));
      continue;
    }
    accepted.push_back(&submission);
    write.readings.push_back(reading);
  }
  if (accepted.empty()) return;
  JudgeDeviceTimes(write.readings);
  if (!DropAlreadyStored(accepted, write.readings)) return;
  if (accepted.empty()) return;

  std::set<std::string> metrics;
  for (const core::Reading& reading : write.readings)
    metrics.insert(reading.metric);
  EngineSavepoint savepoint(engine_, std::move(metrics));
  alerts::Evaluation evaluation =
      evaluator_.OnReadings(write.readings, engine_, now, [this] { return ids_.Next().ToString(); });

  std::map<std::string, store::DeviceRecord> touched;
  for (const core::Reading& reading : write.readings) {
    auto [entry, first_in_batch] = touched.try_emplace(reading.device_id);
    store::DeviceRecord& device = entry->second;
    if (first_in_batch) device = KnownDevice(reading.device_id);
    device.last_seen = reading.received_at;
    if (reading.metric == "battery") device.battery_percent = reading.value;
    device.updated_at = now;

    core::Event event{ids_.Next(), core::EventKind::kObservation, core::Priority::kBulk, now, {}};
    event.body = ObservationBody(context, event.id, reading);
    write.events.push_back(std::move(event));
  }
  for (auto& [id, device] : touched)
    write.devices.push_back(device);
  AddEvaluation(evaluation, write, now);

  UpdateRoomPolicy(now);
  auto written = store_.Write(write);
  ++counters_.batches;
  if (written) NoteRoomMade(written->room_made);
  if (written && written->readings_refused) {
    // No room for the readings even after making room: the alerts and device state of the batch were
    // stored (in the room kept for them), the readings were not, and their drivers are told so.
    counters_.refused_full += write.readings.size();
    core::LogError("storage full: readings refused, alerts kept", {{"readings", write.readings.size()}});
    AfterCommit(*written, write.events);
    for (auto& [id, device] : touched)
      devices_[id] = std::move(device);
    CountEvaluation(evaluation);
    for (Submission* submission : accepted) {
      if (submission->done)
        submission->done(submission->reading,
                         Fail(Errc::kFull, "no room left in the database beside the alerts' reserve"));
    }
    return;
  }
  if (!written) {
    ++counters_.store_failures;
    if (written.error().code == Errc::kCorrupt) ++counters_.corruption_seen;
    core::LogError("batch not stored; readings refused", {{"readings", write.readings.size()},
                                                          {"code", ToString(written.error().code)},
                                                          {"reason", written.error().message}});
    for (Submission* submission : accepted) {
      if (submission->done) submission->done(submission->reading, tl::unexpected(written.error()));
    }
    savepoint.RollBack();
    return;
  }

  AfterCommit(*written, write.events);
  for (auto& [id, device] : touched)
    devices_[id] = std::move(device);
  counters_.stored += write.readings.size();
  counters_.device_clock_suspect += static_cast<std::uint64_t>(
      std::count_if(write.readings.begin(), write.readings.end(),
                    [](const core::Reading& r) { return r.device_clock_suspect; }));
  {
    std::lock_guard lock(activity_mutex_);
    for (const core::Reading& reading : write.readings) {
      DeviceActivity& device = activity_.devices[reading.device_id];
      ++device.stored_by_metric[reading.metric];
      device.last_values[reading.metric] = {reading.value, reading.unit, reading.received_at};
    }
  }
  if (written->dropped_observations > 0) {
    counters_.dropped_observations += written->dropped_observations;
    core::LogWarning("outbox full: oldest observations dropped",
                     {{"dropped", written->dropped_observations}});
  }
  if (written->over_budget_with_undroppable) {
    core::LogError("outbox over its budget with alerts only; alerts are kept",
                   {{"rows", store_.outbox_stats().rows}});
  }
  CountEvaluation(evaluation);
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    if (accepted[i]->done) accepted[i]->done(accepted[i]->reading, written->reading_ids[i]);
  }
}

void Pipeline::AddEvaluation(alerts::Evaluation& evaluation, store::WriteBatch& write, core::WallTime now) {
  const EventContext context{options_.gateway_id, options_.resident_pseudonym};
  // Each change carries a snapshot of its alert taken when the change was made: one batch can raise,
  // update and resolve the same alert, and every later snapshot must keep the ids of the earlier events
  // (the last snapshot is the one stored).
  std::map<std::string, std::vector<std::string>> ids_in_batch;  // by alert id, in event order
  const auto remember = [](alerts::Alert& alert, const std::string& id) {
    if (std::find(alert.event_ids.begin(), alert.event_ids.end(), id) != alert.event_ids.end()) return;
    alert.event_ids.push_back(id);
    if (alert.event_ids.size() > alerts::Alert::kMaxEventIds) alert.event_ids.erase(alert.event_ids.begin());
  };
  for (alerts::AlertChange& change : evaluation.changes) {
    std::vector<std::string>& earlier = ids_in_batch[change.alert.alert_id];
    for (const std::string& id : earlier)
      remember(change.alert, id);
    if (alerts::Published(change.kind)) {
      core::Event event{
          ids_.Next(), core::EventKind::kAlert, alerts::OutboxPriority(change.alert.severity), now, {}};
      // The id goes into the alert before the body is written, so a receipt for it finds the alert.
      const std::string id = event.id.ToString();
      earlier.push_back(id);
      remember(change.alert, id);
      const auto open = engine_.open.find(change.alert.Key());
      if (open != engine_.open.end() && open->second.alert_id == change.alert.alert_id)
        remember(open->second, id);
      event.body = AlertBody(context, event.id, change.kind, change.alert);
      write.events.push_back(std::move(event));
    }
    write.alerts.push_back(ToRecord(change.alert));
  }
  for (const std::string& key : evaluation.alerts_touched) {
    const auto open = engine_.open.find(key);
    if (open != engine_.open.end()) write.alerts.push_back(ToRecord(open->second));
  }
  for (const std::string& key : evaluation.rule_states_changed) {
    const auto found = engine_.rules.find(key);
    write.rule_states[key] = found != engine_.rules.end()
                                 ? std::optional<std::string>(RuleStateToJson(found->second))
                                 : std::nullopt;
  }
}

ActivityReport Pipeline::activity() const {
  std::lock_guard lock(activity_mutex_);
  return activity_;
}

void Pipeline::CountEvaluation(const alerts::Evaluation& evaluation) {
  counters_.unreliable += evaluation.unreliable_readings;
  counters_.out_of_order += evaluation.out_of_order_readings;
  counters_.late_beyond_horizon += evaluation.late_beyond_horizon;
  counters_.duplicates += evaluation.duplicate_readings;
  counters_.suppressed_repeats += evaluation.suppressed_repeats;
  counters_.open_alerts.Set(static_cast<double>(engine_.open.size()));
  counters_.alerts_raised += evaluation.Count(alerts::ChangeKind::kRaised);
  counters_.alerts_updated += evaluation.Count(alerts::ChangeKind::kUpdated);
  counters_.alerts_escalated += evaluation.Count(alerts::ChangeKind::kEscalated);
  counters_.alerts_delivered += evaluation.Count(alerts::ChangeKind::kDelivered);
  counters_.alerts_acknowledged += evaluation.Count(alerts::ChangeKind::kAcknowledged);
  counters_.alerts_resolved += evaluation.Count(alerts::ChangeKind::kResolved);
  if (!evaluation.changes.empty()) {
    std::lock_guard lock(activity_mutex_);
    for (const alerts::AlertChange& change : evaluation.changes) {
      ++activity_.alert_changes[{std::string(alerts::ToString(change.alert.severity)),
                                 std::string(alerts::ToString(change.kind))}];
    }
  }
  for (const alerts::AlertChange& change : evaluation.changes) {
    core::LogInfo("alert " + std::string(alerts::ToString(change.kind)),
                  {{"alert_id", change.alert.alert_id},
                   {"rule", change.alert.rule_id},
                   {"severity", alerts::ToString(change.alert.severity)},
                   {"escalation_level", change.alert.escalation_level}});
  }
}

void Pipeline::Tick() {
  const core::SteadyTime steady = clock_.SteadyNow();
  if (clock_.WallClockSynchronised()) {
    clock_unsynchronised_since_.reset();
  } else if (!clock_unsynchronised_since_) {
    clock_unsynchronised_since_ = steady;
  }
  if (next_tick_ && steady < *next_tick_) return;
  next_tick_ = steady + options_.tick_interval;

  alerts::GatewayStatus status;
  if (options_.outbox_budget_bytes > 0) {
    status.outbox_percent_of_budget =
        100.0 * static_cast<double>(outbox_bytes_.load()) / static_cast<double>(options_.outbox_budget_bytes);
  }
  if (clock_unsynchronised_since_) {
    status.clock_unsynchronised_for =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady - *clock_unsynchronised_since_);
  }
  const core::WallTime now = clock_.Now();
  EngineSavepoint savepoint(engine_);
  alerts::Evaluation evaluation =
      evaluator_.OnTick(engine_, now, status, [this] { return ids_.Next().ToString(); });
  if (evaluation.changes.empty() && evaluation.rule_states_changed.empty() &&
      evaluation.alerts_touched.empty()) {
    return;
  }
  store::WriteBatch write;
  AddEvaluation(evaluation, write, now);
  UpdateRoomPolicy(now);
  auto written = store_.Write(write);
  if (written) NoteRoomMade(written->room_made);
  if (!written) {
    ++counters_.store_failures;
    if (written.error().code == Errc::kCorrupt) ++counters_.corruption_seen;
    core::LogError("timed rule changes not stored; retried at the next tick",
                   {{"code", ToString(written.error().code)}, {"reason", written.error().message}});
    savepoint.RollBack();
    return;
  }
  AfterCommit(*written, write.events);
  CountEvaluation(evaluation);
}

void Pipeline::BackfillMinutes() {
  auto summarised = store_.BackfillMinutes();
  if (!summarised) {
    // Not a reason to stop: the readings are stored; only restarts rebuild windows from raw rows longer.
    core::LogWarning("summarising stored readings failed; retried", {{"reason", summarised.error().message}});
    return;
  }
  auto pending = store_.ConversionPendingThrough();
  backfill_pending_ = pending && pending->has_value();
  if (!backfill_pending_) {
    core::LogInfo("stored readings converted (minute summaries, newest values)");
    prune_pending_ = true;  // the raw readings it held back may be past their window
  }
}

void Pipeline::Housekeeping() {
  const core::SteadyTime now = clock_.SteadyNow();
  if (next_housekeeping_ && now < *next_housekeeping_) return;
  next_housekeeping_ = now + kHousekeepingInterval;
  PruneStep();  // not on a wall clock that is not known to be right
  // An episode of making room ends an hour after the store last had to.
  if (room_episode_last_ && now - *room_episode_last_ > std::chrono::hours{1}) {
    core::LogInfo(
        "storage: no room had to be made for an hour",
        {{"readings_removed", room_episode_made_.delivered_readings + room_episode_made_.waiting_readings +
                                  room_episode_made_.recent_readings},
         {"summaries_removed", room_episode_made_.summaries}});
    room_episode_last_.reset();
    room_episode_made_ = {};
  }
}

void Pipeline::PruneStep() {
  constexpr std::uint64_t kStep = 5000;
  if (!clock_.WallClockSynchronised()) {  // a wrong wall clock could delete everything
    prune_pending_ = false;               // the next hourly housekeeping tries again
    return;
  }
  const core::WallTime now = clock_.Now();
  auto pruned =
      store_.PruneReadings(now - options_.raw_readings_retention, now - options_.readings_retention, kStep);
  if (!pruned) {
    prune_pending_ = false;  // tried again at the next housekeeping
    core::LogWarning("pruning old readings failed", {{"reason", pruned.error().message}});
    return;
  }
  counters_.pruned_readings += *pruned;
  const bool more = *pruned == kStep;
  if (more && !prune_pending_) core::LogInfo("pruning raw readings past their retention window");
  if (!more && prune_pending_) core::LogInfo("raw readings past their retention window pruned");
  prune_pending_ = more;
}

void Pipeline::UpdateRoomPolicy(core::WallTime now) {
  store::RoomPolicy policy;
  // Summaries a rule window still reaches, and a day more, are kept; with no window rule, a week.
  std::chrono::milliseconds reach = std::chrono::days{7};
  for (const alerts::WindowSpec& spec : evaluator_.Windows())
    reach = std::max<std::chrono::milliseconds>(reach, spec.span + spec.bucket + std::chrono::days{1});
  policy.summaries_needed_since = now - reach;
  for (const auto& [key, alert] : engine_.open) {
    for (const alerts::Evidence& evidence : alert.evidence) {
      const auto same =
          std::find_if(policy.evidence.begin(), policy.evidence.end(),
                       [&](const store::EvidenceSpan& span) { return span.metric == evidence.metric; });
      if (same == policy.evidence.end()) {
        policy.evidence.push_back({evidence.metric, evidence.time});
      } else {
        same->since = std::min(same->since, evidence.time);
      }
    }
  }
  store_.SetRoomPolicy(std::move(policy));
}

void Pipeline::NoteRoomMade(const store::RoomMade& made) {
  if (made.total() == 0) return;
  counters_.room_delivered_readings += made.delivered_readings;
  counters_.room_waiting_readings += made.waiting_readings;
  counters_.room_recent_readings += made.recent_readings;
  counters_.room_summaries += made.summaries;
  room_episode_made_.delivered_readings += made.delivered_readings;
  room_episode_made_.waiting_readings += made.waiting_readings;
  room_episode_made_.recent_readings += made.recent_readings;
  room_episode_made_.summaries += made.summaries;
  const bool first = !room_episode_last_;
  room_episode_last_ = clock_.SteadyNow();
  if (!first) return;
  const std::string detail =
      "the database reached its cap or the disk is nearly full: the oldest raw readings (their minute "
      "summaries kept) are removed to make room; removed now: " +
      std::to_string(made.delivered_readings + made.waiting_readings + made.recent_readings) + " readings, " +
      std::to_string(made.summaries) + " minute summaries, " + std::to_string(made.observations) +
      " observations not yet sent";
  core::LogWarning("storage full: making room by removing the oldest raw readings",
                   {{"delivered", made.delivered_readings},
                    {"waiting", made.waiting_readings},
                    {"recent", made.recent_readings},
                    {"summaries", made.summaries},
                    {"observations", made.observations}});
  const EventContext context{options_.gateway_id, options_.resident_pseudonym};
  store::WriteBatch write;
  core::Event event{ids_.Next(), core::EventKind::kGateway, core::Priority::kHigh, clock_.Now(), {}};
  event.body = GatewayEventBody(context, event.id, event.created, "storage.making_room", "warning", detail);
  write.events.push_back(std::move(event));
  auto written = store_.Write(write);
  if (!written) {
    core::LogError("storage: the making-room event was not stored", {{"reason", written.error().message}});
    return;
  }
  AfterCommit(*written, write.events);
}

}  // namespace ehg::pipeline
