#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "alerts/rules.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/device_time.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/result.hpp"

// The gateway's configuration as typed, validated structs. Loading is strict: unknown keys, wrong types
// and out-of-range values are errors that name the JSON path; all errors are reported together.
namespace ehg::config {

struct GatewayConfig {
  std::string id;      // MQTT topic segment: letters, digits, '-' and '_'
  std::string tenant;  // four-digit municipality number
  core::LogLevel log_level = core::LogLevel::kInfo;
  // Treat the wall clock as synchronised even when the kernel says it is not (development machines,
  // containers without NTP). Never set on a deployed gateway.
  bool assume_clock_synchronised = false;

  friend bool operator==(const GatewayConfig&, const GatewayConfig&) = default;
};

struct ResidentConfig {
  std::string pseudonym;  // never a name or a national identity number
  std::string time_zone;  // IANA name, e.g. Europe/Oslo

  friend bool operator==(const ResidentConfig&, const ResidentConfig&) = default;
};

// The MQTT version spoken to the broker. 3.1.1 for brokers that speak nothing newer (some clustered
// brokers' MQTT listeners, large cloud IoT hubs); docs/mqtt.md says what the gateway loses with it.
enum class MqttProtocol { kV5, kV3_1_1 };

struct BrokerConfig {
  std::string uri;  // ssl://host:port, or tcp://host:port with insecure_plaintext_for_development
  bool insecure_plaintext_for_development = false;
  MqttProtocol protocol = MqttProtocol::kV5;
  std::chrono::seconds keepalive{30};
  std::chrono::seconds reconnect_max{60};
  // Status and last will as retained messages. Off for a broker where no MQTT client reads a status
  // topic, such as the care side's NATS engine: there each retained publish costs a replicated store and
  // a replicated delete more, and nobody reads it (docs/operations-hub.md#gateways-on-the-engine).
  bool retain_status = true;
  // The QoS of the command subscription. 1: the broker keeps commands in the gateway's session while it
  // is offline. 0 for the care side's NATS engine: there a QoS 1 subscription is a durable JetStream
  // consumer per gateway, which costs the engine most in reconnection storms, and the hub sends each
  // command again until its result comes instead (docs/operations-hub.md#gateways-on-the-engine).
  int command_qos = 1;

  friend bool operator==(const BrokerConfig&, const BrokerConfig&) = default;
};

struct TlsConfig {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;

  friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

// End-to-end protection of payloads (docs/integration.md). Key files are read when the daemon starts.
struct SecurityConfig {
  std::filesystem::path gateway_key_file;    // the gateway's P-256 private key (ehealth-gateway keygen)
  std::filesystem::path recipient_key_file;  // the care system's public encryption key (JWK or PEM)
  std::filesystem::path command_keys_file;   // the care system's public command keys (JWK Set, JWK or PEM)
  std::chrono::seconds clock_skew{60};       // allowance on command exp/iat
  std::chrono::hours command_max_lifetime{8 * 24};
  // Bodies go out as plain JSON and commands are taken unsigned: development only, warned at start.
  bool insecure_plaintext_payloads_for_development = false;

  friend bool operator==(const SecurityConfig&, const SecurityConfig&) = default;
};
struct StorageConfig {
  std::filesystem::path path;
  // Bound on the outbox's payload bytes; when full, the oldest observations are dropped (and counted).
  std::uint64_t outbox_budget_bytes = 64ull * 1024 * 1024;
  // Raw readings are kept this long; their per-minute summaries for readings_retention.
  std::chrono::days raw_readings_retention{7};
  std::chrono::days readings_retention{90};
  // Hard cap on the database file so the gateway never fills the disk; 0 = none.
  std::uint64_t max_database_bytes = 0;
  // The database never grows into the last this many bytes of its file system.
  std::uint64_t keep_free_disk_bytes = 32ull * 1024 * 1024;

  friend bool operator==(const StorageConfig&, const StorageConfig&) = default;
};

struct PipelineConfig {
  std::size_t queue_capacity = 4096;
  std::chrono::milliseconds batch_window{5};
  std::size_t batch_max = 512;

