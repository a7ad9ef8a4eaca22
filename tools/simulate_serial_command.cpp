// `ehealth-gateway-tools simulate-serial`, and the --scenario text both simulators take.
#include <signal.h>

#include <iostream>
#include <sstream>

#include "devices/sim/serial_simulator.hpp"
#include "gateway/core/device_catalog.hpp"
#include "tools/scenario_text.hpp"
#include "tools/simulate_commands.hpp"

namespace ehg::tools {

std::optional<std::vector<devices::sim::ScenarioChange>> ParseScenarioText(const std::string& text) {
  std::vector<devices::sim::ScenarioChange> changes;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    const auto colon = item.find(':');
    const auto equals = item.find('=');
    if (colon == std::string::npos || equals == std::string::npos || equals < colon) return std::nullopt;
    try {
      const double seconds = std::stod(item.substr(0, colon));
      const double value = std::stod(item.substr(equals + 1));
      if (seconds < 0) return std::nullopt;
      changes.push_back({std::chrono::milliseconds(static_cast<long long>(seconds * 1000)),
                         item.substr(colon + 1, equals - colon - 1), value});
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return changes;
}

int SimulateSerial(const SimulateSerialRequest& request) {
  auto scenario = ParseScenarioText(request.scenario);
  if (!scenario) {
    std::cerr << "error: --scenario takes seconds:parameter=value items separated by commas\n";
    return 64;
  }
  devices::sim::SerialSimulatorOptions options;
  options.protocol = request.protocol;
  options.link = request.link;
  options.seed = request.seed;
  options.byte_drop_rate = request.byte_drop_rate;
  options.scenario = std::move(*scenario);
  // A polled monitor (beurer-bm) has a record in its memory to download.
  if (const auto* kind = core::FindDeviceKind(core::DeviceConnection::kSerial, request.protocol);
      kind != nullptr && kind->polled) {
    devices::sim::BloodPressureRecord record;
    options.records = {record};
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  devices::sim::SerialSimulator simulator(options);
  if (auto plugged = simulator.Plug(); !plugged) {
    std::cerr << "error: " << plugged.error().message << "\n";
    return 1;
  }
  std::cerr << "simulated " << request.protocol << " on " << simulator.pty_path().string() << " via "
            << request.link.string() << "\n";
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  simulator.Unplug();
  std::cerr << "stopped after " << simulator.frames_sent() << " frames\n";
  return 0;
}

}  // namespace ehg::tools
