#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "care/accounts/accounts.hpp"

// Fans the hub's "a tenant's alerts changed" out to the console's open boards (server-sent events).
// One LiveFeed per console process; a thread feeds it from ledger::AlertChanges, every event stream
// waits on it. It carries tenants only: each board reads its alerts again through the API, which checks
// the session and writes the audit row (docs/console.md#live-updates).
namespace ehg::console {

class LiveFeed {
 public:
  // `tenants` changed ("*": any may have).
  void Publish(const std::vector<std::string>& tenants);
  // Wakes every waiter for good (the process stops).
  void Close();

  // The number of the latest change; a new stream starts from it.
  std::uint64_t Latest() const;

  struct Wake {
    std::uint64_t latest = 0;  // pass it to the next call
    bool changed = false;      // a change the account sees came after `seen`
    bool closed = false;
  };
  // Waits at most `timeout` for a change after `seen` that the account's scope includes.
  Wake WaitAfter(std::uint64_t seen, const accounts::Account& account, std::chrono::milliseconds timeout);

 private:
  bool Relevant(std::uint64_t seen, const accounts::Account& account) const;

  static constexpr std::size_t kKept = 1024;  // changes remembered; a waiter further behind reads again
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t latest_ = 0;
  std::deque<std::pair<std::uint64_t, std::vector<std::string>>> recent_;
  bool closed_ = false;
};

}  // namespace ehg::console
