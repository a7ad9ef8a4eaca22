#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/store/store.hpp"
#include "gateway/transport/transport.hpp"
#include "gateway/uplink/uplink.hpp"

namespace ehg::test {

// A transport the test drives: it records what is published and lets the test answer for the broker.
class FakeTransport final : public transport::Transport {
 public:
  struct Published {
    std::string topic;
    std::string payload;
    bool retained = false;
    std::uint64_t tag = 0;
  };

  // Shared with the test; the uplink owns the transport itself.
  struct State {
    std::mutex mutex;
    transport::TransportEvents events;
    std::vector<Published> published;
    std::vector<std::string> subscriptions;
    std::atomic<int> connect_calls{0};
    std::atomic<int> disconnect_calls{0};
    bool connected = false;
    bool refuse_publish = false;
    std::optional<transport::LastWill> will;  // as set before the latest Connect
    std::vector<transport::LastWill> wills;   // every will set, in order
    bool auto_connect = true;
    bool auto_ack = false;  // the broker acknowledges every message as it is published
  };

  explicit FakeTransport(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void Connect() override {
    bool answer = false;
    {
      std::lock_guard lock(state_->mutex);
      ++state_->connect_calls;
      answer = state_->auto_connect;
      if (answer) state_->connected = true;
    }
    if (answer) state_->events.connected(false);
  }
  void SetLastWill(transport::LastWill will) override {
    std::lock_guard lock(state_->mutex);
    state_->wills.push_back(will);
    state_->will = std::move(will);
  }
  Result<void> Publish(const std::string& topic, const std::string& payload, bool retained,
                       std::uint64_t tag) override {
    bool acknowledge = false;
    {
      std::lock_guard lock(state_->mutex);
      if (!state_->connected || state_->refuse_publish) return Fail(Errc::kUnavailable, "not connected");
      state_->published.push_back({topic, payload, retained, tag});
      acknowledge = state_->auto_ack;
    }
    if (acknowledge) state_->events.delivered(tag);
    return {};
  }
  Result<void> Subscribe(const std::string& topic) override {
    std::lock_guard lock(state_->mutex);
    state_->subscriptions.push_back(topic);
    return {};
  }
  void Disconnect() override {
    std::lock_guard lock(state_->mutex);
    ++state_->disconnect_calls;
    state_->connected = false;
  }
  transport::ConnectDiagnosis DiagnoseConnectFailure() override { return {"diagnosed", needs_action}; }
  bool needs_action = false;

 private:
  std::shared_ptr<State> state_;
};

// The outbox port on a real store; commits run synchronously under a lock (the pipeline's role).
class StoreOutbox final : public uplink::OutboxPort {
 public:
  explicit StoreOutbox(store::Store& store) : store_(store) {}

  Result<std::vector<store::OutboxRow>> Peek(std::size_t limit,
                                             std::optional<store::OutboxPosition> after) override {
    std::lock_guard lock(mutex_);
    ++peeks;
    if (after) ++peeks_from_position;
    return store_.PeekOutbox(limit, after);
  }
  bool Commit(const store::OutboxChange& change,
              std::function<void(const Result<store::WriteOutcome>&)> done) override {
    {
      std::lock_guard lock(mutex_);
      if (refuse_commits) return false;
      if (defer_commits_) {
        deferred_.emplace_back(change, std::move(done));
        return true;
      }
    }
    Apply(change, done);
    return true;
  }
  // Commits deferred by defer_commits, applied now in order (the pipeline's thread catching up).
  void ReleaseCommits() {
    std::vector<std::pair<store::OutboxChange, Done>> deferred;
    {
      std::lock_guard lock(mutex_);
      defer_commits_ = false;
      deferred.swap(deferred_);
    }
    for (auto& [change, done] : deferred)
      Apply(change, done);
  }
  std::size_t DeferredCommits() {
    std::lock_guard lock(mutex_);
    return deferred_.size();
  }

 private:
  using Done = std::function<void(const Result<store::WriteOutcome>&)>;
  void Apply(const store::OutboxChange& change, const Done& done) {
    Result<store::WriteOutcome> outcome;
    {
      std::lock_guard lock(mutex_);
      store::WriteBatch batch;
      batch.sent_sequences = change.sent_sequences;
      batch.receipted_events = change.receipted_events;
      batch.receipt_held = change.receipt_held;
      batch.events = change.events;
      batch.settings = change.settings;
      batch.seen_commands = change.seen_commands;
      batch.forget_commands_before = change.forget_commands_before;
      outcome = store_.Write(batch);
      ++commits;
    }
    done(outcome);
  }

 public:
  Result<store::ReplayWindow> LoadReplayWindow(core::WallTime now) override {
    std::lock_guard lock(mutex_);
    return store_.LoadReplayWindow(now);
  }
  store::OutboxSnapshot Snapshot() const override {
    std::lock_guard lock(mutex_);
    const auto stats = store_.outbox_stats();
    return {stats.rows, stats.bytes, stats.alert_rows, 0};
  }

  // Test side: add events as the pipeline would (the uplink is told separately).
  void Append(std::vector<core::Event> events) {
    std::lock_guard lock(mutex_);
    store::WriteBatch batch;
    batch.events = std::move(events);
    if (!store_.Write(batch)) throw std::runtime_error("append failed");
  }
  std::vector<store::OutboxRow> Rows() {
    std::lock_guard lock(mutex_);
    return store_.PeekOutbox(100'000).value();
  }
  std::map<std::string, std::string> Settings() {
    std::lock_guard lock(mutex_);
    return store_.LoadSettings().value();
  }

  std::atomic<int> peeks{0};
  std::atomic<int> peeks_from_position{0};
  std::atomic<int> commits{0};
  std::atomic<bool> refuse_commits{false};
  // From now on commits are accepted but wait for ReleaseCommits: a pipeline busy with a large batch.
  void DeferCommits() {
    std::lock_guard lock(mutex_);
    defer_commits_ = true;
  }

 private:
  store::Store& store_;
  mutable std::mutex mutex_;
  bool defer_commits_ = false;
  std::vector<std::pair<store::OutboxChange, Done>> deferred_;
};

}  // namespace ehg::test
