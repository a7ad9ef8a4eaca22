// The status page's snapshot, moved out of daemon.cpp as it was (the members keep the daemon's names).
#include "gateway/app/status_collector.hpp"

#include "devices/ble_profiles/profiles.hpp"
#include "gateway/core/liveness.hpp"
#include "gateway/core/log.hpp"
#include "gateway/store/store.hpp"

namespace ehg::app {

http::StatusSnapshot StatusCollector::CollectStatus() {
  http::StatusSnapshot status;
  status.gateway_id = config_.gateway.id;
  status.tenant = config_.gateway.tenant;
  status.version = EHG_VERSION;
  status.now = clock_.Now();
  status.uptime = std::chrono::duration_cast<std::chrono::seconds>(clock_.SteadyNow() - started_);
  status.clock_synchronised = clock_.WallClockSynchronised();
  status.values_shown = config_.status_page.show_values;

  const uplink::UplinkStatus link = uplink_->status();
  const store::OutboxSnapshot outbox = pipeline_->outbox();
  http::UplinkView& view = status.uplink;
  view.state = std::string(uplink::ToString(link.state));
  view.connected_since = link.connected_since;
  view.last_publish = link.last_acknowledged;
  view.last_error = link.last_error;
  view.backlog_rows = outbox.rows;
  view.backlog_bytes = outbox.bytes;
  view.backlog_alerts = outbox.alert_rows;
  view.in_flight = link.in_flight;
  view.alerts_awaiting_receipt = link.alerts_awaiting_receipt;
  view.publish_latency = uplink_->publish_latency().Snapshot();
  status.telemetry = telemetry_.Collect();
  const pipeline::ActivityReport activity = pipeline_->activity();
  status.alert_changes = activity.alert_changes;

  auto stored = store::ReadStatusView(config_.storage.path);
  if (!stored) core::LogWarning("status page: database unreadable", {{"reason", stored.error().message}});
  if (stored) {
    for (const store::AlertRecord& alert : stored->open_alerts) {
      status.open_alerts.push_back({alert.rule_id, alert.severity, alert.state, alert.raised_at,
                                    alert.updated_at, status.values_shown ? alert.detail : std::string()});
    }
  }
  {
    std::lock_guard lock(devices_mutex_);
    // Each of these is a round trip to the Bluetooth thread: once per request, not once per device.
    const std::vector<devices::ble::BleDeviceStats> ble_stats =
        ble_ ? ble_->stats() : std::vector<devices::ble::BleDeviceStats>{};
    const bool bluez_present = ble_ && ble_->bluez_present();
    for (const config::DeviceConfig& device : config_.devices) {
      status.devices.push_back(DeviceStatus(device, activity, stored ? &stored->devices : nullptr,
                                            ble_stats, bluez_present, status));
    }
  }
  for (const core::LoggedProblem& problem : core::RecentProblems()) {
    http::Problem shown;
    shown.at = std::chrono::time_point_cast<std::chrono::milliseconds>(problem.at);
    shown.first_at = std::chrono::time_point_cast<std::chrono::milliseconds>(problem.first_at);
    shown.level = std::string(core::ToString(problem.level));
    shown.line = problem.line;
    shown.count = problem.count;
    status.recent_problems.push_back(std::move(shown));
  }
  return status;
}

// devices_mutex_ held.
http::DeviceView StatusCollector::DeviceStatus(const config::DeviceConfig& device,
                                               const pipeline::ActivityReport& activity,
                                               const std::vector<store::DeviceRecord>* stored,
                                               const std::vector<devices::ble::BleDeviceStats>& ble_stats,
                                               bool bluez_present, http::StatusSnapshot& status) {
  http::DeviceView view;
  view.id = device.id;
  view.expected_interval = config::ExpectedInterval(device);
  if (const auto found = activity.devices.find(device.id); found != activity.devices.end()) {
    view.readings_by_metric = found->second.stored_by_metric;
    view.parse_errors += found->second.rejected;
    if (status.values_shown) {
      for (const auto& [metric, last] : found->second.last_values)
        view.last_values.push_back({metric, last.value, last.unit, last.received_at});
    }
  }
  if (stored != nullptr) {
    for (const store::DeviceRecord& record : *stored) {
      if (record.device_id != device.id) continue;
      view.last_reading = record.last_seen;
      view.last_seen = record.last_seen;
      view.battery_percent = record.battery_percent;
      view.last_error = record.last_error;
    }
  }
  const auto heard = [&view](std::optional<core::WallTime> contact) {
    if (contact && (!view.last_seen || *contact > *view.last_seen)) view.last_seen = contact;
  };
  if (const auto* simulated = std::get_if<config::SimulatedDeviceConfig>(&device.settings)) {
    view.transport = "simulated";
    view.type = simulated->profile;
    view.connection = "simulated";
  } else if (const auto* serial = std::get_if<config::SerialDeviceConfig>(&device.settings)) {
    view.transport = "serial";
    view.type = serial->protocol;
    view.connection = "disconnected";
    for (const auto& driver : serial_) {
      if (driver->device_id() != device.id) continue;
      const devices::serial::SerialDriverStats& stats = driver->stats();
      view.connection = stats.connected.load() ? "connected" : "disconnected";
      view.parse_errors += stats.bad_frames.load();
      if (const std::int64_t ms = stats.last_heard_ms.load(); ms != 0)
        heard(core::WallTime(std::chrono::milliseconds(ms)));
    }
  } else if (const auto* ble = std::get_if<config::BleDeviceConfig>(&device.settings)) {
    view.transport = "ble";
    view.type = ble->profile;
    view.connection = "disconnected";
    for (const devices::ble::BleDeviceStats& stats : ble_stats) {
      if (stats.device_id != device.id) continue;
      view.parse_errors += stats.parse_errors;
      view.rssi_dbm = stats.rssi;
      if (stats.battery) view.battery_percent = *stats.battery;
      // The BLE manager words its errors for the installer; the stored one is a device event's detail.
      view.last_error = stats.last_error;
      view.last_error_detail = stats.last_error_detail;
      heard(stats.last_contact);
      if (ble->profile == "bthome") {
        view.connection = bluez_present ? "listening" : "disconnected";
      } else {
        // A cuff that hung up after measuring is idle, not missing (core::JudgeLink).
        view.connection = http::ConnectionName(
            core::JudgeLink({stats.connected, devices::ble::HangsUpAfterMeasuring(ble->profile),
                             stats.link_needs_action, view.last_seen, view.expected_interval},
                            status.now));
      }
    }
  }
  return view;
}

}  // namespace ehg::app
