#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alerts/evaluator.hpp"
#include "gateway/core/reading.hpp"

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
  std::uint64_t resolved = 0;
  std::uint64_t unreliable = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t suppressed_repeats = 0;
};

class Replay {
 public:
  // Time-based rules are evaluated every `tick` of reading time (the daemon: every second).
  Replay(alerts::RuleSet rules, std::shared_ptr<const alerts::TimeZone> zone,
         std::chrono::seconds tick = std::chrono::seconds{60});
  Replay(const Replay&) = delete;  // the id source refers to this object
  Replay& operator=(const Replay&) = delete;

  // Advances the clock to the reading's time (never backwards: a late reading is evaluated at the
  // current time), running the timers on the way, then evaluates the reading.
  std::vector<TimelineEntry> Feed(const core::Reading& reading);
  // Runs the timers on to `until` (e.g. the end of the recorded week).
  std::vector<TimelineEntry> RunUntil(core::WallTime until);

  const ReplaySummary& summary() const { return summary_; }

 private:
  void Collect(core::WallTime time, alerts::Evaluation evaluation, std::vector<TimelineEntry>& out);
  std::string NextAlertId();

  alerts::Evaluator evaluator_;
  alerts::EngineState state_;
  std::chrono::seconds tick_;
  std::optional<core::WallTime> now_;
  std::optional<core::WallTime> next_tick_;
  std::uint64_t next_alert_ = 0;
  const alerts::NewAlertId ids_ = [this] { return NextAlertId(); };
  ReplaySummary summary_;
};

}  // namespace ehg::replay
