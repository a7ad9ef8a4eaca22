#include <sdbus-c++/sdbus-c++.h>

#include "devices/ble/ble_manager_impl.hpp"
#include "gateway/core/log.hpp"

// The bus: the signals the manager listens to, org.bluez's owner coming and going, and BlueZ's object
// list read when it appears (docs/ble.md, "Connections", 2).
namespace ehg::devices::ble {

using namespace std::chrono_literals;

// Proxies, exported objects and matches belong to the connection: released before it closes.
void BleManager::Impl::ReleaseBusObjects() {
  agent.reset();
  proxies.clear();
  adapter_proxy.reset();
  root_proxy.reset();
  bus_proxy.reset();
  matches.clear();
}

sdbus::IProxy& BleManager::Impl::ProxyFor(const std::string& path) {
  auto& proxy = proxies[path];
  if (!proxy) proxy = sdbus::createProxy(loop->connection(), bluez::kService, path);
  return *proxy;
}

void BleManager::Impl::Subscribe() {
  sdbus::IConnection& connection = loop->connection();
  matches.push_back(connection.addMatch(
      "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
      "path_namespace='/org/bluez'",
      [this](sdbus::Message& message) { OnPropertiesChanged(message); }));
  matches.push_back(
      connection.addMatch("type='signal',interface='org.freedesktop.DBus.ObjectManager',path='/'",
                          [this](sdbus::Message& message) { OnObjectManagerSignal(message); }));
  matches.push_back(
      connection.addMatch("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                          "member='NameOwnerChanged',"
                          "arg0='org.bluez'",
                          [this](sdbus::Message& message) {
                            std::string name, old_owner, new_owner;
                            message >> name >> old_owner >> new_owner;
                            if (!old_owner.empty()) OnBluezVanished();
                            if (!new_owner.empty()) OnBluezAppeared(new_owner);
                          }));
  bus_proxy = sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
}

void BleManager::Impl::LookForBluez() {
  bus_proxy->callMethodAsync("GetNameOwner")
      .onInterface("org.freedesktop.DBus")
      .withArguments(std::string(bluez::kService))
      .uponReplyInvoke([this](const sdbus::Error* error, std::string owner) {
        if (error != nullptr) {
          if (!logged_bluez_missing) {
            core::LogWarning("BlueZ (org.bluez) is not on the bus; waiting for bluetoothd",
                             {{"devices", devices.size()}});
            logged_bluez_missing = true;
          }
          return;
        }
        OnBluezAppeared(owner);
      });
}

bool BleManager::Impl::FromBluez(const sdbus::Message& message) const {
  return !bluez_owner.empty() && message.getSender() == bluez_owner;
}

void BleManager::Impl::OnBluezAppeared(const std::string& owner) {
  if (owner == bluez_owner) return;
  bluez_owner = owner;
  logged_bluez_missing = false;
  core::LogInfo("BlueZ is on the bus", {{"adapter", options.adapter}});
  if (agent) agent->Register();
  root_proxy = sdbus::createProxy(loop->connection(), bluez::kService, "/");
  root_proxy->callMethodAsync("GetManagedObjects")
      .onInterface(bluez::kObjectManager)
      .uponReplyInvoke([this](const sdbus::Error* error, bluez::ManagedObjects objects) {
        if (error != nullptr) {
          core::LogError("BlueZ object list not read", {{"reason", bluez::ErrorText(*error)}});
          loop->PostAfter(2s, [this] {
            const std::string previous = bluez_owner;
            bluez_owner.clear();
            if (!previous.empty()) OnBluezAppeared(previous);
          });
          return;
        }
        OnObjectList(objects);
      });
}

void BleManager::Impl::OnObjectList(const bluez::ManagedObjects& objects) {
  // A device's characteristics come after the device in the list: a device BlueZ has connected and
  // resolved already is set up once all of it is read, so its links are judged afterwards.
  loading = true;
  for (const auto& [path, interfaces] : objects)
    AddObject(path, interfaces);
  loading = false;
  EnsureDiscovery();
  for (const auto& [path, interfaces] : objects) {
    const auto device_interface = interfaces.find(bluez::kDevice);
    if (device_interface == interfaces.end()) continue;
    const auto address = bluez::Get<std::string>(device_interface->second, "Address");
    for (Device& device : devices) {
      if (address && UpperAddress(*address) == device.options.address)
        ApplyLinkProperties(device, device_interface->second);
    }
  }
  for (Device& device : devices)
    Apply(device, link_event::RadioReady{});
}

void BleManager::Impl::OnBluezVanished() {
  if (bluez_owner.empty()) return;
  core::LogWarning("BlueZ left the bus (bluetoothd stopped or restarting); waiting for it to return", {});
  bluez_owner.clear();
  adapter_present = false;
  powered = false;
  discovery_requested = false;
  proxies.clear();
  adapter_proxy.reset();
  root_proxy.reset();
  for (Device& device : devices) {
    Apply(device, link_event::Lost{LinkLoss::kBluetoothdStopped, true});
    device.characteristics.clear();
  }
}

}  // namespace ehg::devices::ble
