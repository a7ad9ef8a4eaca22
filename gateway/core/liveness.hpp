#pragma once

#include <chrono>
#include <optional>
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

// How a device's link is shown on the status page. A cuff, thermometer, scale or glucose meter connects,
// delivers its measurement and hangs up: between measurements it is idle, not missing. It is missing when
// it was never heard, has been silent for longer than its expected interval, or its link failed in a way
// that needs someone (pairing, the adapter, bluetoothd); a streaming device is missing whenever it is not
// connected.
enum class LinkShown { kConnected, kIdle, kMissing };

struct DeviceLink {
  bool connected = false;
  bool hangs_up_after_measuring = false;      // not connected is its normal state between measurements
  bool error_needs_action = false;            // the last link error cannot pass by itself
  std::optional<WallTime> last_heard;         // a value, an advertisement or a stored reading
  std::chrono::seconds expected_interval{0};  // the longest normal silence; 0: no limit
};

LinkShown JudgeLink(const DeviceLink& link, WallTime now);

}  // namespace ehg::core
