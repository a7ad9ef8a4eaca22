#include "gateway/http/status.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "gateway/core/json.hpp"
#include "gateway/core/json_writer.hpp"
#include "gateway/core/utf8.hpp"

namespace ehg::http {
namespace {

using namespace std::chrono_literals;

// Grace after start before a missing uplink or a silent device counts: connecting takes a moment.
constexpr std::chrono::seconds kStartGrace = 120s;
constexpr double kLowBatteryPercent = 20;
constexpr std::chrono::seconds kRecentProblemWindow = 15min;

std::chrono::seconds Age(core::WallTime now, core::WallTime then) {
  return std::chrono::duration_cast<std::chrono::seconds>(now - then);
}

bool IsSevere(const std::string& severity) {
  return severity == "critical" || severity == "high";
}

// One series of the components' counters (0 when no component declared it).
std::uint64_t Count(const StatusSnapshot& status, std::string_view name,
                    const std::vector<std::string>& label_values = {}) {
  return static_cast<std::uint64_t>(core::telemetry::ValueOf(status.telemetry, name, label_values));
}

std::uint64_t Dropped(const StatusSnapshot& status, const std::string& reason) {
  return Count(status, core::telemetry::DroppedFamily().name, {reason});
}

// Observations lost on their way: over the outbox budget, or given up by a driver at a full pipeline.
std::uint64_t ObservationsDropped(const StatusSnapshot& status) {
  return Dropped(status, "outbox_budget") + Dropped(status, "queue_full");
}

}  // namespace

std::string_view ToString(Level level) {
  switch (level) {
    case Level::kOk:
      return "ok";
    case Level::kWarning:
      return "warning";
    case Level::kCritical:
      return "critical";
  }
  return "ok";
}

std::string_view ToString(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNoToken:
      return "no_token";
    case Refusal::kWrongToken:
      return "wrong_token";
    case Refusal::kLockedOut:
      return "locked_out";
    case Refusal::kHeaderTimeout:
      return "header_timeout";
    case Refusal::kPerAddressLimit:
      return "per_address_limit";
    case Refusal::kConnectionLimit:
      return "connection_limit";
    case Refusal::kHeadTooLarge:
      return "head_too_large";
    case Refusal::kBody:
      return "body";
    case Refusal::kMalformed:
      return "malformed";
    case Refusal::kMethod:
      return "method";
    case Refusal::kTlsHandshake:
      return "tls_handshake";
    case Refusal::kBusy:
      return "busy";
    case Refusal::kSlowReader:
      return "slow_reader";
    case Refusal::kCount:
      break;
  }
  return "unknown";
}

std::string HumanDuration(std::chrono::seconds duration) {
  long long seconds = std::max<long long>(0, duration.count());
  if (seconds < 60) return std::to_string(seconds) + " s";
  const long long minutes = seconds / 60;
  if (minutes < 60) return std::to_string(minutes) + " min";
  const long long hours = minutes / 60;
  if (hours < 24) {
    return std::to_string(hours) + " h" +
           (minutes % 60 != 0 ? " " + std::to_string(minutes % 60) + " min" : "");
  }
  return std::to_string(hours / 24) + " d" + (hours % 24 != 0 ? " " + std::to_string(hours % 24) + " h" : "");
}

