#include "gateway/core/liveness.hpp"

namespace ehg::core {

std::vector<std::string> StalledThreads(SteadyTime now, const std::vector<ThreadHeartbeat>& heartbeats,
                                        std::chrono::milliseconds limit) {
  std::vector<std::string> stalled;
  for (const ThreadHeartbeat& heartbeat : heartbeats) {
    // A turn "in the future" cannot happen with one monotonic clock; treat it as alive rather than guess.
    if (now > heartbeat.last_turn && now - heartbeat.last_turn > limit) stalled.push_back(heartbeat.thread);
  }
  return stalled;
}

LinkShown JudgeLink(const DeviceLink& link, WallTime now) {
  if (link.connected) return LinkShown::kConnected;
  if (!link.hangs_up_after_measuring || link.error_needs_action || !link.last_heard)
    return LinkShown::kMissing;
  // A contact "in the future" (the wall clock was set back) is recent: idle rather than guess.
  const bool overdue = link.expected_interval.count() > 0 && now > *link.last_heard &&
                       now - *link.last_heard > link.expected_interval;
  return overdue ? LinkShown::kMissing : LinkShown::kIdle;
}

}  // namespace ehg::core
