#include "gateway/pipeline/event_bodies.hpp"

#include <charconv>

#include "gateway/core/json.hpp"
#include "gateway/core/json_writer.hpp"
#include "gateway/core/observation_identity.hpp"

namespace ehg::pipeline {
namespace {

using core::JsonValue;
using core::JsonWriter;

// Opens an event's object with the fields every event starts with; the caller adds its own and closes it.
void Envelope(JsonWriter& json, const EventContext& context, const core::EventId& id,
              std::string_view schema) {
  json.BeginObject();
  json.Key("schema").String(schema);
  json.Key("event_id").String(id.ToString());
  json.Key("gateway").String(context.gateway_id);
  json.Key("subject").String(context.resident_pseudonym);
}

// Stored state keeps exact milliseconds; events carry ISO 8601 for people and receivers.
enum class TimeStyle { kIso, kMilliseconds };

std::int64_t Milliseconds(core::WallTime time) {
  return time.time_since_epoch().count();
}

core::WallTime FromMs(std::int64_t milliseconds) {
  return core::WallTime{std::chrono::milliseconds{milliseconds}};
}

// "raised" becomes raised_at (ISO) or raised_ms; a bare `iso_name` keeps the name as it is for ISO.
void Time(JsonWriter& json, std::string_view name, core::WallTime time, TimeStyle style,
          bool iso_suffix = true) {
  if (style == TimeStyle::kIso) {
    json.Key(iso_suffix ? std::string(name) + "_at" : std::string(name)).String(core::FormatIso8601(time));
  } else {
    json.Key(std::string(name) + "_ms").Integer(Milliseconds(time));
  }
}

void OptionalMs(JsonWriter& json, std::string_view name, const std::optional<core::WallTime>& time) {
  if (time) json.Key(name).Integer(Milliseconds(*time));
}

// In an event each piece of evidence names the FHIR Observation it was sent as (by its business
// identifier), after its other fields; `context` is null for the stored form, which keeps no references.
void EvidenceArray(JsonWriter& json, const std::vector<alerts::Evidence>& evidence, TimeStyle style,
                   const EventContext* context) {
  json.BeginArray();
  for (const alerts::Evidence& item : evidence) {
    json.BeginObject();
    json.Key("device").String(item.device_id);
    json.Key("metric").String(item.metric);
    json.Key("value").Number(item.value);
    json.Key("unit").String(item.unit);
    Time(json, "time", item.time, style, false);
    if (context != nullptr) {
      json.Key("observation").BeginObject();
      json.Key("type").String("Observation");
      json.Key("identifier").BeginObject();
      json.Key("system").String(core::kObservationIdentifierSystem);
      json.Key("value").String(core::ObservationIdentifier(
          context->gateway_id, item.device_id, context->resident_pseudonym, item.metric, item.time));
      json.EndObject().EndObject();
    }
    json.EndObject();
  }
  json.EndArray();
}

void News2Json(JsonWriter& json, const alerts::News2Score& score) {
  json.BeginObject();
  json.Key("total").Integer(score.total);
  json.Key("risk").String(alerts::ToString(score.risk));
  json.Key("spo2_scale").Integer(static_cast<int>(score.scale));
  json.Key("partial").Bool(score.partial);
  json.Key("components").BeginArray();
  for (const alerts::News2SubScore& component : score.components) {
    json.BeginObject();
    json.Key("parameter").String(alerts::ToString(component.parameter));
    json.Key("value").Number(component.value);
    json.Key("score").Integer(component.score);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
}

// The alert's fields, shared by the event body, the replay timeline and the stored form.
void AlertFields(JsonWriter& json, const alerts::Alert& alert, TimeStyle style,
                 const EventContext* evidence_context = nullptr) {
  json.Key("alert_id").String(alert.alert_id);
  json.Key("rule_id").String(alert.rule_id);
  if (!alert.device_id.empty()) json.Key("device").String(alert.device_id);
  json.Key("metric").String(alert.metric);
  json.Key("severity").String(alerts::ToString(alert.severity));
  json.Key("state").String(alerts::ToString(alert.state));
  Time(json, "raised", alert.raised_at, style);
  Time(json, "updated", alert.updated_at, style);
  json.Key("occurrences").Unsigned(alert.occurrences);
  json.Key("suppressed_repeats").Unsigned(alert.suppressed_repeats);
  json.Key("worst_value").Number(alert.worst_value);
  if (alert.reference_value) json.Key("reference_value").Number(*alert.reference_value);
  if (alert.news2) News2Json(json.Key("news2"), *alert.news2);
  json.Key("escalation_level").Unsigned(alert.escalation_level);
  const auto optional_time = [&](std::string_view name, const std::optional<core::WallTime>& time) {
    if (time) Time(json, name, *time, style);
  };
  optional_time("delivered", alert.delivered_at);
  optional_time("acknowledged", alert.acknowledged_at);
  if (!alert.acknowledged_by.empty()) json.Key("acknowledged_by").String(alert.acknowledged_by);
  optional_time("resolved", alert.resolved_at);
  if (!alert.resolved_by.empty()) json.Key("resolved_by").String(alert.resolved_by);
  if (!alert.resolution_note.empty()) json.Key("resolution_note").String(alert.resolution_note);
  EvidenceArray(json.Key("evidence"), alert.evidence, style, evidence_context);
  if (style == TimeStyle::kMilliseconds) {
    if (alert.escalation) {
      json.Key("escalation").BeginObject();
      json.Key("after_seconds").Integer(alert.escalation->after.count());
      json.Key("max_level").Unsigned(alert.escalation->max_level);
      json.EndObject();
    }
    optional_time("next_escalation", alert.next_escalation_at);
    optional_time("last_published", alert.last_published_at);
    json.Key("event_ids").BeginArray();
    for (const std::string& id : alert.event_ids)
      json.String(id);
    json.EndArray();
  }
}

// Reading stored records (an alert, a rule state) as this and older versions wrote them. The first
// problem found is kept with the field's place in the record and what is wrong with it, never the value:
// stored state holds health data, and the reason is logged. After a problem every read gives an empty
// value, so a record is read in a straight line and checked once, at the end; nothing throws.
class Problem {
 public:
  explicit Problem(std::string_view record) : record_(record) {}

  void Note(std::string_view name, std::string_view what) {
    if (!message_) message_ = std::string(record_) + ": " + std::string(name) + " " + std::string(what);
  }

  template <typename T>
  Result<T> Or(T value) const {
    if (message_) return Fail(Errc::kParse, *message_);
    return value;
  }

 private:
  std::string_view record_;
  std::optional<std::string> message_;
};

std::string AsString(Problem& problem, const JsonValue& value, std::string_view name) {
  if (value.type == JsonValue::Type::kString) return value.text;
  problem.Note(name, "is not a string");
  return {};
}

double AsNumber(Problem& problem, const JsonValue& value, std::string_view name) {
  if (value.type == JsonValue::Type::kNumber) return value.number;
  problem.Note(name, "is not a number");
  return 0;
}

// Exactly as written (a time in milliseconds is beyond what a double holds exactly); a fraction, an
// exponent or a value outside the field's type is refused rather than rounded or cut.
template <typename Int>
Int AsInteger(Problem& problem, const JsonValue& value, std::string_view name) {
  if (value.type != JsonValue::Type::kNumber) {
    problem.Note(name, "is not a number");
    return 0;
  }
  if (!value.integral) {
    problem.Note(name, "is not a whole number");
    return 0;
  }
  Int result = 0;
  const char* const end = value.text.data() + value.text.size();
  const auto [stop, error] = std::from_chars(value.text.data(), end, result);
  if (error != std::errc() || stop != end) {
    problem.Note(name, "is out of range");
    return 0;
  }
  return result;
}

bool AsBool(Problem& problem, const JsonValue& value, std::string_view name) {
  if (value.type == JsonValue::Type::kBool) return value.boolean;
  problem.Note(name, "is not true or false");
  return false;
}

// One JSON object of a stored record, read field by field. A required field that is absent is a problem;
// an optional one gives its empty value. Unknown fields are left alone (a newer version may add some).
class Fields {
 public:
  Fields(Problem& problem, const JsonValue& object, std::string path)
      : problem_(problem), object_(object), path_(std::move(path)) {
    if (object_.type != JsonValue::Type::kObject) problem_.Note(path_, "is not an object");
  }

  Problem& problem() { return problem_; }

  std::string Name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  std::string String(std::string_view key) {
    const JsonValue* value = Required(key);
    return value ? AsString(problem_, *value, Name(key)) : std::string();
  }
  std::string OptionalString(std::string_view key) {
    const JsonValue* value = object_.Find(key);
    return value ? AsString(problem_, *value, Name(key)) : std::string();
  }

  double Number(std::string_view key) {
    const JsonValue* value = Required(key);
    return value ? AsNumber(problem_, *value, Name(key)) : 0;
  }
  std::optional<double> OptionalNumber(std::string_view key) {
    const JsonValue* value = object_.Find(key);
    if (!value) return std::nullopt;
    return AsNumber(problem_, *value, Name(key));
  }

  template <typename Int>
  Int Integer(std::string_view key) {
    const JsonValue* value = Required(key);
    return value ? AsInteger<Int>(problem_, *value, Name(key)) : 0;
  }
  template <typename Int>
  Int OptionalInteger(std::string_view key, Int absent) {
    const JsonValue* value = object_.Find(key);
    return value ? AsInteger<Int>(problem_, *value, Name(key)) : absent;
  }

  core::WallTime Ms(std::string_view key) { return FromMs(Integer<std::int64_t>(key)); }
  std::optional<core::WallTime> OptionalMs(std::string_view key) {
    const JsonValue* value = object_.Find(key);
    if (!value) return std::nullopt;
    return FromMs(AsInteger<std::int64_t>(problem_, *value, Name(key)));
  }

  bool OptionalBool(std::string_view key) {
    const JsonValue* value = object_.Find(key);
    return value ? AsBool(problem_, *value, Name(key)) : false;
  }
  bool Bool(std::string_view key) {
    const JsonValue* value = Required(key);
    return value ? AsBool(problem_, *value, Name(key)) : false;
  }

  // An optional object, read by a Fields of its own.
  std::optional<Fields> OptionalObject(std::string_view key) {
    const JsonValue* value = object_.Find(key);
    if (!value) return std::nullopt;
    return Fields(problem_, *value, Name(key));
  }

  // The items of an optional array (none when it is absent), each with its name for errors.
  std::vector<std::pair<const JsonValue*, std::string>> OptionalArray(std::string_view key) {
    std::vector<std::pair<const JsonValue*, std::string>> items;
    const JsonValue* value = object_.Find(key);
    if (!value) return items;
    if (value->type != JsonValue::Type::kArray) {
      problem_.Note(Name(key), "is not an array");
      return items;
    }
    for (std::size_t i = 0; i < value->items.size(); ++i)
      items.emplace_back(&value->items[i], Name(key) + "[" + std::to_string(i) + "]");
    return items;
  }

 private:
  const JsonValue* Required(std::string_view key) {
    const JsonValue* value = object_.Find(key);
    if (!value) problem_.Note(Name(key), "is missing");
    return value;
  }

  Problem& problem_;
  const JsonValue& object_;
  std::string path_;
};

// The stored text as a JSON object. A syntax error is reported by its place alone: the parser's message
// may quote a number of the record.
Result<JsonValue> ParseRecord(std::string_view json, std::string_view record) {
  auto parsed = core::ParseJson(json);
  if (!parsed) {
    return Fail(Errc::kParse, std::string(record) + " is not valid JSON (line " +
                                  std::to_string(parsed.error().position.line) + ", column " +
                                  std::to_string(parsed.error().position.column) + ")");
  }
  if (parsed->type != JsonValue::Type::kObject)
    return Fail(Errc::kParse, std::string(record) + " is not an object");
  return std::move(*parsed);
}

std::vector<alerts::Evidence> EvidenceFrom(Fields& fields, std::string_view key) {
  std::vector<alerts::Evidence> evidence;
  for (const auto& [item, name] : fields.OptionalArray(key)) {
    Fields entry(fields.problem(), *item, name);
    // Braces: the fields are read left to right, so the problem reported does not depend on the compiler.
    evidence.push_back(alerts::Evidence{entry.String("device"), entry.String("metric"), entry.Number("value"),
                                        entry.String("unit"), entry.Ms("time_ms")});
  }
  return evidence;
}

alerts::News2Score News2From(Fields& fields) {
  alerts::News2Score score;
  score.total = fields.Integer<int>("total");
  if (const auto risk = alerts::ParseNews2Risk(fields.String("risk"))) {
    score.risk = *risk;
  } else {
    fields.problem().Note(fields.Name("risk"), "is unknown");
  }
  score.scale =
      fields.Integer<int>("spo2_scale") == 2 ? alerts::SpO2Scale::kScale2 : alerts::SpO2Scale::kScale1;
  score.partial = fields.Bool("partial");
  for (const auto& [item, name] : fields.OptionalArray("components")) {
    Fields entry(fields.problem(), *item, name);
    const auto parameter = alerts::ParseNews2Parameter(entry.String("parameter"));
    if (!parameter) entry.problem().Note(entry.Name("parameter"), "is unknown");
    const double value = entry.Number("value");
    const int component_score = entry.Integer<int>("score");
    score.components.push_back({parameter.value_or(alerts::News2Parameter::kSpO2), value, component_score});
  }
  return score;
}

}  // namespace

std::string ObservationBody(const EventContext& context, const core::EventId& id,
                            const core::Reading& reading) {
  // Written directly, not through Poco::JSON: one body per reading, and building and stringifying a
  // Poco object was 38 % of the instructions of ingest (tests/bench/ingest_bench, docs/benchmarks.md).
  using core::JsonQuote;
  std::string body;
  body.reserve(448);
  body += R"({"schema":"ehealth-gateway/observation/v0","event_id":)";
  body += JsonQuote(id.ToString());
  body += R"(,"gateway":)" + JsonQuote(context.gateway_id);
  body += R"(,"subject":)" + JsonQuote(context.resident_pseudonym);
  body += R"(,"device":)" + JsonQuote(reading.device_id);
  body += R"(,"metric":)" + JsonQuote(reading.metric);
  body += R"(,"value":)" + core::JsonNumber(reading.value);
  body += R"(,"unit":)" + JsonQuote(reading.unit);
  body += R"(,"effective":")" + core::FormatIso8601(reading.EffectiveTime());
  body += R"(","received":")" + core::FormatIso8601(reading.received_at);
  body += R"(","time_uncertain":)";
  body += reading.time_uncertain ? "true" : "false";
  if (reading.device_clock_suspect && reading.device_time) {
    body += R"(,"device_time":")" + core::FormatIso8601(*reading.device_time);
    body += R"(","device_clock_suspect":true)";
  }
  body += R"(,"flags":[)";
  const char* separator = "";
  for (const std::string& name : reading.flags.Names()) {
    body += separator + JsonQuote(name);
    separator = ",";
  }
  body += "]";
  if (reading.sequence) body += R"(,"sequence":)" + std::to_string(*reading.sequence);
  body += "}";
  return body;
}

