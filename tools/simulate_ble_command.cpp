// `ehealth-gateway-tools simulate-ble`: a BlueZ look-alike with virtual health devices, for the trainer.
#include <signal.h>

#include <algorithm>
#include <iostream>

#include "devices/ble_profiles/bthome.hpp"
#include "devices/sim/bluez_simulator.hpp"
#include "tools/scenario_text.hpp"
#include "tools/simulate_commands.hpp"

namespace ehg::tools {
namespace {

constexpr int kExitUsage = 64;

void BlockTerminationSignals(sigset_t& signals) {
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

}  // namespace

int SimulateBle(const SimulateBleRequest& request) {
  std::optional<devices::ble::BthomeKey> key;
  if (!request.bthome_key.empty()) {
    key = devices::ble::ParseKey(request.bthome_key);
    if (!key) {
      std::cerr << "error: --bthome-key takes 32 hex digits\n";
      return kExitUsage;
    }
  }
  auto steps = ParseScenarioText(request.scenario);
  const auto oximeter_parameter = [](const devices::sim::ScenarioChange& step) {
    return step.parameter == "spo2" || step.parameter == "pulse";
  };
  if (!steps || !std::all_of(steps->begin(), steps->end(), oximeter_parameter)) {
    std::cerr
        << "error: --scenario takes seconds:spo2=value or seconds:pulse=value items separated by commas\n";
    return kExitUsage;
  }

  sigset_t signals;
  BlockTerminationSignals(signals);
  devices::sim::BluezSimulator::Options options;
  options.bus_address = request.bus_address;
  auto started = devices::sim::BluezSimulator::Start(options);
  if (!started) {
    std::cerr << "error: " << started.error().message << "\n";
    return 1;
  }
  devices::sim::BluezSimulator& bluez = **started;
  const auto device = devices::sim::BondedDevice;
  bluez.AddDevice(device("5C:31:3E:00:4B:6B", "A&D_UA-651BLE", "blood_pressure", true));
  bluez.AddDevice(device("A4:C1:38:00:11:22", "TD1107", "thermometer", true));
  bluez.AddDevice(device("D0:39:72:B8:0A:99", "UC-352BLE", "weight_scale", true));
  bluez.AddDevice(device("00:1C:05:FF:4E:12", "Nonin3230", "pulse_oximeter", false));
  bluez.AddDevice(device("C4:7C:8D:6A:2B:01", "Contour", "glucose", false));
  auto button = device("54:48:E6:8F:80:A5", "SBBT-002C", "bthome", false);
  button.bthome_key = key;
  bluez.AddDevice(button);
  bluez.AddDevice(device("54:48:E6:8F:80:A6", "SBMO-003Z", "bthome", false));
  double spo2 = 96, pulse = 72;
  bluez.SetStream("00:1C:05:FF:4E:12", spo2, pulse);
  bluez.AddGlucoseRecord("C4:7C:8D:6A:2B:01", 1, 6.1, std::chrono::minutes(240));
  bluez.AddGlucoseRecord("C4:7C:8D:6A:2B:01", 2, 8.4, std::chrono::minutes(60));
  std::cerr << "simulate-ble: BlueZ look-alike on "
            << (request.bus_address.empty() ? "the system bus" : request.bus_address) << " with 7 devices\n";

  const auto start = std::chrono::steady_clock::now();
  int tick = 0;
  bool pressed = false;
  while (true) {
    const timespec one_second{1, 0};
    siginfo_t info{};
    const int signal_number = sigtimedwait(&signals, &info, &one_second);
    if (signal_number == SIGTERM || signal_number == SIGINT) break;
    ++tick;
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
    for (auto it = steps->begin(); it != steps->end();) {
      if (elapsed < it->after) {
        ++it;
        continue;
      }
      (it->parameter == "spo2" ? spo2 : pulse) = it->value;
      bluez.SetStream("00:1C:05:FF:4E:12", spo2, pulse);
      it = steps->erase(it);
    }
    if (request.interval_seconds > 0 && tick % request.interval_seconds == 1) {
      bluez.MeasureBloodPressure("5C:31:3E:00:4B:6B", 128 + tick % 7, 82 + tick % 5, 68 + tick % 9);
      bluez.MeasureTemperature("A4:C1:38:00:11:22", 36.8 + (tick % 4) / 10.0);
      bluez.MeasureWeight("D0:39:72:B8:0A:99", 81.2 + (tick % 3) / 10.0);
    }
    if (tick % 10 == 0)
      bluez.Advertise("54:48:E6:8F:80:A6", {0x01, 0x5F, 0x21, static_cast<std::uint8_t>(tick % 20 == 0)});
    if (!pressed && request.button_press_seconds > 0 && elapsed.count() >= request.button_press_seconds) {
      bluez.Advertise("54:48:E6:8F:80:A5", {0x01, 0x52, 0x3A, 0x01}, true);
      std::cerr << "simulate-ble: alarm button pressed\n";
      pressed = true;
    }
  }
  return 0;
}

}  // namespace ehg::tools
