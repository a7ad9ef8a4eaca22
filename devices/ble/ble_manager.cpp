#include "devices/ble/ble_manager.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "devices/ble/bluez_dbus.hpp"
#include "devices/ble/bluez_errors.hpp"
#include "devices/ble/bus_loop.hpp"
#include "devices/ble/pairing_agent.hpp"
#include "devices/ble_profiles/bthome.hpp"
#include "devices/ble_profiles/profiles.hpp"
#include "devices/ble_profiles/racp.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/vital_signs.hpp"
#include "gateway/core/thread_name.hpp"

namespace ehg::devices::ble {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr std::size_t kMaxPending = 10'000;
constexpr auto kRetryRefused = 200ms;
constexpr auto kAdvertisementConnectGap = 1s;
// The detail of a link the device itself ended (BlueZ: Connected became false).
const std::string kHungUp = "device disconnected";

// The characteristics whose values are the measurements of a profile, subscribed on every connection.
std::vector<std::uint16_t> MeasurementCharacteristics(const std::string& profile) {
  if (profile == "blood_pressure") return {uuid::kBloodPressureMeasurement};
  if (profile == "thermometer") return {uuid::kTemperatureMeasurement};
  if (profile == "heart_rate") return {uuid::kHeartRateMeasurement};
  if (profile == "pulse_oximeter") return {uuid::kPlxContinuous, uuid::kPlxSpotCheck};
  if (profile == "weight_scale") return {uuid::kWeightMeasurement};
  if (profile == "glucose")
    return {uuid::kGlucoseMeasurement, uuid::kGlucoseContext, uuid::kRecordAccessControlPoint};
  return {};
}

std::string Upper(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

unsigned Weekday(const core::CivilTime& time) {
  using namespace std::chrono;
  const weekday day{sys_days{year{time.year} / month{time.month} / std::chrono::day{time.day}}};
  return day.iso_encoding();  // 1 = Monday .. 7 = Sunday, as Current Time wants
}

}  // namespace

struct BleManager::Impl {
  struct Characteristic {
    std::uint16_t uuid16 = 0;
    std::vector<std::string> flags;
  };

  struct Device {
    BleDeviceOptions options;
    std::string path;
    std::optional<BthomeKey> key;
    BluetoothAddress address{};
    bool present = false;
    bool connected = false;
    bool resolved = false;
    bool connecting = false;
    bool set_up = false;
    bool reported_connected = false;
    bool battery_from_bluez = false;
    bool information_read = false;
    std::uint64_t generation = 0;
    std::map<std::string, Characteristic> characteristics;  // by object path
    std::chrono::milliseconds backoff{0};
    BusLoop::TimerId retry_timer = 0;
    BusLoop::TimerId services_timer = 0;
    BusLoop::TimerId records_timer = 0;
    Steady::time_point earliest_advertised_connect{};
    std::size_t notify_pending = 0;
    bool records_in_progress = false;
    std::optional<std::uint32_t> highest_sequence_seen;
    BthomeDeduplicator dedup;
    std::string last_logged_error;
    BleDeviceStats stats;
  };

  BleOptions options;
  core::ReadingSink& sink;
  core::DeviceStatusSink* statuses;
  const core::Clock& clock;
  mutable std::mutex loop_mutex;  // guards `loop` being set and reset (the starter thread, Stop, stats)
  std::unique_ptr<BusLoop> loop;
  std::unique_ptr<PairingAgent> agent;
  std::vector<Device> devices;
  std::string adapter_path;
  std::string bluez_owner;
  bool adapter_present = false;
  bool powered = false;
  bool discovery_requested = false;
  bool loading = false;  // reading BlueZ's object list
  bool logged_bluez_missing = false;
  std::unique_ptr<sdbus::IProxy> bus_proxy;
  std::unique_ptr<sdbus::IProxy> root_proxy;
  std::unique_ptr<sdbus::IProxy> adapter_proxy;
  std::map<std::string, std::unique_ptr<sdbus::IProxy>> proxies;  // by object path
  std::vector<sdbus::Slot> matches;
  std::deque<core::Reading> pending;
  std::deque<core::DeviceStatusChange> pending_statuses;
  BusLoop::TimerId flush_timer = 0;
  core::telemetry::OwnOrShared telemetry;
  // The oldest readings given up while the pipeline took none (kMaxPending waited), shared with the
  // serial drivers' drops of the same kind.
  core::telemetry::Counter readings_dropped;

