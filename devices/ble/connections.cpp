#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>

#include "devices/ble/ble_manager_impl.hpp"
#include "devices/ble_profiles/profiles.hpp"
#include "gateway/core/log.hpp"

// Connections (docs/ble.md, "Connections"): discovery, and each device's LinkMachine stepped with what
// BlueZ says and executed: connect, hang up, set up (subscriptions, clock, battery, device information),
// report. When to retry and when to give up is the machine's decision; this file only makes the calls
// and arms one timer per device for the machine's next wake-up.
namespace ehg::devices::ble {

using namespace std::chrono_literals;

namespace {

unsigned IsoWeekday(const core::CivilTime& time) {
  using namespace std::chrono;
  const weekday day{sys_days{year{time.year} / month{time.month} / std::chrono::day{time.day}}};
  return day.iso_encoding();  // 1 = Monday .. 7 = Sunday, as Current Time wants
}

}  // namespace

bool BleManager::Impl::RadioReady() const {
  return !bluez_owner.empty() && adapter_present && powered;
}

void BleManager::Impl::EnsureDiscovery() {
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

LinkActions BleManager::Impl::Apply(Device& device, const LinkEvent& event) {
  const LinkActions actions = device.link.Step(event, clock.SteadyNow(), RadioReady());
  if (actions.stale_reply) return actions;
  Execute(device, actions);
  ArmWake(device);
  return actions;
}

void BleManager::Impl::Execute(Device& device, const LinkActions& actions) {
  if (actions.disconnect) {
    core::LogWarning("services not resolved in time; disconnecting to retry",
                     {{"device", device.options.device_id}});
    CallDisconnect(device);
  }
  if (actions.lost) {
    if (LinkLossIsError(*actions.lost, device.options.profile))
      SetError(device, LinkLossText(*actions.lost), "", false);
    if (actions.report_lost) Report(device, false, LinkLossDetail(*actions.lost));
  }
  if (actions.report_listening) Report(device, true, "receiving advertisements");
  if (actions.connect) CallConnect(device);
  if (actions.set_up) SetUp(device);
  if (actions.request_records) RequestRecords(device);
  if (actions.abort_records) AbortRecords(device);
}

// One timer per device, for the machine's next retry or deadline; a Tick before it is due does nothing
// but arm the timer again.
void BleManager::Impl::ArmWake(Device& device) {
  const std::optional<core::SteadyTime> next = device.link.next_wake();
  if (next == device.wake_at) return;
  if (device.wake_timer != 0) loop->Cancel(device.wake_timer);
  device.wake_timer = 0;
  device.wake_at = next;
  if (!next) return;
  const auto delay = std::max(std::chrono::milliseconds{0},
                              std::chrono::ceil<std::chrono::milliseconds>(*next - clock.SteadyNow()));
  const std::string id = device.options.device_id;
  device.wake_timer = loop->PostAfter(delay, [this, id] {
    Device* found = Find(id);
    if (found == nullptr) return;
    found->wake_timer = 0;
    found->wake_at.reset();
    Apply(*found, link_event::Tick{});
  });
}

void BleManager::Impl::CallConnect(Device& device) {
  const std::uint64_t generation = device.link.generation();
  const std::string id = device.options.device_id;
  core::LogInfo("connecting", {{"device", id}});
  ProxyFor(device.path)
      .callMethodAsync("Connect")
      .onInterface(bluez::kDevice)
      .withTimeout(options.connect_timeout)
      .uponReplyInvoke([this, id, generation](const sdbus::Error* error) {
        Device* found = Find(id);
        if (found == nullptr) return;
        if (Apply(*found, link_event::ConnectAnswered{generation, error == nullptr}).stale_reply) return;
        if (error != nullptr) {
          ++found->stats.connect_failures;
          NoteBluezError(*found, "connect failed", *error);
          return;
        }
        ++found->stats.connects;
      });
}

void BleManager::Impl::CallDisconnect(Device& device) {
  ProxyFor(device.path)
      .callMethodAsync("Disconnect")
      .onInterface(bluez::kDevice)
      .uponReplyInvoke([](const sdbus::Error*) {});
}

// Services are resolved: subscribe, set the device clock, read battery and identity; the machine hears
// when every subscription was answered (a glucose meter's records are asked for then).
void BleManager::Impl::SetUp(Device& device) {
  SetError(device, "", "", false);  // connected and set up: whatever failed before has passed
  const std::string id = device.options.device_id;
  const std::uint64_t generation = device.link.generation();

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
          if (found == nullptr || found->link.generation() != generation) return;
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
          if (found->notify_pending > 0 && --found->notify_pending == 0)
            Apply(*found, link_event::Subscribed{generation, FetchesRecords(*found)});
        });
  }
  WriteTime(device);
  ReadBattery(device);
  ReadInformation(device);
  // Nothing to subscribe to (the device lacks the profile): set up as far as it goes.
  if (subscribe.empty()) Apply(device, link_event::Subscribed{generation, FetchesRecords(device)});
}

void BleManager::Impl::WriteTime(Device& device) {
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
      cts ? EncodeCurrentTime(local, IsoWeekday(local), 0x02) : EncodeDateTime(local);
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

void BleManager::Impl::ReadBattery(Device& device) {
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

void BleManager::Impl::ReadInformation(Device& device) {
  if (device.information_read) return;
  device.information_read = true;
  for (const std::uint16_t uuid16 : {uuid::kManufacturerName, uuid::kModelNumber, uuid::kFirmwareRevision}) {
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

void BleManager::Impl::ReadValue(const std::string& path,
                                 std::function<void(const std::vector<std::uint8_t>&)> done) {
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

std::string BleManager::Impl::Identity(const Device& device) const {
  std::string text;
  if (device.stats.rssi) text += ", rssi " + std::to_string(*device.stats.rssi) + " dBm";
  return text;
}

}  // namespace ehg::devices::ble
