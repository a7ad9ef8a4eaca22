#pragma once

#include <filesystem>
#include <string>

namespace ehg::app {

// Pairs the gateway with a BLE device (passkey typed in on the terminal, or Just Works) and marks it
// trusted. 0 when paired, 1 when pairing failed, 64 for bad arguments, 78 for a bad config.
struct PairRequest {
  std::string address;
  std::filesystem::path config;  // optional: takes the adapter and bus from its bluetooth section
  std::string adapter;           // overrides
  std::string bus_address;
  int seconds = 30;  // how long to look for the device
};
int PairBleDevice(const PairRequest& request);

// Lists the Bluetooth LE devices near the gateway (address, name, signal, advertised health services)
// with a progress line on stderr. 0 when the scan ran (even if it heard nothing), 69 when BlueZ or the
// adapter cannot be used, 78 for a bad config.
struct ScanRequest {
  std::filesystem::path config;  // optional: takes the adapter and bus from its bluetooth section
  std::string adapter;
  std::string bus_address;
  int seconds = 10;
};
int ScanBleDevices(const ScanRequest& request);

}  // namespace ehg::app
