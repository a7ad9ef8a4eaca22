#pragma once

#include <span>
#include <string_view>

#include "gateway/core/device_time.hpp"

// The kinds of device the gateway reads: one table that the config's validation, the drivers'
// factories, the simulators and the command-line help all read, so a new serial protocol or BLE profile
// is one row here (and then its decoder), never a name added to several lists.
namespace ehg::core {

// How the gateway reaches a device: the config's devices[].type ("serial", "ble", "sim").
enum class DeviceConnection { kSerial, kBle, kSimulated };

struct DeviceKind {
  DeviceConnection link = DeviceConnection::kSerial;
  // As the config writes it: devices[].protocol for serial devices, devices[].profile for the others.
  std::string_view name;
  std::string_view measures;     // what it delivers, in words (vital-sign names: vital_signs.hpp)
  std::string_view description;  // the devices it stands for, one line for the command-line help
  // Streams what it measures now, or keeps records and sends them later (the default clock tolerance).
  DeviceTiming timing = DeviceTiming::kStreaming;
  bool user_slots = false;  // shared by several people: the config's `user` names the resident's slot
  bool polled = false;      // serial: the gateway downloads its memory every poll_interval
  bool hangs_up = false;    // BLE: connects, delivers and hangs up: unconnected between measurements
};

// Every kind, serial protocols first, then BLE profiles, then the simulated profiles; within a link in
// the order the config's error messages list them.
std::span<const DeviceKind> DeviceKinds();
// The kind of that link and name; nullptr for an unknown one.
const DeviceKind* FindDeviceKind(DeviceConnection link, std::string_view name);
// The names of one link's kinds, in catalogue order (the config's "one of ..." choices).
std::span<const std::string_view> DeviceKindNames(DeviceConnection link);

}  // namespace ehg::core
