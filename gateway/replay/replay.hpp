#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alerts/evaluator.hpp"
#include "gateway/core/device_time.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/replay/reading_line.hpp"

// Runs a rule set over recorded readings with the clock taken from the readings: what the gateway would
// have raised, updated, escalated and resolved. Clinicians tune rule sets with it; tests use it. Pure.
namespace ehg::replay {

struct TimelineEntry {
  core::WallTime time;
  alerts::AlertChange change;
};

struct ReplaySummary {
  std::uint64_t readings = 0;
  std::uint64_t raised = 0;
  std::uint64_t updated = 0;
  std::uint64_t escalated = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t resolved = 0;  // by the condition clearing or by a care worker
  std::uint64_t unreliable = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t late_beyond_horizon = 0;   // late readings too old to raise anything
  std::uint64_t device_clock_suspect = 0;  // device time implausible: the receive time was used
  std::uint64_t suppressed_repeats = 0;
  std::uint64_t actions = 0;                // care workers' acknowledgements and resolutions
  std::uint64_t actions_without_alert = 0;  // naming no open alert
  std::uint64_t actions_already_done = 0;   // acknowledging an alert that was already acknowledged
};

// What a care worker's action did, after the timers that were due on the way.
struct ActionReplayed {
  std::vector<TimelineEntry> timeline;
  alerts::ActionOutcome outcome = alerts::ActionOutcome::kDone;
  std::string alert_id;  // the alert acted on; empty when no open alert matched
};

class Replay {
 public:
  // Time-based rules are evaluated every `tick` of reading time (the daemon: every second). Device times
  // are judged as the gateway judges them (core::JudgeDeviceTime): with the device's tolerance from
  // `clock_tolerances`, or `default_tolerance` for a device not listed.
  Replay(alerts::RuleSet rules, std::shared_ptr<const alerts::TimeZone> zone,
         std::chrono::seconds tick = std::chrono::seconds{60},
         std::map<std::string, core::DeviceClockTolerance> clock_tolerances = {},
         core::DeviceClockTolerance default_tolerance =
             core::DefaultClockTolerance(core::DeviceTiming::kStoredRecords));
  Replay(const Replay&) = delete;  // the id source refers to this object
  Replay& operator=(const Replay&) = delete;

  // Advances the clock to the reading's receive time (never backwards: a late reading is evaluated at the
  // current time), running the timers on the way, then evaluates the reading. The device's own time does
  // not move the clock: a device clock a year ahead cannot skip a year of timers.
  std::vector<TimelineEntry> Feed(const core::Reading& reading);
  // Advances the clock to the action's time in the same way, then acknowledges or resolves the open alert
  // the action names, as a care worker's downlink command would (alerts::Evaluator::Acknowledge/Resolve).
  ActionReplayed Apply(const ReplayAction& action);
  // Runs the timers on to `until` (e.g. the end of the recorded week).
  std::vector<TimelineEntry> RunUntil(core::WallTime until);

  const ReplaySummary& summary() const { return summary_; }

 private:
  void Collect(core::WallTime time, alerts::Evaluation evaluation, std::vector<TimelineEntry>& out);
  // Runs the timers to `time` and moves the clock there unless it is already later; the clock after.
  core::WallTime AdvanceTo(core::WallTime time, std::vector<TimelineEntry>& out);
  // The id of the open alert `reference` names, or empty.
  std::string FindOpenAlert(const AlertReference& reference) const;
  std::string NextAlertId();

  alerts::Evaluator evaluator_;
  alerts::EngineState state_;
  std::chrono::seconds tick_;
  std::map<std::string, core::DeviceClockTolerance> clock_tolerances_;
  core::DeviceClockTolerance default_tolerance_;
  std::optional<core::WallTime> now_;
  std::optional<core::WallTime> next_tick_;
  std::uint64_t next_alert_ = 0;
  const alerts::NewAlertId ids_ = [this] { return NextAlertId(); };
  ReplaySummary summary_;
};

}  // namespace ehg::replay
