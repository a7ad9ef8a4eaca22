#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "devices/sim/measurement_generator.hpp"
#include "gateway/core/reading_sink.hpp"

namespace ehg::devices::sim {

// A physiology change at a time since the source started (see SetPhysiology for the names).
struct ScenarioChange {
  std::chrono::milliseconds after{0};
  std::string parameter;
  double value = 0;
};

struct SimulatedDevice {
  std::string device_id;
  Profile profile = Profile::kBloodPressure;
  std::chrono::milliseconds interval{60'000};
  std::uint64_t seed = 1;
  double artefact_rate = 0.02;
  std::vector<ScenarioChange> scenario;  // in time order
};

// Runs simulated devices on their schedules on one thread and hands their readings to a sink. A reading
// the sink refuses (queue full) is kept and offered again on the next round, like a real device that
// retransmits until acknowledged; beyond 10,000 waiting readings the oldest are dropped and counted.
class SimulatedSource {
 public:
  SimulatedSource(std::vector<SimulatedDevice> devices, core::ReadingSink& sink, const core::Clock& clock,
                  core::ReadingDone done = {});
  ~SimulatedSource();
  SimulatedSource(const SimulatedSource&) = delete;
  SimulatedSource& operator=(const SimulatedSource&) = delete;

  void Start();
  void Stop();  // idempotent; pending readings that were never accepted are counted as unsent

  std::uint64_t generated() const { return generated_.load(); }
  std::uint64_t unsent() const { return unsent_.load(); }

 private:
  void Run();

  struct Running {
    SimulatedDevice device;
    MeasurementGenerator generator;
    std::chrono::steady_clock::time_point next;
    std::size_t next_change = 0;
  };

  std::vector<Running> devices_;
  core::ReadingSink& sink_;
  const core::Clock& clock_;
  core::ReadingDone done_;
  std::chrono::steady_clock::time_point started_;
  std::vector<core::Reading> pending_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> generated_{0};
  std::atomic<std::uint64_t> unsent_{0};
};

}  // namespace ehg::devices::sim
