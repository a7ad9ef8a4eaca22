#include "gateway/app/supervisor.hpp"

#include <algorithm>

namespace ehg::app {

std::chrono::microseconds MainLoopTurn(std::optional<std::chrono::microseconds> watchdog_interval) {
  std::chrono::microseconds turn = std::chrono::seconds(1);
  if (watchdog_interval) turn = std::min(turn, *watchdog_interval / 4);
  return turn;
}

WatchdogGuard::WatchdogGuard(std::chrono::microseconds watchdog_interval)
    : limit_(std::max<std::chrono::milliseconds>(
          std::chrono::seconds(5),
          std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_interval / 2))) {}

WatchdogGuard::Decision WatchdogGuard::Decide(core::SteadyTime now,
                                              const std::vector<core::ThreadHeartbeat>& heartbeats) {
  const std::vector<std::string> stalled = core::StalledThreads(now, heartbeats, limit_);
  if (stalled.empty()) {
    stall_logged_ = false;
    return {true, {}};
  }
  Decision decision;
  if (!stall_logged_) {
    for (const std::string& thread : stalled)
      decision.log_stalled += (decision.log_stalled.empty() ? "" : ",") + thread;
    stall_logged_ = true;
  }
  return decision;
}

}  // namespace ehg::app
