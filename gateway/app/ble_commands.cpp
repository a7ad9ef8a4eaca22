// `scan` and `pair`: the installer's Bluetooth commands.
#include "gateway/app/ble_commands.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <thread>

#include "devices/ble/pairing_agent.hpp"
#include "devices/ble/scanner.hpp"
#include "devices/ble_profiles/bthome.hpp"
#include "gateway/app/exit_codes.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/cli_input.hpp"

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

// The adapter and bus: from the config's bluetooth section, overridden by options.
std::optional<int> BluetoothTarget(const std::filesystem::path& config_path, const std::string& adapter,
                                   const std::string& bus_address, std::string& adapter_out,
                                   std::string& bus_out) {
  if (!config_path.empty()) {
    if (auto refused = core::RefuseUnusableInput("bluetooth", config_path, core::kConfigFile, kExitConfig))
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

}  // namespace ehg::app