  Impl(BleOptions o, core::ReadingSink& s, core::DeviceStatusSink* st, const core::Clock& c)
      : options(std::move(o)),
        sink(s),
        statuses(st),
        clock(c),
        telemetry(options.telemetry),
        readings_dropped(telemetry.get().AddCounter(core::telemetry::DroppedFamily(), {"queue_full"})) {
    adapter_path = "/org/bluez/" + options.adapter;
    for (const BleDeviceOptions& device_options : options.devices) {
      Device device;
      device.options = device_options;
      device.options.address = Upper(device.options.address);
      device.path = bluez::DevicePath(adapter_path, device.options.address);
      device.address = ParseAddress(device.options.address).value_or(BluetoothAddress{});
      if (!device_options.bthome_key_hex.empty()) device.key = ParseKey(device_options.bthome_key_hex);
      device.backoff = options.backoff_initial;
      device.stats.device_id = device_options.device_id;
      devices.push_back(std::move(device));
    }
  }

  // ---- bus plumbing -------------------------------------------------------------------------------

  // Proxies, exported objects and matches belong to the connection: released before it closes.
  void ReleaseBusObjects() {
    agent.reset();
    proxies.clear();
    adapter_proxy.reset();
    root_proxy.reset();
    bus_proxy.reset();
    matches.clear();
  }

  sdbus::IProxy& ProxyFor(const std::string& path) {
    auto& proxy = proxies[path];
    if (!proxy) proxy = sdbus::createProxy(loop->connection(), bluez::kService, path);
    return *proxy;
  }

  void Subscribe() {
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

  void LookForBluez() {
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

  bool FromBluez(const sdbus::Message& message) const {
    return !bluez_owner.empty() && message.getSender() == bluez_owner;
  }

  void OnBluezAppeared(const std::string& owner) {
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
          // A device already connected and resolved is set up once its characteristics are known too:
          // they come after the device in the object list.
          loading = true;
          for (auto& [path, interfaces] : objects)
            AddObject(path, interfaces);
          loading = false;
          EnsureDiscovery();
          for (Device& device : devices) {
            if (device.connected && device.resolved) {
              SetUp(device);
            } else {
              MaybeConnect(device);
            }
          }
        });
  }

  void OnBluezVanished() {
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
      Disconnected(device, "bluetoothd stopped");
      device.present = false;
      device.characteristics.clear();
    }
  }

  // ---- object tree ----------------------------------------------------------------------------------

  Device* DeviceAt(const std::string& path) {
    for (Device& device : devices) {
      if (device.path == path) return &device;
    }
    return nullptr;
  }

  Device* DeviceOwning(const std::string& path) {
    for (Device& device : devices) {
      if (path.size() > device.path.size() && path.compare(0, device.path.size(), device.path) == 0 &&
          path[device.path.size()] == '/')
        return &device;
    }
    return nullptr;
  }

