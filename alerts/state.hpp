#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/window.hpp"

namespace ehg::alerts {

// The effective-time span of a breach an alert was raised for: from its earliest evidence to the reading
// that resolved it (TimePoint max while open). A late reading in it raises nothing again.
struct AlertedSpan {
  core::WallTime first{};
  core::WallTime last{};

  friend bool operator==(const AlertedSpan&, const AlertedSpan&) = default;
};

// Where one rule (for one subject) stands between alerts. Persisted by the pipeline with every change,
// so durations and schedules resume after a restart.
struct RuleState {
  std::optional<core::WallTime> pending_since;  // the condition has held since (persistence)
  std::optional<core::WallTime> last_breach;
  std::vector<Evidence> pending_evidence;     // the readings seen while pending (bounded)
  std::optional<core::WallTime> clear_since;  // an open alert's condition has been clear since
  // Resolved by staff while the condition still held: no new alert until it has cleared once.
  bool rearm_required = false;
  std::optional<core::WallTime> last_deadline;  // daily schedule: the last deadline checked
  std::optional<core::WallTime> watch_since;    // time-based rules: supervision (re)started here
  std::optional<core::WallTime> last_event;     // event rules: the latest event
  std::vector<AlertedSpan> alerted;             // the rule's alerts of the last kLateHorizon, oldest first

  bool empty() const { return *this == RuleState{}; }
  friend bool operator==(const RuleState&, const RuleState&) = default;
};

// A stretch of a rule's observations in effective-time order that all breached (no two further apart
// than the rule's `for`) or all did not. Kept per rule for the last kLateHorizon, so that a late reading
// is judged among the readings around it in time, whichever device sent them and in whatever order they
// arrived (docs/rules.md, "Time").
struct VerdictRun {
  core::WallTime first{};
  core::WallTime last{};
  bool breach = false;
  double worst = 0;                // the rule's measure furthest beyond the limit (breach runs)
  std::vector<Evidence> evidence;  // the first reading, then the latest ones (bounded)

  friend bool operator==(const VerdictRun&, const VerdictRun&) = default;
};

// The last few readings of one device and metric (time and value), to spot one sent again.
struct RecentReadings {
  std::vector<std::pair<core::WallTime, double>> items;  // a ring
  std::size_t next = 0;                                  // where the next one goes once the ring is full

  friend bool operator==(const RecentReadings&, const RecentReadings&) = default;
};

// Everything the evaluator knows. `open` and `rules` are persisted; the reading memory is rebuilt from
// the store on start (Evaluator::RememberLatest and RestoreWindow); the verdict runs are not kept over a
// restart (the persisted rule states carry what in-order readings established).
struct EngineState {
  OpenAlerts open;                         // by Alert::Key()
  std::map<std::string, RuleState> rules;  // by alert key

  std::map<std::string, Evidence> latest_by_metric;               // freshest usable reading per metric
  std::map<std::string, Evidence> latest_by_source;               // per device and metric: the newest
  std::map<std::string, RecentReadings> recent_by_source;      // the last few, to spot re-sent ones
  std::map<std::string, core::WallTime> last_seen_by_device;      // any reading at all
  std::map<std::string, core::WallTime> last_event_by_metric;     // non-zero event readings (activity)
  std::map<std::string, BucketWindow> windows;          // by WindowSpec::Key(), for trends and baselines
  std::map<std::string, std::vector<VerdictRun>> runs;  // by alert key, time-ordered, bounded

  friend bool operator==(const EngineState&, const EngineState&) = default;
};

}  // namespace ehg::alerts
