#include "gateway/uplink/backoff.hpp"

#include <algorithm>

namespace ehg::uplink {

ReconnectBackoff::ReconnectBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap,
                                   std::function<double()> random)
    : initial_(initial), cap_(std::max(cap, initial)), random_(std::move(random)) {}

std::chrono::milliseconds ReconnectBackoff::Next() {
  // Doubling stops once the cap is reached, so the shift never overflows however long the outage.
  std::chrono::milliseconds step = initial_;
  for (std::uint32_t i = 0; i < attempt_ && step < cap_; ++i)
    step *= 2;
  step = std::min(step, cap_);
  ++attempt_;
  const double fraction = std::clamp(random_(), 0.0, 1.0);
  const auto half = step / 2;
  return half +
         std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(half.count()) * fraction));
}

}  // namespace ehg::uplink
