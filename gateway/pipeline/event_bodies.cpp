#include "gateway/pipeline/event_bodies.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

#include "gateway/core/json.hpp"
#include "gateway/core/observation_identity.hpp"

namespace ehg::pipeline {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string Stringify(const Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

Object Envelope(const EventContext& context, const core::EventId& id, std::string_view schema) {
  Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  object.set("schema", std::string(schema));
  object.set("event_id", id.ToString());
  object.set("gateway", context.gateway_id);
  object.set("subject", context.resident_pseudonym);
  return object;
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
void SetTime(Object& object, const std::string& name, core::WallTime time, TimeStyle style,
             bool iso_suffix = true) {
  if (style == TimeStyle::kIso) {
    object.set(iso_suffix ? name + "_at" : name, core::FormatIso8601(time));
  } else {
    object.set(name + "_ms", Milliseconds(time));
  }
}

void SetOptionalMs(Object& object, const std::string& name, const std::optional<core::WallTime>& time) {
  if (time) object.set(name, Milliseconds(*time));
}

std::optional<core::WallTime> OptionalMs(const Object& object, const std::string& name) {
  if (!object.has(name)) return std::nullopt;
  return FromMs(object.getValue<std::int64_t>(name));
}

Array::Ptr EvidenceArray(const std::vector<alerts::Evidence>& evidence, TimeStyle style) {
  Array::Ptr array = new Array;
  for (const alerts::Evidence& item : evidence) {
    Object::Ptr entry = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    entry->set("device", item.device_id);
    entry->set("metric", item.metric);
    entry->set("value", item.value);
    entry->set("unit", item.unit);
    SetTime(*entry, "time", item.time, style, false);
    array->add(entry);
  }
  return array;
}

Result<std::vector<alerts::Evidence>> EvidenceFromJson(const Array::Ptr& array) {
  std::vector<alerts::Evidence> evidence;
  for (std::size_t i = 0; array && i < array->size(); ++i) {
    const Object::Ptr entry = array->getObject(static_cast<unsigned>(i));
    if (!entry) return Fail(Errc::kParse, "stored alert state has malformed evidence");
    evidence.push_back(
        alerts::Evidence{entry->getValue<std::string>("device"), entry->getValue<std::string>("metric"),
                         entry->getValue<double>("value"), entry->getValue<std::string>("unit"),
                         FromMs(entry->getValue<std::int64_t>("time_ms"))});
  }
  return evidence;
}

Object::Ptr News2Json(const alerts::News2Score& score) {
  Object::Ptr object = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  object->set("total", score.total);
  object->set("risk", std::string(alerts::ToString(score.risk)));
  object->set("spo2_scale", static_cast<int>(score.scale));
  object->set("partial", score.partial);
  Array::Ptr components = new Array;
  for (const alerts::News2SubScore& component : score.components) {
    Object::Ptr entry = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    entry->set("parameter", std::string(alerts::ToString(component.parameter)));
    entry->set("value", component.value);
    entry->set("score", component.score);
    components->add(entry);
  }
  object->set("components", components);
  return object;
}

Result<alerts::News2Score> News2FromJson(const Object& object) {
  alerts::News2Score score;
  score.total = object.getValue<int>("total");
  const auto risk = alerts::ParseNews2Risk(object.getValue<std::string>("risk"));
  if (!risk) return Fail(Errc::kParse, "stored NEWS2 score has an unknown risk");
  score.risk = *risk;
  score.scale =
      object.getValue<int>("spo2_scale") == 2 ? alerts::SpO2Scale::kScale2 : alerts::SpO2Scale::kScale1;
  score.partial = object.getValue<bool>("partial");
  const Array::Ptr components = object.getArray("components");
  for (std::size_t i = 0; components && i < components->size(); ++i) {
    const Object::Ptr entry = components->getObject(static_cast<unsigned>(i));
    if (!entry) return Fail(Errc::kParse, "stored NEWS2 score has a malformed component");
    const auto parameter = alerts::ParseNews2Parameter(entry->getValue<std::string>("parameter"));
    if (!parameter) return Fail(Errc::kParse, "stored NEWS2 score has an unknown parameter");
    score.components.push_back({*parameter, entry->getValue<double>("value"), entry->getValue<int>("score")});
  }
  return score;
}

// The alert's fields, shared by the event body, the replay timeline and the stored form.
void AlertFields(Object& object, const alerts::Alert& alert, TimeStyle style) {
  object.set("alert_id", alert.alert_id);
  object.set("rule_id", alert.rule_id);
  if (!alert.device_id.empty()) object.set("device", alert.device_id);
  object.set("metric", alert.metric);
  object.set("severity", std::string(alerts::ToString(alert.severity)));
  object.set("state", std::string(alerts::ToString(alert.state)));
  SetTime(object, "raised", alert.raised_at, style);
  SetTime(object, "updated", alert.updated_at, style);
  object.set("occurrences", static_cast<std::uint64_t>(alert.occurrences));
  object.set("suppressed_repeats", static_cast<std::uint64_t>(alert.suppressed_repeats));
  object.set("worst_value", alert.worst_value);
  if (alert.reference_value) object.set("reference_value", *alert.reference_value);
  if (alert.news2) object.set("news2", News2Json(*alert.news2));
  object.set("escalation_level", static_cast<std::uint64_t>(alert.escalation_level));
  const auto optional_time = [&](const std::string& name, const std::optional<core::WallTime>& time) {
    if (time) SetTime(object, name, *time, style);
  };
  optional_time("delivered", alert.delivered_at);
  optional_time("acknowledged", alert.acknowledged_at);
  if (!alert.acknowledged_by.empty()) object.set("acknowledged_by", alert.acknowledged_by);
  optional_time("resolved", alert.resolved_at);
  if (!alert.resolved_by.empty()) object.set("resolved_by", alert.resolved_by);
  if (!alert.resolution_note.empty()) object.set("resolution_note", alert.resolution_note);
  object.set("evidence", EvidenceArray(alert.evidence, style));
  if (style == TimeStyle::kMilliseconds) {
    if (alert.escalation) {
      Object::Ptr escalation = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      escalation->set("after_seconds", static_cast<std::int64_t>(alert.escalation->after.count()));
      escalation->set("max_level", static_cast<std::uint64_t>(alert.escalation->max_level));
      object.set("escalation", escalation);
    }
    optional_time("next_escalation", alert.next_escalation_at);
    optional_time("last_published", alert.last_published_at);
    Array::Ptr ids = new Array;
    for (const std::string& id : alert.event_ids)
      ids->add(id);
    object.set("event_ids", ids);
  }
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
  Object object = Envelope(context, id, "ehealth-gateway/alert/v0");
  object.set("change", std::string(alerts::ToString(change)));
  AlertFields(object, alert, TimeStyle::kIso);
  // Each piece of evidence names the FHIR Observation it was sent as (by its business identifier).
  const Array::Ptr evidence = object.getArray("evidence");
  for (std::size_t i = 0; evidence && i < alert.evidence.size(); ++i) {
    const alerts::Evidence& item = alert.evidence[i];
    Object::Ptr identifier = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    identifier->set("system", std::string(core::kObservationIdentifierSystem));
    identifier->set("value", core::ObservationIdentifier(context.gateway_id, item.device_id,
                                                         context.resident_pseudonym, item.metric, item.time));
    Object::Ptr reference = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    reference->set("type", "Observation");
    reference->set("identifier", identifier);
    evidence->getObject(static_cast<unsigned>(i))->set("observation", reference);
  }
  return Stringify(object);
}

std::string AlertTimelineEntry(core::WallTime time, alerts::ChangeKind change, const alerts::Alert& alert) {
  Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  object.set("time", core::FormatIso8601(time));
  object.set("change", std::string(alerts::ToString(change)));
  AlertFields(object, alert, TimeStyle::kIso);
  return Stringify(object);
}

std::string GatewayEventBody(const EventContext& context, const core::EventId& id, core::WallTime time,
                             std::string_view code, std::string_view severity, std::string_view detail) {
  Object object = Envelope(context, id, "ehealth-gateway/gateway-event/v0");
  object.set("time", core::FormatIso8601(time));
  object.set("code", std::string(code));
  object.set("severity", std::string(severity));
  object.set("detail", std::string(detail));
  return Stringify(object);
}

namespace {

Object RuleSummary(const alerts::RuleCommon& common, std::string_view kind) {
  Object rule(Poco::JSON_PRESERVE_KEY_ORDER);
  rule.set("id", common.id);
  rule.set("kind", std::string(kind));
  rule.set("severity", std::string(alerts::ToString(common.severity)));
  return rule;
}

void SetOptional(Object& object, const std::string& name, const std::optional<double>& value) {
  if (value) object.set(name, *value);
}

Array RulesArray(const alerts::RuleSet& rules) {
  Array list;
  for (const alerts::ThresholdRule& threshold : rules.thresholds) {
    Object rule = RuleSummary(threshold.common, "threshold");
    rule.set("metric", threshold.metric);
    SetOptional(rule, "above", threshold.above);
    SetOptional(rule, "below", threshold.below);
    rule.set("for_seconds", static_cast<std::int64_t>(threshold.persistence.for_duration.count()));
    list.add(rule);
  }
  for (const alerts::TrendRule& trend : rules.trends) {
    Object rule = RuleSummary(trend.common, "trend");
    rule.set("metric", trend.metric);
    SetOptional(rule, "rise", trend.rise);
    SetOptional(rule, "fall", trend.fall);
    rule.set("window_seconds", static_cast<std::int64_t>(trend.window.count()));
    list.add(rule);
  }
  for (const alerts::BaselineRule& baseline : rules.baselines) {
    Object rule = RuleSummary(baseline.common, "baseline");
    rule.set("metric", baseline.metric);
    SetOptional(rule, "above_by", baseline.above_by);
    SetOptional(rule, "below_by", baseline.below_by);
    rule.set("window_seconds", static_cast<std::int64_t>(baseline.baseline_window.count()));
    list.add(rule);
  }
  for (const alerts::MissedRule& missed : rules.missed) {
    Object rule = RuleSummary(missed.common, "missed");
    rule.set("metric", missed.metric);
    if (missed.daily_by) {
      rule.set("daily_from", missed.daily_from.ToString());
      rule.set("daily_by", missed.daily_by->ToString());
    }
    if (missed.within) rule.set("within_seconds", static_cast<std::int64_t>(missed.within->count()));
    list.add(rule);
  }
  for (const alerts::InactivityRule& inactivity : rules.inactivity) {
    Object rule = RuleSummary(inactivity.common, "inactivity");
    Array metrics;
    for (const std::string& metric : inactivity.metrics)
      metrics.add(metric);
    rule.set("metrics", metrics);
    rule.set("quiet_seconds", static_cast<std::int64_t>(inactivity.quiet_for.count()));
    list.add(rule);
  }
  for (const alerts::EventRule& event : rules.events) {
    Object rule = RuleSummary(event.common, "event");
    rule.set("metric", event.metric);
    list.add(rule);
  }
  for (const alerts::News2Rule& news2 : rules.news2) {
    Object rule = RuleSummary(news2.common, "news2");
    rule.set("metric", std::string("news2"));
    rule.set("min_risk", std::string(alerts::ToString(news2.min_risk)));
    rule.set("spo2_scale", static_cast<int>(news2.spo2_scale));
    list.add(rule);
  }
  for (const alerts::DeviceRule& device : rules.devices) {
    Object rule = RuleSummary(device.common, alerts::ToString(device.condition));
    if (device.condition == alerts::DeviceCondition::kBatteryLow)
      rule.set("battery_below", device.battery_below);
    list.add(rule);
  }
  for (const alerts::GatewayRule& gateway : rules.gateway) {
    Object rule = RuleSummary(gateway.common, alerts::ToString(gateway.condition));
    list.add(rule);
  }
  return list;
}

}  // namespace

std::string RulesSummary(const alerts::RuleSet& rules) {
  std::ostringstream out;
  RulesArray(rules).stringify(out);
  return out.str();
}

std::string RulesInForceBody(const EventContext& context, const core::EventId& id, core::WallTime time,
                             const alerts::RuleSet& rules) {
  Object object = Envelope(context, id, "ehealth-gateway/gateway-event/v0");
  object.set("time", core::FormatIso8601(time));
  object.set("code", std::string("rules.in_force"));
  object.set("severity", std::string("info"));
  object.set("detail", std::to_string(rules.size()) + " rules");
  object.set("rules", RulesArray(rules));
  return Stringify(object);
}

std::string DeviceEventBody(const EventContext& context, const core::EventId& id,
                            const core::DeviceStatusChange& change) {
  Object object = Envelope(context, id, "ehealth-gateway/device-event/v0");
  object.set("device", change.device_id);
  object.set("time", core::FormatIso8601(change.at));
  object.set("state", std::string(change.connected ? "connected" : "disconnected"));
  object.set("detail", change.detail);
  return Stringify(object);
}

std::string AlertToJson(const alerts::Alert& alert) {
  Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  AlertFields(object, alert, TimeStyle::kMilliseconds);
  return Stringify(object);
}

Result<alerts::Alert> AlertFromJson(const std::string& json) {
  try {
    Poco::JSON::Parser parser;
    const Object::Ptr object = parser.parse(json).extract<Object::Ptr>();
    alerts::Alert alert;
    alert.alert_id = object->getValue<std::string>("alert_id");
    alert.rule_id = object->getValue<std::string>("rule_id");
    alert.device_id = object->optValue<std::string>("device", "");
    alert.metric = object->getValue<std::string>("metric");
    const auto severity = alerts::ParseSeverity(object->getValue<std::string>("severity"));
    const auto state = alerts::ParseAlertState(object->getValue<std::string>("state"));
    if (!severity || !state) return Fail(Errc::kParse, "stored alert has an unknown severity or state");
    alert.severity = *severity;
    alert.state = *state;
    alert.raised_at = FromMs(object->getValue<std::int64_t>("raised_ms"));
    alert.updated_at = FromMs(object->getValue<std::int64_t>("updated_ms"));
    alert.occurrences = object->getValue<std::uint32_t>("occurrences");
    alert.suppressed_repeats = object->optValue<std::uint32_t>("suppressed_repeats", 0);
    alert.worst_value = object->getValue<double>("worst_value");
    auto evidence = EvidenceFromJson(object->getArray("evidence"));
    if (!evidence) return tl::unexpected(evidence.error());
    alert.evidence = std::move(*evidence);
    if (object->has("reference_value")) alert.reference_value = object->getValue<double>("reference_value");
    if (const Object::Ptr news2 = object->getObject("news2")) {
      auto score = News2FromJson(*news2);
      if (!score) return tl::unexpected(score.error());
      alert.news2 = std::move(*score);
    }
    if (const Object::Ptr escalation = object->getObject("escalation")) {
      alert.escalation =
          alerts::Escalation{std::chrono::seconds{escalation->getValue<std::int64_t>("after_seconds")},
                             escalation->getValue<std::uint32_t>("max_level")};
    }
    alert.escalation_level = object->optValue<std::uint32_t>("escalation_level", 0);
    alert.next_escalation_at = OptionalMs(*object, "next_escalation_ms");
    alert.last_published_at = OptionalMs(*object, "last_published_ms");
    alert.delivered_at = OptionalMs(*object, "delivered_ms");
    alert.acknowledged_at = OptionalMs(*object, "acknowledged_ms");
    alert.acknowledged_by = object->optValue<std::string>("acknowledged_by", "");
    alert.resolved_at = OptionalMs(*object, "resolved_ms");
    alert.resolved_by = object->optValue<std::string>("resolved_by", "");
    alert.resolution_note = object->optValue<std::string>("resolution_note", "");
    if (const Array::Ptr ids = object->getArray("event_ids")) {
      for (std::size_t i = 0; i < ids->size(); ++i)
        alert.event_ids.push_back(ids->getElement<std::string>(static_cast<unsigned>(i)));
    }
    return alert;
  } catch (const Poco::Exception& exception) {
    return Fail(Errc::kParse, "stored alert is not readable: " + exception.displayText());
  }
}

std::string RuleStateToJson(const alerts::RuleState& state) {
  Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  SetOptionalMs(object, "pending_since_ms", state.pending_since);
  SetOptionalMs(object, "last_breach_ms", state.last_breach);
  if (!state.pending_evidence.empty())
    object.set("pending_evidence", EvidenceArray(state.pending_evidence, TimeStyle::kMilliseconds));
  SetOptionalMs(object, "clear_since_ms", state.clear_since);
  if (state.rearm_required) object.set("rearm_required", true);
  SetOptionalMs(object, "last_deadline_ms", state.last_deadline);
  SetOptionalMs(object, "watch_since_ms", state.watch_since);
  SetOptionalMs(object, "last_event_ms", state.last_event);
  if (!state.alerted.empty()) {
    Array::Ptr spans = new Array;
    for (const alerts::AlertedSpan& span : state.alerted) {
      Array::Ptr pair = new Array;
      pair->add(Milliseconds(span.first));
      pair->add(Milliseconds(span.last));
      spans->add(pair);
    }
    object.set("alerted_ms", spans);
  }
  return Stringify(object);
}

Result<alerts::RuleState> RuleStateFromJson(const std::string& json) {
  try {
    Poco::JSON::Parser parser;
    const Object::Ptr object = parser.parse(json).extract<Object::Ptr>();
    alerts::RuleState state;
    state.pending_since = OptionalMs(*object, "pending_since_ms");
    state.last_breach = OptionalMs(*object, "last_breach_ms");
    auto evidence = EvidenceFromJson(object->getArray("pending_evidence"));
    if (!evidence) return tl::unexpected(evidence.error());
    state.pending_evidence = std::move(*evidence);
    state.clear_since = OptionalMs(*object, "clear_since_ms");
    state.rearm_required = object->optValue<bool>("rearm_required", false);
    state.last_deadline = OptionalMs(*object, "last_deadline_ms");
    state.watch_since = OptionalMs(*object, "watch_since_ms");
    state.last_event = OptionalMs(*object, "last_event_ms");
    if (const Array::Ptr spans = object->getArray("alerted_ms")) {
      for (std::size_t i = 0; i < spans->size(); ++i) {
        const Array::Ptr pair = spans->getArray(static_cast<unsigned>(i));
        if (!pair || pair->size() != 2)
          return Fail(Errc::kParse, "rule state: alerted_ms holds a pair of times");
        state.alerted.push_back(
            {FromMs(pair->getElement<std::int64_t>(0)), FromMs(pair->getElement<std::int64_t>(1))});
      }
    }
    return state;
  } catch (const Poco::Exception& exception) {
    return Fail(Errc::kParse, "stored rule state is not readable: " + exception.displayText());
  }
}

}  // namespace ehg::pipeline
