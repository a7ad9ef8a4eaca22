#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/liveness.hpp"

// The supervisor's decisions on the main thread (signals, reload and the loop itself stay in daemon.cpp):
// how long one turn of the main loop waits, and whether systemd's watchdog is fed.
namespace ehg::app {

// One turn of the main loop: a quarter of systemd's watchdog interval, at most a second, so one late turn
// never costs a restart.
std::chrono::microseconds MainLoopTurn(std::optional<std::chrono::microseconds> watchdog_interval);

// WATCHDOG=1 only while the pipeline and uplink threads turn: a hung thread stops the pings and systemd
// restarts the service (Restart=on-failure), which recovers from the store.
class WatchdogGuard {
 public:
  // A thread counts as stalled when its last turn is older than half the watchdog interval (at least 5 s).
  explicit WatchdogGuard(std::chrono::microseconds watchdog_interval);

  struct Decision {
    bool ping = false;
    // Set once per stall (the names, comma separated), for the one error line; empty otherwise.
    std::string log_stalled;
  };
  Decision Decide(core::SteadyTime now, const std::vector<core::ThreadHeartbeat>& heartbeats);

  std::chrono::milliseconds limit() const { return limit_; }

 private:
  std::chrono::milliseconds limit_;
  bool stall_logged_ = false;
};

}  // namespace ehg::app
