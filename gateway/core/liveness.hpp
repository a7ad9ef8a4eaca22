#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "gateway/core/clock.hpp"

namespace ehg::core {

// A worker thread's last sign of life: each loop turn stores the monotonic time (the pipeline and uplink
// threads turn at least every 500 ms, busy or idle).
struct ThreadHeartbeat {
  std::string thread;
  SteadyTime last_turn;
};

// The threads whose last turn is older than `limit` at `now`, in the order given. The service watchdog is
// fed only while this is empty, so that systemd restarts a gateway whose pipeline or uplink hangs.
std::vector<std::string> StalledThreads(SteadyTime now, const std::vector<ThreadHeartbeat>& heartbeats,
                                        std::chrono::milliseconds limit);

}  // namespace ehg::core
