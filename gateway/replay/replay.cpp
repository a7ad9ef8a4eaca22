#include "gateway/replay/replay.hpp"

#include <cstdio>

namespace ehg::replay {

Replay::Replay(alerts::RuleSet rules, std::shared_ptr<const alerts::TimeZone> zone, std::chrono::seconds tick)
    : evaluator_(std::move(rules), std::move(zone)),
      tick_(tick.count() > 0 ? tick : std::chrono::seconds{1}) {}

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
  summary_.suppressed_repeats += evaluation.suppressed_repeats;
  summary_.raised += evaluation.Count(alerts::ChangeKind::kRaised);
  summary_.updated += evaluation.Count(alerts::ChangeKind::kUpdated);
  summary_.escalated += evaluation.Count(alerts::ChangeKind::kEscalated);
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

std::vector<TimelineEntry> Replay::Feed(const core::Reading& reading) {
  const core::WallTime time = reading.EffectiveTime();
  std::vector<TimelineEntry> out = RunUntil(time);
  if (!now_ || *now_ < time) now_ = time;
  ++summary_.readings;
  Collect(*now_, evaluator_.OnReadings({&reading, 1}, state_, *now_, ids_), out);
  return out;
}

}  // namespace ehg::replay