std::vector<Attention> NeedsAttention(const StatusSnapshot& status) {
  std::vector<Attention> attention;
  const bool settled = status.uptime >= kStartGrace;

  for (const AlertView& alert : status.open_alerts) {
    if (!IsSevere(alert.severity) || alert.state == "acknowledged") continue;
    attention.push_back({alert.severity == "critical" ? Level::kCritical : Level::kWarning, "alert_open",
                         alert.severity + " alert '" + alert.rule_id + "' open for " +
                             HumanDuration(Age(status.now, alert.raised_at)) + ", not acknowledged"});
  }
  if (status.uplink.state != "connected") {
    attention.push_back({settled ? Level::kCritical : Level::kWarning, "uplink_down",
                         "uplink " + status.uplink.state +
                             (status.uplink.last_error.empty() ? "" : ": " + status.uplink.last_error)});
  }
  if (const std::uint64_t failures = Count(status, "ehg_store_failures_total"); failures > 0) {
    attention.push_back(
        {Level::kCritical, "store_failures", std::to_string(failures) + " batches could not be stored"});
  }
  if (const std::uint64_t full = Dropped(status, "store_full"); full > 0) {
    attention.push_back(
        {Level::kCritical, "store_full",
         std::to_string(full) + " readings refused: the database is full of what may not be removed"});
  }
  if (!status.clock_synchronised) {
    attention.push_back({Level::kWarning, "clock_unsynchronised",
                         "the clock is not synchronised: readings are marked time-uncertain"});
  }
  for (const DeviceView& device : status.devices) {
    if (device.transport == "serial" && device.connection != "connected" && settled) {
      attention.push_back({Level::kWarning, "device_disconnected", device.id + " is not connected"});
    }
    if (device.expected_interval.count() > 0) {
      const std::optional<core::WallTime> heard = device.last_reading;
      if (heard && Age(status.now, *heard) > device.expected_interval) {
        attention.push_back({Level::kWarning, "device_silent",
                             device.id + ": no reading for " + HumanDuration(Age(status.now, *heard))});
      } else if (!heard && status.uptime > device.expected_interval) {
        attention.push_back(
            {Level::kWarning, "device_silent",
             device.id + ": no reading since the gateway started " + HumanDuration(status.uptime) + " ago"});
      }
    }
    if (device.battery_percent && *device.battery_percent < kLowBatteryPercent) {
      attention.push_back({Level::kWarning, "battery_low", device.id + ": battery low"});
    }
  }
  if (const std::uint64_t dropped = ObservationsDropped(status); dropped > 0) {
    attention.push_back(
        {Level::kWarning, "data_dropped",
         std::to_string(dropped) + " observations dropped since start (outbox budget or a full queue)"});
  }
  std::size_t recent_errors = 0;
  for (const Problem& problem : status.recent_problems) {
    if (problem.level == "error" && Age(status.now, problem.at) <= kRecentProblemWindow) ++recent_errors;
  }
  if (recent_errors > 0) {
    attention.push_back({Level::kWarning, "recent_errors",
                         std::to_string(recent_errors) + " errors logged in the last 15 min"});
  }
  std::stable_sort(attention.begin(), attention.end(),
                   [](const Attention& a, const Attention& b) { return a.level > b.level; });
  return attention;
}

std::string ConnectionName(core::LinkShown shown) {
  switch (shown) {
    case core::LinkShown::kConnected:
      return "connected";
    case core::LinkShown::kIdle:
      return "idle";
    case core::LinkShown::kMissing:
      return "disconnected";
  }
  return "unknown";
}

Level WorstLevel(const std::vector<Attention>& attention) {
  Level worst = Level::kOk;
  for (const Attention& item : attention)
    worst = std::max(worst, item.level);
  return worst;
}

// ---- /api/status --------------------------------------------------------------------------------------

