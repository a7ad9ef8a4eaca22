// The config's sections: gateway, resident, broker, tls, security, storage, pipeline, uplink, bluetooth,
// status_page. Each key is named once, where it is read; its errors carry the reader's path.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

#include "gateway/config/parsers.hpp"
#include "gateway/core/address.hpp"

namespace ehg::config::detail {
namespace {

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

// broker.uri through the one broker URI parser (core::ParseBrokerUri): plaintext only with the named
// development flag, read before it.
void CheckBrokerUri(const Field& uri, const std::string& text, const std::string& plaintext_flag_path,
                    Errors& errors, BrokerConfig& out) {
  const auto parsed = core::ParseBrokerUri(text);
  if (!parsed && parsed.error().code == Errc::kParse) {
    errors.Add(uri.path, Expected("scheme://host:port such as \"ssl://mqtt.example.no:8883\"", *uri),
               uri.value);
  } else if (!parsed) {
    errors.Add(uri.path, Expected("an ssl:// or mqtts:// address", *uri), uri.value);
  } else if (parsed->tls() || out.insecure_plaintext_for_development) {
    out.uri = text;
  } else {
    errors.Add(uri.path,
               "plaintext " + std::string(parsed->scheme_name()) + ":// refused: use ssl://, or set " +
                   plaintext_flag_path + " to true on a development setup",
               uri.value);
  }
}

}  // namespace

void ParseGateway(ObjectReader& reader, GatewayConfig& out) {
  Errors& errors = reader.errors();
  constexpr std::string_view kIdExpected = "a gateway id of 1-64 letters, digits, '-' or '_'";
  if (const Field id = reader.Required("id", kIdExpected)) {
    if (id->type == JsonValue::Type::kString && IsIdentifier(id->text, 1, 64, false)) {
      out.id = id->text;
    } else {
      errors.Add(id.path, Expected(kIdExpected, *id), id.value);
    }
  }
  constexpr std::string_view kTenantExpected = "a four-digit municipality number in quotes such as \"0301\"";
  if (const Field tenant = reader.Required("tenant", kTenantExpected)) {
    if (tenant->type == JsonValue::Type::kString && tenant->text.size() == 4 && AllDigits(tenant->text)) {
      out.tenant = tenant->text;
    } else {
      errors.Add(tenant.path, Expected(kTenantExpected, *tenant), tenant.value);
    }
  }
  constexpr std::array<std::string_view, 4> kLevels{"debug", "info", "warning", "error"};
  if (auto level = reader.Choice("log_level", kLevels)) out.log_level = *core::ParseLogLevel(*level);
  if (auto flag = reader.Bool("assume_clock_synchronised")) out.assume_clock_synchronised = *flag;
  reader.Finish();
}

void ParseResident(ObjectReader& reader, ResidentConfig& out) {
  Errors& errors = reader.errors();
  constexpr std::string_view kPseudonymExpected = "a pseudonym of 4-64 letters, digits, '-' or '_'";
  if (const Field pseudonym = reader.Required("pseudonym", kPseudonymExpected)) {
    const bool is_string = pseudonym->type == JsonValue::Type::kString;
    if (is_string && pseudonym->text.size() == 11 && AllDigits(pseudonym->text)) {
      // Do not echo it: it may be a real national identity number.
      errors.Add(pseudonym.path,
                 "looks like a national identity number (11 digits): use the pseudonym the care system "
                 "assigned, never a person's identity",
                 pseudonym.value);
    } else if (is_string && IsIdentifier(pseudonym->text, 4, 64, false)) {
      out.pseudonym = pseudonym->text;
    } else {
      errors.Add(pseudonym.path, Expected(kPseudonymExpected, *pseudonym), pseudonym.value);
    }
  }
  constexpr std::string_view kZoneExpected = "an IANA time zone such as \"Europe/Oslo\"";
  if (const Field zone = reader.Required("time_zone", kZoneExpected)) {
    if (zone->type == JsonValue::Type::kString && IsKnownTimeZone(zone->text)) {
      out.time_zone = zone->text;
    } else {
      errors.Add(zone.path, Expected(kZoneExpected, *zone) + " (not in the time zone database)", zone.value);
    }
  }
  reader.Finish();
}

void ParseBroker(ObjectReader& reader, BrokerConfig& out) {
  constexpr std::string_view kPlaintextFlag = "insecure_plaintext_for_development";
  if (auto flag = reader.Bool(kPlaintextFlag)) out.insecure_plaintext_for_development = *flag;
  constexpr std::string_view kUriExpected = "a broker address such as \"ssl://mqtt.example.no:8883\"";
  if (const Field uri = reader.Required("uri", kUriExpected)) {
    if (auto text = ReadString(uri, reader.errors(), kUriExpected))
      CheckBrokerUri(uri, *text, reader.PathOf(kPlaintextFlag), reader.errors(), out);
  }
  if (auto seconds = reader.Integer("keepalive_seconds", 5, 3600, "seconds"))
    out.keepalive = std::chrono::seconds(*seconds);
  if (auto seconds = reader.Integer("reconnect_max_seconds", 1, 3600, "seconds"))
    out.reconnect_max = std::chrono::seconds(*seconds);
  if (auto flag = reader.Bool("retain_status")) out.retain_status = *flag;
  if (auto qos = reader.Integer("command_qos", 0, 1, "an MQTT QoS")) out.command_qos = static_cast<int>(*qos);
  // A string, as the MQTT specifications name their versions. Not Choice(): its "one of 5, 3.1.1" would
  // read as if the number 5 were accepted.
  constexpr std::string_view kProtocolExpected = R"("5" or "3.1.1" (the MQTT version, as a string))";
  if (const Field protocol = reader.Optional("protocol")) {
    const bool is_string = protocol->type == JsonValue::Type::kString;
    if (is_string && protocol->text == "5") {
      out.protocol = MqttProtocol::kV5;
    } else if (is_string && protocol->text == "3.1.1") {
      out.protocol = MqttProtocol::kV3_1_1;
    } else {
      reader.errors().Add(protocol.path, Expected(kProtocolExpected, *protocol), protocol.value);
    }
  }
  reader.Finish();
}

void ParseTls(ObjectReader& reader, TlsConfig& out, const std::filesystem::path& base) {
  if (auto path = reader.FilePath("ca_file", true, base)) out.ca_file = *path;
  if (auto path = reader.FilePath("cert_file", true, base)) out.cert_file = *path;
  if (auto path = reader.FilePath("key_file", true, base)) out.key_file = *path;
  reader.Finish();
}

void ParseSecurity(ObjectReader& reader, SecurityConfig& out, const std::filesystem::path& base) {
  if (auto flag = reader.Bool("insecure_plaintext_payloads_for_development"))
    out.insecure_plaintext_payloads_for_development = *flag;
  // Without the named development flag every key is required: there is no silent plaintext.
  const bool keys_required = !out.insecure_plaintext_payloads_for_development;
  if (auto path = reader.FilePath("gateway_key_file", keys_required, base)) out.gateway_key_file = *path;
  if (auto path = reader.FilePath("recipient_key_file", keys_required, base)) out.recipient_key_file = *path;
  if (auto path = reader.FilePath("command_keys_file", keys_required, base)) out.command_keys_file = *path;
  if (auto seconds = reader.Integer("clock_skew_seconds", 0, 600, "seconds"))
    out.clock_skew = std::chrono::seconds(*seconds);
  if (auto hours = reader.Integer("command_max_lifetime_hours", 1, 24 * 30, "hours"))
    out.command_max_lifetime = std::chrono::hours(*hours);
  reader.Finish();
}

void ParseStorage(ObjectReader& reader, StorageConfig& out, const std::filesystem::path& base) {
  Errors& errors = reader.errors();
  if (auto path = reader.FilePath("path", true, base)) out.path = *path;
  const Field budget = reader.Optional("outbox_budget_bytes");
  if (budget) {
    if (auto bytes = ReadInteger(budget, errors, 64 * 1024, std::int64_t{64} * 1024 * 1024 * 1024, "bytes"))
      out.outbox_budget_bytes = static_cast<std::uint64_t>(*bytes);
  }
  const Field cap = reader.Optional("max_database_bytes");
  if (cap) {
    if (auto bytes = ReadInteger(cap, errors, 0, std::int64_t{1} << 40, "bytes"))
      out.max_database_bytes = static_cast<std::uint64_t>(*bytes);
  }
  const Field retention = reader.Optional("readings_retention_days");
  if (retention) {
    if (auto days = ReadInteger(retention, errors, 1, 3650, "days"))
      out.readings_retention = std::chrono::days(*days);
  }
  const Field raw_retention = reader.Optional("raw_readings_days");
  if (raw_retention) {
    if (auto days = ReadInteger(raw_retention, errors, 1, 3650, "days"))
      out.raw_readings_retention = std::chrono::days(*days);
  }
  if (out.raw_readings_retention > out.readings_retention) {
    // Raw readings kept longer than their summaries would be summaries removed under them: keep the
    // raw ones for the whole retention instead (a configuration that only sets the retention short).
    if (raw_retention) {
      errors.Add(raw_retention.path, "must be at most " + retention.path, raw_retention.value);
    } else {
      out.raw_readings_retention = out.readings_retention;
    }
  }
  if (auto bytes = reader.Integer("keep_free_disk_bytes", 0, std::int64_t{1} << 40, "bytes"))
    out.keep_free_disk_bytes = static_cast<std::uint64_t>(*bytes);
  if (out.max_database_bytes > 0 && out.max_database_bytes < 2 * out.outbox_budget_bytes) {
    errors.Add(
        cap.path,
        "must be 0 (no cap) or at least twice " + budget.path + ", so the outbox fits beside the readings",
        cap.value);
  }
  reader.Finish();
}

void ParsePipeline(ObjectReader& reader, PipelineConfig& out) {
  if (auto capacity = reader.Integer("queue_capacity", 16, 1'000'000, "readings"))
    out.queue_capacity = static_cast<std::size_t>(*capacity);
  if (auto window = reader.Integer("batch_window_ms", 0, 1000, "milliseconds"))
    out.batch_window = std::chrono::milliseconds(*window);
  if (auto batch = reader.Integer("batch_max", 1, 10'000, "readings"))
    out.batch_max = static_cast<std::size_t>(*batch);
  reader.Finish();
}

void ParseUplink(ObjectReader& reader, UplinkConfig& out) {
  if (auto window = reader.Integer("in_flight_window", 4, 1024, "messages"))
    out.in_flight_window = static_cast<std::size_t>(*window);
  if (auto batch = reader.Integer("observation_batch_max", 1, 1000, "observations"))
    out.observation_batch_max = static_cast<std::size_t>(*batch);
  if (auto window = reader.Integer("observation_batch_window_ms", 0, 60'000, "milliseconds"))
    out.observation_batch_window = std::chrono::milliseconds(*window);
  if (auto seconds = reader.Integer("receipt_resend_seconds", 5, 3600, "seconds"))
    out.receipt_resend_interval = std::chrono::seconds(*seconds);
  static constexpr std::string_view kReceiptScopes[] = {"every_event", "alerts_only"};
  if (auto scope = reader.Choice("receipts", kReceiptScopes))
    out.receipts_for_alerts_only = *scope == "alerts_only";
  if (auto seconds = reader.Integer("heartbeat_seconds", 10, 3600, "seconds"))
    out.heartbeat_interval = std::chrono::seconds(*seconds);
  if (auto hours = reader.Integer("session_expiry_hours", 1, 24 * 30, "hours"))
    out.session_expiry = std::chrono::hours(*hours);
  reader.Finish();
}

void ParseBluetooth(ObjectReader& reader, BluetoothConfig& out) {
  Errors& errors = reader.errors();
  if (const Field adapter = reader.Optional("adapter")) {
    constexpr std::string_view kExpected = "an adapter name such as \"hci0\"";
    const std::string& text = adapter->text;
    const bool valid =
        adapter->type == JsonValue::Type::kString && text.size() > 3 && text.size() < 8 &&
        text.compare(0, 3, "hci") == 0 &&
        std::all_of(text.begin() + 3, text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    if (valid) {
      out.adapter = text;
    } else {
      errors.Add(adapter.path, Expected(kExpected, *adapter), adapter.value);
    }
  }
  if (const Field bus = reader.Optional("bus_address")) {
    constexpr std::string_view kExpected =
        "a D-Bus address such as \"unix:path=/run/dbus/system_bus_socket\"";
    if (bus->type == JsonValue::Type::kString && bus->text.find(':') != std::string::npos &&
        bus->text.find('=') != std::string::npos) {
      out.bus_address = bus->text;
    } else {
      errors.Add(bus.path, Expected(kExpected, *bus), bus.value);
    }
  }
  reader.Finish();
}

void ParseStatusPage(ObjectReader& reader, StatusPageConfig& out, const std::filesystem::path& base) {
  Errors& errors = reader.errors();
  if (auto enabled = reader.Bool("enabled")) out.enabled = *enabled;
  const Field listen = reader.Optional("listen");
  if (listen) {
    constexpr std::string_view kExpected = "host:port such as \"127.0.0.1:8780\" or \"[::]:8443\"";
    const auto parsed =
        listen->type == JsonValue::Type::kString ? core::ParseHostPort(listen->text) : std::nullopt;
    if (parsed) {
      out.host = parsed->host;
      out.port = parsed->port;
    } else {
      errors.Add(listen.path, Expected(kExpected, *listen), listen.value);
    }
  }
  // Named again in the errors below, which say which keys go together.
  constexpr std::string_view kTokenFile = "token_file";
  constexpr std::string_view kCertFile = "tls_cert_file";
  constexpr std::string_view kKeyFile = "tls_key_file";
  if (auto path = reader.FilePath(kTokenFile, false, base)) out.token_file = *path;
  if (auto path = reader.FilePath(kCertFile, false, base)) out.tls_cert_file = *path;
  if (auto path = reader.FilePath(kKeyFile, false, base)) out.tls_key_file = *path;
  if (auto show = reader.Bool("show_values")) out.show_values = *show;
  if (auto seconds = reader.Integer("refresh_seconds", 2, 300, "seconds"))
    out.refresh = std::chrono::seconds(*seconds);
  reader.Finish();
  const std::string both = std::string(kCertFile) + " and " + std::string(kKeyFile);
  if (out.enabled && !core::IsLoopbackHost(out.host)) {
    // Beyond the gateway itself: never without a token, never in plaintext.
    if (out.token_file.empty()) {
      errors.Add(reader.PathOf(kTokenFile),
                 "required when " + listen.path + " is not a loopback address (the per-device token)",
                 &reader.object());
    }
    if (out.tls_cert_file.empty() || out.tls_key_file.empty()) {
      errors.Add(reader.PathOf(kCertFile),
                 both + " are required when " + listen.path + " is not a loopback address", &reader.object());
    }
  }
  if (out.tls_cert_file.empty() != out.tls_key_file.empty()) {
    errors.Add(reader.PathOf(kKeyFile), both + " go together", &reader.object());
  }
}

}  // namespace ehg::config::detail
