#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gateway/core/result.hpp"

namespace ehg::devices::ble {

class BusLoop;

// How an agent answers BlueZ's questions (BlueZ D-Bus API, org.bluez.Agent1). Addresses: AA:BB:CC:DD:EE:FF.
struct AgentPolicy {
  // Incoming Just Works pairing, service authorization, and numeric comparison where the agent cannot
  // show anything: true accepts.
  std::function<bool(const std::string& address)> authorize;
  // The passkey the device shows, typed in by someone; nullopt refuses.
  std::function<std::optional<std::uint32_t>(const std::string& address)> passkey;
  // Numeric comparison: does the device show this number? Defaults to `authorize`.
  std::function<bool(const std::string& address, std::uint32_t passkey)> confirm;
  // A passkey for the person to type on the device.
  std::function<void(const std::string& address, std::uint32_t passkey)> display;
};

// An org.bluez.Agent1 exported on a BusLoop and registered as BlueZ's default agent, so pairing that a
// device starts itself (BP cuffs do) reaches it. Lives on the loop thread.
class PairingAgent {
 public:
  static constexpr const char* kPath = "/org/ehealth_gateway/agent";

  // `capability`: "NoInputNoOutput" (the daemon: Just Works only) or "KeyboardDisplay" (the pair command).
  PairingAgent(BusLoop& loop, AgentPolicy policy, std::string capability);
  ~PairingAgent();

  // Registers with BlueZ and asks to be the default agent; again after bluetoothd restarted. Loop
  // thread; asynchronous, failures are logged.
  void Register();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct PairOptions {
  std::string bus_address;  // empty: the system bus
  std::string adapter = "hci0";
  std::string address;  // the device
  std::chrono::seconds discovery_timeout{30};
  std::chrono::seconds pairing_timeout{90};
};

// Pairs with a device and marks it trusted, so it reconnects without anyone's help. Discovers it first
// when BlueZ does not know it yet. A device already paired is only marked trusted.
Result<void> PairDevice(const PairOptions& options, AgentPolicy policy);

// "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF" -> "AA:BB:CC:DD:EE:FF" (empty when the path is not a device).
std::string AddressOfDevicePath(const std::string& path);

}  // namespace ehg::devices::ble
