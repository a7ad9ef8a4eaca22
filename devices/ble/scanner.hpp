#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/result.hpp"

// The installer's `scan`: which Bluetooth LE devices are near the gateway and what health services they
// advertise, so the right cuff can be paired. Discovery runs beside the daemon's own (BlueZ merges the
// discovery sessions of its clients).
namespace ehg::devices::ble {

struct ScanOptions {
  std::string bus_address;  // empty: the system bus
  std::string adapter = "hci0";
  std::chrono::seconds duration{10};
};

struct ScannedDevice {
  std::string address;
  std::string name;  // empty when the device did not advertise one
  std::optional<int> rssi_dbm;
  std::vector<std::string> health_services;  // profile names: blood_pressure, pulse_oximeter, bthome, ...
  bool paired = false;
};

// Told about once a second while scanning: seconds left, devices heard so far.
using ScanProgress = std::function<void(std::chrono::seconds left, std::size_t heard)>;

// Devices heard during the scan, strongest signal first. Errc::kUnavailable when BlueZ or the adapter
// cannot be used (the message says which and why).
Result<std::vector<ScannedDevice>> ScanDevices(const ScanOptions& options, const ScanProgress& progress);

}  // namespace ehg::devices::ble
