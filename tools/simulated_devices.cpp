#include "tools/simulated_devices.hpp"

#include <variant>

#include "devices/sim/simulated_source.hpp"
#include "gateway/config/config.hpp"

namespace ehg::tools {
namespace {

std::vector<devices::sim::SimulatedDevice> SimulatedDevices(const config::Config& config) {
  std::vector<devices::sim::SimulatedDevice> simulated;
  for (const config::DeviceConfig& device : config.devices) {
    if (const auto* settings = std::get_if<config::SimulatedDeviceConfig>(&device.settings)) {
      // The config accepts exactly the profile names the simulator knows (tested), so this is set.
      const auto profile = devices::sim::ParseProfile(settings->profile);
      std::vector<devices::sim::ScenarioChange> scenario;
      for (const config::ScenarioStep& step : settings->scenario)
        scenario.push_back({step.after, step.parameter, step.value});
      simulated.push_back({device.id, profile.value(), settings->interval, settings->seed,
                           settings->artefact_rate, std::move(scenario)});
    }
  }
  return simulated;
}

class SimulatedDeviceSource : public app::DeviceSource {
 public:
  explicit SimulatedDeviceSource(std::unique_ptr<devices::sim::SimulatedSource> source)
      : source_(std::move(source)) {}
  void Stop() override { source_->Stop(); }

 private:
  std::unique_ptr<devices::sim::SimulatedSource> source_;
};

}  // namespace

std::unique_ptr<app::DeviceSource> StartSimulatedDevices(const config::Config& config,
                                                         core::ReadingSink& sink, const core::Clock& clock,
                                                         core::ReadingDone done) {
  auto simulated = SimulatedDevices(config);
  if (simulated.empty()) return nullptr;
  auto source =
      std::make_unique<devices::sim::SimulatedSource>(std::move(simulated), sink, clock, std::move(done));
  source->Start();
  return std::make_unique<SimulatedDeviceSource>(std::move(source));
}

}  // namespace ehg::tools
