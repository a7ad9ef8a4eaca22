// The config turned into each component's options: pure functions of the config (and the settings the
// uplink stored), so they are tested without starting anything.
#include "gateway/app/component_options.hpp"

#include "gateway/core/log.hpp"
#include "gateway/store/store.hpp"
#include "gateway/uplink/messages.hpp"

namespace ehg::app {

// A device clock's local time (no zone) in the resident's zone; nullopt for a date that does not exist.
devices::serial::LocalTimeConverter LocalToUtc(std::shared_ptr<const alerts::TimeZone> zone) {
  return [zone = std::move(zone)](const devices::serial::CivilTime& time) -> std::optional<core::WallTime> {
    const auto since_epoch = core::FromCivilTime(time);
    if (!since_epoch) return std::nullopt;
    return zone->ToUtc(alerts::LocalTime{*since_epoch});
  };
}

std::vector<devices::serial::SerialDeviceOptions> SerialDevices(
    const config::Config& config, std::shared_ptr<const alerts::TimeZone> zone) {
  std::vector<devices::serial::SerialDeviceOptions> serial;
  for (const config::DeviceConfig& device : config.devices) {
    const auto* settings = std::get_if<config::SerialDeviceConfig>(&device.settings);
    if (settings == nullptr) continue;
    devices::serial::SerialDeviceOptions options;
    options.device_id = device.id;
    options.port = settings->port;
    // The config accepts exactly the protocol names the decoders implement (tested), so this is set.
    options.protocol = devices::serial::FindProtocol(settings->protocol).value();
    options.aggregation = {settings->window, settings->forward_waveform};
    options.local_to_utc = LocalToUtc(zone);
    options.user = settings->user;
    options.poll_interval = settings->poll_interval;
    serial.push_back(std::move(options));
  }
  return serial;
}

// A UTC instant as the resident's wall clock shows it: what BLE devices want written into their clocks.
std::function<core::CivilTime(core::WallTime)> UtcToLocal(std::shared_ptr<const alerts::TimeZone> zone) {
  return [zone = std::move(zone)](core::WallTime utc) {
    return core::ToCivilTime(zone->ToLocal(utc).time_since_epoch());
  };
}

std::optional<devices::ble::BleOptions> BleDevices(const config::Config& config,
                                                   std::shared_ptr<const alerts::TimeZone> zone) {
  devices::ble::BleOptions options;
  options.adapter = config.bluetooth.adapter;
  options.bus_address = config.bluetooth.bus_address;
  for (const config::DeviceConfig& device : config.devices) {
    const auto* settings = std::get_if<config::BleDeviceConfig>(&device.settings);
    if (settings == nullptr) continue;
    devices::ble::BleDeviceOptions ble;
    ble.device_id = device.id;
    ble.address = settings->address;
    ble.profile = settings->profile;
    ble.bthome_key_hex = settings->bthome_key_hex;
    ble.user = settings->user;
    for (const auto& [event, meaning] : settings->buttons) {
      ble.button_meanings.emplace_back(event, meaning == "ignore" ? devices::ble::ButtonMeaning::kIgnore
                                                                  : devices::ble::ButtonMeaning::kEmergency);
    }
    options.devices.push_back(std::move(ble));
  }
  if (options.devices.empty()) return std::nullopt;
  options.local_to_utc = LocalToUtc(zone);
  options.utc_to_local = UtcToLocal(zone);
  options.last_sequence =
      [path = config.storage.path](const std::string& device_id) -> std::optional<std::uint32_t> {
    auto last = store::LastStoredSequence(path, device_id, "glucose");
    if (!last) {
      core::LogWarning("last stored record unknown; the meter is asked for all records",
                       {{"device", device_id}, {"reason", last.error().message}});
      return std::nullopt;
    }
    return *last;
  };
  return options;
}

std::chrono::seconds HeartbeatInterval(const config::Config& config,
                                       const std::map<std::string, std::string>& settings) {
  const auto stored = settings.find(std::string(uplink::kHeartbeatSetting));
  if (stored == settings.end()) return config.uplink.heartbeat_interval;
  try {
    const std::chrono::seconds interval{std::stoll(stored->second)};
    if (interval >= wire::kMinHeartbeat && interval <= wire::kMaxHeartbeat) return interval;
  } catch (const std::exception&) {
  }
  core::LogWarning("stored heartbeat interval unusable; using the configured one",
                   {{"stored", stored->second}});
  return config.uplink.heartbeat_interval;
}

std::optional<std::string> UnsupportedSimulatedDevice(const config::Config& config, bool simulators_linked) {
  if (simulators_linked) return std::nullopt;
  for (const config::DeviceConfig& device : config.devices) {
    if (std::holds_alternative<config::SimulatedDeviceConfig>(device.settings)) {
      return "device " + device.id +
             ": type \"sim\" needs the simulators, which this binary does not carry (run it with "
             "ehealth-gateway-tools run, for demos, training and tests)";
    }
  }
  return std::nullopt;
}

pipeline::PipelineOptions PipelineOptionsFor(const config::Config& config) {
  pipeline::PipelineOptions options;
  options.gateway_id = config.gateway.id;
  options.resident_pseudonym = config.resident.pseudonym;
  options.queue_capacity = config.pipeline.queue_capacity;
  options.batch_window = config.pipeline.batch_window;
  options.batch_max = config.pipeline.batch_max;
  options.readings_retention = config.storage.readings_retention;
  options.raw_readings_retention = config.storage.raw_readings_retention;
  options.outbox_budget_bytes = config.storage.outbox_budget_bytes;
  for (const config::DeviceConfig& device : config.devices)
    options.clock_tolerances[device.id] = config::ClockTolerance(device);
  return options;
}

uplink::UplinkOptions UplinkOptionsFor(const config::Config& config,
                                       const std::map<std::string, std::string>& settings) {
  uplink::UplinkOptions options;
  options.tenant = config.gateway.tenant;
  options.gateway_id = config.gateway.id;
  options.version = EHG_VERSION;
  options.in_flight_window = config.uplink.in_flight_window;
  options.observation_batch_max = config.uplink.observation_batch_max;
  options.observation_batch_window = config.uplink.observation_batch_window;
  options.receipt_resend_interval = config.uplink.receipt_resend_interval;
  options.receipt_scope = config.uplink.receipts_for_alerts_only ? uplink::ReceiptScope::kAlertsOnly
                                                                 : uplink::ReceiptScope::kEveryEvent;
  options.heartbeat_interval = HeartbeatInterval(config, settings);
  options.reconnect_max = config.broker.reconnect_max;
  options.retain_status = config.broker.retain_status;
  return options;
}

}  // namespace ehg::app
