#pragma once

#include <memory>

#include "gateway/app/daemon.hpp"

namespace ehg::tools {

// The daemon's source of the config's "sim" devices (`ehealth-gateway-tools run`): realistic, noisy
// readings on their schedules. Null when the config has none. Matches app::SimulatedDeviceFactory.
std::unique_ptr<app::DeviceSource> StartSimulatedDevices(const config::Config& config,
                                                         core::ReadingSink& sink, const core::Clock& clock,
                                                         core::ReadingDone done);

}  // namespace ehg::tools
