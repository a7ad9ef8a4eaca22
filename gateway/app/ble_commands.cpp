// `pair` and `simulate-ble`: the installer's and the trainer's Bluetooth commands.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <thread>

#include "devices/ble/pairing_agent.hpp"
#include "devices/ble/scanner.hpp"
#include "devices/ble_profiles/bthome.hpp"
#include "devices/sim/bluez_simulator.hpp"
#include "gateway/app/cli_input.hpp"
#include "gateway/app/daemon.hpp"
#include "gateway/app/scenario_text.hpp"
#include "gateway/config/config.hpp"

namespace ehg::app {
namespace {

constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE

std::optional<std::uint32_t> AskPasskey(const std::string& address) {
  std::cerr << "Enter the 6-digit passkey shown on " << address << ": " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  try {
    std::size_t used = 0;
    const unsigned long passkey = std::stoul(line, &used);
    if (used != line.size() || passkey > 999'999) return std::nullopt;
    return static_cast<std::uint32_t>(passkey);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool Confirm(const std::string& address, std::uint32_t passkey) {
  std::cerr << "Does " << address << " show " << passkey << "? [y/N] " << std::flush;
  std::string line;
  return std::getline(std::cin, line) && (line == "y" || line == "Y" || line == "yes");
}

void BlockTerminationSignals(sigset_t& signals) {
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

// The adapter and bus: from the config's bluetooth section, overridden by options.
std::optional<int> BluetoothTarget(const std::filesystem::path& config_path, const std::string& adapter,
                                   const std::string& bus_address, std::string& adapter_out,
                                   std::string& bus_out) {
  if (!config_path.empty()) {
    if (auto refused = RefuseUnusableInput("bluetooth", config_path, core::kConfigFile, kExitConfig))
      return refused;
    auto config = config::LoadConfig(config_path);
    if (!config) {
      for (const auto& error : config.error())
        std::cerr << config_path.string() << ": " << error.ToString() << "\n";
      return kExitConfig;
    }
    adapter_out = config->bluetooth.adapter;
    bus_out = config->bluetooth.bus_address;
  }
  if (!adapter.empty()) adapter_out = adapter;
  if (!bus_address.empty()) bus_out = bus_address;
  return std::nullopt;
}

}  // namespace

int ScanBleDevices(const ScanRequest& request) {
  devices::ble::ScanOptions options;
  if (auto failed = BluetoothTarget(request.config, request.adapter, request.bus_address, options.adapter,
                                    options.bus_address)) {
    return *failed;
  }
  options.duration = std::chrono::seconds(request.seconds);
  // The progress line rewrites itself on a terminal; a log or pipe gets one line per update.
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  auto devices = devices::ble::ScanDevices(options, [terminal](std::chrono::seconds left, std::size_t heard) {
    std::cerr << (terminal ? "\r" : "") << "scanning: " << heard << " devices heard, " << left.count()
              << " s left   " << (terminal ? "" : "\n") << std::flush;
  });
  if (terminal) std::cerr << "\r" << std::string(48, ' ') << "\r" << std::flush;
  if (!devices) {
    std::cerr << "scan: " << devices.error().message << "\n";
    return kExitUnavailable;
  }
  std::cout << std::left << std::setw(19) << "ADDRESS" << std::setw(8) << "RSSI" << std::setw(24) << "NAME"
            << "HEALTH SERVICES\n";
  for (const devices::ble::ScannedDevice& device : *devices) {
    std::string services;
    for (const std::string& service : device.health_services)
      services += (services.empty() ? "" : ",") + service;
    std::cout << std::setw(19) << device.address << std::setw(8)
              << (device.rssi_dbm ? std::to_string(*device.rssi_dbm) : "-") << std::setw(24)
              << (device.name.empty() ? "(no name)" : device.name.substr(0, 23))
              << (services.empty() ? "-" : services) << (device.paired ? "  (paired)" : "") << "\n";
  }
  std::cerr << devices->size() << " devices heard in " << request.seconds << " s\n";
  return 0;
}

int PairBleDevice(const PairRequest& request) {
  if (!devices::ble::ParseAddress(request.address)) {
    std::cerr
        << "error: the address is AA:BB:CC:DD:EE:FF (the label on the device, or `bluetoothctl devices`)\n";
    return kExitUsage;
  }
  devices::ble::PairOptions options;
  options.address = request.address;
  for (char& c : options.address)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (auto failed = BluetoothTarget(request.config, request.adapter, request.bus_address, options.adapter,
                                    options.bus_address)) {
    return *failed;
  }
  options.discovery_timeout = std::chrono::seconds(request.seconds);

  devices::ble::AgentPolicy policy;
  policy.authorize = [&](const std::string& address) { return address == options.address; };
  policy.passkey = [&](const std::string& address) -> std::optional<std::uint32_t> {
    if (address != options.address) return std::nullopt;
    return AskPasskey(address);
  };
  policy.confirm = [&](const std::string& address, std::uint32_t passkey) {
    return address == options.address && Confirm(address, passkey);
  };
  policy.display = [](const std::string& address, std::uint32_t passkey) {
    std::cerr << "Type " << passkey << " on " << address << "\n";
  };
  std::cerr << "Looking for " << options.address << " (up to " << request.seconds
            << " s); put it in pairing mode now\n";
  auto paired = devices::ble::PairDevice(options, std::move(policy));
  if (!paired) {
    std::cerr << "error: " << paired.error().message << "\n";
    return 1;
  }
  std::cout << options.address << " paired and trusted: the gateway reconnects to it by itself\n";
  return 0;
}

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

}  // namespace ehg::app