namespace {

using core::JsonWriter;

void OptionalTime(JsonWriter& json, std::string_view key, const std::optional<core::WallTime>& time) {
  json.Key(key);
  if (time) {
    json.String(core::FormatIso8601(*time));
  } else {
    json.Null();
  }
}

void OptionalNumber(JsonWriter& json, std::string_view key, const std::optional<double>& value) {
  json.Key(key);
  if (value) {
    json.Number(*value);
  } else {
    json.Null();
  }
}

void UplinkJson(JsonWriter& json, const StatusSnapshot& status) {
  const UplinkView& uplink = status.uplink;
  json.BeginObject();
  json.Key("state").String(uplink.state);
  OptionalTime(json, "connected_since", uplink.connected_since);
  OptionalTime(json, "last_publish", uplink.last_publish);
  json.Key("last_error").String(uplink.last_error);
  json.Key("backlog_events").Unsigned(uplink.backlog_rows);
  json.Key("backlog_bytes").Unsigned(uplink.backlog_bytes);
  json.Key("backlog_alerts").Unsigned(uplink.backlog_alerts);
  json.Key("in_flight").Unsigned(uplink.in_flight);
  json.Key("alerts_awaiting_receipt").Unsigned(uplink.alerts_awaiting_receipt);
  json.Key("connects").Unsigned(Count(status, "ehg_uplink_connects_total"));
  json.Key("connect_failures").Unsigned(Count(status, "ehg_uplink_connect_failures_total"));
  json.Key("connections_lost").Unsigned(Count(status, "ehg_uplink_connections_lost_total"));
  json.Key("messages_published").Unsigned(Count(status, "ehg_messages_published_total"));
  json.Key("messages_acknowledged").Unsigned(Count(status, "ehg_messages_acknowledged_total"));
  json.Key("alert_resends").Unsigned(Count(status, "ehg_alert_resends_total"));
  json.Key("receipts").Unsigned(Count(status, "ehg_receipts_total"));
  json.Key("commands").Unsigned(Count(status, "ehg_commands_total"));
  json.Key("commands_refused").Unsigned(Count(status, "ehg_commands_refused_total"));
  json.EndObject();
}

void DeviceJson(JsonWriter& json, const DeviceView& device, bool values_shown) {
  json.BeginObject();
  json.Key("id").String(device.id);
  json.Key("transport").String(device.transport);
  json.Key("type").String(device.type);
  json.Key("connection").String(device.connection);
  OptionalTime(json, "last_seen", device.last_seen);
  OptionalTime(json, "last_reading", device.last_reading);
  OptionalNumber(json, "battery_percent", device.battery_percent);
  json.Key("rssi_dbm");
  if (device.rssi_dbm) {
    json.Integer(*device.rssi_dbm);
  } else {
    json.Null();
  }
  std::uint64_t readings = 0;
  for (const auto& [metric, count] : device.readings_by_metric)
    readings += count;
  json.Key("readings").Unsigned(readings);
  json.Key("readings_by_metric").BeginObject();
  for (const auto& [metric, count] : device.readings_by_metric)
    json.Key(metric).Unsigned(count);
  json.EndObject();
  json.Key("parse_errors").Unsigned(device.parse_errors);
  json.Key("last_error").String(device.last_error);
  json.Key("last_error_detail").String(device.last_error_detail);
  if (values_shown) {
    json.Key("last_values").BeginArray();
    for (const LastValue& value : device.last_values) {
      json.BeginObject().Key("metric").String(value.metric).Key("value").Number(value.value);
      json.Key("unit").String(value.unit).Key("received_at").String(core::FormatIso8601(value.received_at));
      json.EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
}

void AlertJson(JsonWriter& json, const AlertView& alert, core::WallTime now, bool values_shown) {
  json.BeginObject();
  json.Key("rule").String(alert.rule_id);
  json.Key("severity").String(alert.severity);
  json.Key("state").String(alert.state);
  json.Key("raised_at").String(core::FormatIso8601(alert.raised_at));
  json.Key("updated_at").String(core::FormatIso8601(alert.updated_at));
  json.Key("age_seconds").Integer(Age(now, alert.raised_at).count());
  if (values_shown) json.Key("detail").String(alert.detail_json);
  json.EndObject();
}

}  // namespace

// Written with core::JsonWriter: whatever a field carries (a device's error text, a label), the answer is
// valid UTF-8 and valid JSON.
std::string StatusJson(const StatusSnapshot& status) {
  JsonWriter json;
  json.BeginObject();
  json.Key("schema").String("ehealth-gateway/status/v1");
  json.Key("gateway").BeginObject();
  json.Key("id").String(status.gateway_id);
  json.Key("tenant").String(status.tenant);
  json.Key("version").String(status.version);
  json.Key("now").String(core::FormatIso8601(status.now));
  json.Key("uptime_seconds").Integer(status.uptime.count());
  json.Key("clock_synchronised").Bool(status.clock_synchronised);
  json.Key("values_shown").Bool(status.values_shown);
  json.EndObject();

  const std::vector<Attention> attention = NeedsAttention(status);
  json.Key("level").String(ToString(WorstLevel(attention)));
  json.Key("attention").BeginArray();
  for (const Attention& item : attention) {
    json.BeginObject().Key("level").String(ToString(item.level)).Key("code").String(item.code);
    json.Key("message").String(item.message).EndObject();
  }
  json.EndArray();
  json.Key("uplink");
  UplinkJson(json, status);

  json.Key("devices").BeginArray();
  for (const DeviceView& device : status.devices)
    DeviceJson(json, device, status.values_shown);
  json.EndArray();

  json.Key("open_alerts").BeginArray();
  for (const AlertView& alert : status.open_alerts)
    AlertJson(json, alert, status.now, status.values_shown);
  json.EndArray();

  json.Key("drops").BeginObject();
  json.Key("observations_over_budget").Unsigned(Dropped(status, "outbox_budget"));
  json.Key("readings_queue_full").Unsigned(Dropped(status, "queue_full"));
  json.Key("store_failures").Unsigned(Count(status, "ehg_store_failures_total"));
  json.Key("commands_queue_full").Unsigned(Dropped(status, "command_queue_full"));
  json.Key("readings_store_full").Unsigned(Dropped(status, "store_full"));
  json.EndObject();

  json.Key("recent_problems").BeginArray();
  for (const Problem& problem : status.recent_problems) {
    json.BeginObject();
    json.Key("at").String(core::FormatIso8601(problem.at));
    json.Key("first_at").String(core::FormatIso8601(problem.first_at));
    json.Key("count").Unsigned(problem.count);
    json.Key("level").String(problem.level);
    json.Key("line").String(problem.line);
    json.EndObject();
  }
  json.EndArray();

  json.Key("status_page").BeginObject().Key("refusals").BeginObject();
  for (std::size_t kind = 0; kind < kRefusalKinds; ++kind)
    json.Key(ToString(static_cast<Refusal>(kind))).Unsigned(status.page_refusals[kind]);
  json.EndObject().EndObject();

  // Every series the components declared, by the names /metrics gives them.
  json.Key("telemetry").BeginArray();
  for (const core::telemetry::FamilySnapshot& family : status.telemetry) {
    for (const core::telemetry::Sample& sample : family.samples) {
      json.BeginObject();
      json.Key("name").String(family.family.name);
      json.Key("type").String(family.kind == core::telemetry::Kind::kCounter ? "counter" : "gauge");
      json.Key("labels").BeginObject();
      for (std::size_t i = 0; i < family.family.labels.size() && i < sample.label_values.size(); ++i)
        json.Key(family.family.labels[i]).String(sample.label_values[i]);
      json.EndObject();
      json.Key("value").Number(sample.value);
      json.EndObject();
    }
  }
  json.EndArray();
  return std::move(json.EndObject()).Take();
}

// ---- /metrics -----------------------------------------------------------------------------------------

namespace {

// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
std::string LabelValue(std::string_view raw) {
  const std::string value = core::ValidUtf8(raw);
  std::string escaped;
  for (const char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string Number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return core::JsonNumber(value);
}

class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    text_ << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << ' ' << type << '\n';
  }
  void Sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value) {
    text_ << name;
    if (labels.size() > 0) {
      text_ << '{';
      bool first = true;
      for (const auto& [key, label] : labels) {
        text_ << (first ? "" : ",") << key << "=\"" << LabelValue(label) << '"';
        first = false;
      }
      text_ << '}';
    }
    text_ << ' ' << Number(value) << '\n';
  }
  void Sample(std::string_view name, const std::vector<std::string>& keys,
              const std::vector<std::string>& labels, double value) {
    text_ << name;
    if (!keys.empty()) {
      text_ << '{';
      for (std::size_t i = 0; i < keys.size() && i < labels.size(); ++i)
        text_ << (i == 0 ? "" : ",") << keys[i] << "=\"" << LabelValue(labels[i]) << '"';
      text_ << '}';
    }
    text_ << ' ' << Number(value) << '\n';
  }
  void One(std::string_view name, std::string_view type, std::string_view help, double value) {
    Family(name, type, help);
    Sample(name, {}, value);
  }
  std::string Text() const { return core::ValidUtf8(text_.str()); }

 private:
  std::ostringstream text_;
};

double Seconds(core::WallTime time) {
  return static_cast<double>(time.time_since_epoch().count()) / 1000.0;
}

}  // namespace

