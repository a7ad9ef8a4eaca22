#include "devices/ble/scanner.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "devices/ble/bluez_dbus.hpp"
#include "devices/ble/bus_loop.hpp"
#include "devices/ble/pairing_agent.hpp"
#include "devices/ble_profiles/profiles.hpp"

namespace ehg::devices::ble {
namespace {

using namespace std::chrono_literals;

struct Heard {
  ScannedDevice device;
  bool in_scan = false;  // advertised while we listened (BlueZ also lists devices it merely remembers)
};

void Apply(Heard& heard, const bluez::Properties& properties, bool from_signal) {
  if (auto name = bluez::Get<std::string>(properties, "Name")) heard.device.name = *name;
  if (auto paired = bluez::Get<bool>(properties, "Paired")) heard.device.paired = *paired;
  if (auto rssi = bluez::Get<std::int16_t>(properties, "RSSI")) {
    heard.device.rssi_dbm = *rssi;
    heard.in_scan = true;
  }
  std::vector<std::uint16_t> services;
  if (auto uuids = bluez::Get<std::vector<std::string>>(properties, "UUIDs")) {
    for (const std::string& uuid : *uuids) {
      if (auto short_uuid = Uuid16(uuid)) services.push_back(*short_uuid);
    }
  }
  if (auto data = bluez::Get<std::map<std::string, sdbus::Variant>>(properties, "ServiceData")) {
    heard.in_scan = heard.in_scan || from_signal;
    for (const auto& [uuid, value] : *data) {
      if (auto short_uuid = Uuid16(uuid)) services.push_back(*short_uuid);
    }
  }
  for (const std::string& profile : HealthProfilesOf(services)) {
    auto& known = heard.device.health_services;
    if (std::find(known.begin(), known.end(), profile) == known.end()) known.push_back(profile);
  }
}

}  // namespace

Result<std::vector<ScannedDevice>> ScanDevices(const ScanOptions& options, const ScanProgress& progress) {
  auto connected = BusLoop::Connect(options.bus_address);
  if (!connected) return Fail(Errc::kUnavailable, "D-Bus: " + connected.error().message);
  std::unique_ptr<BusLoop> loop = std::move(*connected);
  const std::string adapter_path = "/org/bluez/" + options.adapter;
  std::mutex mutex;
  std::map<std::string, Heard> heard;  // by object path
  std::unique_ptr<sdbus::IProxy> adapter;
  std::vector<sdbus::Slot> matches;
  std::string failure;
  bool discovering = false;

  const auto record = [&](const std::string& path, const bluez::Properties& properties, bool from_signal) {
    if (path.rfind(adapter_path + "/dev_", 0) != 0) return;
    const std::string address = AddressOfDevicePath(path);
    if (address.empty()) return;
    std::lock_guard lock(mutex);
    Heard& entry = heard[path];
    entry.device.address = address;
    Apply(entry, properties, from_signal);
  };

  loop->Start();
  loop->RunAndWait([&] {
    try {
      sdbus::IConnection& connection = loop->connection();
      matches.push_back(connection.addMatch(
          "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager',"
          "member='InterfacesAdded',path='/'",
          [&](sdbus::Message& message) {
            sdbus::ObjectPath path;
            bluez::Interfaces interfaces;
            message >> path >> interfaces;
            if (auto device = interfaces.find(bluez::kDevice); device != interfaces.end())
              record(path, device->second, true);
          }));
      matches.push_back(
          connection.addMatch("type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',"
                              "member='PropertiesChanged',path_namespace='" +
                                  adapter_path + "'",
                              [&](sdbus::Message& message) {
                                std::string interface;
                                bluez::Properties changed;
                                message >> interface;
                                if (interface != bluez::kDevice) return;
                                message >> changed;
                                record(message.getPath(), changed, true);
                              }));
      auto root = sdbus::createProxy(connection, bluez::kService, "/");
      bluez::ManagedObjects objects;
      root->callMethod("GetManagedObjects").onInterface(bluez::kObjectManager).storeResultsTo(objects);
      if (objects.count(sdbus::ObjectPath(adapter_path)) == 0) {
        failure = "BlueZ has no adapter " + options.adapter + " (is the Bluetooth adapter plugged in?)";
        return;
      }
      for (const auto& [path, interfaces] : objects) {
        if (auto device = interfaces.find(bluez::kDevice); device != interfaces.end())
          record(path, device->second, false);
      }
      adapter = sdbus::createProxy(connection, bluez::kService, adapter_path);
      const std::map<std::string, sdbus::Variant> filter{{"Transport", sdbus::Variant(std::string("le"))},
                                                         {"DuplicateData", sdbus::Variant(true)}};
      adapter->callMethod("SetDiscoveryFilter").onInterface(bluez::kAdapter).withArguments(filter);
      adapter->callMethod("StartDiscovery").onInterface(bluez::kAdapter);
      discovering = true;
    } catch (const sdbus::Error& error) {
      failure = "BlueZ: " + bluez::ErrorText(error) +
                (error.getName() == "org.freedesktop.DBus.Error.ServiceUnknown" ? " (is bluetoothd running?)"
                                                                                : "") +
                (error.getName() == "org.bluez.Error.NotReady" ? " (is the adapter powered on?)" : "");
    }
  });

  if (failure.empty()) {
    const auto deadline = std::chrono::steady_clock::now() + options.duration;
    while (true) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      if (progress) {
        std::size_t count = 0;
        {
          std::lock_guard lock(mutex);
          count = static_cast<std::size_t>(std::count_if(
              heard.begin(), heard.end(), [](const auto& entry) { return entry.second.in_scan; }));
        }
        progress(std::chrono::ceil<std::chrono::seconds>(deadline - now), count);
      }
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(1s, deadline - now));
    }
  }

  loop->RunAndWait([&] {
    if (discovering) {
      try {
        adapter->callMethod("StopDiscovery").onInterface(bluez::kAdapter);
      } catch (const sdbus::Error&) {
        // discovery already ended (adapter reset): nothing to stop
      }
    }
    matches.clear();
    adapter.reset();
  });
  loop->Stop();
  if (!failure.empty()) return Fail(Errc::kUnavailable, failure);

  std::vector<ScannedDevice> devices;
  for (auto& [path, entry] : heard) {
    if (entry.in_scan) devices.push_back(std::move(entry.device));
  }
  std::sort(devices.begin(), devices.end(), [](const ScannedDevice& a, const ScannedDevice& b) {
    return a.rssi_dbm.value_or(-200) > b.rssi_dbm.value_or(-200);
  });
  return devices;
}

}  // namespace ehg::devices::ble
