#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert.hpp"

namespace ehg::alerts {

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

  bool empty() const { return *this == RuleState{}; }
  friend bool operator==(const RuleState&, const RuleState&) = default;
};

// Everything the evaluator knows. `open` and `rules` are persisted; the reading memory is rebuilt from
// the stored readings on start (Evaluator::Remember).
struct EngineState {
  OpenAlerts open;                         // by Alert::Key()
  std::map<std::string, RuleState> rules;  // by alert key

  std::map<std::string, Evidence> latest_by_metric;            // freshest usable reading per metric
  std::map<std::string, Evidence> latest_by_source;            // per device and metric: order and duplicates
  std::map<std::string, core::WallTime> last_seen_by_device;   // any reading at all
  std::map<std::string, core::WallTime> last_event_by_metric;  // non-zero event readings (activity)
  std::map<std::string, std::vector<Evidence>> history;        // usable readings, time-ordered, for trends

  friend bool operator==(const EngineState&, const EngineState&) = default;
};

}  // namespace ehg::alerts
