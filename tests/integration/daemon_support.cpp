#include "tests/integration/daemon_support.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <fstream>
#include <sstream>

namespace ehg::test {

std::filesystem::path WriteDaemonConfig(const std::filesystem::path& directory,
                                        const DaemonConfigOptions& options) {
  const auto path = directory / "gateway.json";
  std::ofstream out(path);
  out << R"({
  "gateway": {"id": "gw-it-01", "tenant": "0301", "log_level": ")"
      << options.log_level << R"(", "assume_clock_synchronised": true},
  "resident": {"pseudonym": ")"
      << options.pseudonym << R"(", "time_zone": ")" << options.time_zone << R"("},
  "broker": {"uri": ")"
      << options.broker_uri << '"';
  if (options.reconnect_max_seconds > 0)
    out << R"(, "reconnect_max_seconds": )" << options.reconnect_max_seconds;
  if (options.keepalive_seconds > 0) out << R"(, "keepalive_seconds": )" << options.keepalive_seconds;
  if (!options.broker_protocol.empty()) out << R"(, "protocol": ")" << options.broker_protocol << '"';
  if (!options.retain_status) out << R"(, "retain_status": false)";
  if (options.command_qos != 1) out << R"(, "command_qos": )" << options.command_qos;
  out << R"(},
  "tls": {"ca_file": ")"
      << options.ca_file << R"(", "cert_file": ")" << options.cert_file << R"(", "key_file": ")"
      << options.key_file << R"("},
  "security": )"
      << options.security_json << R"(,
  "storage": {"path": "data/gateway.db")";
  if (options.outbox_budget_bytes > 0) out << R"(, "outbox_budget_bytes": )" << options.outbox_budget_bytes;
  out << "},\n";
  if (!options.uplink_json.empty()) out << R"(  "uplink": )" << options.uplink_json << ",\n";
  if (!options.bluetooth_json.empty()) out << R"(  "bluetooth": )" << options.bluetooth_json << ",\n";
  out << R"(  "status_page": )"
      << (options.status_page_json.empty() ? R"({"enabled": false})" : options.status_page_json) << ",\n";
  if (!options.devices_json.empty()) {
    out << R"(  "devices": )" << options.devices_json << ",\n";
  } else {
    out << R"(  "devices": [)";
  }
  if (options.devices && options.devices_json.empty()) {
    out << R"(
    {"id": "oximeter", "type": "sim", "profile": "pulse_oximeter", "interval_seconds": )"
        << options.oximeter_interval_seconds << R"(, "seed": 5},
    {"id": "cuff", "type": "sim", "profile": "blood_pressure", "interval_seconds": )"
        << options.cuff_interval_seconds << R"(, "seed": 6}
  )";
  }
  if (options.devices_json.empty()) out << "],\n";
  out << R"(  "rules": )" << options.rules << "\n}\n";
  return path;
}

std::string DaemonBinaryFor(const std::filesystem::path& config) {
  std::ifstream in(config);
  std::stringstream text;
  text << in.rdbuf();
  const bool simulated = text.str().find(R"("type": "sim")") != std::string::npos;
  return simulated ? EHG_TOOLS_BINARY : EHG_GATEWAY_BINARY;
}

std::vector<std::string> DaemonCommand(const std::filesystem::path& config) {
  return {DaemonBinaryFor(config), "run", "--config", config.string()};
}

Process StartDaemon(const std::filesystem::path& config) {
  return Process::Start(DaemonCommand(config));
}

DaemonConfigOptions ConnectedTo(const TestBroker& broker) {
  const TestPki& pki = TestPki::Get();
  DaemonConfigOptions options;
  options.broker_uri = broker.Uri();
  options.ca_file = pki.File("ca.crt").string();
  options.cert_file = pki.File("gateway.crt").string();
  options.key_file = pki.File("gateway.key").string();
  options.reconnect_max_seconds = 2;
  return options;
}

std::vector<StoredReading> ReportedReadings(const std::vector<std::string>& lines) {
  std::vector<StoredReading> readings;
  for (const std::string& line : lines) {
    if (line.find("msg=\"reading stored\"") == std::string::npos) continue;
    StoredReading reading{};
    std::istringstream fields(line);
    for (std::string field; fields >> field;) {
      const auto equals = field.find('=');
      if (equals == std::string::npos) continue;
      const std::string key = field.substr(0, equals);
      const std::string value = field.substr(equals + 1);
      if (key == "reading_id") reading.id = std::stoll(value);
      if (key == "device") reading.device = value;
      if (key == "metric") reading.metric = value;
      if (key == "device_time_ms") reading.device_time_ms = std::stoll(value);
    }
    // A line cut off by the kill is not a report: all four fields are needed.
    if (reading.id > 0 && !reading.device.empty() && !reading.metric.empty() && reading.device_time_ms > 0) {
      readings.push_back(reading);
    }
  }
  return readings;
}

std::set<std::string> StoredReadingKeys(const std::filesystem::path& database) {
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  SQLite::Statement query(db,
                          "SELECT device_id, metric, coalesce(device_time_ms, received_ms) FROM readings");
  std::set<std::string> keys;
  while (query.executeStep()) {
    keys.insert(query.getColumn(0).getString() + "|" + query.getColumn(1).getString() + "|" +
                std::to_string(query.getColumn(2).getInt64()));
  }
  return keys;
}

std::string ObservationKeyOf(const std::string& identifier) {
  std::vector<std::string> parts;
  std::stringstream value(identifier);
  for (std::string part; std::getline(value, part, '/');)
    parts.push_back(part);
  return parts.size() == 5 ? parts[1] + "|" + parts[3] + "|" + parts[4] : "malformed:" + identifier;
}

}  // namespace ehg::test