std::string AlertBody(const EventContext& context, const core::EventId& id, alerts::ChangeKind change,
                      const alerts::Alert& alert) {
  JsonWriter json;
  Envelope(json, context, id, "ehealth-gateway/alert/v0");
  json.Key("change").String(alerts::ToString(change));
  AlertFields(json, alert, TimeStyle::kIso, &context);
  return std::move(json.EndObject()).Take();
}

std::string AlertTimelineEntry(core::WallTime time, alerts::ChangeKind change, const alerts::Alert& alert) {
  JsonWriter json;
  json.BeginObject();
  json.Key("time").String(core::FormatIso8601(time));
  json.Key("change").String(alerts::ToString(change));
  AlertFields(json, alert, TimeStyle::kIso);
  return std::move(json.EndObject()).Take();
}

std::string GatewayEventBody(const EventContext& context, const core::EventId& id, core::WallTime time,
                             std::string_view code, std::string_view severity, std::string_view detail) {
  JsonWriter json;
  Envelope(json, context, id, "ehealth-gateway/gateway-event/v0");
  json.Key("time").String(core::FormatIso8601(time));
  json.Key("code").String(code);
  json.Key("severity").String(severity);
  json.Key("detail").String(detail);
  return std::move(json.EndObject()).Take();
}

namespace {

void RuleSummary(JsonWriter& json, const alerts::RuleCommon& common, std::string_view kind) {
  json.BeginObject();
  json.Key("id").String(common.id);
  json.Key("kind").String(kind);
  json.Key("severity").String(alerts::ToString(common.severity));
}

void OptionalNumber(JsonWriter& json, std::string_view name, const std::optional<double>& value) {
  if (value) json.Key(name).Number(*value);
}

void RulesArray(JsonWriter& json, const alerts::RuleSet& rules) {
  json.BeginArray();
  for (const alerts::ThresholdRule& threshold : rules.thresholds) {
    RuleSummary(json, threshold.common, "threshold");
    json.Key("metric").String(threshold.metric);
    OptionalNumber(json, "above", threshold.above);
    OptionalNumber(json, "below", threshold.below);
    json.Key("for_seconds").Integer(threshold.persistence.for_duration.count());
    json.EndObject();
  }
  for (const alerts::TrendRule& trend : rules.trends) {
    RuleSummary(json, trend.common, "trend");
    json.Key("metric").String(trend.metric);
    OptionalNumber(json, "rise", trend.rise);
    OptionalNumber(json, "fall", trend.fall);
    json.Key("window_seconds").Integer(trend.window.count());
    json.EndObject();
  }
  for (const alerts::BaselineRule& baseline : rules.baselines) {
    RuleSummary(json, baseline.common, "baseline");
    json.Key("metric").String(baseline.metric);
    OptionalNumber(json, "above_by", baseline.above_by);
    OptionalNumber(json, "below_by", baseline.below_by);
    json.Key("window_seconds").Integer(baseline.baseline_window.count());
    json.EndObject();
  }
  for (const alerts::MissedRule& missed : rules.missed) {
    RuleSummary(json, missed.common, "missed");
    json.Key("metric").String(missed.metric);
    if (missed.daily_by) {
      json.Key("daily_from").String(missed.daily_from.ToString());
      json.Key("daily_by").String(missed.daily_by->ToString());
    }
    if (missed.within) json.Key("within_seconds").Integer(missed.within->count());
    json.EndObject();
  }
  for (const alerts::InactivityRule& inactivity : rules.inactivity) {
    RuleSummary(json, inactivity.common, "inactivity");
    json.Key("metrics").BeginArray();
    for (const std::string& metric : inactivity.metrics)
      json.String(metric);
    json.EndArray();
    json.Key("quiet_seconds").Integer(inactivity.quiet_for.count());
    json.EndObject();
  }
  for (const alerts::EventRule& event : rules.events) {
    RuleSummary(json, event.common, "event");
    json.Key("metric").String(event.metric);
    json.EndObject();
  }
  for (const alerts::News2Rule& news2 : rules.news2) {
    RuleSummary(json, news2.common, "news2");
    json.Key("metric").String("news2");
    json.Key("min_risk").String(alerts::ToString(news2.min_risk));
    json.Key("spo2_scale").Integer(static_cast<int>(news2.spo2_scale));
    json.EndObject();
  }
  for (const alerts::DeviceRule& device : rules.devices) {
    RuleSummary(json, device.common, alerts::ToString(device.condition));
    if (device.condition == alerts::DeviceCondition::kBatteryLow)
      json.Key("battery_below").Number(device.battery_below);
    json.EndObject();
  }
  for (const alerts::GatewayRule& gateway : rules.gateway) {
    RuleSummary(json, gateway.common, alerts::ToString(gateway.condition));
    json.EndObject();
  }
  json.EndArray();
}

}  // namespace

