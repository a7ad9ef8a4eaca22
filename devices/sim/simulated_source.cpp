#include "devices/sim/simulated_source.hpp"

#include <algorithm>

#include "gateway/core/log.hpp"

namespace ehg::devices::sim {
namespace {
constexpr std::chrono::milliseconds kRetryAfterRefusal{20};
// A real device's memory is finite too: beyond this many unaccepted readings the oldest are lost (counted).
constexpr std::size_t kMaxPending = 10'000;
}  // namespace

SimulatedSource::SimulatedSource(std::vector<SimulatedDevice> devices, core::ReadingSink& sink,
                                 const core::Clock& clock, core::ReadingDone done)
    : sink_(sink), clock_(clock), done_(std::move(done)), started_(std::chrono::steady_clock::now()) {
  const auto start = started_;
  for (SimulatedDevice& device : devices) {
    MeasurementGenerator generator(device.profile, device.seed, device.artefact_rate);
    // Devices start staggered by a fraction of their interval, as real ones never measure in lockstep.
    const auto offset = device.interval / 10 * static_cast<long>(devices_.size() % 10);
    devices_.push_back(Running{std::move(device), std::move(generator), start + offset, 0});
  }
}

SimulatedSource::~SimulatedSource() {
  Stop();
}

void SimulatedSource::Start() {
  std::lock_guard lock(mutex_);
  stop_ = false;
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void SimulatedSource::Stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SimulatedSource::Run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    auto next = std::chrono::steady_clock::time_point::max();
    for (const Running& running : devices_)
      next = std::min(next, running.next);
    if (!pending_.empty()) next = std::min(next, std::chrono::steady_clock::now() + kRetryAfterRefusal);
    if (next == std::chrono::steady_clock::time_point::max()) {
      wake_.wait(lock, [this] { return stop_; });
      break;
    }
    if (wake_.wait_until(lock, next, [this] { return stop_; })) break;
    lock.unlock();

    const auto now = std::chrono::steady_clock::now();
    for (Running& running : devices_) {
      if (running.next > now) continue;
      running.next += running.device.interval;
      if (running.next < now) running.next = now + running.device.interval;  // fell behind: skip, don't burst
      const auto& scenario = running.device.scenario;
      while (running.next_change < scenario.size() && started_ + scenario[running.next_change].after <= now) {
        const ScenarioChange& change = scenario[running.next_change++];
        SetPhysiology(running.generator.physiology(), change.parameter, change.value);
        core::LogInfo("simulated scenario step",
                      {{"device", running.device.device_id}, {"parameter", change.parameter}});
      }
      for (core::Reading& reading :
           running.generator.Next(running.device.device_id, clock_.Now(), !clock_.WallClockSynchronised())) {
        ++generated_;
        pending_.push_back(std::move(reading));
      }
    }
    if (pending_.size() > kMaxPending) {
      const std::size_t excess = pending_.size() - kMaxPending;
      unsent_ += excess;
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(excess));
      core::LogWarning("simulated source dropped readings the pipeline did not take", {{"count", excess}});
    }
    std::size_t handed = 0;
    for (; handed < pending_.size(); ++handed) {
      if (!sink_.Submit(pending_[handed], done_)) break;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(handed));
    lock.lock();
  }
  unsent_ += pending_.size();
  if (!pending_.empty())
    core::LogInfo("simulated source stopped with unsent readings", {{"count", pending_.size()}});
}

}  // namespace ehg::devices::sim
