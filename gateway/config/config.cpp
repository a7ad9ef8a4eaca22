#include "gateway/config/config.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

#include "alerts/evaluator.hpp"
#include "alerts/window.hpp"
#include "gateway/core/address.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/json.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::config {
namespace {

using core::Describe;
using core::JsonMember;
using core::JsonSyntaxError;
using core::JsonValue;
using core::ParseJson;

constexpr std::array<std::string_view, 4> kSimulatedProfiles{"blood_pressure", "pulse_oximeter",
                                                             "thermometer", "weight_scale"};
// Scenario parameters with the range a simulated resident may be driven to.
struct ScenarioParameter {
  std::string_view name;
  double min;
  double max;
};
constexpr std::array<ScenarioParameter, 7> kScenarioParameters{{{"systolic", 60, 260},
                                                                {"diastolic", 30, 160},
                                                                {"pulse", 30, 220},
                                                                {"spo2", 70, 100},
                                                                {"perfusion_index", 0.2, 20},
                                                                {"temperature", 33, 42},
                                                                {"weight", 20, 250}}};
constexpr std::array<std::string_view, kScenarioParameters.size()> kScenarioParameterNames = [] {
  std::array<std::string_view, kScenarioParameters.size()> names{};
  for (std::size_t i = 0; i < names.size(); ++i)
    names[i] = kScenarioParameters[i].name;
  return names;
}();
constexpr std::array<std::string_view, 7> kSerialProtocols{
    "contec-cms50-5", "contec-cms50-9", "nonin-df2", "nonin-df7", "nonin-df8", "beurer-bm", "ascii"};
// The database is SQLite's to read; the check only keeps a FIFO or a device from blocking its open.
constexpr core::FileKind kDatabaseFile{"database", std::numeric_limits<std::uint64_t>::max(), false};

constexpr std::array<std::string_view, 7> kBleProfiles{
    "blood_pressure", "thermometer", "heart_rate", "pulse_oximeter", "weight_scale", "glucose", "bthome"};

std::string JoinQuoted(std::span<const std::string_view> names) {
  std::string joined;
  for (const std::string_view name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

class Errors {
 public:
  void Add(std::string path, std::string message, const JsonValue* at) {
    list_.push_back(ConfigError{std::move(path), std::move(message), at != nullptr ? at->position.line : 0});
  }
  void AddAtLine(std::string path, std::string message, int line) {
    list_.push_back(ConfigError{std::move(path), std::move(message), line});
  }
  bool Empty() const { return list_.empty(); }
  std::vector<ConfigError> Take() { return std::move(list_); }

 private:
  std::vector<ConfigError> list_;
};

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// Reads the members of one JSON object; every key it is asked for counts as known, Finish() reports the
// rest as unknown (a misspelt key must never silently leave a safety setting at its default).
class ObjectReader {
 public:
  ObjectReader(const JsonValue& object, std::string path, Errors& errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  const JsonValue* Optional(std::string_view key) {
    known_.push_back(key);
    return object_.Find(key);
  }

  const JsonValue* Required(std::string_view key, std::string_view expected) {
    const JsonValue* value = Optional(key);
    if (value == nullptr) {
      errors_.Add(PathOf(key), "required key missing (expected " + std::string(expected) + ")", &object_);
    }
    return value;
  }

  std::string PathOf(std::string_view key) const { return Join(path_, key); }

  void Finish() {
    for (const JsonMember& member : object_.members) {
      if (std::find(known_.begin(), known_.end(), member.key) != known_.end()) continue;
      std::string expected;
      std::vector<std::string> listed;
      for (const std::string_view key : known_) {
        // A duration in any of its units is listed once: for_{seconds,minutes,hours,days}.
        std::string name(key);
        for (const std::string_view unit : {"_seconds", "_minutes", "_hours", "_days"}) {
          if (name.size() > unit.size() && name.ends_with(unit) && known_.size() > 1 &&
              std::find(known_.begin(), known_.end(),
                        name.substr(0, name.size() - unit.size()) + "_minutes") != known_.end()) {
            name = name.substr(0, name.size() - unit.size()) + "_{seconds,minutes,hours,days}";
          }
        }
        if (std::find(listed.begin(), listed.end(), name) != listed.end()) continue;
        listed.push_back(name);
        if (!expected.empty()) expected += ", ";
        expected += name;
      }
      errors_.AddAtLine(PathOf(member.key), "unknown key (expected one of: " + expected + ")",
                        member.key_position.line);
    }
  }

 private:
  const JsonValue& object_;
  std::string path_;
  Errors& errors_;
  std::vector<std::string_view> known_;
};

std::string Expected(std::string_view expected, const JsonValue& got) {
  return "expected " + std::string(expected) + ", got " + Describe(got);
}

std::optional<std::string> ReadString(const JsonValue& value, const std::string& path, Errors& errors,
                                      std::string_view expected) {
  if (value.type != JsonValue::Type::kString) {
    errors.Add(path, Expected(expected, value), &value);
    return std::nullopt;
  }
  return value.text;
}

std::optional<bool> ReadBool(const JsonValue& value, const std::string& path, Errors& errors) {
  if (value.type != JsonValue::Type::kBool) {
    errors.Add(path, Expected("true or false", value), &value);
    return std::nullopt;
  }
  return value.boolean;
}

std::string FormatNumber(double number) {
  std::ostringstream out;
  out << number;
  return out.str();
}

std::optional<double> ReadNumber(const JsonValue& value, const std::string& path, Errors& errors, double min,
                                 double max, std::string_view what) {
  const std::string expected =
      std::string(what) + " between " + FormatNumber(min) + " and " + FormatNumber(max);
  if (value.type != JsonValue::Type::kNumber || value.number < min || value.number > max) {
    errors.Add(path, Expected(expected, value), &value);
    return std::nullopt;
  }
  return value.number;
}

std::optional<std::int64_t> ReadInteger(const JsonValue& value, const std::string& path, Errors& errors,
                                        std::int64_t min, std::int64_t max, std::string_view what) {
  const std::string expected =
      std::string(what) + " (a whole number) between " + std::to_string(min) + " and " + std::to_string(max);
  if (value.type != JsonValue::Type::kNumber || !value.integral || value.number < static_cast<double>(min) ||
      value.number > static_cast<double>(max)) {
    errors.Add(path, Expected(expected, value), &value);
    return std::nullopt;
  }
  return static_cast<std::int64_t>(value.number);
}

std::optional<std::string> ReadChoice(const JsonValue& value, const std::string& path, Errors& errors,
                                      std::span<const std::string_view> choices) {
  const std::string expected = "one of " + JoinQuoted(choices);
  if (value.type != JsonValue::Type::kString ||
      std::find(choices.begin(), choices.end(), value.text) == choices.end()) {
    errors.Add(path, Expected(expected, value), &value);
    return std::nullopt;
  }
  return value.text;
}

bool IsIdentifier(std::string_view text, std::size_t min_length, std::size_t max_length, bool allow_dot) {
  if (text.size() < min_length || text.size() > max_length) return false;
  return std::all_of(text.begin(), text.end(), [allow_dot](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || (allow_dot && c == '.');
  });
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

bool IsBluetoothAddress(std::string_view text) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2) {
      if (text[i] != ':') return false;
    } else if (!IsHex(text.substr(i, 1))) {
      return false;
    }
  }
  return true;
}

std::filesystem::path ZoneInfoDirectory() {
  const char* tzdir = std::getenv("TZDIR");
  return tzdir != nullptr && *tzdir != '\0' ? std::filesystem::path(tzdir) : "/usr/share/zoneinfo";
}

bool IsKnownTimeZone(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos) return false;
  const bool well_formed = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '-' || c == '+';
  });
  std::error_code error;
  return well_formed && std::filesystem::is_regular_file(ZoneInfoDirectory() / std::string(name), error);
}

std::filesystem::path Resolve(const std::filesystem::path& base, const std::string& text) {
  const std::filesystem::path path(text);
  return path.is_absolute() || base.empty() ? path : (base / path).lexically_normal();
}

std::optional<std::filesystem::path> ReadPath(ObjectReader& reader, std::string_view key, bool required,
                                              const std::filesystem::path& base, Errors& errors) {
  constexpr std::string_view kExpected = "a file path";
  const JsonValue* value = required ? reader.Required(key, kExpected) : reader.Optional(key);
  if (value == nullptr) return std::nullopt;
  const auto text = ReadString(*value, reader.PathOf(key), errors, kExpected);
  if (!text) return std::nullopt;
  if (text->empty() || text->find('\0') != std::string::npos) {
    errors.Add(reader.PathOf(key), Expected(kExpected, *value), value);
    return std::nullopt;
  }
  return Resolve(base, *text);
}