std::string MetricsText(const StatusSnapshot& status) {
  Exposition out;
  out.Family("ehg_build_info", "gauge", "Version of the running gateway (always 1).");
  out.Sample("ehg_build_info",
             {{"version", status.version}, {"gateway", status.gateway_id}, {"tenant", status.tenant}}, 1);
  out.One("ehg_uptime_seconds", "gauge", "Seconds since the gateway started.",
          static_cast<double>(status.uptime.count()));
  out.One("ehg_clock_synchronised", "gauge", "1 when the wall clock is synchronised.",
          status.clock_synchronised ? 1 : 0);
  out.Family("ehg_attention", "gauge", "1 for each condition that needs attention, by level and code.");
  std::set<std::pair<std::string, std::string>> seen;
  for (const Attention& item : NeedsAttention(status)) {
    if (seen.emplace(std::string(ToString(item.level)), item.code).second)
      out.Sample("ehg_attention", {{"level", ToString(item.level)}, {"code", item.code}}, 1);
  }

  // Readings and parse errors per device.
  out.Family("ehg_readings_total", "counter", "Readings stored since start, by device and metric.");
  for (const DeviceView& device : status.devices) {
    for (const auto& [metric, count] : device.readings_by_metric)
      out.Sample("ehg_readings_total", {{"device", device.id}, {"metric", metric}},
                 static_cast<double>(count));
  }
  out.Family("ehg_parse_errors_total", "counter",
             "Frames, values or readings from the device that were refused, since start.");
  for (const DeviceView& device : status.devices)
    out.Sample("ehg_parse_errors_total", {{"device", device.id}}, static_cast<double>(device.parse_errors));
  out.Family("ehg_device_connected", "gauge", "1 when the device link is up (or the device is simulated).");
  for (const DeviceView& device : status.devices) {
    out.Sample("ehg_device_connected", {{"device", device.id}, {"transport", device.transport}},
               device.connection == "connected" || device.connection == "simulated" ? 1 : 0);
  }
  out.Family("ehg_device_last_reading_timestamp_seconds", "gauge",
             "When the device's last reading was stored (Unix time).");
  for (const DeviceView& device : status.devices) {
    if (device.last_reading)
      out.Sample("ehg_device_last_reading_timestamp_seconds", {{"device", device.id}},
                 Seconds(*device.last_reading));
  }
  out.Family("ehg_device_battery_ratio", "gauge", "Battery level the device reported (0 to 1).");
  for (const DeviceView& device : status.devices) {
    if (device.battery_percent)
      out.Sample("ehg_device_battery_ratio", {{"device", device.id}}, *device.battery_percent / 100.0);
  }
  out.Family("ehg_device_rssi_dbm", "gauge", "Received signal strength of the device's last advertisement.");
  for (const DeviceView& device : status.devices) {
    if (device.rssi_dbm)
      out.Sample("ehg_device_rssi_dbm", {{"device", device.id}}, static_cast<double>(*device.rssi_dbm));
  }

  // Alerts.
  static constexpr std::array<std::string_view, 5> kSeverities{"info", "low", "medium", "high", "critical"};
  const auto changes = [&](std::string_view name, std::string_view change, std::string_view help) {
    out.Family(name, "counter", help);
    for (const std::string_view severity : kSeverities) {
      const auto found = status.alert_changes.find({std::string(severity), std::string(change)});
      out.Sample(name, {{"severity", severity}},
                 found == status.alert_changes.end() ? 0 : static_cast<double>(found->second));
    }
  };
  changes("ehg_alerts_raised_total", "raised", "Alerts raised since start, by severity.");
  changes("ehg_alerts_acknowledged_total", "acknowledged", "Alerts acknowledged by care staff since start.");
  changes("ehg_alerts_escalated_total", "escalated", "Alert escalations since start, by severity.");
  changes("ehg_alerts_resolved_total", "resolved", "Alerts resolved since start, by severity.");
  out.Family("ehg_alerts_open", "gauge", "Open alerts now, by severity.");
  for (const std::string_view severity : kSeverities) {
    const auto open = std::count_if(status.open_alerts.begin(), status.open_alerts.end(),
                                    [&](const AlertView& alert) { return alert.severity == severity; });
    out.Sample("ehg_alerts_open", {{"severity", severity}}, static_cast<double>(open));
  }

  // Uplink and outbox.
  const UplinkView& uplink = status.uplink;
  out.One("ehg_uplink_connected", "gauge", "1 while the MQTT session is up.",
          uplink.state == "connected" ? 1 : 0);
  out.One("ehg_outbox_events", "gauge", "Events stored and not yet delivered.",
          static_cast<double>(uplink.backlog_rows));
  out.One("ehg_outbox_bytes", "gauge", "Payload bytes of the events not yet delivered.",
          static_cast<double>(uplink.backlog_bytes));
  out.One("ehg_outbox_alerts", "gauge", "Alert events not yet delivered.",
          static_cast<double>(uplink.backlog_alerts));
  out.One("ehg_uplink_in_flight_messages", "gauge", "Messages sent and not yet acknowledged by the broker.",
          static_cast<double>(uplink.in_flight));
  out.One("ehg_alerts_awaiting_receipt", "gauge",
          "Alerts the broker has but the care system has not confirmed.",
          static_cast<double>(uplink.alerts_awaiting_receipt));
  out.Family("ehg_publish_latency_seconds", "histogram",
             "From handing a message to the MQTT client to the broker's acknowledgement.");
  const core::HistogramSnapshot& latency = uplink.publish_latency;
  for (std::size_t i = 0; i < core::kLatencyBucketBoundsSeconds.size(); ++i) {
    out.Sample("ehg_publish_latency_seconds_bucket", {{"le", Number(core::kLatencyBucketBoundsSeconds[i])}},
               static_cast<double>(latency.cumulative[i]));
  }
  out.Sample("ehg_publish_latency_seconds_bucket", {{"le", "+Inf"}}, static_cast<double>(latency.count));
  out.Sample("ehg_publish_latency_seconds_sum", {}, latency.sum_seconds);
  out.Sample("ehg_publish_latency_seconds_count", {}, static_cast<double>(latency.count));

  // Every family the components declared: their drops, the store's, the uplink's counters, ...
  for (const core::telemetry::FamilySnapshot& family : status.telemetry) {
    out.Family(family.family.name, family.kind == core::telemetry::Kind::kCounter ? "counter" : "gauge",
               family.family.help);
    for (const core::telemetry::Sample& sample : family.samples)
      out.Sample(family.family.name, family.family.labels, sample.label_values, sample.value);
  }
  const auto refused = [&](Refusal refusal) {
    return static_cast<double>(status.page_refusals[static_cast<std::size_t>(refusal)]);
  };
  out.One("ehg_http_auth_refusals_total", "counter",
          "Status requests refused for a wrong token or a lockout.",
          refused(Refusal::kWrongToken) + refused(Refusal::kLockedOut));
  out.Family("ehg_http_refusals_total", "counter",
             "Connections and requests the status page refused since start, by reason.");
  for (std::size_t kind = 0; kind < kRefusalKinds; ++kind) {
    out.Sample("ehg_http_refusals_total", {{"reason", ToString(static_cast<Refusal>(kind))}},
               refused(static_cast<Refusal>(kind)));
  }
  return out.Text();
}

