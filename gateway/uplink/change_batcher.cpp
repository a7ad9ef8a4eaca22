#include "gateway/uplink/change_batcher.hpp"

#include <algorithm>

#include "gateway/core/log.hpp"
#include "gateway/wire/commands.hpp"

namespace ehg::uplink {

ChangeBatcher::ChangeBatcher(std::string gateway_id, core::EventIdGenerator& ids, UplinkCounters& counters)
    : gateway_id_(std::move(gateway_id)), ids_(ids), counters_(counters) {}

void ChangeBatcher::RowAcknowledged(std::int64_t sequence) {
  removing_.insert(sequence);
  pending_.sent_sequences.push_back(sequence);
}

void ChangeBatcher::Receipted(const core::EventId& event_id, std::optional<std::int64_t> sequence) {
  pending_.receipted_events.push_back(event_id);
  pending_.receipt_held.push_back(sequence.has_value());
  if (!sequence) {
    if (removing_events_.insert(event_id).second) pending_receipt_events_.push_back(event_id);
    return;
  }
  removing_.insert(*sequence);
  pending_receipt_rows_.push_back(*sequence);
}

void ChangeBatcher::GivenUp(const core::EventId& event_id, std::int64_t sequence) {
  pending_.receipted_events.push_back(event_id);
  pending_.receipt_held.push_back(false);
  removing_.insert(sequence);
  pending_receipt_rows_.push_back(sequence);
}

void ChangeBatcher::CommandResult(std::string_view command_id, std::string_view type, bool ok,
                                  std::string_view detail, core::WallTime now) {
  core::Event event{ids_.Next(), core::EventKind::kCommandResult, core::Priority::kNormal, now, {}};
  event.body = wire::CommandResultBody(event.id, gateway_id_, event.created, command_id, type, ok, detail);
  pending_.events.push_back(std::move(event));
}

void ChangeBatcher::AlertAction(store::AlertAction action, std::string command_id, std::string type) {
  pending_.alert_actions.push_back(std::move(action));
  pending_commands_.emplace_back(std::move(command_id), std::move(type));
}

void ChangeBatcher::Setting(std::string name, std::string value) {
  pending_.settings[std::move(name)] = std::move(value);
}

void ChangeBatcher::CommandSeen(store::SeenCommand seen, core::WallTime forget_before) {
  pending_.seen_commands.push_back(std::move(seen));
  pending_.forget_commands_before = forget_before;
}

void ChangeBatcher::Flush(core::SteadyTime now, const Commit& commit) {
  if (committing_) return;
  // Seen command ids alone wait: they are committed with their command's effect (a result, an action).
  if (pending_.sent_sequences.empty() && pending_.receipted_events.empty() && pending_.events.empty() &&
      pending_.settings.empty() && pending_.alert_actions.empty()) {
    return;
  }
  if (now < retry_at_) return;
  if (!commit(pending_)) {
    retry_at_ = now + kCommitRefusedRetryDelay;
    return;
  }
  committing_ = std::move(pending_);
  committing_receipt_rows_ = std::move(pending_receipt_rows_);
  committing_receipt_events_ = std::move(pending_receipt_events_);
  committing_commands_ = std::move(pending_commands_);
  pending_ = {};
  pending_receipt_rows_.clear();
  pending_receipt_events_.clear();
  pending_commands_.clear();
}

ChangeBatcher::Committed ChangeBatcher::CommitDone(const Result<store::WriteOutcome>& result,
                                                   core::SteadyTime now, core::WallTime wall_now) {
  Committed committed;
  if (!committing_) return committed;
  store::OutboxChange done = std::move(*committing_);
  committing_.reset();
  if (result) {
    for (const std::int64_t sequence : done.sent_sequences)
      removing_.erase(sequence);
    for (const std::int64_t sequence : committing_receipt_rows_)
      removing_.erase(sequence);
    committing_receipt_rows_.clear();
    for (const core::EventId& event_id : committing_receipt_events_)
      removing_events_.erase(event_id);
    committing_receipt_events_.clear();
    for (const core::Event& event : done.events) {
      if (!committed.most_urgent_event || event.priority < *committed.most_urgent_event)
        committed.most_urgent_event = event.priority;
    }
    committed.alert_actions = !done.alert_actions.empty();
    for (std::size_t i = 0; i < committing_commands_.size(); ++i) {
      const auto& [command_id, type] = committing_commands_[i];
      const bool known = i < result->alert_action_results.size();
      CommandResult(command_id, type, known && result->alert_action_results[i].ok,
                    known ? result->alert_action_results[i].detail : "not applied", wall_now);
    }
    committing_commands_.clear();
    return committed;
  }
  ++counters_.commit_failures;
  core::LogError("uplink change not stored; retrying", {{"reason", result.error().message}});
  // Back in front of whatever came since, and offered again after the pause.
  pending_.sent_sequences.insert(pending_.sent_sequences.begin(), done.sent_sequences.begin(),
                                 done.sent_sequences.end());
  pending_.receipted_events.insert(pending_.receipted_events.begin(), done.receipted_events.begin(),
                                   done.receipted_events.end());
  pending_.receipt_held.insert(pending_.receipt_held.begin(), done.receipt_held.begin(),
                               done.receipt_held.end());
  pending_.events.insert(pending_.events.begin(), done.events.begin(), done.events.end());
  pending_.alert_actions.insert(pending_.alert_actions.begin(), done.alert_actions.begin(),
                                done.alert_actions.end());
  pending_.seen_commands.insert(pending_.seen_commands.begin(), done.seen_commands.begin(),
                                done.seen_commands.end());
  if (!pending_.forget_commands_before) pending_.forget_commands_before = done.forget_commands_before;
  pending_commands_.insert(pending_commands_.begin(), committing_commands_.begin(),
                           committing_commands_.end());
  committing_commands_.clear();
  for (auto& [name, value] : done.settings)
    pending_.settings.try_emplace(name, value);
  pending_receipt_rows_.insert(pending_receipt_rows_.end(), committing_receipt_rows_.begin(),
                               committing_receipt_rows_.end());
  committing_receipt_rows_.clear();
  pending_receipt_events_.insert(pending_receipt_events_.end(), committing_receipt_events_.begin(),
                                 committing_receipt_events_.end());
  committing_receipt_events_.clear();
  retry_at_ = now + kCommitFailedRetryDelay;
  return committed;
}

bool ChangeBatcher::Settled() const {
  return !committing_ && pending_.sent_sequences.empty() && pending_.receipted_events.empty() &&
         pending_.events.empty() && pending_.settings.empty();
}

}  // namespace ehg::uplink
