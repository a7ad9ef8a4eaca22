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

}  // namespace ehg::core
