#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"
#include "gateway/store/store.hpp"

namespace ehg::uplink {

// Where the uplink's rows come from and where its changes go (the store, through the pipeline).
class OutboxPort {
 public:
  virtual ~OutboxPort() = default;
  // Uplink thread only: the outbox in sending order, at most `limit` rows, after `after` when given.
  virtual Result<std::vector<store::OutboxRow>> Peek(std::size_t limit,
                                                     std::optional<store::OutboxPosition> after) = 0;
  // Thread-safe and asynchronous: `done` is called on another thread once the change was committed or
  // failed as a whole. false = not accepted now (nothing happened); offer it again later.
  virtual bool Commit(const store::OutboxChange& change,
                      std::function<void(const Result<store::WriteOutcome>&)> done) = 0;
  virtual store::OutboxSnapshot Snapshot() const = 0;  // thread-safe
  // Uplink thread only: signed command ids still remembered at `now`, and the database's floor.
  virtual Result<store::ReplayWindow> LoadReplayWindow(core::WallTime now) = 0;
};

// The production port: reads through the store's read-only connection, changes through the owner of
// the writer connection (the pipeline).
class ReaderOutbox final : public OutboxPort {
 public:
  ReaderOutbox(std::unique_ptr<store::OutboxReader> reader, store::OutboxChangeSink& writer)
      : reader_(std::move(reader)), writer_(writer) {}

  Result<std::vector<store::OutboxRow>> Peek(std::size_t limit,
                                             std::optional<store::OutboxPosition> after) override {
    return reader_->Peek(limit, after);
  }
  bool Commit(const store::OutboxChange& change,
              std::function<void(const Result<store::WriteOutcome>&)> done) override {
    return writer_.ApplyOutboxChange(change, std::move(done));
  }
  store::OutboxSnapshot Snapshot() const override { return writer_.outbox(); }
  Result<store::ReplayWindow> LoadReplayWindow(core::WallTime now) override {
    return reader_->LoadReplayWindow(now);
  }

 private:
  std::unique_ptr<store::OutboxReader> reader_;
  store::OutboxChangeSink& writer_;
};

}  // namespace ehg::uplink