// ---- the page -----------------------------------------------------------------------------------------

namespace {

std::string Escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string Ago(core::WallTime now, const std::optional<core::WallTime>& then) {
  if (!then) return "never";
  return "<time datetime=\"" + core::FormatIso8601(*then) + "\">" + HumanDuration(Age(now, *then)) +
         " ago</time>";
}

std::string Bytes(std::uint64_t bytes) {
  if (bytes < 10'000) return std::to_string(bytes) + " B";
  if (bytes < 10'000'000) return std::to_string(bytes / 1000) + " kB";
  return std::to_string(bytes / 1'000'000) + " MB";
}

constexpr std::string_view kStyle = R"css(
:root{font-family:system-ui,sans-serif;color:#1b1f24;background:#f4f6f8}
body{margin:0 auto;max-width:46rem;padding:.75rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:0 0 .5rem}h3{font-size:1rem;margin:0}
p.meta{margin:.2rem 0;color:#4a5560}
section{background:#fff;border-radius:.6rem;padding:.75rem;margin:.75rem 0;box-shadow:0 1px 2px #0002}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.4rem 0 0}dt{color:#4a5560}dd{margin:0}
.ok{border-left:.4rem solid #2e7d32}.warning{border-left:.4rem solid #ed8b00}.critical{border-left:.4rem solid #c62828}
.badge{display:inline-block;border-radius:1rem;padding:0 .5rem;font-size:.85rem;color:#fff;background:#607080}
.badge.connected,.badge.simulated,.badge.listening{background:#2e7d32}.badge.disconnected{background:#c62828}
.badge.idle{background:#607080}details{font-size:.85rem;color:#4a5560}
.badge.critical{background:#c62828}.badge.high{background:#e65100}.badge.medium{background:#ed8b00}
article{border-top:1px solid #e0e4e8;padding:.6rem 0}article:first-of-type{border-top:0}
ul{margin:.3rem 0;padding-left:1.2rem}li{margin:.2rem 0}code{font-size:.8rem;word-break:break-all}
footer{color:#4a5560;font-size:.85rem;text-align:center}
)css";

void AttentionSection(std::ostringstream& html, const std::vector<Attention>& attention) {
  const Level worst = WorstLevel(attention);
  html << "<section id=\"attention\" class=\"" << ToString(worst) << "\">";
  if (attention.empty()) {
    html << "<h2>All good</h2><p>Nothing needs attention.</p></section>";
    return;
  }
  html << "<h2>Needs attention</h2><ul>";
  for (const Attention& item : attention) {
    html << "<li class=\"" << ToString(item.level) << "\" data-code=\"" << Escape(item.code) << "\">"
         << Escape(item.message) << "</li>";
  }
  html << "</ul></section>";
}

void UplinkSection(std::ostringstream& html, const StatusSnapshot& status) {
  const UplinkView& uplink = status.uplink;
  html << "<section id=\"uplink\"><h2>Uplink</h2><dl>"
       << "<dt>State</dt><dd><span class=\"badge " << Escape(uplink.state) << "\">" << Escape(uplink.state)
       << "</span>";
  if (uplink.connected_since) html << " for " << HumanDuration(Age(status.now, *uplink.connected_since));
  html << "</dd><dt>Last publish</dt><dd>" << Ago(status.now, uplink.last_publish) << "</dd>"
       << "<dt>Backlog</dt><dd>" << uplink.backlog_rows << " events (" << Bytes(uplink.backlog_bytes) << "), "
       << uplink.backlog_alerts << " alerts</dd>"
       << "<dt>Receipts waiting</dt><dd>" << uplink.alerts_awaiting_receipt << "</dd>"
       << "<dt>Dropped</dt><dd>" << ObservationsDropped(status) << "</dd>"
       << "<dt>Reconnects</dt><dd>" << Count(status, "ehg_uplink_connects_total") << " connects, "
       << Count(status, "ehg_uplink_connections_lost_total") << " lost</dd>";
  if (!uplink.last_error.empty()) html << "<dt>Last error</dt><dd>" << Escape(uplink.last_error) << "</dd>";
  html << "</dl></section>";
}

void DevicesSection(std::ostringstream& html, const StatusSnapshot& status) {
  html << "<section id=\"devices\"><h2>Devices (" << status.devices.size() << ")</h2>";
  if (status.devices.empty()) html << "<p>No devices configured.</p>";
  for (const DeviceView& device : status.devices) {
    std::uint64_t readings = 0;
    for (const auto& [metric, count] : device.readings_by_metric)
      readings += count;
    html << "<article class=\"device\" data-device=\"" << Escape(device.id) << "\"><h3>" << Escape(device.id)
         << " <span class=\"badge " << Escape(device.connection) << "\">"
         << (device.connection == "idle" ? "idle between measurements" : Escape(device.connection))
         << "</span></h3><p class=\"meta\">" << Escape(device.type) << " over " << Escape(device.transport)
         << "</p><dl><dt>Last seen</dt><dd>" << Ago(status.now, device.last_seen)
         << "</dd><dt>Last reading</dt><dd>" << Ago(status.now, device.last_reading) << "</dd>";
    if (device.battery_percent)
      html << "<dt>Battery</dt><dd>" << static_cast<int>(std::lround(*device.battery_percent)) << " %</dd>";
    if (device.rssi_dbm) html << "<dt>Signal</dt><dd>" << *device.rssi_dbm << " dBm</dd>";
    html << "<dt>Readings</dt><dd>" << readings << " since start</dd><dt>Parse errors</dt><dd>"
         << device.parse_errors << "</dd>";
    if (!device.last_error.empty()) {
      html << "<dt>Last error</dt><dd>" << Escape(device.last_error);
      // For support, out of the installer's way: the D-Bus name behind the sentence.
      if (!device.last_error_detail.empty()) {
        html << "<details><summary>technical detail</summary><code>" << Escape(device.last_error_detail)
             << "</code></details>";
      }
      html << "</dd>";
    }
    for (const LastValue& value : status.values_shown ? device.last_values : std::vector<LastValue>{}) {
      html << "<dt>" << Escape(value.metric) << "</dt><dd>" << Escape(core::JsonNumber(value.value)) << ' '
           << Escape(value.unit) << "</dd>";
    }
    html << "</dl></article>";
  }
  html << "</section>";
}

void AlertsSection(std::ostringstream& html, const StatusSnapshot& status) {
  html << "<section id=\"alerts\"><h2>Open alerts (" << status.open_alerts.size() << ")</h2>";
  if (status.open_alerts.empty()) html << "<p>No open alerts.</p>";
  for (const AlertView& alert : status.open_alerts) {
    html << "<article class=\"alert\" data-rule=\"" << Escape(alert.rule_id) << "\"><h3>"
         << Escape(alert.rule_id) << " <span class=\"badge " << Escape(alert.severity) << "\">"
         << Escape(alert.severity) << "</span></h3><dl><dt>State</dt><dd>" << Escape(alert.state)
         << "</dd><dt>Raised</dt><dd>" << Ago(status.now, alert.raised_at) << "</dd>";
    if (status.values_shown && !alert.detail_json.empty())
      html << "<dt>Detail</dt><dd><code>" << Escape(alert.detail_json) << "</code></dd>";
    html << "</dl></article>";
  }
  html << "</section>";
}

void ProblemsSection(std::ostringstream& html, const StatusSnapshot& status) {
  html << "<section id=\"problems\"><h2>Recent problems</h2>";
  if (status.recent_problems.empty()) html << "<p>None since start.</p>";
  html << "<ul>";
  // Newest first: the installer looks at the page right after doing something.
  for (auto problem = status.recent_problems.rbegin(); problem != status.recent_problems.rend(); ++problem) {
    html << "<li class=\"" << (problem->level == "error" ? "critical" : "warning") << "\">"
         << Ago(status.now, problem->at) << ": <code>" << Escape(problem->line) << "</code>";
    if (problem->count > 1) {
      html << " (" << problem->count << " times since " << Ago(status.now, problem->first_at) << ")";
    }
    html << "</li>";
  }
  html << "</ul></section>";
}

}  // namespace

std::string StatusPageHtml(const StatusSnapshot& status, std::chrono::seconds refresh) {
  std::ostringstream html;
  html << "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       << "<meta http-equiv=\"refresh\" content=\"" << refresh.count() << "\">"
       << "<title>Gateway " << Escape(status.gateway_id) << "</title><style>" << kStyle
       << "</style></head><body>"
       << "<header><h1>Gateway " << Escape(status.gateway_id) << "</h1><p class=\"meta\">tenant "
       << Escape(status.tenant) << " · version " << Escape(status.version) << " · up "
       << HumanDuration(status.uptime) << " · clock "
       << (status.clock_synchronised ? "synchronised" : "<strong>not synchronised</strong>")
       << "</p></header>";
  AttentionSection(html, NeedsAttention(status));
  UplinkSection(html, status);
  DevicesSection(html, status);
  AlertsSection(html, status);
  ProblemsSection(html, status);
  html << "<footer>Shown " << Escape(core::FormatIso8601(status.now)) << ", refreshes every "
       << refresh.count() << " s. "
       << (status.values_shown ? "Measurement values are shown (status_page.show_values)."
                               : "Measurement values are not shown.")
       << "</footer></body></html>";
  return core::ValidUtf8(html.str());
}

}  // namespace ehg::http
