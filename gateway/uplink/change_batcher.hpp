#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/result.hpp"
#include "gateway/store/store.hpp"
#include "gateway/uplink/counters.hpp"

// What the uplink changes in the store goes to the pipeline (the only writer) as one OutboxChange at a
// time: rows the broker or the care system confirmed, command results, care workers' alert actions,
// settings, the command ids to remember. Nothing is lost while a change commits or fails: what arrives
// meanwhile waits for the next one, and a failed change goes back in front of it. No thread and no
// clock: the uplink passes the time of each step, tests a manual one.
namespace ehg::uplink {

// A change the pipeline could not take now (its queue is full): offered again this soon.
inline constexpr std::chrono::milliseconds kCommitRefusedRetryDelay{50};
// A change that failed to commit (the database refused it): offered again after this pause.
inline constexpr std::chrono::milliseconds kCommitFailedRetryDelay{1000};

class ChangeBatcher {
 public:
  // Offers a change to the pipeline: false when it was not accepted now. Must not call back into the
  // batcher (the outcome comes later, through CommitDone).
  using Commit = std::function<bool(const store::OutboxChange& change)>;

  ChangeBatcher(std::string gateway_id, core::EventIdGenerator& ids, UplinkCounters& counters);

  // The broker acknowledged the row: it leaves the outbox.
  void RowAcknowledged(std::int64_t sequence);
  // The care system confirmed the event: its row leaves the outbox, found by event id (a row this
  // uplink has not read yet too). `sequence`: the row, when the uplink held it.
  void Receipted(const core::EventId& event_id, std::optional<std::int64_t> sequence);
  // An event the care system never confirmed leaves the outbox (the uplink counts and logs it). Not a
  // delivery: it corrects no drop count.
  void GivenUp(const core::EventId& event_id, std::int64_t sequence);
  // A command result event, created at `now`, sent through the outbox like any event.
  void CommandResult(std::string_view command_id, std::string_view type, bool ok, std::string_view detail,
                     core::WallTime now);
  // A care worker's decision for the pipeline to apply; the command is answered with its outcome once
  // the change carrying it is committed, never before.
  void AlertAction(store::AlertAction action, std::string command_id, std::string type);
  void Setting(std::string name, std::string value);
  // A signed command id to remember, committed with the command's effect; ids remembered until before
  // `forget_before` go.
  void CommandSeen(store::SeenCommand seen, core::WallTime forget_before);

  // Rows whose removal is not committed yet: not to be read (and sent) again meanwhile.
  const std::set<std::int64_t>& removing() const { return removing_; }
  // The same for rows a receipt named by event id only (the uplink had not read them). Were such a row
  // read and sent again before its removal is committed, the receipt for that copy would find the row
  // gone and take it for an observation the budget dropped: the drop count would be corrected by a
  // delivery that was no drop.
  const std::set<core::EventId>& removing_events() const { return removing_events_; }

  // Offers the waiting change when there is one, none is committing and no retry pause runs.
  void Flush(core::SteadyTime now, const Commit& commit);

  struct Committed {
    std::optional<core::Priority> most_urgent_event;  // events appended by the change (command results)
    bool alert_actions = false;  // the pipeline appended alert events of unknown priority
  };
  // The outcome of the committing change. Failed: counted, logged, and back in front of what came
  // since, offered again after kCommitFailedRetryDelay. Committed: its rows are gone, and the commands
  // behind its alert actions get their results (into the next change), created at `wall_now`.
  Committed CommitDone(const Result<store::WriteOutcome>& result, core::SteadyTime now,
                       core::WallTime wall_now);

  bool committing() const { return committing_.has_value(); }
  // Nothing confirmed, no result and no setting is left to commit (what a clean stop waits for).
  bool Settled() const;
  core::SteadyTime retry_at() const { return retry_at_; }
  const store::OutboxChange& pending() const { return pending_; }

 private:
  using CommandName = std::pair<std::string, std::string>;  // id, type

  std::string gateway_id_;
  core::EventIdGenerator& ids_;
  UplinkCounters& counters_;
  std::set<std::int64_t> removing_;
  store::OutboxChange pending_;
  // The commands behind pending_.alert_actions (the committing change's), in the same order: each hears
  // the outcome once the pipeline applied its action.
  std::vector<CommandName> pending_commands_;
  std::vector<CommandName> committing_commands_;
  // Rows of pending_.receipted_events the uplink held (the committing change's): removal by event id
  // does not name them.
  std::vector<std::int64_t> pending_receipt_rows_;
  std::vector<std::int64_t> committing_receipt_rows_;
  // Receipted events the uplink did not hold, by event id (the committing change's): see
  // removing_events().
  std::set<core::EventId> removing_events_;
  std::vector<core::EventId> pending_receipt_events_;
  std::vector<core::EventId> committing_receipt_events_;
  std::optional<store::OutboxChange> committing_;
  core::SteadyTime retry_at_{};
};

}  // namespace ehg::uplink
