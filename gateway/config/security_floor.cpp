#include "gateway/config/security_floor.hpp"

#include <filesystem>
#include <functional>
#include <set>

namespace ehg::config {
namespace {

// One floor key: its path in the file and how to compare it.
struct FloorKey {
  const char* path;
  std::function<bool(const Config&, const Config&)> equal;
};

template <typename Get>
FloorKey Key(const char* path, Get get) {
  return {path, [get](const Config& a, const Config& b) { return get(a) == get(b); }};
}

const std::vector<FloorKey>& FloorKeys() {
  static const std::vector<FloorKey> keys = {
      Key("gateway.id", [](const Config& c) { return c.gateway.id; }),
      Key("gateway.tenant", [](const Config& c) { return c.gateway.tenant; }),
      Key("gateway.assume_clock_synchronised",
          [](const Config& c) { return c.gateway.assume_clock_synchronised; }),
      Key("resident.pseudonym", [](const Config& c) { return c.resident.pseudonym; }),
      Key("broker.uri", [](const Config& c) { return c.broker.uri; }),
      Key("broker.keepalive_seconds", [](const Config& c) { return c.broker.keepalive; }),
      Key("broker.reconnect_max_seconds", [](const Config& c) { return c.broker.reconnect_max; }),
      Key("broker.protocol", [](const Config& c) { return c.broker.protocol; }),
      Key("broker.command_qos", [](const Config& c) { return c.broker.command_qos; }),
      Key("tls.ca_file", [](const Config& c) { return c.tls.ca_file; }),
      Key("tls.cert_file", [](const Config& c) { return c.tls.cert_file; }),
      Key("tls.key_file", [](const Config& c) { return c.tls.key_file; }),
      Key("security.gateway_key_file", [](const Config& c) { return c.security.gateway_key_file; }),
      Key("security.recipient_key_file", [](const Config& c) { return c.security.recipient_key_file; }),
      Key("security.command_keys_file", [](const Config& c) { return c.security.command_keys_file; }),
      Key("security.clock_skew_seconds", [](const Config& c) { return c.security.clock_skew; }),
      Key("security.command_max_lifetime_hours",
          [](const Config& c) { return c.security.command_max_lifetime; }),
      Key("storage.path", [](const Config& c) { return c.storage.path; }),
      Key("storage.outbox_budget_bytes", [](const Config& c) { return c.storage.outbox_budget_bytes; }),
      Key("storage.readings_retention_days", [](const Config& c) { return c.storage.readings_retention; }),
      Key("storage.max_database_bytes", [](const Config& c) { return c.storage.max_database_bytes; }),
      Key("storage.raw_readings_days", [](const Config& c) { return c.storage.raw_readings_retention; }),
      Key("storage.keep_free_disk_bytes", [](const Config& c) { return c.storage.keep_free_disk_bytes; }),
      Key("pipeline", [](const Config& c) { return c.pipeline; }),
      Key("uplink.in_flight_window", [](const Config& c) { return c.uplink.in_flight_window; }),
      Key("uplink.observation_batch_max", [](const Config& c) { return c.uplink.observation_batch_max; }),
      Key("uplink.observation_batch_window_ms",
          [](const Config& c) { return c.uplink.observation_batch_window; }),
      Key("uplink.receipt_resend_seconds", [](const Config& c) { return c.uplink.receipt_resend_interval; }),
      Key("uplink.receipts", [](const Config& c) { return c.uplink.receipts_for_alerts_only; }),
      Key("uplink.session_expiry_hours", [](const Config& c) { return c.uplink.session_expiry; }),
      Key("bluetooth.adapter", [](const Config& c) { return c.bluetooth.adapter; }),
      Key("bluetooth.bus_address", [](const Config& c) { return c.bluetooth.bus_address; }),
      Key("status_page.enabled", [](const Config& c) { return c.status_page.enabled; }),
      Key("status_page.listen",
          [](const Config& c) { return std::make_pair(c.status_page.host, c.status_page.port); }),
      Key("status_page.token_file", [](const Config& c) { return c.status_page.token_file; }),
      Key("status_page.tls_cert_file", [](const Config& c) { return c.status_page.tls_cert_file; }),
      Key("status_page.tls_key_file", [](const Config& c) { return c.status_page.tls_key_file; }),
      Key("status_page.show_values", [](const Config& c) { return c.status_page.show_values; }),
      Key("status_page.refresh_seconds", [](const Config& c) { return c.status_page.refresh; }),
  };
  return keys;
}

// `remote` with every setting a remote config may change taken from `remote` and the rest from `local`:
// equal to `remote` exactly when the floor is untouched (a safety net behind the named keys above).
Config WithAllowedChanges(const Config& local, const Config& remote) {
  Config merged = local;
  merged.gateway.log_level = remote.gateway.log_level;
  merged.resident.time_zone = remote.resident.time_zone;
  merged.uplink.heartbeat_interval = remote.uplink.heartbeat_interval;
  merged.devices = remote.devices;
  merged.rules = remote.rules;
  // Development flags are compared separately: they are refused even when the local file sets them.
  merged.broker.insecure_plaintext_for_development = remote.broker.insecure_plaintext_for_development;
  merged.security.insecure_plaintext_payloads_for_development =
      remote.security.insecure_plaintext_payloads_for_development;
  return merged;
}

}  // namespace

std::vector<std::string> SecurityFloorViolations(const Config& local, const Config& remote) {
  std::vector<std::string> keys;
  if (remote.broker.insecure_plaintext_for_development) {
    keys.emplace_back("broker.insecure_plaintext_for_development");
  }
  if (remote.security.insecure_plaintext_payloads_for_development) {
    keys.emplace_back("security.insecure_plaintext_payloads_for_development");
  }
  for (const FloorKey& key : FloorKeys()) {
    if (!key.equal(local, remote)) keys.emplace_back(key.path);
  }
  // An encrypted BTHome device stays encrypted: a remote config may change its key (a new device at the
  // same address) but not remove it, which would let anyone nearby forge its button presses.
  std::set<std::string> encrypted_locally;
  for (const DeviceConfig& device : local.devices) {
    const auto* ble = std::get_if<BleDeviceConfig>(&device.settings);
    if (ble != nullptr && !ble->bthome_key_hex.empty()) encrypted_locally.insert(ble->address);
  }
  for (std::size_t i = 0; i < remote.devices.size(); ++i) {
    const auto* ble = std::get_if<BleDeviceConfig>(&remote.devices[i].settings);
    if (ble != nullptr && ble->bthome_key_hex.empty() && encrypted_locally.count(ble->address) > 0) {
      keys.push_back("devices[" + std::to_string(i) + "].bthome_key");
    }
  }
  // Devices the local file does not know: a serial port is a path the service user may open read-write
  // (a USB modem carrying the uplink is a tty too), so a remote config may only use ports the local file
  // already names; a simulated device puts made-up vital signs into the resident's record, so it may
  // come only where the local file has simulated devices (a demo or training gateway).
  std::set<std::filesystem::path> local_ports;
  bool local_simulates = false;
  for (const DeviceConfig& device : local.devices) {
    if (const auto* serial = std::get_if<SerialDeviceConfig>(&device.settings))
      local_ports.insert(serial->port);
    if (std::holds_alternative<SimulatedDeviceConfig>(device.settings)) local_simulates = true;
  }
  for (std::size_t i = 0; i < remote.devices.size(); ++i) {
    const auto& settings = remote.devices[i].settings;
    if (const auto* serial = std::get_if<SerialDeviceConfig>(&settings);
        serial != nullptr && local_ports.count(serial->port) == 0) {
      keys.push_back("devices[" + std::to_string(i) + "].port");
    }
    if (std::holds_alternative<SimulatedDeviceConfig>(settings) && !local_simulates) {
      keys.push_back("devices[" + std::to_string(i) + "].type");
    }
  }
  // The log level: info or warning. "error" would hide refusals (of commands, configs, tokens) from the
  // journal and the status page; "debug" writes measurement values into the journal.
  if (remote.gateway.log_level != local.gateway.log_level &&
      remote.gateway.log_level != core::LogLevel::kInfo &&
      remote.gateway.log_level != core::LogLevel::kWarning) {
    keys.emplace_back("gateway.log_level");
  }
  if (keys.empty() && !(WithAllowedChanges(local, remote) == remote)) {
    keys.emplace_back(
        "(a setting outside rules, devices, resident.time_zone, uplink.heartbeat_seconds and "
        "gateway.log_level)");
  }
  return keys;
}

}  // namespace ehg::config
