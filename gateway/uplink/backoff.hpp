#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace ehg::uplink {

// Reconnect delays: exponential from `initial`, capped at `cap`, each drawn uniformly from the upper
// half of its step ("equal jitter"), so a thousand gateways that lost the same broker do not all come
// back in the same second, and none waits less than half its step.
class ReconnectBackoff {
 public:
  // `random` returns a uniform value in [0, 1); injected so tests are deterministic.
  ReconnectBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap,
                   std::function<double()> random);

  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  std::uint32_t attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::function<double()> random_;
  std::uint32_t attempt_ = 0;
};

}  // namespace ehg::uplink