std::string RulesSummary(const alerts::RuleSet& rules) {
  JsonWriter json;
  RulesArray(json, rules);
  return std::move(json).Take();
}

std::string RulesInForceBody(const EventContext& context, const core::EventId& id, core::WallTime time,
                             const alerts::RuleSet& rules) {
  JsonWriter json;
  Envelope(json, context, id, "ehealth-gateway/gateway-event/v0");
  json.Key("time").String(core::FormatIso8601(time));
  json.Key("code").String("rules.in_force");
  json.Key("severity").String("info");
  json.Key("detail").String(std::to_string(rules.size()) + " rules");
  RulesArray(json.Key("rules"), rules);
  return std::move(json.EndObject()).Take();
}

std::string DeviceEventBody(const EventContext& context, const core::EventId& id,
                            const core::DeviceStatusChange& change) {
  JsonWriter json;
  Envelope(json, context, id, "ehealth-gateway/device-event/v0");
  json.Key("device").String(change.device_id);
  json.Key("time").String(core::FormatIso8601(change.at));
  json.Key("state").String(change.connected ? "connected" : "disconnected");
  json.Key("detail").String(change.detail);
  return std::move(json.EndObject()).Take();
}

std::string AlertToJson(const alerts::Alert& alert) {
  JsonWriter json;
  json.BeginObject();
  AlertFields(json, alert, TimeStyle::kMilliseconds);
  return std::move(json.EndObject()).Take();
}

