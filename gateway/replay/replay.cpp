#include "gateway/replay/replay.hpp"

#include <cstdio>
#include <iterator>
#include <type_traits>
#include <variant>

namespace ehg::replay {

Replay::Replay(alerts::RuleSet rules, std::shared_ptr<const alerts::TimeZone> zone, std::chrono::seconds tick,
               std::map<std::string, core::DeviceClockTolerance> clock_tolerances,
               core::DeviceClockTolerance default_tolerance)
    : evaluator_(std::move(rules), std::move(zone)),
      tick_(tick.count() > 0 ? tick : std::chrono::seconds{1}),
      clock_tolerances_(std::move(clock_tolerances)),
      default_tolerance_(default_tolerance) {}

std::string Replay::NextAlertId() {
  // Short, readable ids in replay output (the daemon uses UUIDv7).
  char id[24];
  std::snprintf(id, sizeof id, "A%04llu", static_cast<unsigned long long>(++next_alert_));
  return id;
}

void Replay::Collect(core::WallTime time, alerts::Evaluation evaluation, std::vector<TimelineEntry>& out) {
  summary_.unreliable += evaluation.unreliable_readings;
  summary_.duplicates += evaluation.duplicate_readings;
  summary_.out_of_order += evaluation.out_of_order_readings;
  summary_.late_beyond_horizon += evaluation.late_beyond_horizon;
  summary_.suppressed_repeats += evaluation.suppressed_repeats;
  summary_.raised += evaluation.Count(alerts::ChangeKind::kRaised);
  summary_.updated += evaluation.Count(alerts::ChangeKind::kUpdated);
  summary_.escalated += evaluation.Count(alerts::ChangeKind::kEscalated);
  summary_.acknowledged += evaluation.Count(alerts::ChangeKind::kAcknowledged);
  summary_.resolved += evaluation.Count(alerts::ChangeKind::kResolved);
  for (alerts::AlertChange& change : evaluation.changes) {
    out.push_back({time, std::move(change)});
  }
}

std::vector<TimelineEntry> Replay::RunUntil(core::WallTime until) {
  std::vector<TimelineEntry> out;
  if (!next_tick_) next_tick_ = until;
  while (*next_tick_ <= until) {
    Collect(*next_tick_, evaluator_.OnTick(state_, *next_tick_, {}, ids_), out);
    now_ = *next_tick_;
    *next_tick_ += tick_;
  }
  return out;
}

core::WallTime Replay::AdvanceTo(core::WallTime time, std::vector<TimelineEntry>& out) {
  std::vector<TimelineEntry> timers = RunUntil(time);
  out.insert(out.end(), std::make_move_iterator(timers.begin()), std::make_move_iterator(timers.end()));
  if (!now_ || *now_ < time) now_ = time;
  return *now_;
}

std::vector<TimelineEntry> Replay::Feed(const core::Reading& recorded) {
  std::vector<TimelineEntry> out;
  // The receive time: what the gateway's clock said, never what the device's clock claims.
  const core::WallTime now = AdvanceTo(recorded.received_at, out);
  ++summary_.readings;
  core::Reading reading = recorded;
  const auto tolerance = clock_tolerances_.find(reading.device_id);
  core::JudgeDeviceTime(reading,
                        tolerance != clock_tolerances_.end() ? tolerance->second : default_tolerance_);
  if (reading.device_clock_suspect) ++summary_.device_clock_suspect;
  Collect(now, evaluator_.OnReadings({&reading, 1}, state_, now, ids_), out);
  return out;
}

std::string Replay::FindOpenAlert(const AlertReference& reference) const {
  return std::visit(
      [this](const auto& by) -> std::string {
        using T = std::decay_t<decltype(by)>;
        if constexpr (std::is_same_v<T, AlertById>) {
          for (const auto& [key, alert] : state_.open) {
            if (alert.alert_id == by.alert_id) return alert.alert_id;
          }
          return {};
        } else {
          static_assert(std::is_same_v<T, AlertByRule>);
          const auto found = state_.open.find(alerts::AlertKey(by.rule_id, by.device_id));
          return found != state_.open.end() ? found->second.alert_id : std::string();
        }
      },
      reference);
}

ActionReplayed Replay::Apply(const ReplayAction& action) {
  ActionReplayed out;
  const core::WallTime now = AdvanceTo(action.time, out.timeline);
  ++summary_.actions;
  out.alert_id = FindOpenAlert(action.alert);
  if (out.alert_id.empty()) {
    out.outcome = alerts::ActionOutcome::kUnknownAlert;
    ++summary_.actions_without_alert;
    return out;
  }
  alerts::ActionResult result;
  switch (action.kind) {
    case ActionKind::kAcknowledge:
      result = evaluator_.Acknowledge(state_, out.alert_id, action.by, now);
      break;
    case ActionKind::kResolve:
      result = evaluator_.Resolve(state_, out.alert_id, action.by, action.note, now);
      break;
  }
  out.outcome = result.outcome;
  switch (result.outcome) {
    case alerts::ActionOutcome::kDone:
      break;
    case alerts::ActionOutcome::kAlreadyDone:
      ++summary_.actions_already_done;
      break;
    case alerts::ActionOutcome::kUnknownAlert:  // found above, so only if the engine disagrees
      ++summary_.actions_without_alert;
      out.alert_id.clear();
      break;
  }
  Collect(now, std::move(result.evaluation), out.timeline);
  return out;
}

}  // namespace ehg::replay