class ConfigParser {
 public:
  ConfigParser(const std::filesystem::path& base, Errors& errors) : base_(base), errors_(errors) {}

  Config Parse(const JsonValue& root) {
    Config config;
    if (root.type != JsonValue::Type::kObject) {
      errors_.Add("", Expected("a JSON object at the top level", root), &root);
      return config;
    }
    ObjectReader reader(root, "", errors_);
    if (const JsonValue* value = Section(reader, "gateway", true)) Gateway(*value, config.gateway);
    if (const JsonValue* value = Section(reader, "resident", true)) Resident(*value, config.resident);
    if (const JsonValue* value = Section(reader, "broker", true)) Broker(*value, config.broker);
    const bool tls_required = !config.broker.insecure_plaintext_for_development;
    if (const JsonValue* value = Section(reader, "tls", tls_required)) Tls(*value, config.tls);
    if (const JsonValue* value = Section(reader, "security", true)) Security(*value, config.security);
    if (const JsonValue* value = Section(reader, "storage", true)) Storage(*value, config.storage);
    if (const JsonValue* value = Section(reader, "pipeline", false)) Pipeline(*value, config.pipeline);
    if (const JsonValue* value = Section(reader, "uplink", false)) Uplink(*value, config.uplink);
    if (const JsonValue* value = Section(reader, "bluetooth", false)) Bluetooth(*value, config.bluetooth);
    if (const JsonValue* value = Section(reader, "status_page", false))
      StatusPage(*value, config.status_page);
    if (const JsonValue* value = reader.Optional("devices")) Devices(*value, config.devices);
    if (const JsonValue* value = reader.Optional("rules")) Rules(*value, config.rules);
    reader.Finish();
    DeviceIntervals(config.devices, config.rules);
    return config;
  }

 private:
  const JsonValue* Section(ObjectReader& reader, std::string_view key, bool required) {
    const JsonValue* value = required ? reader.Required(key, "an object") : reader.Optional(key);
    if (value != nullptr && value->type != JsonValue::Type::kObject) {
      errors_.Add(std::string(key), Expected("an object", *value), value);
      return nullptr;
    }
    return value;
  }

  void Gateway(const JsonValue& object, GatewayConfig& out) {
    ObjectReader reader(object, "gateway", errors_);
    constexpr std::string_view kIdExpected = "a gateway id of 1-64 letters, digits, '-' or '_'";
    if (const JsonValue* value = reader.Required("id", kIdExpected)) {
      if (value->type == JsonValue::Type::kString && IsIdentifier(value->text, 1, 64, false)) {
        out.id = value->text;
      } else {
        errors_.Add("gateway.id", Expected(kIdExpected, *value), value);
      }
    }
    constexpr std::string_view kTenantExpected =
        "a four-digit municipality number in quotes such as \"0301\"";
    if (const JsonValue* value = reader.Required("tenant", kTenantExpected)) {
      if (value->type == JsonValue::Type::kString && value->text.size() == 4 && AllDigits(value->text)) {
        out.tenant = value->text;
      } else {
        errors_.Add("gateway.tenant", Expected(kTenantExpected, *value), value);
      }
    }
    if (const JsonValue* value = reader.Optional("log_level")) {
      constexpr std::array<std::string_view, 4> kLevels{"debug", "info", "warning", "error"};
      if (auto level = ReadChoice(*value, "gateway.log_level", errors_, kLevels)) {
        out.log_level = *core::ParseLogLevel(*level);
      }
    }
    if (const JsonValue* value = reader.Optional("assume_clock_synchronised")) {
      if (auto flag = ReadBool(*value, "gateway.assume_clock_synchronised", errors_)) {
        out.assume_clock_synchronised = *flag;
      }
    }
    reader.Finish();
  }

  void Resident(const JsonValue& object, ResidentConfig& out) {
    ObjectReader reader(object, "resident", errors_);
    constexpr std::string_view kPseudonymExpected = "a pseudonym of 4-64 letters, digits, '-' or '_'";
    if (const JsonValue* value = reader.Required("pseudonym", kPseudonymExpected)) {
      if (value->type == JsonValue::Type::kString && value->text.size() == 11 && AllDigits(value->text)) {
        // Do not echo it: it may be a real national identity number.
        errors_.Add("resident.pseudonym",
                    "looks like a national identity number (11 digits): use the pseudonym the care system "
                    "assigned, never a person's identity",
                    value);
      } else if (value->type == JsonValue::Type::kString && IsIdentifier(value->text, 4, 64, false)) {
        out.pseudonym = value->text;
      } else {
        errors_.Add("resident.pseudonym", Expected(kPseudonymExpected, *value), value);
      }
    }
    constexpr std::string_view kZoneExpected = "an IANA time zone such as \"Europe/Oslo\"";
    if (const JsonValue* value = reader.Required("time_zone", kZoneExpected)) {
      if (value->type == JsonValue::Type::kString && IsKnownTimeZone(value->text)) {
        out.time_zone = value->text;
      } else {
        errors_.Add("resident.time_zone",
                    Expected(kZoneExpected, *value) + " (not in the time zone database)", value);
      }
    }
    reader.Finish();
  }

  void Broker(const JsonValue& object, BrokerConfig& out) {
    ObjectReader reader(object, "broker", errors_);
    if (const JsonValue* value = reader.Optional("insecure_plaintext_for_development")) {
      if (auto flag = ReadBool(*value, "broker.insecure_plaintext_for_development", errors_)) {
        out.insecure_plaintext_for_development = *flag;
      }
    }
    constexpr std::string_view kUriExpected = "a broker address such as \"ssl://mqtt.example.no:8883\"";
    if (const JsonValue* value = reader.Required("uri", kUriExpected)) {
      if (auto uri = ReadString(*value, "broker.uri", errors_, kUriExpected)) Uri(*uri, *value, out);
    }
    if (const JsonValue* value = reader.Optional("keepalive_seconds")) {
      if (auto seconds = ReadInteger(*value, "broker.keepalive_seconds", errors_, 5, 3600, "seconds")) {
        out.keepalive = std::chrono::seconds(*seconds);
      }
    }
    if (const JsonValue* value = reader.Optional("reconnect_max_seconds")) {
      if (auto seconds = ReadInteger(*value, "broker.reconnect_max_seconds", errors_, 1, 3600, "seconds")) {
        out.reconnect_max = std::chrono::seconds(*seconds);
      }
    }
    reader.Finish();
  }

  void Uri(const std::string& uri, const JsonValue& value, BrokerConfig& out) {
    const auto scheme_end = uri.find("://");
    const std::string scheme = scheme_end == std::string::npos ? "" : uri.substr(0, scheme_end);
    const std::string rest = scheme_end == std::string::npos ? "" : uri.substr(scheme_end + 3);
    const auto colon = rest.rfind(':');
    const std::string host = colon == std::string::npos ? "" : rest.substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    const bool port_ok =
        AllDigits(port) && port.size() <= 5 && std::stoi(port) >= 1 && std::stoi(port) <= 65535;
    if (host.empty() || !port_ok || host.find('/') != std::string::npos) {
      errors_.Add("broker.uri", Expected("scheme://host:port such as \"ssl://mqtt.example.no:8883\"", value),
                  &value);
      return;
    }
    if (scheme == "ssl" || scheme == "mqtts") {
      out.uri = uri;
    } else if (scheme == "tcp" || scheme == "mqtt") {
      if (out.insecure_plaintext_for_development) {
        out.uri = uri;
      } else {
        errors_.Add(
            "broker.uri",
            "plaintext " + scheme +
                ":// refused: use ssl://, or set broker.insecure_plaintext_for_development to true on a "
                "development setup",
            &value);
      }
    } else {
      errors_.Add("broker.uri", Expected("an ssl:// or mqtts:// address", value), &value);
    }
  }

  void Tls(const JsonValue& object, TlsConfig& out) {
    ObjectReader reader(object, "tls", errors_);
    if (auto path = ReadPath(reader, "ca_file", true, base_, errors_)) out.ca_file = *path;
    if (auto path = ReadPath(reader, "cert_file", true, base_, errors_)) out.cert_file = *path;
    if (auto path = ReadPath(reader, "key_file", true, base_, errors_)) out.key_file = *path;
    reader.Finish();
  }