  friend bool operator==(const PipelineConfig&, const PipelineConfig&) = default;
};

struct UplinkConfig {
  std::size_t in_flight_window = 32;  // MQTT messages sent and not yet acknowledged
  std::size_t observation_batch_max = 50;
  std::chrono::milliseconds observation_batch_window{2000};
  std::chrono::seconds receipt_resend_interval{60};
  // "every_event" (default): every event stays in the outbox until the care system's receipt;
  // "alerts_only": only alerts do, the rest leave at the broker's PUBACK (a care system that confirms
  // alerts only). Part of the security floor: a remote config cannot narrow it.
  bool receipts_for_alerts_only = false;
  // The default; the care system may change it by command (persisted, wins over this).
  std::chrono::seconds heartbeat_interval{60};
  // How long the broker keeps the session (and queued commands) while the gateway is offline.
  std::chrono::hours session_expiry{24 * 7};

  friend bool operator==(const UplinkConfig&, const UplinkConfig&) = default;
};

// A change of the simulated resident's physiology at a point in time (e.g. SpO2 falls to 86 %).
struct ScenarioStep {
  std::chrono::milliseconds after{0};  // since the device started
  std::string parameter;  // systolic, diastolic, pulse, spo2, perfusion_index, temperature, weight
  double value = 0;

  friend bool operator==(const ScenarioStep&, const ScenarioStep&) = default;
};

// A simulated device: realistic, noisy readings on a schedule (demo, tests, installer training).
struct SimulatedDeviceConfig {
  std::string profile;  // a simulated profile of the device catalogue (core/device_catalog.hpp)
  std::chrono::milliseconds interval{60'000};
  std::uint64_t seed = 1;
  double artefact_rate = 0.02;  // share of measurements flagged unreliable (finger out, motion, ...)
  std::vector<ScenarioStep> scenario;

  friend bool operator==(const SimulatedDeviceConfig&, const SimulatedDeviceConfig&) = default;
};

struct SerialDeviceConfig {
  std::filesystem::path port;  // normally /dev/serial/by-id/...
  std::string protocol;        // a serial protocol of the device catalogue (core/device_catalog.hpp)
  // Streaming oximeters: one reading per metric per window (the median of the frames in it).
  std::chrono::seconds window{1};
  bool forward_waveform = false;  // every pleth point as a reading: high volume, off by default
  unsigned user = 1;  // protocols with user slots (beurer-bm): the resident's slot on a two-user monitor
  std::chrono::seconds poll_interval{300};  // polled protocols (beurer-bm): how often the memory is read

  friend bool operator==(const SerialDeviceConfig&, const SerialDeviceConfig&) = default;
};

struct BleDeviceConfig {
  std::string address;         // AA:BB:CC:DD:EE:FF
  std::string profile;         // a BLE profile of the device catalogue (core/device_catalog.hpp)
  std::string bthome_key_hex;  // 32 hex digits for encrypted BTHome, else empty
  // bthome: what each button event means, by event name ("press", "long_press", ...): "emergency" or
  // "ignore". Events not listed are emergencies.
  std::map<std::string, std::string> buttons;
  // blood_pressure, weight_scale: the resident's user slot on a device that several people share
  // (measurements of other users are not the resident's); absent: every measurement is the resident's.
  std::optional<unsigned> user;

  friend bool operator==(const BleDeviceConfig&, const BleDeviceConfig&) = default;
};

// How the gateway reaches BlueZ.
struct BluetoothConfig {
  std::string adapter = "hci0";
  std::string bus_address;  // a D-Bus address; empty: the system bus, where bluetoothd lives

  friend bool operator==(const BluetoothConfig&, const BluetoothConfig&) = default;
};

// The local status page, /api/status and /metrics (docs/status-page.md). On a loopback address it is
// for the gateway itself; on any other address it needs the per-device token and TLS.
struct StatusPageConfig {
  bool enabled = true;
  std::string host = "127.0.0.1";
  unsigned port = 8780;
  std::filesystem::path token_file;  // made at install (packaging/debian/postinst)
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  bool show_values = false;  // measurement values and alert details on the page and in the API
  std::chrono::seconds refresh{10};