  void AddObject(const std::string& path, const bluez::Interfaces& interfaces) {
    if (path == adapter_path && interfaces.count(bluez::kAdapter) != 0) {
      adapter_present = true;
      const auto& properties = interfaces.at(bluez::kAdapter);
      adapter_proxy = sdbus::createProxy(loop->connection(), bluez::kService, adapter_path);
      SetPowered(bluez::Get<bool>(properties, "Powered").value_or(false));
    }
    if (auto device_interface = interfaces.find(bluez::kDevice); device_interface != interfaces.end()) {
      const auto address = bluez::Get<std::string>(device_interface->second, "Address");
      for (Device& device : devices) {
        if (!address || Upper(*address) != device.options.address) continue;
        device.path = path;
        device.present = true;
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

  void RemoveObject(const std::string& path, const std::vector<std::string>& interfaces) {
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
        Disconnected(*device, "device removed from BlueZ");
        device->present = false;
        device->characteristics.clear();
      }
    }
    if (has(bluez::kCharacteristic)) {
      if (Device* device = DeviceOwning(path)) device->characteristics.erase(path);
    }
    proxies.erase(path);
  }

  void OnObjectManagerSignal(sdbus::Message& message) {
    if (!FromBluez(message)) return;
    if (message.getMemberName() == "InterfacesAdded") {
      sdbus::ObjectPath path;
      bluez::Interfaces interfaces;
      message >> path >> interfaces;
      AddObject(path, interfaces);
      if (Device* device = DeviceAt(path); device != nullptr && interfaces.count(bluez::kDevice) != 0) {
        OnAdvertisement(*device);
      }
    } else if (message.getMemberName() == "InterfacesRemoved") {
      sdbus::ObjectPath path;
      std::vector<std::string> interfaces;
      message >> path >> interfaces;
      RemoveObject(path, interfaces);
    }
  }

  void OnPropertiesChanged(sdbus::Message& message) {
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

  void SetPowered(bool on) {
    if (on == powered) return;
    powered = on;
    if (!on) {
      core::LogWarning("Bluetooth adapter is off; devices wait until it is powered",
                       {{"adapter", options.adapter}});
      discovery_requested = false;
      for (Device& device : devices)
        Disconnected(device, "adapter powered off");
      return;
    }
    core::LogInfo("Bluetooth adapter is on", {{"adapter", options.adapter}});
    EnsureDiscovery();
    for (Device& device : devices)
      MaybeConnect(device);
  }

  void ApplyDeviceProperties(Device& device, const bluez::Properties& properties, bool is_change) {
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
    if (auto connected = bluez::Get<bool>(properties, "Connected")) {
      if (*connected) {
        device.connected = true;
      } else if (device.connected || device.connecting) {
        Disconnected(device, kHungUp);
      }
    }
    if (auto resolved = bluez::Get<bool>(properties, "ServicesResolved")) {
      device.resolved = *resolved;
      if (*resolved && device.connected && !loading) SetUp(device);
    }
    if (is_change && advertised) OnAdvertisement(device);
  }

  void ApplyBattery(Device& device, const bluez::Properties& properties) {
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

  // ---- connections ----------------------------------------------------------------------------------

  bool Connectable(const Device& device) const { return device.options.profile != "bthome"; }

  void EnsureDiscovery() {
    if (discovery_requested || bluez_owner.empty() || !adapter_present || !powered || devices.empty()) return;
    discovery_requested = true;
    std::map<std::string, sdbus::Variant> filter{{"Transport", sdbus::Variant(std::string("le"))}};
    adapter_proxy->callMethodAsync("SetDiscoveryFilter")
        .onInterface(bluez::kAdapter)
        .withArguments(filter)
        .uponReplyInvoke([this](const sdbus::Error* error) {
          if (error != nullptr)
            core::LogWarning("discovery filter not set", {{"reason", bluez::ErrorText(*error)}});
          if (!adapter_proxy) return;
          adapter_proxy->callMethodAsync("StartDiscovery")
              .onInterface(bluez::kAdapter)
              .uponReplyInvoke([this](const sdbus::Error* start_error) {
                if (start_error != nullptr && start_error->getName() != "org.bluez.Error.InProgress") {
                  core::LogWarning("discovery not started; retrying",
                                   {{"reason", bluez::ErrorText(*start_error)}});
                  discovery_requested = false;
                  loop->PostAfter(5s, [this] { EnsureDiscovery(); });
                  return;
                }
                core::LogInfo("discovering Bluetooth LE devices", {{"adapter", options.adapter}});
              });
        });
  }

  void OnAdvertisement(Device& device) {
    if (!Connectable(device) || device.connected || device.connecting) return;
    if (Steady::now() < device.earliest_advertised_connect) return;
    MaybeConnect(device);
  }

  void MaybeConnect(Device& device) {
    if (!Connectable(device) || device.connected || device.connecting) return;
    if (bluez_owner.empty() || !adapter_present || !powered) return;
    if (!device.present) {
      ScheduleRetry(device);  // discovery will add it
      return;
    }
    if (device.retry_timer != 0) {
      loop->Cancel(device.retry_timer);
      device.retry_timer = 0;
    }
    device.connecting = true;
    const std::uint64_t generation = ++device.generation;
    const std::string id = device.options.device_id;
    core::LogInfo("connecting", {{"device", id}});
    ProxyFor(device.path)
        .callMethodAsync("Connect")
        .onInterface(bluez::kDevice)
        .withTimeout(options.connect_timeout)
        .uponReplyInvoke([this, id, generation](const sdbus::Error* error) {
          Device* found = Find(id);
          if (found == nullptr || found->generation != generation) return;
          if (error != nullptr) {
            found->connecting = false;
            ++found->stats.connect_failures;
            NoteBluezError(*found, "connect failed", *error);
            ScheduleRetry(*found);
            return;
          }
          found->connecting = false;
          found->connected = true;
          ++found->stats.connects;
          found->services_timer = loop->PostAfter(options.services_timeout, [this, id, generation] {
            Device* waiting = Find(id);
            if (waiting == nullptr || waiting->generation != generation || waiting->set_up) return;
            core::LogWarning("services not resolved in time; disconnecting to retry", {{"device", id}});
            Disconnect(*waiting);
          });
          if (found->resolved) SetUp(*found);
        });
  }

  void Disconnect(Device& device) {
    ProxyFor(device.path)
        .callMethodAsync("Disconnect")
        .onInterface(bluez::kDevice)
        .uponReplyInvoke([](const sdbus::Error*) {});
    Disconnected(device, "gave up waiting for services");
  }

  void ScheduleRetry(Device& device) {
    if (!Connectable(device) || device.retry_timer != 0) return;
    const std::string id = device.options.device_id;
    device.retry_timer = loop->PostAfter(device.backoff, [this, id] {
      Device* found = Find(id);
      if (found == nullptr) return;
      found->retry_timer = 0;
      MaybeConnect(*found);
    });
    device.backoff = std::min(device.backoff * 2, options.backoff_max);
  }

  void Disconnected(Device& device, const std::string& why) {
    const bool was_linked = device.connected || device.connecting;
    device.connected = false;
    device.connecting = false;
    device.resolved = false;
    device.set_up = false;
    device.records_in_progress = false;
    ++device.generation;
    for (BusLoop::TimerId* timer : {&device.services_timer, &device.records_timer}) {
      if (*timer != 0) loop->Cancel(*timer);
      *timer = 0;
    }
    device.earliest_advertised_connect = Steady::now() + kAdvertisementConnectGap;
    // A cuff, thermometer, scale or glucose meter hanging up is how it works, not an error.
    if (!(why == kHungUp && HangsUpAfterMeasuring(device.options.profile))) {
      SetError(device, LinkLossText(why), "", false);
    }
    if (device.reported_connected) Report(device, false, why);
    if (was_linked) ScheduleRetry(device);
  }

  // Why a link went down (the detail of the device event), as the installer reads it.
  static std::string LinkLossText(const std::string& why) {
    if (why == kHungUp)
      return "The device ended the connection: switched off, out of range or a flat battery. The gateway "
             "reconnects when it is back.";
    if (why == "bluetoothd stopped")
      return "The Bluetooth service (bluetoothd) stopped; devices reconnect when it is back. If it stays "
             "away: `systemctl status bluetooth`.";
    if (why == "adapter powered off")
      return "The gateway's Bluetooth adapter was switched off; devices reconnect when it is on again "
             "(`bluetoothctl show`, `rfkill list`).";
    if (why == "device removed from BlueZ")
      return "Bluetooth forgot the device (it stopped advertising, or its pairing was removed); it is found "
             "again when it advertises.";
    if (why == "gave up waiting for services")
      return "The device connected but did not list its services in time; the gateway reconnects.";
    return why;
  }

  void SetError(Device& device, std::string text, std::string detail, bool needs_action) {
    device.stats.last_error = std::move(text);
    device.stats.last_error_detail = std::move(detail);
    device.stats.link_needs_action = needs_action;
  }

  // A BlueZ error: worded for the installer, the D-Bus name kept beside it and in the debug log. A device
  // that sleeps between measurements does not answer then: that is logged at debug only.
  void NoteBluezError(Device& device, const char* what, const sdbus::Error& error) {
    const ExplainedError explained = ExplainBluezError(error.getName(), error.getMessage());
    const std::string detail = bluez::ErrorText(error);
    SetError(device, explained.text, detail, explained.needs_action);
    if (!explained.needs_action && HangsUpAfterMeasuring(device.options.profile)) {
      core::LogDebug(what,
                     {{"device", device.options.device_id}, {"reason", explained.text}, {"detail", detail}});
      return;
    }
    LogOnce(device, what, explained.text, detail);
  }

  Device* Find(const std::string& id) {
    for (Device& device : devices) {
      if (device.options.device_id == id) return &device;
    }
    return nullptr;
  }

  std::optional<std::string> CharacteristicPath(const Device& device, std::uint16_t uuid16) const {
    for (const auto& [path, characteristic] : device.characteristics) {
      if (characteristic.uuid16 == uuid16) return path;
    }
    return std::nullopt;
  }

  bool HasFlag(const Device& device, const std::string& path, const char* flag) const {
    const auto& flags = device.characteristics.at(path).flags;
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
  }

  // Services are resolved: subscribe, set the device clock, read battery and identity, fetch records.
  void SetUp(Device& device) {
    if (device.set_up) return;
    device.set_up = true;
    if (device.services_timer != 0) loop->Cancel(device.services_timer);
    device.services_timer = 0;
    device.backoff = options.backoff_initial;
    SetError(device, "", "", false);  // connected and set up: whatever failed before has passed
    const std::string id = device.options.device_id;
    const std::uint64_t generation = device.generation;

    std::vector<std::string> subscribe;
    for (const std::uint16_t uuid16 : MeasurementCharacteristics(device.options.profile)) {
      if (auto path = CharacteristicPath(device, uuid16)) subscribe.push_back(*path);
    }
    if (subscribe.empty()) {
      SetError(device,
               "The device does not offer the " + device.options.profile +
                   " measurement: check that the profile in the config matches the device model.",
               "", true);
      LogOnce(device, "device does not offer the configured profile", device.stats.last_error);
    }
    Report(device, true, "connected" + Identity(device));
    device.notify_pending = subscribe.size();
    for (const std::string& path : subscribe) {
      ProxyFor(path)
          .callMethodAsync("StartNotify")
          .onInterface(bluez::kCharacteristic)
          .uponReplyInvoke([this, id, generation, path](const sdbus::Error* error) {
            Device* found = Find(id);
            if (found == nullptr || found->generation != generation) return;
            if (error != nullptr) {
              NoteBluezError(*found, "subscription refused", *error);
              const bool needs_bond = error->getName() == "org.bluez.Error.NotPermitted" ||
                                      error->getName() == "org.bluez.Error.NotAuthorized";
              if (needs_bond) {
                found->stats.last_error =
                    "The device answers only a gateway it is paired with: run "
                    "`ehealth-gateway pair " +
                    found->options.address + "`.";
              }
              Report(*found, true, found->stats.last_error);
            }
            if (found->notify_pending > 0 && --found->notify_pending == 0) AfterSubscribed(*found);
          });
    }
    WriteTime(device);
    ReadBattery(device);
    ReadInformation(device);
  }

  void AfterSubscribed(Device& device) {
    if (device.options.profile == "glucose") RequestRecords(device);
  }

  void WriteTime(Device& device) {
    auto cts = CharacteristicPath(device, uuid::kCurrentTime);
    auto date_time = CharacteristicPath(device, uuid::kDateTime);
    if ((!cts && !date_time) || !options.utc_to_local) return;
    if (!clock.WallClockSynchronised()) {
      core::LogInfo("device clock not set: the gateway's own clock is not synchronised yet",
                    {{"device", device.options.device_id}});
      return;
    }
    const core::CivilTime local = options.utc_to_local(clock.Now());
    // Adjust reason: external reference time update (the gateway follows NTP).
    const std::vector<std::uint8_t> value =
        cts ? EncodeCurrentTime(local, Weekday(local), 0x02) : EncodeDateTime(local);
    const std::string id = device.options.device_id;
    std::map<std::string, sdbus::Variant> write_options{{"type", sdbus::Variant(std::string("request"))}};
    ProxyFor(cts ? *cts : *date_time)
        .callMethodAsync("WriteValue")
        .onInterface(bluez::kCharacteristic)
        .withArguments(value, write_options)
        .uponReplyInvoke([this, id](const sdbus::Error* error) {
          Device* found = Find(id);
          if (found == nullptr) return;
          if (error != nullptr) {
            core::LogWarning("device clock not set", {{"device", id}, {"reason", bluez::ErrorText(*error)}});
            return;
          }
          ++found->stats.time_writes;
          core::LogInfo("device clock set", {{"device", id}});
        });
  }

  void ReadBattery(Device& device) {
    if (device.battery_from_bluez) return;
    auto path = CharacteristicPath(device, uuid::kBatteryLevel);
    if (!path) return;
    const std::string id = device.options.device_id;
    ReadValue(*path, [this, id](const std::vector<std::uint8_t>& value) {
      if (Device* found = Find(id)) OnValue(*found, uuid::kBatteryLevel, value);
    });
    if (HasFlag(device, *path, "notify")) {
      ProxyFor(*path)
          .callMethodAsync("StartNotify")
          .onInterface(bluez::kCharacteristic)
          .uponReplyInvoke([](const sdbus::Error*) {});
    }
  }

  void ReadInformation(Device& device) {
    if (device.information_read) return;
    device.information_read = true;
    for (const std::uint16_t uuid16 :
         {uuid::kManufacturerName, uuid::kModelNumber, uuid::kFirmwareRevision}) {
      auto path = CharacteristicPath(device, uuid16);
      if (!path) continue;
      const std::string id = device.options.device_id;
      ReadValue(*path, [id, uuid16](const std::vector<std::uint8_t>& value) {
        const char* field = uuid16 == uuid::kManufacturerName ? "manufacturer"
                            : uuid16 == uuid::kModelNumber    ? "model"
                                                              : "firmware";
        core::LogInfo("device information", {{"device", id}, {field, ParseInformationString(value)}});
      });
    }
  }

  void ReadValue(const std::string& path, std::function<void(const std::vector<std::uint8_t>&)> done) {
    std::map<std::string, sdbus::Variant> read_options;
    ProxyFor(path)
        .callMethodAsync("ReadValue")
        .onInterface(bluez::kCharacteristic)
        .withArguments(read_options)
        .uponReplyInvoke([done = std::move(done), path](const sdbus::Error* error,
                                                        std::vector<std::uint8_t> value) {
          if (error != nullptr) {
            core::LogDebug("characteristic not read", {{"path", path}, {"reason", bluez::ErrorText(*error)}});
            return;
          }
          done(value);
        });
  }

  std::string Identity(const Device& device) const {
    std::string text;
    if (device.stats.rssi) text += ", rssi " + std::to_string(*device.stats.rssi) + " dBm";
    return text;
  }

  // ---- glucose records --------------------------------------------------------------------------------

  void RequestRecords(Device& device) {
    auto racp_path = CharacteristicPath(device, uuid::kRecordAccessControlPoint);
    if (!racp_path || device.records_in_progress) return;
    std::optional<std::uint32_t> last;
    if (options.last_sequence) last = options.last_sequence(device.options.device_id);
    if (device.highest_sequence_seen && (!last || *device.highest_sequence_seen > *last))
      last = device.highest_sequence_seen;
    std::vector<std::uint8_t> request;
    if (last && *last < 0xFFFF) {
      request = racp::ReportRecordsFrom(static_cast<std::uint16_t>(*last + 1));
      device.stats.last_record_requested_from = *last + 1;
    } else {
      request =
          racp::ReportAllRecords();  // nothing stored yet, or the counter wrapped: duplicates are dropped
      device.stats.last_record_requested_from = 0;
    }
    device.records_in_progress = true;
    ++device.stats.records_requested;
    const std::string id = device.options.device_id;
    const std::uint64_t generation = device.generation;
    core::LogInfo("requesting stored records",
                  {{"device", id},
                   {"from_sequence", static_cast<std::uint64_t>(*device.stats.last_record_requested_from)}});
    std::map<std::string, sdbus::Variant> write_options{{"type", sdbus::Variant(std::string("request"))}};
    ProxyFor(*racp_path)
        .callMethodAsync("WriteValue")
        .onInterface(bluez::kCharacteristic)
        .withArguments(request, write_options)
        .uponReplyInvoke([this, id, generation](const sdbus::Error* error) {
          Device* found = Find(id);
          if (found == nullptr || found->generation != generation || error == nullptr) return;
          found->records_in_progress = false;
          NoteBluezError(*found, "record request refused; retried at the next connection", *error);
        });
    device.records_timer = loop->PostAfter(options.records_timeout, [this, id, generation,
                                                                     path = *racp_path] {
      Device* found = Find(id);
      if (found == nullptr || found->generation != generation || !found->records_in_progress) return;
      found->records_timer = 0;
      core::LogWarning("record transfer timed out; aborting it", {{"device", id}});
      std::map<std::string, sdbus::Variant> abort_options{{"type", sdbus::Variant(std::string("request"))}};
      ProxyFor(path)
          .callMethodAsync("WriteValue")
          .onInterface(bluez::kCharacteristic)
          .withArguments(racp::Abort(), abort_options)
          .uponReplyInvoke([](const sdbus::Error*) {});
    });
  }

  void OnRecordAccess(Device& device, const std::vector<std::uint8_t>& value) {
    auto indication = racp::ParseIndication(value);
    if (!indication) {
      ++device.stats.parse_errors;
      core::LogWarning("record access indication refused",
                       {{"device", device.options.device_id}, {"reason", indication.error().message}});
      return;
    }
    if (const auto* count = std::get_if<racp::NumberOfRecords>(&*indication)) {
      core::LogInfo("stored records on the device",
                    {{"device", device.options.device_id}, {"count", count->count}});
      return;
    }
    const auto& response = std::get<racp::Response>(*indication);
    if (response.request == racp::OpCode::kAbort) ++device.stats.record_transfers_aborted;
    if (response.request == racp::OpCode::kReportRecords || response.request == racp::OpCode::kAbort) {
      device.records_in_progress = false;
      if (device.records_timer != 0) loop->Cancel(device.records_timer);
      device.records_timer = 0;
    }
    const std::string outcome = racp::ResponseCodeName(response.code);
    if (response.code == static_cast<std::uint8_t>(racp::ResponseCode::kSuccess) ||
        response.code == static_cast<std::uint8_t>(racp::ResponseCode::kNoRecordsFound)) {
      core::LogInfo("record transfer finished", {{"device", device.options.device_id}, {"outcome", outcome}});
    } else {
      SetError(device, "record access: " + outcome, "", false);
      core::LogWarning("record transfer failed",
                       {{"device", device.options.device_id}, {"outcome", outcome}});
    }
  }

  // ---- values -----------------------------------------------------------------------------------------

  void OnValue(Device& device, std::uint16_t uuid16, const std::vector<std::uint8_t>& value) {
    ++device.stats.values;
    device.stats.last_contact = clock.Now();
    if (uuid16 == uuid::kRecordAccessControlPoint) {
      OnRecordAccess(device, value);
      return;
    }
    const CharacteristicParser parser = FindParser(uuid16);
    if (parser == nullptr) return;
    auto measurement = parser(value);
    if (!measurement) {
      ++device.stats.parse_errors;
      SetError(device, measurement.error().message, "", false);
      core::LogWarning("device value refused",
                       {{"device", device.options.device_id}, {"reason", measurement.error().message}});
      return;
    }
    if (measurement->intermediate || uuid16 == uuid::kGlucoseContext) return;
    if (device.options.user && measurement->user && *measurement->user != *device.options.user) {
      ++device.stats.other_users;
      core::LogInfo(
          "measurement of another user of the device skipped",
          {{"device", device.options.device_id}, {"user", static_cast<unsigned>(*measurement->user)}});
      return;
    }
    if (measurement->sequence) {
      const std::uint32_t sequence = *measurement->sequence;
      if (!device.highest_sequence_seen || sequence > *device.highest_sequence_seen)
        device.highest_sequence_seen = sequence;
    }
    // The device's time is a claim passed on as it is: the pipeline judges it against the receive time
    // (gateway/core/device_time.hpp). Only a device that says its own clock is not set gives none.
    std::optional<core::WallTime> device_time;
    if (measurement->device_local_time && !measurement->device_clock_not_set && options.local_to_utc) {
      device_time = options.local_to_utc(*measurement->device_local_time);
    }
    for (const ProfileValue& profile_value : measurement->values) {
      core::Reading reading = MakeReading(device, profile_value.metric, profile_value.value);
      reading.device_time = device_time;
      reading.flags = measurement->flags;
      if (measurement->sequence) reading.sequence = *measurement->sequence;
      Queue(device, std::move(reading));
    }
    Flush();
  }

  void OnServiceData(Device& device, const sdbus::Variant& variant) {
    std::map<std::string, sdbus::Variant> data;
    try {
      data = variant.get<std::map<std::string, sdbus::Variant>>();
    } catch (const sdbus::Error&) {
      return;
    }
    auto entry = data.find(Uuid128(uuid::kBthomeServiceData));
    if (entry == data.end()) return;
    std::vector<std::uint8_t> bytes;
    try {
      bytes = entry->second.get<std::vector<std::uint8_t>>();
    } catch (const sdbus::Error&) {
      return;
    }
    ++device.stats.values;
    device.stats.last_contact = clock.Now();
    auto packet = DecodeBthome(bytes, device.key, device.address);
    if (!packet) {
      ++device.stats.parse_errors;
      SetError(device, packet.error().message, "", false);
      LogOnce(device, "advertisement refused", packet.error().message);
      return;
    }
    switch (device.dedup.Check(*packet)) {
      case BthomeDeduplicator::Verdict::kDuplicate:
        ++device.stats.duplicates;
        return;
      case BthomeDeduplicator::Verdict::kReplay:
        ++device.stats.replays;
        LogOnce(device, "advertisement refused", "old counter (replayed packet)");
        return;
      case BthomeDeduplicator::Verdict::kNew:
        break;
    }
    if (!device.reported_connected) Report(device, true, "receiving advertisements");
    for (const ProfileValue& value : packet->values)
      Queue(device, MakeReading(device, value.metric, value.value));
    for (const BthomeButtonEvent& button : packet->buttons) {
      ButtonMeaning meaning = ButtonMeaning::kEmergency;
      for (const auto& [name, configured] : device.options.button_meanings) {
        if (name == button.name) meaning = configured;
      }
      if (meaning == ButtonMeaning::kIgnore) {
        core::LogInfo("button event ignored by configuration",
                      {{"device", device.options.device_id}, {"event", button.name}});
        continue;
      }
      core::LogInfo("button pressed", {{"device", device.options.device_id}, {"event", button.name}});
      Queue(device, MakeReading(device, "button", button.code));
    }
    if (packet->battery_low) core::LogWarning("battery low", {{"device", device.options.device_id}});
    Flush();
  }

  core::Reading MakeReading(const Device& device, const std::string& metric, double value) const {
    core::Reading reading;
    reading.device_id = device.options.device_id;
    reading.metric = metric;
    reading.value = value;
    const core::MetricInfo* info = core::FindMetric(metric);
    reading.unit = info != nullptr ? std::string(info->unit) : std::string();
    reading.received_at = clock.Now();
    reading.time_uncertain = !clock.WallClockSynchronised();
    return reading;
  }

  void Queue(Device& device, core::Reading reading) {
    ++device.stats.readings;
    pending.push_back(std::move(reading));
    while (pending.size() > kMaxPending) {
      pending.pop_front();
      readings_dropped.Add();
      if (const std::uint64_t dropped = readings_dropped.Value(); dropped % 1000 == 1) {
        core::LogError("pipeline not taking readings; oldest dropped", {{"dropped_total", dropped}});
      }
    }
  }

  void Report(Device& device, bool connected, const std::string& detail) {
    device.reported_connected = connected;
    device.stats.connected = connected;
    if (statuses == nullptr) return;
    pending_statuses.push_back({device.options.device_id, connected, detail, clock.Now()});
    Flush();
  }

  void Flush() {
    while (statuses != nullptr && !pending_statuses.empty()) {
      if (!statuses->ReportDeviceStatus(pending_statuses.front())) break;
      pending_statuses.pop_front();
    }
    while (!pending.empty()) {
      if (!sink.Submit(pending.front())) break;
      pending.pop_front();
    }
    if ((!pending.empty() || !pending_statuses.empty()) && flush_timer == 0) {
      flush_timer =
          loop->PostAfter(std::chrono::duration_cast<std::chrono::milliseconds>(kRetryRefused), [this] {
            flush_timer = 0;
            Flush();
          });
    }
  }

  // `detail`, the D-Bus error behind `reason`, goes to the debug log only.
  void LogOnce(Device& device, const char* what, const std::string& reason, const std::string& detail = {}) {
    const std::string key = std::string(what) + reason;
    if (!detail.empty()) core::LogDebug(what, {{"device", device.options.device_id}, {"detail", detail}});
    if (device.last_logged_error == key) {
      core::LogDebug(what, {{"device", device.options.device_id}, {"reason", reason}});
      return;
    }
    device.last_logged_error = key;
    core::LogWarning(what, {{"device", device.options.device_id}, {"reason", reason}});
  }
};

BleManager::BleManager(BleOptions options, core::ReadingSink& readings, core::DeviceStatusSink* statuses,
                       const core::Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), readings, statuses, clock)) {}

BleManager::~BleManager() {
  Stop();
}

// Connects to the bus and starts the loop; false when the bus cannot be reached (logged).
bool BleManager::Connect() {
  auto loop = BusLoop::Connect(impl_->options.bus_address);
  if (!loop) {
    core::LogError("Bluetooth devices wait: D-Bus not reachable; retrying every 30 s",
                   {{"reason", loop.error().message}});
    return false;
  }
  std::lock_guard lock(impl_->loop_mutex);
  impl_->loop = std::move(*loop);
  try {
    impl_->Subscribe();
    // Bonded devices that start pairing themselves (Just Works) are accepted when configured; passkey
    // pairing needs a person: `ehealth-gateway pair`.
    AgentPolicy policy;
    policy.authorize = [impl = impl_.get()](const std::string& address) {
      for (const Impl::Device& device : impl->devices) {
        if (device.options.address == address) return true;
      }
      return false;
    };
    impl_->agent = std::make_unique<PairingAgent>(*impl_->loop, std::move(policy), "NoInputNoOutput");
  } catch (const sdbus::Error& error) {
    core::LogError("Bluetooth devices wait: BlueZ signals not subscribed; retrying every 30 s",
                   {{"reason", bluez::ErrorText(error)}});
    impl_->ReleaseBusObjects();
    impl_->loop.reset();
    return false;
  }
  impl_->loop->Start();
  impl_->loop->Post([impl = impl_.get()] { impl->LookForBluez(); });
  return true;
}

void BleManager::Start() {
  if (starter_.joinable()) return;
  stopping_ = false;
  // Opening a bus connection can block for the bus's whole timeout (a daemon that does not answer):
  // never on the caller's thread, so the gateway's other devices and READY do not wait for Bluetooth.
  starter_ = std::thread([this] {
    core::NameThisThread("ehg-ble-connect");
    while (!Connect()) {
      std::unique_lock lock(stop_mutex_);
      if (stop_signal_.wait_for(lock, std::chrono::seconds(30), [this] { return stopping_; })) return;
    }
  });
}

void BleManager::Stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  if (starter_.joinable()) starter_.join();
  std::lock_guard lock(impl_->loop_mutex);
  if (!impl_->loop) return;
  impl_->loop->RunAndWait([impl = impl_.get()] { impl->Flush(); });
  impl_->loop->Stop();
  impl_->ReleaseBusObjects();
  impl_->loop.reset();
}

std::vector<BleDeviceStats> BleManager::stats() const {
  std::lock_guard lock(impl_->loop_mutex);
  std::vector<BleDeviceStats> out;
  auto copy = [&] {
    for (const Impl::Device& device : impl_->devices)
      out.push_back(device.stats);
  };
  if (impl_->loop) {
    impl_->loop->RunAndWait(copy);
  } else {
    copy();
  }
  return out;
}

bool BleManager::bluez_present() const {
  std::lock_guard lock(impl_->loop_mutex);
  bool present = false;
  auto read = [&] { present = !impl_->bluez_owner.empty(); };
  if (impl_->loop) {
    impl_->loop->RunAndWait(read);
  } else {
    read();
  }
  return present;
}

}  // namespace ehg::devices::ble
