#pragma once

// BlueZ's D-Bus names and property plumbing (BlueZ D-Bus API: org.bluez.Adapter1, Device1,
// GattCharacteristic1, Agent1; docs/ble.md, "BlueZ"), for the adapter files of this folder and the
// BlueZ simulator only: the one header that carries sdbus types, so the rest of the code never sees them.
#include <sdbus-c++/sdbus-c++.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace ehg::devices::ble::bluez {

inline constexpr const char* kService = "org.bluez";
inline constexpr const char* kObjectManager = "org.freedesktop.DBus.ObjectManager";
inline constexpr const char* kAgentManager = "org.bluez.AgentManager1";
inline constexpr const char* kAgent = "org.bluez.Agent1";
inline constexpr const char* kAdapter = "org.bluez.Adapter1";
inline constexpr const char* kDevice = "org.bluez.Device1";
inline constexpr const char* kGattService = "org.bluez.GattService1";
inline constexpr const char* kCharacteristic = "org.bluez.GattCharacteristic1";
inline constexpr const char* kBattery = "org.bluez.Battery1";

using Properties = std::map<std::string, sdbus::Variant>;
using Interfaces = std::map<std::string, Properties>;
using ManagedObjects = std::map<sdbus::ObjectPath, Interfaces>;

// "/org/bluez/hci0" + "AA:BB:CC:DD:EE:FF" -> "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF".
inline std::string DevicePath(const std::string& adapter_path, std::string address) {
  for (char& c : address) {
    if (c == ':') c = '_';
  }
  return adapter_path + "/dev_" + address;
}

// "org.bluez.Error.NotReady: Resource Not Ready": a D-Bus error as people read it in logs and messages.
inline std::string ErrorText(const sdbus::Error& error) {
  return error.getName() + (error.getMessage().empty() ? "" : ": " + error.getMessage());
}

// A property of the expected type, else nullopt (a wrong type from a peer is treated as absent).
template <typename T>
std::optional<T> Get(const Properties& properties, const std::string& name) {
  auto found = properties.find(name);
  if (found == properties.end() || !found->second.containsValueOfType<T>()) return std::nullopt;
  return found->second.get<T>();
}

}  // namespace ehg::devices::ble::bluez