  friend bool operator==(const StatusPageConfig&, const StatusPageConfig&) = default;
};

struct DeviceConfig {
  std::string id;
  // Silence beyond this raises the device_silent alert. Default: ExpectedInterval().
  std::optional<std::chrono::seconds> expected_interval;
  // How far the device's own time may lie ahead of / behind the receive time (docs/rules.md, "Time").
  // Default: ClockTolerance().
  std::optional<std::chrono::seconds> clock_ahead;
  std::optional<std::chrono::seconds> clock_behind;
  std::variant<SimulatedDeviceConfig, SerialDeviceConfig, BleDeviceConfig> settings;

  friend bool operator==(const DeviceConfig&, const DeviceConfig&) = default;
};

struct Config {
  GatewayConfig gateway;
  ResidentConfig resident;
  BrokerConfig broker;
  TlsConfig tls;
  SecurityConfig security;
  StorageConfig storage;
  PipelineConfig pipeline;
  UplinkConfig uplink;
  BluetoothConfig bluetooth;
  StatusPageConfig status_page;
  std::vector<DeviceConfig> devices;
  alerts::RuleSet rules;

  friend bool operator==(const Config&, const Config&) = default;
};

struct ConfigError {
  std::string path;  // JSON path such as devices[2].port; empty for the document as a whole
  std::string message;
  int line = 0;  // 0 when unknown

  std::string ToString() const;  // "devices[2].port: expected ..., got 42 (line 14)"
};

using ConfigResult = tl::expected<Config, std::vector<ConfigError>>;

// Parses and validates config text. Relative file paths are resolved against `base_directory`.
ConfigResult ParseConfig(std::string_view text, const std::filesystem::path& base_directory);

// The config text with its top-level "rules" replaced by `rules` (a JSON array's text), everything else
// byte for byte as it was, comments included; a file without "rules" gets them as its last member. An
// error when the text is no JSON object (the result is not validated: ParseConfig does that).
Result<std::string> WithRules(std::string_view text, std::string_view rules);

// Reads and parses a config file; relative paths inside it are relative to the file's directory. The
// file itself is read with core::ReadCheckedFile (a regular file of at most 4 MiB, never blocking); the
// files it names are not opened (see CheckNamedFiles).
ConfigResult LoadConfig(const std::filesystem::path& file);

// A file the config names, with the config key that names it and the rules it is read by.
struct NamedFile {
  std::string key;  // "tls.key_file"
  std::filesystem::path path;
  core::FileKind kind;
};
// Every file the config names that the gateway reads: TLS and key files (unless the development flag
// that makes them unused is set), the database, the status page's token and TLS files (when enabled).
std::vector<NamedFile> NamedFiles(const Config& config);
// Opens each named file as it will be read (core::OpenCheckedFile: never blocking) and returns an error
// naming the key for each one that is not a regular file, too large, unreadable, or a secret others may
// read. A file that does not exist is no error here (keys and certificates are often installed after
// the config); its "key: message" goes to `missing` when given. For check-config, daemon start, reload
// and config.apply.
std::vector<ConfigError> CheckNamedFiles(const Config& config, std::vector<std::string>* missing = nullptr);

// How long the device may be quiet: as configured, else three simulated intervals (at least a minute),
// else 26 hours (a daily measurement with slack).
std::chrono::seconds ExpectedInterval(const DeviceConfig& device);

// Whether the device streams what it measures now or keeps records and sends them later.
core::DeviceTiming Timing(const DeviceConfig& device);
// The device's clock tolerance: as configured, else the default for its timing.
core::DeviceClockTolerance ClockTolerance(const DeviceConfig& device);

// The parameters a simulated device's scenario may set (the simulator's physiology). The serial
// protocols and BLE and simulated profiles the config accepts are the device catalogue's
// (gateway/core/device_catalog.hpp).
std::span<const std::string_view> ScenarioParameters();

}  // namespace ehg::config
