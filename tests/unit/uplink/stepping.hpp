#pragma once

// What the stepped tests of the uplink's parts share: an outbox in memory, events, counters. No
// SQLite, no threads, no sleeping: a test drives a part event by event with a manual clock.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/telemetry.hpp"
#include "gateway/store/store.hpp"
#include "gateway/uplink/counters.hpp"
#include "gateway/uplink/outbox_port.hpp"

namespace ehg::test {

// The outbox in memory, read in the store's sending order (priority, then insertion). Changes are
// applied when the test says the pipeline committed them (Apply).
class MemoryOutbox final : public uplink::OutboxPort {
 public:
  std::int64_t Add(core::Event event) {
    rows_.push_back({++last_sequence_, std::move(event), 0});
    return last_sequence_;
  }

  Result<std::vector<store::OutboxRow>> Peek(std::size_t limit,
                                             std::optional<store::OutboxPosition> after) override {
    ++peeks;
    last_after = after;
    if (fail_reads) return Fail(Errc::kUnavailable, "disk I/O error");
    std::vector<store::OutboxRow> sorted = rows_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.event.priority < b.event.priority;  // stable: insertion order within a priority
    });
    std::vector<store::OutboxRow> out;
    for (store::OutboxRow& row : sorted) {
      if (out.size() == limit) break;
      if (after && (row.event.priority < after->priority ||
                    (row.event.priority == after->priority && row.sequence <= after->sequence))) {
        continue;
      }
      out.push_back(std::move(row));
    }
    return out;
  }
  // The parts under test offer their changes through a function of the test; nothing comes here.
  bool Commit(const store::OutboxChange&, std::function<void(const Result<store::WriteOutcome>&)>) override {
    return false;
  }
  store::OutboxSnapshot Snapshot() const override { return {rows_.size(), 0, 0, 0}; }
  Result<store::ReplayWindow> LoadReplayWindow(core::WallTime now) override {
    ++window_loads;
    if (fail_window) return Fail(Errc::kUnavailable, "database is locked");
    store::ReplayWindow window;
    for (const store::SeenCommand& seen : seen_)
      if (seen.remember_until >= now) window.seen.push_back(seen);
    window.not_issued_before = floor;
    return window;
  }

  // As the pipeline commits an OutboxChange (the store's rules: receipts by event id, a seen id keeps
  // its first row, the floor setting read back as the window's floor).
  void Apply(const store::OutboxChange& change) {
    std::erase_if(rows_, [&](const store::OutboxRow& row) {
      return std::count(change.sent_sequences.begin(), change.sent_sequences.end(), row.sequence) > 0 ||
             std::count(change.receipted_events.begin(), change.receipted_events.end(), row.event.id) > 0;
    });
    for (const core::Event& event : change.events)
      Add(event);
    for (const auto& [name, value] : change.settings) {
      settings.push_back({name, value});
      if (name == store::kCommandsNotIssuedBeforeSetting)
        floor = core::WallTime{std::chrono::milliseconds{std::stoll(value)}};
    }
    for (const store::SeenCommand& seen : change.seen_commands) {
      const bool known =
          std::any_of(seen_.begin(), seen_.end(), [&](const auto& s) { return s.jti == seen.jti; });
      if (!known) seen_.push_back(seen);
    }
    if (change.forget_commands_before) {
      std::erase_if(seen_, [&](const auto& s) { return s.remember_until < *change.forget_commands_before; });
    }
  }
  void Remove(const std::vector<std::int64_t>& sequences) {
    store::OutboxChange change;
    change.sent_sequences = sequences;
    Apply(change);
  }
  const std::vector<store::OutboxRow>& rows() const { return rows_; }

  std::optional<core::WallTime> floor;                        // the database's replay floor
  std::vector<std::pair<std::string, std::string>> settings;  // as committed, in order
  int peeks = 0;
  std::optional<store::OutboxPosition> last_after;  // where the last read started
  bool fail_reads = false;
  int window_loads = 0;
  bool fail_window = false;

 private:
  std::vector<store::OutboxRow> rows_;
  std::int64_t last_sequence_ = 0;
  std::vector<store::SeenCommand> seen_;
};

// Events as the pipeline writes them, with ids from the test's clock.
class EventMaker {
 public:
  explicit EventMaker(const core::Clock& clock) : clock_(clock), ids_(clock) {}
  core::Event Make(core::EventKind kind, core::Priority priority) {
    core::Event event{ids_.Next(), kind, priority, clock_.Now(), {}};
    event.body = R"({"event_id":")" + event.id.ToString() + R"(","kind":")" +
                 std::string(core::ToString(kind)) + "\"}";
    return event;
  }
  core::EventIdGenerator& ids() { return ids_; }

 private:
  const core::Clock& clock_;
  core::EventIdGenerator ids_;
};

// The uplink's counters on a registry of the test's own.
struct StepCounters {
  core::telemetry::Registry registry;
  uplink::UplinkCounters counters{registry};
};

}  // namespace ehg::test