Result<alerts::Alert> AlertFromJson(const std::string& json) {
  constexpr std::string_view kRecord = "stored alert";
  const auto parsed = ParseRecord(json, kRecord);
  if (!parsed) return tl::unexpected(parsed.error());
  Problem problem(kRecord);
  Fields fields(problem, *parsed, "");
  alerts::Alert alert;
  alert.alert_id = fields.String("alert_id");
  alert.rule_id = fields.String("rule_id");
  alert.device_id = fields.OptionalString("device");
  alert.metric = fields.String("metric");
  if (const auto severity = alerts::ParseSeverity(fields.String("severity"))) {
    alert.severity = *severity;
  } else {
    problem.Note("severity", "is unknown");
  }
  if (const auto state = alerts::ParseAlertState(fields.String("state"))) {
    alert.state = *state;
  } else {
    problem.Note("state", "is unknown");
  }
  alert.raised_at = fields.Ms("raised_ms");
  alert.updated_at = fields.Ms("updated_ms");
  alert.occurrences = fields.Integer<std::uint32_t>("occurrences");
  alert.suppressed_repeats = fields.OptionalInteger<std::uint32_t>("suppressed_repeats", 0);
  alert.worst_value = fields.Number("worst_value");
  alert.evidence = EvidenceFrom(fields, "evidence");
  alert.reference_value = fields.OptionalNumber("reference_value");
  if (auto news2 = fields.OptionalObject("news2")) alert.news2 = News2From(*news2);
  if (auto escalation = fields.OptionalObject("escalation")) {
    const std::int64_t after_seconds = escalation->Integer<std::int64_t>("after_seconds");
    alert.escalation = alerts::Escalation{std::chrono::seconds{after_seconds},
                                          escalation->Integer<std::uint32_t>("max_level")};
  }
  alert.escalation_level = fields.OptionalInteger<std::uint32_t>("escalation_level", 0);
  alert.next_escalation_at = fields.OptionalMs("next_escalation_ms");
  alert.last_published_at = fields.OptionalMs("last_published_ms");
  alert.delivered_at = fields.OptionalMs("delivered_ms");
  alert.acknowledged_at = fields.OptionalMs("acknowledged_ms");
  alert.acknowledged_by = fields.OptionalString("acknowledged_by");
  alert.resolved_at = fields.OptionalMs("resolved_ms");
  alert.resolved_by = fields.OptionalString("resolved_by");
  alert.resolution_note = fields.OptionalString("resolution_note");
  for (const auto& [item, name] : fields.OptionalArray("event_ids"))
    alert.event_ids.push_back(AsString(problem, *item, name));
  return problem.Or(std::move(alert));
}

