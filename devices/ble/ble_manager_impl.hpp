#pragma once

// The BLE manager's insides, shared by its .cpp files only (never by another folder): one file per job.
//   ble_manager.cpp      the public BleManager, the bus connection's start and stop, shared bookkeeping
//   bus_plumbing.cpp     the bus: signal subscriptions, following org.bluez's owner, its object list
//   object_tree.cpp      BlueZ's objects and property changes turned into what the other parts act on
//   connections.cpp      discovery, each device's LinkMachine driven and executed, the set-up calls
//   glucose_records.cpp  a glucose meter's stored records over the Record Access Control Point
//   values.cpp           characteristic values and advertisements into readings; delivery to the pipeline
// Everything runs on the bus thread (BusLoop). The decisions are in pure code: LinkMachine
// (link_phase.hpp) and devices/ble_profiles (parsers, user slot, device time, record numbers).
#include <cctype>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "devices/ble/ble_manager.hpp"
#include "devices/ble/bluez_dbus.hpp"
#include "devices/ble/bus_loop.hpp"
#include "devices/ble/link_phase.hpp"
#include "devices/ble/pairing_agent.hpp"
#include "devices/ble_profiles/bthome.hpp"
#include "devices/ble_profiles/record_transfer.hpp"
#include "gateway/core/reading.hpp"

namespace ehg::devices::ble {

// "aa:bb:..." -> "AA:BB:...": the config and BlueZ may spell addresses in either case.
inline std::string UpperAddress(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

struct BleManager::Impl {
  struct Characteristic {
    std::uint16_t uuid16 = 0;
    std::vector<std::string> flags;
  };

  struct Device {
    explicit Device(const LinkPolicy& policy) : link(policy) {}

    BleDeviceOptions options;
    std::string path;
    std::optional<BthomeKey> key;
    BluetoothAddress address{};
    LinkMachine link;                 // the link's phase, retries and deadlines: all of its state
    BusLoop::TimerId wake_timer = 0;  // fires at wake_at to Step the link with a Tick
    std::optional<core::SteadyTime> wake_at;
    std::size_t notify_pending = 0;  // StartNotify calls of this set-up not answered yet
    // Not the link's: BlueZ's battery plugin reports the battery (the characteristic is not read), and
    // Device Information is logged once per process.
    bool battery_from_bluez = false;
    bool information_read = false;
    std::map<std::string, Characteristic> characteristics;  // by object path
    RecordSequence records;
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
  bool loading = false;  // reading BlueZ's object list: links are judged once all of it is read
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

  Impl(BleOptions o, core::ReadingSink& s, core::DeviceStatusSink* st, const core::Clock& c);

  // ---- shared bookkeeping (ble_manager.cpp) ----
  Device* Find(const std::string& id);
  void SetError(Device& device, std::string text, std::string detail, bool needs_action);
  void NoteBluezError(Device& device, const char* what, const sdbus::Error& error);
  void LogOnce(Device& device, const char* what, const std::string& reason, const std::string& detail = {});

  // ---- bus plumbing (bus_plumbing.cpp) ----
  void ReleaseBusObjects();
  sdbus::IProxy& ProxyFor(const std::string& path);
  void Subscribe();
  void LookForBluez();
  bool FromBluez(const sdbus::Message& message) const;
  void OnBluezAppeared(const std::string& owner);
  void OnObjectList(const bluez::ManagedObjects& objects);
  void OnBluezVanished();

  // ---- object tree (object_tree.cpp) ----
  Device* DeviceAt(const std::string& path);
  Device* DeviceOwning(const std::string& path);
  void AddObject(const std::string& path, const bluez::Interfaces& interfaces);
  void RemoveObject(const std::string& path, const std::vector<std::string>& interfaces);
  void OnObjectManagerSignal(sdbus::Message& message);
  void OnPropertiesChanged(sdbus::Message& message);
  void SetPowered(bool on);
  void ApplyDeviceProperties(Device& device, const bluez::Properties& properties, bool is_change);
  void ApplyLinkProperties(Device& device, const bluez::Properties& properties);
  void ApplyBattery(Device& device, const bluez::Properties& properties);
  std::optional<std::string> CharacteristicPath(const Device& device, std::uint16_t uuid16) const;
  bool HasFlag(const Device& device, const std::string& path, const char* flag) const;

  // ---- connections (connections.cpp) ----
  bool RadioReady() const;
  void EnsureDiscovery();
  // Steps the device's link with one event and executes what it decides; returns the decision.
  LinkActions Apply(Device& device, const LinkEvent& event);
  void Execute(Device& device, const LinkActions& actions);
  void ArmWake(Device& device);
  void CallConnect(Device& device);
  void CallDisconnect(Device& device);
  void SetUp(Device& device);
  void WriteTime(Device& device);
  void ReadBattery(Device& device);
  void ReadInformation(Device& device);
  void ReadValue(const std::string& path, std::function<void(const std::vector<std::uint8_t>&)> done);
  std::string Identity(const Device& device) const;

  // ---- glucose records (glucose_records.cpp) ----
  bool FetchesRecords(const Device& device) const;
  void RequestRecords(Device& device);
  void AbortRecords(Device& device);
  void OnRecordAccess(Device& device, const std::vector<std::uint8_t>& value);

  // ---- values (values.cpp) ----
  void OnValue(Device& device, std::uint16_t uuid16, const std::vector<std::uint8_t>& value);
  void OnServiceData(Device& device, const sdbus::Variant& variant);
  core::Reading MakeReading(const Device& device, const std::string& metric, double value) const;
  void Queue(Device& device, core::Reading reading);
  void Report(Device& device, bool connected, const std::string& detail);
  void Flush();
};

}  // namespace ehg::devices::ble