  void Security(const JsonValue& object, SecurityConfig& out) {
    ObjectReader reader(object, "security", errors_);
    if (const JsonValue* value = reader.Optional("insecure_plaintext_payloads_for_development")) {
      if (auto flag = ReadBool(*value, "security.insecure_plaintext_payloads_for_development", errors_)) {
        out.insecure_plaintext_payloads_for_development = *flag;
      }
    }
    // Without the named development flag every key is required: there is no silent plaintext.
    const bool keys_required = !out.insecure_plaintext_payloads_for_development;
    if (auto path = ReadPath(reader, "gateway_key_file", keys_required, base_, errors_))
      out.gateway_key_file = *path;
    if (auto path = ReadPath(reader, "recipient_key_file", keys_required, base_, errors_)) {
      out.recipient_key_file = *path;
    }
    if (auto path = ReadPath(reader, "command_keys_file", keys_required, base_, errors_)) {
      out.command_keys_file = *path;
    }
    if (const JsonValue* value = reader.Optional("clock_skew_seconds")) {
      if (auto seconds = ReadInteger(*value, "security.clock_skew_seconds", errors_, 0, 600, "seconds")) {
        out.clock_skew = std::chrono::seconds(*seconds);
      }
    }
    if (const JsonValue* value = reader.Optional("command_max_lifetime_hours")) {
      if (auto hours =
              ReadInteger(*value, "security.command_max_lifetime_hours", errors_, 1, 24 * 30, "hours")) {
        out.command_max_lifetime = std::chrono::hours(*hours);
      }
    }
    reader.Finish();
  }

  void Storage(const JsonValue& object, StorageConfig& out) {
    ObjectReader reader(object, "storage", errors_);
    if (auto path = ReadPath(reader, "path", true, base_, errors_)) out.path = *path;
    if (const JsonValue* value = reader.Optional("outbox_budget_bytes")) {
      if (auto bytes = ReadInteger(*value, "storage.outbox_budget_bytes", errors_, 64 * 1024,
                                   std::int64_t{64} * 1024 * 1024 * 1024, "bytes")) {
        out.outbox_budget_bytes = static_cast<std::uint64_t>(*bytes);
      }
    }
    if (const JsonValue* value = reader.Optional("max_database_bytes")) {
      if (auto bytes =
              ReadInteger(*value, "storage.max_database_bytes", errors_, 0, std::int64_t{1} << 40, "bytes")) {
        out.max_database_bytes = static_cast<std::uint64_t>(*bytes);
      }
    }
    if (const JsonValue* value = reader.Optional("readings_retention_days")) {
      if (auto days = ReadInteger(*value, "storage.readings_retention_days", errors_, 1, 3650, "days")) {
        out.readings_retention = std::chrono::days(*days);
      }
    }
    if (const JsonValue* value = reader.Optional("raw_readings_days")) {
      if (auto days = ReadInteger(*value, "storage.raw_readings_days", errors_, 1, 3650, "days")) {
        out.raw_readings_retention = std::chrono::days(*days);
      }
    }
    if (out.raw_readings_retention > out.readings_retention) {
      // Raw readings kept longer than their summaries would be summaries removed under them: keep the
      // raw ones for the whole retention instead (a configuration that only sets the retention short).
      if (reader.Optional("raw_readings_days") != nullptr) {
        errors_.Add("storage.raw_readings_days", "must be at most storage.readings_retention_days",
                    reader.Optional("raw_readings_days"));
      } else {
        out.raw_readings_retention = out.readings_retention;
      }
    }
    if (const JsonValue* value = reader.Optional("keep_free_disk_bytes")) {
      if (auto bytes = ReadInteger(*value, "storage.keep_free_disk_bytes", errors_, 0, std::int64_t{1} << 40,
                                   "bytes")) {
        out.keep_free_disk_bytes = static_cast<std::uint64_t>(*bytes);
      }
    }
    if (out.max_database_bytes > 0 && out.max_database_bytes < 2 * out.outbox_budget_bytes) {
      errors_.Add(
          "storage.max_database_bytes",
          "must be 0 (no cap) or at least twice storage.outbox_budget_bytes, so the outbox fits beside "
          "the readings",
          reader.Optional("max_database_bytes"));
    }
    reader.Finish();
  }

