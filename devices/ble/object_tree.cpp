#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>

#include "devices/ble/ble_manager_impl.hpp"
#include "gateway/core/log.hpp"

// BlueZ's objects (the adapter, the configured devices, their characteristics and batteries) and their
// property changes, turned into what the other parts act on: link events for the devices' LinkMachine,
// values, the adapter's power (docs/ble.md, "BlueZ"). Devices are found by address, characteristics by
// UUID, never by path.
namespace ehg::devices::ble {

using namespace std::chrono_literals;

BleManager::Impl::Device* BleManager::Impl::DeviceAt(const std::string& path) {
  for (Device& device : devices) {
    if (device.path == path) return &device;
  }
  return nullptr;
}

BleManager::Impl::Device* BleManager::Impl::DeviceOwning(const std::string& path) {
  for (Device& device : devices) {
    if (path.size() > device.path.size() && path.compare(0, device.path.size(), device.path) == 0 &&
        path[device.path.size()] == '/')
      return &device;
  }
  return nullptr;
}

void BleManager::Impl::AddObject(const std::string& path, const bluez::Interfaces& interfaces) {
  if (path == adapter_path && interfaces.count(bluez::kAdapter) != 0) {
    adapter_present = true;
    const auto& properties = interfaces.at(bluez::kAdapter);
    adapter_proxy = sdbus::createProxy(loop->connection(), bluez::kService, adapter_path);
    SetPowered(bluez::Get<bool>(properties, "Powered").value_or(false));
  }
  if (auto device_interface = interfaces.find(bluez::kDevice); device_interface != interfaces.end()) {
    const auto address = bluez::Get<std::string>(device_interface->second, "Address");
    for (Device& device : devices) {
      if (!address || UpperAddress(*address) != device.options.address) continue;
      device.path = path;
      Apply(device, link_event::Listed{});
      ApplyDeviceProperties(device, device_interface->second, false);
    }
  }
  if (auto battery = interfaces.find(bluez::kBattery); battery != interfaces.end()) {
    if (Device* device = DeviceAt(path)) ApplyBattery(*device, battery->second);
  }
  if (auto characteristic = interfaces.find(bluez::kCharacteristic); characteristic != interfaces.end()) {
    if (Device* device = DeviceOwning(path)) {
      const auto id = bluez::Get<std::string>(characteristic->second, "UUID");
      const auto uuid16 = id ? Uuid16(*id) : std::nullopt;
      if (uuid16) {
        device->characteristics[path] =
            Characteristic{*uuid16, bluez::Get<std::vector<std::string>>(characteristic->second, "Flags")
                                        .value_or(std::vector<std::string>{})};
      }
    }
  }
}

void BleManager::Impl::RemoveObject(const std::string& path, const std::vector<std::string>& interfaces) {
  const auto has = [&](const char* name) {
    return std::find(interfaces.begin(), interfaces.end(), name) != interfaces.end();
  };
  if (path == adapter_path && has(bluez::kAdapter)) {
    core::LogWarning("Bluetooth adapter removed", {{"adapter", options.adapter}});
    adapter_present = false;
    SetPowered(false);
  }
  if (has(bluez::kDevice)) {
    if (Device* device = DeviceAt(path)) {
      Apply(*device, link_event::Lost{LinkLoss::kRemovedFromBluez, true});
      device->characteristics.clear();
    }
  }
  if (has(bluez::kCharacteristic)) {
    if (Device* device = DeviceOwning(path)) device->characteristics.erase(path);
  }
  proxies.erase(path);
}

void BleManager::Impl::OnObjectManagerSignal(sdbus::Message& message) {
  if (!FromBluez(message)) return;
  if (message.getMemberName() == "InterfacesAdded") {
    sdbus::ObjectPath path;
    bluez::Interfaces interfaces;
    message >> path >> interfaces;
    AddObject(path, interfaces);
    if (Device* device = DeviceAt(path); device != nullptr && interfaces.count(bluez::kDevice) != 0) {
      Apply(*device, link_event::Advertised{});  // discovery found it: it is advertising
    }
  } else if (message.getMemberName() == "InterfacesRemoved") {
    sdbus::ObjectPath path;
    std::vector<std::string> interfaces;
    message >> path >> interfaces;
    RemoveObject(path, interfaces);
  }
}

void BleManager::Impl::OnPropertiesChanged(sdbus::Message& message) {
  if (!FromBluez(message)) return;
  const std::string path = message.getPath();
  std::string interface;
  bluez::Properties changed;
  std::vector<std::string> invalidated;
  message >> interface >> changed >> invalidated;
  if (interface == bluez::kAdapter && path == adapter_path) {
    if (auto on = bluez::Get<bool>(changed, "Powered")) SetPowered(*on);
    if (auto discovering = bluez::Get<bool>(changed, "Discovering"); discovering && !*discovering) {
      // Another client or a controller reset ended discovery; ask again.
      discovery_requested = false;
      loop->PostAfter(1s, [this] { EnsureDiscovery(); });
    }
  } else if (interface == bluez::kDevice) {
    if (Device* device = DeviceAt(path)) ApplyDeviceProperties(*device, changed, true);
  } else if (interface == bluez::kBattery) {
    if (Device* device = DeviceAt(path)) ApplyBattery(*device, changed);
  } else if (interface == bluez::kCharacteristic) {
    Device* device = DeviceOwning(path);
    if (device == nullptr) return;
    auto value = bluez::Get<std::vector<std::uint8_t>>(changed, "Value");
    auto known = device->characteristics.find(path);
    if (value && known != device->characteristics.end()) OnValue(*device, known->second.uuid16, *value);
  }
}

void BleManager::Impl::SetPowered(bool on) {
  if (on == powered) return;
  powered = on;
  if (!on) {
    core::LogWarning("Bluetooth adapter is off; devices wait until it is powered",
                     {{"adapter", options.adapter}});
    discovery_requested = false;
    for (Device& device : devices)
      Apply(device, link_event::Lost{LinkLoss::kAdapterOff, false});
    return;
  }
  core::LogInfo("Bluetooth adapter is on", {{"adapter", options.adapter}});
  EnsureDiscovery();
  for (Device& device : devices)
    Apply(device, link_event::RadioReady{});
}

void BleManager::Impl::ApplyDeviceProperties(Device& device, const bluez::Properties& properties,
                                             bool is_change) {
  bool advertised = false;
  if (auto rssi = bluez::Get<std::int16_t>(properties, "RSSI")) {
    device.stats.rssi = *rssi;
    device.stats.last_contact = clock.Now();
    advertised = true;
  }
  if (auto data = properties.find("ServiceData"); data != properties.end()) {
    advertised = true;
    if (device.options.profile == "bthome") OnServiceData(device, data->second);
  }
  // While the object list is read, links wait until all of it is (OnObjectList).
  if (!loading) ApplyLinkProperties(device, properties);
  if (is_change && advertised) Apply(device, link_event::Advertised{});
}

void BleManager::Impl::ApplyLinkProperties(Device& device, const bluez::Properties& properties) {
  if (auto connected = bluez::Get<bool>(properties, "Connected")) {
    if (*connected) {
      Apply(device, link_event::LinkUp{});
    } else {
      Apply(device, link_event::Lost{LinkLoss::kHungUp, false});
    }
  }
  if (auto resolved = bluez::Get<bool>(properties, "ServicesResolved"); resolved && *resolved) {
    Apply(device, link_event::ServicesResolved{});
  }
}

void BleManager::Impl::ApplyBattery(Device& device, const bluez::Properties& properties) {
  if (auto percentage = bluez::Get<std::uint8_t>(properties, "Percentage")) {
    device.battery_from_bluez = true;
    if (device.stats.battery == static_cast<int>(*percentage)) return;
    device.stats.battery = *percentage;
    if (*percentage <= 100) {
      Queue(device, MakeReading(device, "battery", *percentage));
      Flush();
    }
  }
}

std::optional<std::string> BleManager::Impl::CharacteristicPath(const Device& device,
                                                                std::uint16_t uuid16) const {
  for (const auto& [path, characteristic] : device.characteristics) {
    if (characteristic.uuid16 == uuid16) return path;
  }
  return std::nullopt;
}

bool BleManager::Impl::HasFlag(const Device& device, const std::string& path, const char* flag) const {
  const auto& flags = device.characteristics.at(path).flags;
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

}  // namespace ehg::devices::ble
