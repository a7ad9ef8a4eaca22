#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/process.hpp"

namespace ehg::test {

struct DaemonConfigOptions {
  std::string log_level = "info";
  double oximeter_interval_seconds = 0.05;
  double cuff_interval_seconds = 0.2;
  std::string rules =
      R"([{"id": "spo2-low", "kind": "threshold", "metric": "spo2", "below": 94, "severity": "high"}])";
  bool devices = true;
  // Broker and certificates; the default points at a port nothing listens on.
  std::string broker_uri = "ssl://127.0.0.1:8883";
  std::string ca_file = "ca.pem";
  std::string cert_file = "gw.pem";
  std::string key_file = "gw.key";
  int reconnect_max_seconds = 0;          // 0: the default
  int keepalive_seconds = 0;              // 0: the default
  std::string broker_protocol;            // broker.protocol ("5", "3.1.1"); empty: the default
  bool retain_status = true;              // broker.retain_status
  int command_qos = 1;                    // broker.command_qos
  std::uint64_t outbox_budget_bytes = 0;  // 0: the default
  // The "security" section. Delivery tests read plain bodies; the security tests give real keys.
  std::string security_json = R"({"insecure_plaintext_payloads_for_development": true})";
  std::string uplink_json;     // the "uplink" section, or empty for none
  std::string devices_json;    // the "devices" array; empty: the two simulated devices
  std::string bluetooth_json;  // the "bluetooth" section, or empty for none
  // The "status_page" section; empty: disabled (tests run in parallel, the default port is shared).
  std::string status_page_json;
  std::string time_zone = "Europe/Oslo";
  std::string pseudonym = "r-it-0001";  // the resident's
};

// Writes a config for a gateway on simulated devices whose data lives in `directory`.
std::filesystem::path WriteDaemonConfig(const std::filesystem::path& directory,
                                        const DaemonConfigOptions& options = {});

// The binary that runs `config`: the production ehealth-gateway, which links no simulator, unless the
// config has simulated ("sim") devices: those run in ehealth-gateway-tools, the same daemon (gateway/app)
// with the simulators linked.
std::string DaemonBinaryFor(const std::filesystem::path& config);

// {binary, "run", "--config", config} with the binary above.
std::vector<std::string> DaemonCommand(const std::filesystem::path& config);

Process StartDaemon(const std::filesystem::path& config);

// A config connected to `broker` with the test PKI's gateway certificate, reconnecting within 2 s.
DaemonConfigOptions ConnectedTo(const TestBroker& broker);

struct StoredReading {
  std::int64_t id;
  std::string device;
  std::string metric;
  std::int64_t device_time_ms;
};

// The readings the daemon reported as durable ("reading stored" debug lines).
std::vector<StoredReading> ReportedReadings(const std::vector<std::string>& lines);

// Measured values as "device|metric|effective ms": the readings a gateway stored, and the values inside
// the FHIR Observations it sent (each Observation identifier is gateway/device/subject/metric/ms).
std::set<std::string> StoredReadingKeys(const std::filesystem::path& database);
std::string ObservationKeyOf(const std::string& identifier);

}  // namespace ehg::test