  void Pipeline(const JsonValue& object, PipelineConfig& out) {
    ObjectReader reader(object, "pipeline", errors_);
    if (const JsonValue* value = reader.Optional("queue_capacity")) {
      if (auto capacity =
              ReadInteger(*value, "pipeline.queue_capacity", errors_, 16, 1'000'000, "readings")) {
        out.queue_capacity = static_cast<std::size_t>(*capacity);
      }
    }
    if (const JsonValue* value = reader.Optional("batch_window_ms")) {
      if (auto window = ReadInteger(*value, "pipeline.batch_window_ms", errors_, 0, 1000, "milliseconds")) {
        out.batch_window = std::chrono::milliseconds(*window);
      }
    }
    if (const JsonValue* value = reader.Optional("batch_max")) {
      if (auto batch = ReadInteger(*value, "pipeline.batch_max", errors_, 1, 10'000, "readings")) {
        out.batch_max = static_cast<std::size_t>(*batch);
      }
    }
    reader.Finish();
  }

  void Bluetooth(const JsonValue& object, BluetoothConfig& out) {
    ObjectReader reader(object, "bluetooth", errors_);
    if (const JsonValue* value = reader.Optional("adapter")) {
      constexpr std::string_view kExpected = "an adapter name such as \"hci0\"";
      const bool valid = value->type == JsonValue::Type::kString && value->text.size() > 3 &&
                         value->text.size() < 8 && value->text.compare(0, 3, "hci") == 0 &&
                         std::all_of(value->text.begin() + 3, value->text.end(),
                                     [](unsigned char c) { return std::isdigit(c) != 0; });
      if (valid) {
        out.adapter = value->text;
      } else {
        errors_.Add("bluetooth.adapter", Expected(kExpected, *value), value);
      }
    }
    if (const JsonValue* value = reader.Optional("bus_address")) {
      constexpr std::string_view kExpected =
          "a D-Bus address such as \"unix:path=/run/dbus/system_bus_socket\"";
      if (value->type == JsonValue::Type::kString && value->text.find(':') != std::string::npos &&
          value->text.find('=') != std::string::npos) {
        out.bus_address = value->text;
      } else {
        errors_.Add("bluetooth.bus_address", Expected(kExpected, *value), value);
      }
    }
    reader.Finish();
  }

  void StatusPage(const JsonValue& object, StatusPageConfig& out) {
    ObjectReader reader(object, "status_page", errors_);
    if (const JsonValue* value = reader.Optional("enabled")) {
      if (auto enabled = ReadBool(*value, "status_page.enabled", errors_)) out.enabled = *enabled;
    }
    if (const JsonValue* value = reader.Optional("listen")) {
      constexpr std::string_view kExpected = "host:port such as \"127.0.0.1:8780\" or \"[::]:8443\"";
      const auto parsed =
          value->type == JsonValue::Type::kString ? core::ParseHostPort(value->text) : std::nullopt;
      if (parsed) {
        out.host = parsed->host;
        out.port = parsed->port;
      } else {
        errors_.Add("status_page.listen", Expected(kExpected, *value), value);
      }
    }
    if (auto path = ReadPath(reader, "token_file", false, base_, errors_)) out.token_file = *path;
    if (auto path = ReadPath(reader, "tls_cert_file", false, base_, errors_)) out.tls_cert_file = *path;
    if (auto path = ReadPath(reader, "tls_key_file", false, base_, errors_)) out.tls_key_file = *path;
    if (const JsonValue* value = reader.Optional("show_values")) {
      if (auto show = ReadBool(*value, "status_page.show_values", errors_)) out.show_values = *show;
    }
    if (const JsonValue* value = reader.Optional("refresh_seconds")) {
      if (auto seconds = ReadInteger(*value, "status_page.refresh_seconds", errors_, 2, 300, "seconds"))
        out.refresh = std::chrono::seconds(*seconds);
    }
    reader.Finish();
    if (out.enabled && !core::IsLoopbackHost(out.host)) {
      // Beyond the gateway itself: never without a token, never in plaintext.
      if (out.token_file.empty()) {
        errors_.Add("status_page.token_file",
                    "required when status_page.listen is not a loopback address (the per-device token)",
                    &object);
      }
      if (out.tls_cert_file.empty() || out.tls_key_file.empty()) {
        errors_.Add(
            "status_page.tls_cert_file",
            "tls_cert_file and tls_key_file are required when status_page.listen is not a loopback address",
            &object);
      }
    }
    if (out.tls_cert_file.empty() != out.tls_key_file.empty()) {
      errors_.Add("status_page.tls_key_file", "tls_cert_file and tls_key_file go together", &object);
    }
  }

  void Uplink(const JsonValue& object, UplinkConfig& out) {
    ObjectReader reader(object, "uplink", errors_);
    if (const JsonValue* value = reader.Optional("in_flight_window")) {
      if (auto window = ReadInteger(*value, "uplink.in_flight_window", errors_, 4, 1024, "messages")) {
        out.in_flight_window = static_cast<std::size_t>(*window);
      }
    }
    if (const JsonValue* value = reader.Optional("observation_batch_max")) {
      if (auto batch =
              ReadInteger(*value, "uplink.observation_batch_max", errors_, 1, 1000, "observations")) {
        out.observation_batch_max = static_cast<std::size_t>(*batch);
      }
    }
    if (const JsonValue* value = reader.Optional("observation_batch_window_ms")) {
      if (auto window =
              ReadInteger(*value, "uplink.observation_batch_window_ms", errors_, 0, 60'000, "milliseconds")) {
        out.observation_batch_window = std::chrono::milliseconds(*window);
      }
    }
    if (const JsonValue* value = reader.Optional("receipt_resend_seconds")) {
      if (auto seconds = ReadInteger(*value, "uplink.receipt_resend_seconds", errors_, 5, 3600, "seconds")) {
        out.receipt_resend_interval = std::chrono::seconds(*seconds);
      }
    }
    if (const JsonValue* value = reader.Optional("heartbeat_seconds")) {
      if (auto seconds = ReadInteger(*value, "uplink.heartbeat_seconds", errors_, 10, 3600, "seconds")) {
        out.heartbeat_interval = std::chrono::seconds(*seconds);
      }
    }
    if (const JsonValue* value = reader.Optional("session_expiry_hours")) {
      if (auto hours = ReadInteger(*value, "uplink.session_expiry_hours", errors_, 1, 24 * 30, "hours")) {
        out.session_expiry = std::chrono::hours(*hours);
      }
    }
    reader.Finish();
  }

  void Devices(const JsonValue& array, std::vector<DeviceConfig>& out) {
    if (array.type != JsonValue::Type::kArray) {
      errors_.Add("devices", Expected("an array of devices", array), &array);
      return;
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < array.items.size(); ++i) {
      const JsonValue& item = array.items[i];
      const std::string path = Index("devices", i);
      if (item.type != JsonValue::Type::kObject) {
        errors_.Add(path, Expected("a device object", item), &item);
        continue;
      }
      if (auto device = Device(item, path, seen)) out.push_back(std::move(*device));
    }
  }

  std::optional<DeviceConfig> Device(const JsonValue& object, const std::string& path,
                                     std::set<std::string>& seen) {
    ObjectReader reader(object, path, errors_);
    DeviceConfig device;
    bool ok = true;
    constexpr std::string_view kIdExpected = "a device id of 1-64 letters, digits, '-', '_' or '.'";
    if (const JsonValue* value = reader.Required("id", kIdExpected)) {
      if (value->type != JsonValue::Type::kString || !IsIdentifier(value->text, 1, 64, true)) {
        errors_.Add(reader.PathOf("id"), Expected(kIdExpected, *value), value);
        ok = false;
      } else if (!seen.insert(value->text).second) {
        errors_.Add(reader.PathOf("id"), "duplicate device id \"" + value->text + "\"", value);
        ok = false;
      } else {
        device.id = value->text;
      }
    } else {
      ok = false;
    }
    constexpr std::array<std::string_view, 3> kTypes{"sim", "serial", "ble"};
    std::optional<std::string> type;
    if (const JsonValue* value = reader.Required("type", "one of sim, serial, ble")) {
      type = ReadChoice(*value, reader.PathOf("type"), errors_, kTypes);
    }
    if (!type) {
      // Without a type the other keys cannot be judged; report only what was said above.
      return std::nullopt;
    }
    device.expected_interval =
        Duration(reader, "expected_interval", std::chrono::minutes{1}, std::chrono::days{14}, ok);
    // No further ahead than the engine takes readings at all.
    device.clock_ahead =
        Duration(reader, "clock_ahead", std::chrono::seconds{1},
                 std::chrono::duration_cast<std::chrono::seconds>(alerts::kFurthestAhead), ok, true);
    device.clock_behind =
        Duration(reader, "clock_behind", std::chrono::seconds{1}, std::chrono::days{90}, ok, true);
    if (*type == "sim") {
      ok = SimulatedDevice(reader, device) && ok;
    } else if (*type == "serial") {
      ok = SerialDevice(reader, device) && ok;
    } else {
      ok = BleDevice(reader, device) && ok;
    }
    reader.Finish();
    return ok ? std::optional<DeviceConfig>(std::move(device)) : std::nullopt;
  }

  bool SimulatedDevice(ObjectReader& reader, DeviceConfig& device) {
    SimulatedDeviceConfig settings;
    bool ok = true;
    const std::string expected = "one of " + JoinQuoted(kSimulatedProfiles);
    if (const JsonValue* value = reader.Required("profile", expected)) {
      auto profile = ReadChoice(*value, reader.PathOf("profile"), errors_, kSimulatedProfiles);
      ok = profile.has_value();
      if (profile) settings.profile = *profile;
    } else {
      ok = false;
    }
    if (const JsonValue* value = reader.Optional("interval_seconds")) {
      auto seconds = ReadNumber(*value, reader.PathOf("interval_seconds"), errors_, 0.001, 86'400, "seconds");
      ok = seconds.has_value() && ok;
      if (seconds) settings.interval = std::chrono::milliseconds(std::llround(*seconds * 1000));
    }
    if (const JsonValue* value = reader.Optional("seed")) {
      auto seed =
          ReadInteger(*value, reader.PathOf("seed"), errors_, 0, std::int64_t{1} << 53, "a random seed");
      ok = seed.has_value() && ok;
      if (seed) settings.seed = static_cast<std::uint64_t>(*seed);
    }
    if (const JsonValue* value = reader.Optional("artefact_rate")) {
      auto rate = ReadNumber(*value, reader.PathOf("artefact_rate"), errors_, 0, 1, "a share");
      ok = rate.has_value() && ok;
      if (rate) settings.artefact_rate = *rate;
    }
    if (const JsonValue* value = reader.Optional("scenario"))
      ok = Scenario(*value, reader.PathOf("scenario"), settings) && ok;
    device.settings = settings;
    return ok;
  }

  bool Scenario(const JsonValue& array, const std::string& path, SimulatedDeviceConfig& settings) {
    if (array.type != JsonValue::Type::kArray) {
      errors_.Add(path, Expected("an array of scenario steps", array), &array);
      return false;
    }
    bool ok = true;
    for (std::size_t i = 0; i < array.items.size(); ++i) {
      const JsonValue& item = array.items[i];
      const std::string step_path = Index(path, i);
      if (item.type != JsonValue::Type::kObject) {
        errors_.Add(step_path,
                    Expected("a scenario step such as {\"after_seconds\": 60, \"spo2\": 86}", item), &item);
        ok = false;
        continue;
      }
      ObjectReader reader(item, step_path, errors_);
      std::optional<double> after;
      if (const JsonValue* value = reader.Required("after_seconds", "seconds since the device started")) {
        after = ReadNumber(*value, reader.PathOf("after_seconds"), errors_, 0, 30 * 86'400, "seconds");
      }
      std::size_t parameters = 0;
      for (const ScenarioParameter& parameter : kScenarioParameters) {
        const JsonValue* value = reader.Optional(parameter.name);
        if (value == nullptr) continue;
        ++parameters;
        const auto number = ReadNumber(*value, reader.PathOf(parameter.name), errors_, parameter.min,
                                       parameter.max, "a value");
        if (number && after) {
          settings.scenario.push_back(
              {std::chrono::milliseconds(std::llround(*after * 1000)), std::string(parameter.name), *number});
        } else {
          ok = false;
        }
      }
      if (parameters == 0) {
        errors_.Add(step_path, "a scenario step sets at least one of " + JoinQuoted(kScenarioParameterNames),
                    &item);
        ok = false;
      }
      ok = ok && after.has_value();
      reader.Finish();
    }
    std::stable_sort(settings.scenario.begin(), settings.scenario.end(),
                     [](const ScenarioStep& a, const ScenarioStep& b) { return a.after < b.after; });
    return ok;
  }

  bool SerialDevice(ObjectReader& reader, DeviceConfig& device) {
    SerialDeviceConfig settings;
    bool ok = true;
    constexpr std::string_view kPortExpected = "a device path such as /dev/ttyUSB0";
    if (const JsonValue* value = reader.Required("port", kPortExpected)) {
      // Normally /dev/serial/by-id/...; any absolute path to a tty works (a simulator's pty link).
      if (value->type == JsonValue::Type::kString && value->text.starts_with("/") && value->text.size() > 1) {
        settings.port = value->text;
      } else {
        errors_.Add(reader.PathOf("port"), Expected(kPortExpected, *value), value);
        ok = false;
      }
    } else {
      ok = false;
    }
    const std::string expected = "one of " + JoinQuoted(kSerialProtocols);
    if (const JsonValue* value = reader.Required("protocol", expected)) {
      auto protocol = ReadChoice(*value, reader.PathOf("protocol"), errors_, kSerialProtocols);
      ok = protocol.has_value() && ok;
      if (protocol) settings.protocol = *protocol;
    } else {
      ok = false;
    }
    // 0: every sample is a reading at once.
    if (auto window = Duration(reader, "window", std::chrono::seconds{1}, std::chrono::hours{1}, ok, true)) {
      settings.window = *window;
    }
    if (const JsonValue* value = reader.Optional("forward_waveform")) {
      auto flag = ReadBool(*value, reader.PathOf("forward_waveform"), errors_);
      ok = flag.has_value() && ok;
      if (flag) settings.forward_waveform = *flag;
    }
    const bool beurer = settings.protocol == "beurer-bm";
    if (const JsonValue* value = reader.Optional("user")) {
      if (!beurer) {
        errors_.Add(reader.PathOf("user"), "only a beurer-bm monitor has user slots", value);
        ok = false;
      } else if (auto user = ReadInteger(*value, reader.PathOf("user"), errors_, 1, 2, "a user slot")) {
        settings.user = static_cast<unsigned>(*user);
      } else {
        ok = false;
      }
    }
    if (auto poll = Duration(reader, "poll_interval", std::chrono::seconds{10}, std::chrono::days{1}, ok)) {
      if (beurer) {
        settings.poll_interval = *poll;
      } else {
        errors_.Add(reader.PathOf("poll_interval"),
                    "only a beurer-bm monitor is polled; streaming devices send by themselves", nullptr);
        ok = false;
      }
    }
    device.settings = settings;
    return ok;
  }

  bool Buttons(const JsonValue& value, const std::string& path, BleDeviceConfig& settings) {
    static constexpr std::array<std::string_view, 7> kEvents{
        "press",     "double_press", "triple_press", "long_press", "long_double_press", "long_triple_press",
        "hold_press"};
    static constexpr std::array<std::string_view, 2> kMeanings{"emergency", "ignore"};
    if (settings.profile != "bthome" && !settings.profile.empty()) {
      errors_.Add(path, "only a bthome device has buttons", &value);
      return false;
    }
    if (value.type != JsonValue::Type::kObject) {
      errors_.Add(path, Expected("an object of button events, e.g. {\"double_press\": \"ignore\"}", value),
                  &value);
      return false;
    }
    bool ok = true;
    for (const JsonMember& member : value.members) {
      const std::string member_path = path + "." + member.key;
      if (std::find(kEvents.begin(), kEvents.end(), member.key) == kEvents.end()) {
        errors_.Add(member_path, "unknown button event; one of " + JoinQuoted(kEvents), &member.value);
        ok = false;
        continue;
      }
      auto meaning = ReadChoice(member.value, member_path, errors_, kMeanings);
      if (meaning) {
        settings.buttons[member.key] = *meaning;
      } else {
        ok = false;
      }
    }
    return ok;
  }

  bool BleDevice(ObjectReader& reader, DeviceConfig& device) {
    BleDeviceConfig settings;
    bool ok = true;
    constexpr std::string_view kAddressExpected = "a Bluetooth address such as \"A4:C1:38:12:34:56\"";
    if (const JsonValue* value = reader.Required("address", kAddressExpected)) {
      if (value->type == JsonValue::Type::kString && IsBluetoothAddress(value->text)) {
        settings.address = value->text;
        std::transform(settings.address.begin(), settings.address.end(), settings.address.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      } else {
        errors_.Add(reader.PathOf("address"), Expected(kAddressExpected, *value), value);
        ok = false;
      }
    } else {
      ok = false;
    }
    const std::string expected = "one of " + JoinQuoted(kBleProfiles);
    if (const JsonValue* value = reader.Required("profile", expected)) {
      auto profile = ReadChoice(*value, reader.PathOf("profile"), errors_, kBleProfiles);
      ok = profile.has_value() && ok;
      if (profile) settings.profile = *profile;
    } else {
      ok = false;
    }
    if (const JsonValue* value = reader.Optional("bthome_key")) {
      constexpr std::string_view kKeyExpected = "a 128-bit key as 32 hex digits";
      if (value->type == JsonValue::Type::kString && value->text.size() == 32 && IsHex(value->text)) {
        settings.bthome_key_hex = value->text;
      } else {
        errors_.Add(reader.PathOf("bthome_key"), Expected(kKeyExpected, *value), value);
        ok = false;
      }
      if (settings.profile != "bthome" && !settings.profile.empty()) {
        errors_.Add(reader.PathOf("bthome_key"), "only a bthome device takes a bthome_key", value);
        ok = false;
      }
    }
    if (const JsonValue* value = reader.Optional("buttons")) {
      ok = Buttons(*value, reader.PathOf("buttons"), settings) && ok;
    }
    if (const JsonValue* value = reader.Optional("user")) {
      if (settings.profile != "blood_pressure" && settings.profile != "weight_scale" &&
          !settings.profile.empty()) {
        errors_.Add(reader.PathOf("user"), "only a blood_pressure or weight_scale device has user slots",
                    value);
        ok = false;
      } else if (auto user = ReadInteger(*value, reader.PathOf("user"), errors_, 1, 254, "user slot")) {
        settings.user = static_cast<unsigned>(*user);
      } else {
        ok = false;
      }
    }
    device.settings = settings;
    return ok;
  }

  void Rules(const JsonValue& array, alerts::RuleSet& out) {
    if (array.type != JsonValue::Type::kArray) {
      errors_.Add("rules", Expected("an array of rules", array), &array);
      return;
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < array.items.size(); ++i) {
      const JsonValue& item = array.items[i];
      const std::string path = Index("rules", i);
      if (item.type != JsonValue::Type::kObject) {
        errors_.Add(path, Expected("a rule object", item), &item);
        continue;
      }
      Rule(item, path, seen, out);
    }
  }

  // A duration named `name` given in exactly one unit: name_seconds, name_minutes, name_hours or
  // name_days. Absent: nullopt without an error (callers decide whether it is required).
  // `zero_allowed`: 0 is accepted besides min..max (a setting where 0 means "none" or "at once").
  std::optional<std::chrono::seconds> Duration(ObjectReader& reader, std::string_view name,
                                               std::chrono::seconds min, std::chrono::seconds max, bool& ok,
                                               bool zero_allowed = false) {
    struct Unit {
      std::string_view suffix;
      double seconds;
    };
    constexpr std::array<Unit, 4> kUnits{
        {{"_seconds", 1}, {"_minutes", 60}, {"_hours", 3600}, {"_days", 86400}}};
    std::optional<std::chrono::seconds> result;
    std::string found_key;
    for (const Unit& unit : kUnits) {
      const std::string key = std::string(name) + std::string(unit.suffix);
      const JsonValue* value = reader.Optional(KeepKey(key));
      if (value == nullptr) continue;
      if (result) {
        errors_.Add(reader.PathOf(key),
                    "give " + std::string(name) + " once (already given as " + found_key + ")", value);
        ok = false;
        continue;
      }
      if (zero_allowed && value->type == JsonValue::Type::kNumber && value->number == 0) {
        found_key = key;
        result = std::chrono::seconds{0};
        continue;
      }
      const double min_in_unit = static_cast<double>(min.count()) / unit.seconds;
      const double max_in_unit = static_cast<double>(max.count()) / unit.seconds;
      auto number = ReadNumber(*value, reader.PathOf(key), errors_, min_in_unit, max_in_unit,
                               std::string(zero_allowed ? "0 or " : "") + std::string(unit.suffix.substr(1)));
      if (!number) {
        ok = false;
        continue;
      }
      found_key = key;
      result = std::chrono::seconds(std::llround(*number * unit.seconds));
    }
    return result;
  }

  // A duration that must be given: an error naming `name`_`unit_hint` when it is absent.
  std::optional<std::chrono::seconds> RequiredDuration(ObjectReader& reader, const JsonValue& object,
                                                       std::string_view name, std::string_view unit_hint,
                                                       std::chrono::seconds min, std::chrono::seconds max,
                                                       std::string_view what, bool& ok) {
    auto duration = Duration(reader, name, min, max, ok);
    if (!duration && !HasDuration(object, name)) {
      errors_.Add(reader.PathOf(std::string(name) + "_" + std::string(unit_hint)),
                  "required: " + std::string(what), &object);
      ok = false;
    }
    return duration;
  }

  static bool HasDuration(const JsonValue& object, std::string_view name) {
    for (const std::string_view unit : {"_seconds", "_minutes", "_hours", "_days"}) {
      if (object.Find(std::string(name) + std::string(unit)) != nullptr) return true;
    }
    return false;
  }

  // ObjectReader remembers keys by view: keep the composed names alive as long as the parser.
  std::string_view KeepKey(const std::string& key) { return *kept_keys_.insert(key).first; }

  std::optional<alerts::TimeOfDay> Time(const JsonValue& value, const std::string& path) {
    constexpr std::string_view kExpected = "a local time of day as \"HH:MM\" (24 h)";
    if (value.type == JsonValue::Type::kString) {
      if (auto time = alerts::TimeOfDay::Parse(value.text)) return time;
    }
    errors_.Add(path, Expected(kExpected, value), &value);
    return std::nullopt;
  }

  std::optional<alerts::DailyWindow> Window(const JsonValue& value, const std::string& path) {
    constexpr std::string_view kExpected = "a daily window [\"HH:MM\", \"HH:MM\"] in local time";
    if (value.type != JsonValue::Type::kArray || value.items.size() != 2) {
      errors_.Add(path, Expected(kExpected, value), &value);
      return std::nullopt;
    }
    auto from = Time(value.items[0], Index(path, 0));
    auto to = Time(value.items[1], Index(path, 1));
    if (!from || !to) return std::nullopt;
    return alerts::DailyWindow{*from, *to};
  }

  // A metric of the catalogue of the given kinds.
  const core::MetricInfo* Metric(const JsonValue& value, const std::string& path,
                                 std::initializer_list<core::MetricKind> kinds, std::string_view kinds_text) {
    constexpr std::string_view kExpected = "a metric name from the catalogue such as \"spo2\"";
    const core::MetricInfo* metric =
        value.type == JsonValue::Type::kString ? core::FindMetric(value.text) : nullptr;
    if (metric == nullptr) {
      errors_.Add(path, Expected(kExpected, value), &value);
      return nullptr;
    }
    if (std::find(kinds.begin(), kinds.end(), metric->kind) == kinds.end()) {
      errors_.Add(path, "metric \"" + value.text + "\" is not " + std::string(kinds_text), &value);
      return nullptr;
    }
    return metric;
  }

  bool Common(ObjectReader& reader, alerts::RuleCommon& common, bool severity_required) {
    bool ok = true;
    constexpr std::array<std::string_view, 5> kSeverities{"info", "low", "medium", "high", "critical"};
    const JsonValue* severity = severity_required
                                    ? reader.Required("severity", "one of info, low, medium, high, critical")
                                    : reader.Optional("severity");
    if (severity != nullptr) {
      auto name = ReadChoice(*severity, reader.PathOf("severity"), errors_, kSeverities);
      ok = name.has_value();
      if (name) common.severity = *alerts::ParseSeverity(*name);
    } else if (severity_required) {
      ok = false;
    } else {
      common.severity = alerts::Severity::kInfo;  // a floor that never lowers what the rule decides
    }
    if (auto clear_for = Duration(reader, "clear_for", std::chrono::seconds{0}, std::chrono::days{7}, ok)) {
      common.clear_for = *clear_for;
    }
    if (const JsonValue* value = reader.Optional("escalation")) {
      if (value->type != JsonValue::Type::kObject) {
        errors_.Add(reader.PathOf("escalation"),
                    Expected("an object such as {\"after_minutes\": 15, \"max_level\": 3}", *value), value);
        return false;
      }
      ObjectReader escalation_reader(*value, reader.PathOf("escalation"), errors_);
      alerts::Escalation escalation;
      if (auto after = RequiredDuration(escalation_reader, *value, "after", "minutes",
                                        std::chrono::seconds{30}, std::chrono::days{2},
                                        "how long an unacknowledged alert waits before it escalates", ok)) {
        escalation.after = *after;
      }
      if (const JsonValue* level = escalation_reader.Optional("max_level")) {
        auto max_level =
            ReadInteger(*level, escalation_reader.PathOf("max_level"), errors_, 1, 10, "a level");
        ok = max_level.has_value() && ok;
        if (max_level) escalation.max_level = static_cast<std::uint32_t>(*max_level);
      }
      escalation_reader.Finish();
      common.escalation = escalation;
    }
    return ok;
  }

  bool PersistenceKeys(ObjectReader& reader, alerts::Persistence& persistence, double max_hysteresis) {
    bool ok = true;
    if (auto for_duration = Duration(reader, "for", std::chrono::seconds{0}, std::chrono::days{7}, ok)) {
      persistence.for_duration = *for_duration;
    }
    if (const JsonValue* value = reader.Optional("hysteresis")) {
      auto hysteresis =
          ReadNumber(*value, reader.PathOf("hysteresis"), errors_, 0, max_hysteresis, "a margin");
      ok = hysteresis.has_value() && ok;
      if (hysteresis) persistence.hysteresis = *hysteresis;
    }
    return ok;
  }

  std::optional<double> Number(ObjectReader& reader, std::string_view key, double min, double max,
                               std::string_view what, bool& ok) {
    const JsonValue* value = reader.Optional(key);
    if (value == nullptr) return std::nullopt;
    auto number = ReadNumber(*value, reader.PathOf(key), errors_, min, max, what);
    ok = number.has_value() && ok;
    return number;
  }

  void Rule(const JsonValue& object, const std::string& path, std::set<std::string>& seen,
            alerts::RuleSet& out) {
    ObjectReader reader(object, path, errors_);
    alerts::RuleCommon common;
    bool ok = true;
    constexpr std::string_view kIdExpected = "a rule id of 1-64 letters, digits, '-', '_' or '.'";
    if (const JsonValue* value = reader.Required("id", kIdExpected)) {
      if (value->type != JsonValue::Type::kString || !IsIdentifier(value->text, 1, 64, true)) {
        errors_.Add(reader.PathOf("id"), Expected(kIdExpected, *value), value);
        ok = false;
      } else if (!seen.insert(value->text).second) {
        errors_.Add(reader.PathOf("id"), "duplicate rule id \"" + value->text + "\"", value);
        ok = false;
      } else {
        common.id = value->text;
      }
    } else {
      ok = false;
    }
    constexpr std::array<std::string_view, 13> kKinds{
        "threshold",   "trend",         "baseline",     "missed",       "inactivity", "event", "news2",
        "battery_low", "device_silent", "sensor_error", "device_clock", "storage",    "clock"};
    const JsonValue* kind_value = reader.Required("kind", "one of " + JoinQuoted(kKinds));
    const auto kind = kind_value != nullptr ? ReadChoice(*kind_value, reader.PathOf("kind"), errors_, kKinds)
                                            : std::nullopt;
    if (!kind) return;  // the other keys depend on the kind
    ok = Common(reader, common, *kind != "news2") && ok;

    if (*kind == "threshold" || *kind == "trend" || *kind == "baseline") {
      ValueRule(*kind, reader, path, object, std::move(common), ok, out);
    } else if (*kind == "missed") {
      alerts::MissedRule rule{std::move(common), {}, {}, {}, {}};
      if (const JsonValue* value = reader.Required("metric", "a metric name")) {
        const core::MetricInfo* metric =
            Metric(*value, reader.PathOf("metric"),
                   {core::MetricKind::kQuantity, core::MetricKind::kCode, core::MetricKind::kBoolean},
                   "a measurement");
        if (metric != nullptr) rule.metric = std::string(metric->name);
        ok = metric != nullptr && ok;
      } else {
        ok = false;
      }
      const JsonValue* by = reader.Optional("daily_by");
      const JsonValue* from = reader.Optional("daily_from");
      if (by != nullptr) {
        rule.daily_by = Time(*by, reader.PathOf("daily_by"));
        ok = rule.daily_by.has_value() && ok;
      }
      if (from != nullptr) {
        auto time = Time(*from, reader.PathOf("daily_from"));
        ok = time.has_value() && ok;
        if (time) rule.daily_from = *time;
        if (by == nullptr) {
          errors_.Add(reader.PathOf("daily_from"), "daily_from needs daily_by", from);
          ok = false;
        }
      }
      rule.within = Duration(reader, "within", std::chrono::minutes{1}, std::chrono::days{60}, ok);
      if ((by == nullptr) == !rule.within.has_value()) {
        errors_.Add(path,
                    "a missed rule needs either \"daily_by\" or a \"within_...\" duration (one of them)",
                    &object);
        ok = false;
      }
      if (rule.daily_by && rule.daily_from >= *rule.daily_by) {
        errors_.Add(reader.PathOf("daily_from"), "must be earlier in the day than daily_by", from);
        ok = false;
      }
      if (ok) out.missed.push_back(std::move(rule));
    } else if (*kind == "inactivity") {
      alerts::InactivityRule rule;
      rule.common = std::move(common);
      if (const JsonValue* value = reader.Optional("metrics")) {
        if (value->type != JsonValue::Type::kArray || value->items.empty()) {
          errors_.Add(reader.PathOf("metrics"), Expected("a non-empty array of event metrics", *value),
                      value);
          ok = false;
        } else {
          rule.metrics.clear();
          for (std::size_t i = 0; i < value->items.size(); ++i) {
            const core::MetricInfo* metric = Metric(value->items[i], Index(reader.PathOf("metrics"), i),
                                                    {core::MetricKind::kEvent}, "an event metric");
            ok = metric != nullptr && ok;
            if (metric != nullptr) rule.metrics.emplace_back(metric->name);
          }
        }
      }
      if (auto quiet =
              RequiredDuration(reader, object, "quiet", "hours", std::chrono::minutes{5},
                               std::chrono::days{2}, "how long without activity raises the alert", ok)) {
        rule.quiet_for = *quiet;
      }
      if (const JsonValue* value = reader.Optional("between")) {
        auto window = Window(*value, reader.PathOf("between"));
        ok = window.has_value() && ok;
        if (window) rule.window = *window;
      }
      if (ok) out.inactivity.push_back(std::move(rule));
    } else if (*kind == "event") {
      alerts::EventRule rule{std::move(common), {}, {}};
      if (const JsonValue* value =
              reader.Required("metric", "an event metric: button, fall, door or motion")) {
        const core::MetricInfo* metric =
            Metric(*value, reader.PathOf("metric"), {core::MetricKind::kEvent}, "an event metric");
        ok = metric != nullptr && ok;
        if (metric != nullptr) rule.metric = std::string(metric->name);
      } else {
        ok = false;
      }
      if (const JsonValue* value = reader.Optional("between")) {
        rule.window = Window(*value, reader.PathOf("between"));
        ok = rule.window.has_value() && ok;
      }
      if (ok) out.events.push_back(std::move(rule));
    } else if (*kind == "news2") {
      alerts::News2Rule rule;
      rule.common = std::move(common);
      if (const JsonValue* value = reader.Optional("spo2_scale")) {
        auto scale = ReadInteger(*value, reader.PathOf("spo2_scale"), errors_, 1, 2, "an SpO2 scale");
        ok = scale.has_value() && ok;
        if (scale) rule.spo2_scale = *scale == 2 ? alerts::SpO2Scale::kScale2 : alerts::SpO2Scale::kScale1;
      }
      if (auto for_duration = Duration(reader, "for", std::chrono::seconds{0}, std::chrono::days{1}, ok)) {
        rule.persistence.for_duration = *for_duration;
      }
      if (auto fresh = Duration(reader, "fresh", std::chrono::minutes{1}, std::chrono::days{1}, ok)) {
        rule.fresh_for = *fresh;
      }
      if (const JsonValue* value = reader.Optional("min_risk")) {
        constexpr std::array<std::string_view, 3> kRisks{"low_medium", "medium", "high"};
        auto risk = ReadChoice(*value, reader.PathOf("min_risk"), errors_, kRisks);
        ok = risk.has_value() && ok;
        if (risk) rule.min_risk = *alerts::ParseNews2Risk(*risk);
      }
      if (const JsonValue* value = reader.Optional("min_parameters")) {
        auto count = ReadInteger(*value, reader.PathOf("min_parameters"), errors_, 1, 7, "a parameter count");
        ok = count.has_value() && ok;
        if (count) rule.min_parameters = static_cast<std::size_t>(*count);
      }
      if (ok) out.news2.push_back(std::move(rule));
    } else if (*kind == "battery_low" || *kind == "device_silent" || *kind == "sensor_error" ||
               *kind == "device_clock") {
      alerts::DeviceRule rule;
      rule.common = std::move(common);
      if (*kind == "battery_low") {
        rule.condition = alerts::DeviceCondition::kBatteryLow;
        if (auto below = Number(reader, "below", 1, 99, "a battery percentage", ok))
          rule.battery_below = *below;
        if (auto hysteresis = Number(reader, "hysteresis", 0, 50, "percentage points", ok)) {
          rule.battery_hysteresis = *hysteresis;
        }
      } else if (*kind == "device_silent") {
        rule.condition = alerts::DeviceCondition::kSilent;  // intervals come from the devices
      } else if (*kind == "device_clock") {
        rule.condition = alerts::DeviceCondition::kClockWrong;  // replaces the built-in one
      } else {
        rule.condition = alerts::DeviceCondition::kSensorError;
      }
      if (ok) out.devices.push_back(std::move(rule));
    } else {
      alerts::GatewayRule rule;
      rule.common = std::move(common);
      if (*kind == "storage") {
        rule.condition = alerts::GatewayCondition::kStorageNearBudget;
        if (auto percent = Number(reader, "above_percent", 20, 100, "a share of the outbox budget", ok)) {
          rule.storage_percent = *percent;
        }
      } else {
        rule.condition = alerts::GatewayCondition::kClockUnsynchronised;
        if (auto after =
                Duration(reader, "unsynchronised_for", std::chrono::minutes{1}, std::chrono::days{2}, ok)) {
          rule.clock_unsynchronised_for = *after;
        }
      }
      if (ok) out.gateway.push_back(std::move(rule));
    }
    reader.Finish();
  }

  void ValueRule(std::string_view kind, ObjectReader& reader, const std::string& path,
                 const JsonValue& object, alerts::RuleCommon common, bool ok, alerts::RuleSet& out) {
    const core::MetricInfo* metric = nullptr;
    if (const JsonValue* value =
            reader.Required("metric", "a metric name from the catalogue such as \"spo2\"")) {
      metric = Metric(*value, reader.PathOf("metric"), {core::MetricKind::kQuantity}, "a measured quantity");
    }
    ok = metric != nullptr && ok;
    const double min = metric != nullptr ? metric->min_value : std::numeric_limits<double>::lowest();
    const double max = metric != nullptr ? metric->max_value : std::numeric_limits<double>::max();
    const double span =
        metric != nullptr ? metric->max_value - metric->min_value : std::numeric_limits<double>::max();
    const std::string unit = metric != nullptr ? " " + std::string(metric->unit) : "";
    const std::string name = metric != nullptr ? std::string(metric->name) : "";
    alerts::Persistence persistence;
    ok = PersistenceKeys(reader, persistence, span) && ok;
    const auto pair_needed = [&](bool any, std::string_view what) {
      if (!any) {
        errors_.Add(path, "a " + std::string(kind) + " rule needs " + std::string(what), &object);
        ok = false;
      }
    };
    if (kind == "threshold") {
      alerts::ThresholdRule rule{std::move(common), name, {}, {}, persistence};
      rule.above = Number(reader, "above", min, max, "a value in" + unit, ok);
      rule.below = Number(reader, "below", min, max, "a value in" + unit, ok);
      pair_needed(object.Find("above") != nullptr || object.Find("below") != nullptr,
                  "\"above\", \"below\" or both");
      if (rule.above && rule.below && *rule.below >= *rule.above) {
        errors_.Add(reader.PathOf("below"),
                    "must be lower than \"above\" (the rule fires outside [below, above])",
                    object.Find("below"));
        ok = false;
      }
      if (ok) out.thresholds.push_back(std::move(rule));
    } else if (kind == "trend") {
      alerts::TrendRule rule{std::move(common), name, {}, {}, {}, persistence};
      rule.rise = Number(reader, "rise", 0, span, "a change in" + unit, ok);
      rule.fall = Number(reader, "fall", 0, span, "a change in" + unit, ok);
      pair_needed(object.Find("rise") != nullptr || object.Find("fall") != nullptr,
                  "\"rise\", \"fall\" or both");
      if (auto window = RequiredDuration(reader, object, "window", "hours", std::chrono::minutes{1},
                                         std::chrono::days{31}, "the time the change is measured over", ok)) {
        rule.window = *window;
      }
      if (ok) out.trends.push_back(std::move(rule));
    } else {
      alerts::BaselineRule rule{std::move(common), name, {}, {}, std::chrono::days{7}, 3, persistence};
      rule.above_by = Number(reader, "above_by", 0, span, "a margin in" + unit, ok);
      rule.below_by = Number(reader, "below_by", 0, span, "a margin in" + unit, ok);
      pair_needed(object.Find("above_by") != nullptr || object.Find("below_by") != nullptr,
                  "\"above_by\", \"below_by\" or both");
      // The engine's bucketed windows reach further than any window the config allows.
      static_assert(std::chrono::days{90} <= alerts::kMaxWindow &&
                    std::chrono::days{31} <= alerts::kMaxWindow);
      if (auto window = Duration(reader, "baseline", std::chrono::hours{1}, std::chrono::days{90}, ok)) {
        rule.baseline_window = *window;
      }
      if (const JsonValue* value = reader.Optional("min_readings")) {
        auto count =
            ReadInteger(*value, reader.PathOf("min_readings"), errors_, 1, 1000, "a number of readings");
        ok = count.has_value() && ok;
        if (count) rule.min_readings = static_cast<std::size_t>(*count);
      }
      if (ok) out.baselines.push_back(std::move(rule));
    }
  }

  // Every configured device is supervised for silence by the device_silent rules.
  void DeviceIntervals(const std::vector<DeviceConfig>& devices, alerts::RuleSet& rules) {
    for (alerts::DeviceRule& rule : rules.devices) {
      if (rule.condition != alerts::DeviceCondition::kSilent) continue;
      for (const DeviceConfig& device : devices)
        rule.expected_intervals[device.id] = ExpectedInterval(device);
    }
  }

  std::set<std::string, std::less<>> kept_keys_;

  std::filesystem::path base_;
  Errors& errors_;
};

}  // namespace

std::string ConfigError::ToString() const {
  std::string text = path.empty() ? message : path + ": " + message;
  if (line > 0) text += " (line " + std::to_string(line) + ")";
  return text;
}

ConfigResult ParseConfig(std::string_view text, const std::filesystem::path& base_directory) {
  auto document = ParseJson(text);
  if (!document) {
    const JsonSyntaxError& syntax = document.error();
    return tl::unexpected(std::vector<ConfigError>{
        ConfigError{"",
                    "invalid JSON at line " + std::to_string(syntax.position.line) + ", column " +
                        std::to_string(syntax.position.column) + ": " + syntax.message,
                    0}});
  }
  Errors errors;
  Config config = ConfigParser(base_directory, errors).Parse(*document);
  if (!errors.Empty()) return tl::unexpected(errors.Take());
  return config;
}

ConfigResult LoadConfig(const std::filesystem::path& file) {
  auto text = core::ReadCheckedFile(file, core::kConfigFile);
  if (!text) return tl::unexpected(std::vector<ConfigError>{ConfigError{"", text.error().message, 0}});
  return ParseConfig(*text, std::filesystem::absolute(file).parent_path());
}

std::vector<NamedFile> NamedFiles(const Config& config) {
  std::vector<NamedFile> files;
  const auto add = [&files](std::string key, const std::filesystem::path& path, const core::FileKind& kind) {
    if (!path.empty()) files.push_back(NamedFile{std::move(key), path, kind});
  };
  if (!config.broker.insecure_plaintext_for_development) {
    add("tls.ca_file", config.tls.ca_file, core::kCaFile);
    add("tls.cert_file", config.tls.cert_file, core::kCertificateFile);
    add("tls.key_file", config.tls.key_file, core::kTlsKeyFile);
  }
  if (!config.security.insecure_plaintext_payloads_for_development) {
    add("security.gateway_key_file", config.security.gateway_key_file, core::kGatewayKeyFile);
    // Public keys; a file that holds a private key after all is refused when loaded if others may read it.
    add("security.recipient_key_file", config.security.recipient_key_file, core::kPublicKeyFile);
    add("security.command_keys_file", config.security.command_keys_file, core::kPublicKeyFile);
  }
  add("storage.path", config.storage.path, kDatabaseFile);
  if (config.status_page.enabled) {
    add("status_page.token_file", config.status_page.token_file, core::kTokenFile);
    add("status_page.tls_cert_file", config.status_page.tls_cert_file, core::kCertificateFile);
    add("status_page.tls_key_file", config.status_page.tls_key_file, core::kTlsKeyFile);
  }
  return files;
}

std::vector<ConfigError> CheckNamedFiles(const Config& config, std::vector<std::string>* missing) {
  std::vector<ConfigError> errors;
  for (const NamedFile& file : NamedFiles(config)) {
    // Opened (never blocking) and checked, not read: the components read them with the same checks.
    auto opened = core::OpenCheckedFile(file.path, file.kind);
    if (opened) continue;
    if (opened.error().code == Errc::kNotFound) {
      if (missing != nullptr) missing->push_back(file.key + ": " + opened.error().message);
      continue;
    }
    errors.push_back(ConfigError{file.key, opened.error().message, 0});
  }
  return errors;
}

std::chrono::seconds ExpectedInterval(const DeviceConfig& device) {
  if (device.expected_interval) return *device.expected_interval;
  if (const auto* simulated = std::get_if<SimulatedDeviceConfig>(&device.settings)) {
    return std::max<std::chrono::seconds>(std::chrono::minutes{1},
                                          std::chrono::ceil<std::chrono::seconds>(simulated->interval * 3));
  }
  return std::chrono::hours{26};
}

core::DeviceTiming Timing(const DeviceConfig& device) {
  using core::DeviceTiming;
  struct Visitor {
    DeviceTiming operator()(const SimulatedDeviceConfig&) const { return DeviceTiming::kStreaming; }
    DeviceTiming operator()(const SerialDeviceConfig& serial) const {
      // The BP monitor's memory and ASCII lines with their own time stamps can be old when they arrive.
      return serial.protocol == "beurer-bm" || serial.protocol == "ascii" ? DeviceTiming::kStoredRecords
                                                                          : DeviceTiming::kStreaming;
    }
    DeviceTiming operator()(const BleDeviceConfig& ble) const {
      return ble.profile == "heart_rate" || ble.profile == "bthome" ? DeviceTiming::kStreaming
                                                                    : DeviceTiming::kStoredRecords;
    }
  };
  return std::visit(Visitor{}, device.settings);
}

core::DeviceClockTolerance ClockTolerance(const DeviceConfig& device) {
  core::DeviceClockTolerance tolerance = core::DefaultClockTolerance(Timing(device));
  if (device.clock_ahead) tolerance.ahead = *device.clock_ahead;
  if (device.clock_behind) tolerance.behind = *device.clock_behind;
  return tolerance;
}

std::span<const std::string_view> SimulatedProfiles() {
  return kSimulatedProfiles;
}
std::span<const std::string_view> ScenarioParameters() {
  return kScenarioParameterNames;
}
std::span<const std::string_view> SerialProtocols() {
  return kSerialProtocols;
}
std::span<const std::string_view> BleProfiles() {
  return kBleProfiles;
}

}  // namespace ehg::config