std::string RuleStateToJson(const alerts::RuleState& state) {
  JsonWriter json;
  json.BeginObject();
  OptionalMs(json, "pending_since_ms", state.pending_since);
  OptionalMs(json, "last_breach_ms", state.last_breach);
  if (!state.pending_evidence.empty())
    EvidenceArray(json.Key("pending_evidence"), state.pending_evidence, TimeStyle::kMilliseconds, nullptr);
  OptionalMs(json, "clear_since_ms", state.clear_since);
  if (state.rearm_required) json.Key("rearm_required").Bool(true);
  OptionalMs(json, "last_deadline_ms", state.last_deadline);
  OptionalMs(json, "watch_since_ms", state.watch_since);
  OptionalMs(json, "last_event_ms", state.last_event);
  if (!state.alerted.empty()) {
    json.Key("alerted_ms").BeginArray();
    for (const alerts::AlertedSpan& span : state.alerted)
      json.BeginArray().Integer(Milliseconds(span.first)).Integer(Milliseconds(span.last)).EndArray();
    json.EndArray();
  }
  return std::move(json.EndObject()).Take();
}

Result<alerts::RuleState> RuleStateFromJson(const std::string& json) {
  constexpr std::string_view kRecord = "stored rule state";
  const auto parsed = ParseRecord(json, kRecord);
  if (!parsed) return tl::unexpected(parsed.error());
  Problem problem(kRecord);
  Fields fields(problem, *parsed, "");
  alerts::RuleState state;
  state.pending_since = fields.OptionalMs("pending_since_ms");
  state.last_breach = fields.OptionalMs("last_breach_ms");
  state.pending_evidence = EvidenceFrom(fields, "pending_evidence");
  state.clear_since = fields.OptionalMs("clear_since_ms");
  state.rearm_required = fields.OptionalBool("rearm_required");
  state.last_deadline = fields.OptionalMs("last_deadline_ms");
  state.watch_since = fields.OptionalMs("watch_since_ms");
  state.last_event = fields.OptionalMs("last_event_ms");
  for (const auto& [item, name] : fields.OptionalArray("alerted_ms")) {
    if (item->type != JsonValue::Type::kArray || item->items.size() != 2) {
      problem.Note(name, "is not a pair of times");
      continue;
    }
    const std::int64_t first = AsInteger<std::int64_t>(problem, item->items[0], name + "[0]");
    const std::int64_t last = AsInteger<std::int64_t>(problem, item->items[1], name + "[1]");
    state.alerted.push_back({FromMs(first), FromMs(last)});
  }
  return problem.Or(std::move(state));
}

}  // namespace ehg::pipeline
