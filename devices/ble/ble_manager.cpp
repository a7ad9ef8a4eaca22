#include "devices/ble/ble_manager.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include "devices/ble/ble_manager_impl.hpp"
#include "devices/ble/bluez_errors.hpp"
#include "devices/ble_profiles/profiles.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/thread_name.hpp"

// The public BleManager (start, stop, statistics) and what every part of the manager shares: finding a
// device, its error for the installer and the log lines that must not repeat.
namespace ehg::devices::ble {

BleManager::Impl::Impl(BleOptions o, core::ReadingSink& s, core::DeviceStatusSink* st, const core::Clock& c)
    : options(std::move(o)),
      sink(s),
      statuses(st),
      clock(c),
      telemetry(options.telemetry),
      readings_dropped(telemetry.get().AddCounter(core::telemetry::DroppedFamily(), {"queue_full"})) {
  adapter_path = "/org/bluez/" + options.adapter;
  LinkPolicy policy;
  policy.services_timeout = options.services_timeout;
  policy.records_timeout = options.records_timeout;
  policy.backoff_initial = options.backoff_initial;
  policy.backoff_max = options.backoff_max;
  for (const BleDeviceOptions& device_options : options.devices) {
    policy.connects = device_options.profile != "bthome";
    Device device(policy);
    device.options = device_options;
    device.options.address = UpperAddress(device.options.address);
    device.path = bluez::DevicePath(adapter_path, device.options.address);
    device.address = ParseAddress(device.options.address).value_or(BluetoothAddress{});
    if (!device_options.bthome_key_hex.empty()) device.key = ParseKey(device_options.bthome_key_hex);
    device.stats.device_id = device_options.device_id;
    devices.push_back(std::move(device));
  }
}

BleManager::Impl::Device* BleManager::Impl::Find(const std::string& id) {
  for (Device& device : devices) {
    if (device.options.device_id == id) return &device;
  }
  return nullptr;
}

void BleManager::Impl::SetError(Device& device, std::string text, std::string detail, bool needs_action) {
  device.stats.last_error = std::move(text);
  device.stats.last_error_detail = std::move(detail);
  device.stats.link_needs_action = needs_action;
}

// A BlueZ error: worded for the installer, the D-Bus name kept beside it and in the debug log. A device
// that sleeps between measurements does not answer then: that is logged at debug only.
void BleManager::Impl::NoteBluezError(Device& device, const char* what, const sdbus::Error& error) {
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

// `detail`, the D-Bus error behind `reason`, goes to the debug log only.
void BleManager::Impl::LogOnce(Device& device, const char* what, const std::string& reason,
                               const std::string& detail) {
  const std::string key = std::string(what) + reason;
  if (!detail.empty()) core::LogDebug(what, {{"device", device.options.device_id}, {"detail", detail}});
  if (device.last_logged_error == key) {
    core::LogDebug(what, {{"device", device.options.device_id}, {"reason", reason}});
    return;
  }
  device.last_logged_error = key;
  core::LogWarning(what, {{"device", device.options.device_id}, {"reason", reason}});
}

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
  // Timers belong to a loop: none of an earlier one (a Stop before this Start) is pending here.
  for (Impl::Device& device : impl_->devices) {
    device.wake_timer = 0;
    device.wake_at.reset();
  }
  impl_->flush_timer = 0;
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
