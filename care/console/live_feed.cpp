#include "care/console/live_feed.hpp"

#include <algorithm>

namespace ehg::console {

void LiveFeed::Publish(const std::vector<std::string>& tenants) {
  if (tenants.empty()) return;
  {
    std::lock_guard lock(mutex_);
    recent_.emplace_back(++latest_, tenants);
    while (recent_.size() > kKept)
      recent_.pop_front();
  }
  changed_.notify_all();
}

void LiveFeed::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

std::uint64_t LiveFeed::Latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

bool LiveFeed::Relevant(std::uint64_t seen, const accounts::Account& account) const {
  // Forgotten changes after `seen`: say "changed" (a board that reads once too often costs little).
  if (!recent_.empty() && recent_.front().first > seen + 1) return true;
  for (const auto& [number, tenants] : recent_) {
    if (number <= seen) continue;
    for (const std::string& tenant : tenants)
      if (tenant == accounts::kAllTenants || accounts::InScope(account, tenant)) return true;
  }
  return false;
}

LiveFeed::Wake LiveFeed::WaitAfter(std::uint64_t seen, const accounts::Account& account,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (closed_) return {latest_, false, true};
    if (latest_ > seen) {
      if (Relevant(seen, account)) return {latest_, true, false};
      seen = latest_;  // others' changes: keep waiting for ours
    }
    if (std::chrono::steady_clock::now() >= deadline) return {seen, false, false};
    changed_.wait_until(lock, deadline);
  }
}

}  // namespace ehg::console
