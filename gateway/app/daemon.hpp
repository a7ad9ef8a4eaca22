#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "gateway/app/exit_codes.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/reading_sink.hpp"

namespace ehg::config {
struct Config;
}

namespace ehg::app {

// Readings the daemon starts and stops with its devices besides its own drivers: the simulated devices
// (config type "sim") of the tools binary. Stop is idempotent and joins whatever the source runs.
class DeviceSource {
 public:
  virtual ~DeviceSource() = default;
  virtual void Stop() = 0;
};

// Makes and starts the source of the config's simulated devices; null when the config has none.
using SimulatedDeviceFactory = std::function<std::unique_ptr<DeviceSource>(
    const config::Config& config, core::ReadingSink& sink, const core::Clock& clock, core::ReadingDone done)>;

struct DaemonOptions {
  // Empty in the production binary (`ehealth-gateway`, which links no simulator): a config with a "sim"
  // device is then refused at start, on reload and by config.apply. `ehealth-gateway-tools run` sets it.
  SimulatedDeviceFactory simulated_devices;
};

// Runs the gateway until SIGTERM or SIGINT; SIGHUP reloads the config. Returns the exit code.
int RunDaemon(const std::filesystem::path& config_path, const DaemonOptions& options = {});

}  // namespace ehg::app
