#include "gateway/pipeline/event_bodies.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

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

Array::Ptr EvidenceArray(const std::vector<alerts::Evidence>& evidence) {
  Array::Ptr array = new Array;
  for (const alerts::Evidence& item : evidence) {
    Object::Ptr entry = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    entry->set("device", item.device_id);
    entry->set("metric", item.metric);
    entry->set("value", item.value);
    entry->set("unit", item.unit);
    entry->set("time", core::FormatIso8601(item.time));
    array->add(entry);
  }
  return array;
}

std::int64_t Milliseconds(core::WallTime time) {
  return time.time_since_epoch().count();
}

}  // namespace

std::string ObservationBody(const EventContext& context, const core::EventId& id,
                            const core::Reading& reading) {
  Object object = Envelope(context, id, "ehealth-gateway/observation/v0");
  object.set("device", reading.device_id);
  object.set("metric", reading.metric);
  object.set("value", reading.value);
  object.set("unit", reading.unit);
  object.set("effective", core::FormatIso8601(reading.EffectiveTime()));
  object.set("received", core::FormatIso8601(reading.received_at));
  object.set("time_uncertain", reading.time_uncertain);
  Array::Ptr flags = new Array;
  for (const std::string& name : reading.flags.Names())
    flags->add(name);
  object.set("flags", flags);
  if (reading.sequence) object.set("sequence", static_cast<std::uint64_t>(*reading.sequence));
  return Stringify(object);
}

std::string AlertBody(const EventContext& context, const core::EventId& id, alerts::ChangeKind change,
                      const alerts::Alert& alert) {
  Object object = Envelope(context, id, "ehealth-gateway/alert/v0");
  object.set("alert_id", alert.alert_id);
  object.set("change", std::string(alerts::ToString(change)));
  object.set("rule_id", alert.rule_id);
  object.set("metric", alert.metric);
  object.set("severity", std::string(alerts::ToString(alert.severity)));
  object.set("state", std::string(alerts::ToString(alert.state)));
  object.set("raised_at", core::FormatIso8601(alert.raised_at));
  object.set("updated_at", core::FormatIso8601(alert.updated_at));
  object.set("occurrences", static_cast<std::uint64_t>(alert.occurrences));
  object.set("worst_value", alert.worst_value);
  object.set("evidence", EvidenceArray(alert.evidence));
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

std::string AlertToJson(const alerts::Alert& alert) {
  Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  object.set("alert_id", alert.alert_id);
  object.set("rule_id", alert.rule_id);
  object.set("metric", alert.metric);
  object.set("severity", std::string(alerts::ToString(alert.severity)));
  object.set("state", std::string(alerts::ToString(alert.state)));
  object.set("raised_ms", Milliseconds(alert.raised_at));
  object.set("updated_ms", Milliseconds(alert.updated_at));
  object.set("occurrences", static_cast<std::uint64_t>(alert.occurrences));
  object.set("worst_value", alert.worst_value);
  Array::Ptr evidence = new Array;
  for (const alerts::Evidence& item : alert.evidence) {
    Object::Ptr entry = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    entry->set("device", item.device_id);
    entry->set("metric", item.metric);
    entry->set("value", item.value);
    entry->set("unit", item.unit);
    entry->set("time_ms", Milliseconds(item.time));
    evidence->add(entry);
  }
  object.set("evidence", evidence);
  return Stringify(object);
}

Result<alerts::Alert> AlertFromJson(const std::string& json) {
  try {
    Poco::JSON::Parser parser;
    const Object::Ptr object = parser.parse(json).extract<Object::Ptr>();
    alerts::Alert alert;
    alert.alert_id = object->getValue<std::string>("alert_id");
    alert.rule_id = object->getValue<std::string>("rule_id");
    alert.metric = object->getValue<std::string>("metric");
    const auto severity = alerts::ParseSeverity(object->getValue<std::string>("severity"));
    const auto state = alerts::ParseAlertState(object->getValue<std::string>("state"));
    if (!severity || !state) return Fail(Errc::kParse, "stored alert has an unknown severity or state");
    alert.severity = *severity;
    alert.state = *state;
    alert.raised_at = core::WallTime{std::chrono::milliseconds{object->getValue<std::int64_t>("raised_ms")}};
    alert.updated_at =
        core::WallTime{std::chrono::milliseconds{object->getValue<std::int64_t>("updated_ms")}};
    alert.occurrences = object->getValue<std::uint32_t>("occurrences");
    alert.worst_value = object->getValue<double>("worst_value");
    const Array::Ptr evidence = object->getArray("evidence");
    for (std::size_t i = 0; evidence && i < evidence->size(); ++i) {
      const Object::Ptr entry = evidence->getObject(static_cast<unsigned>(i));
      if (!entry) return Fail(Errc::kParse, "stored alert has malformed evidence");
      alert.evidence.push_back(alerts::Evidence{
          entry->getValue<std::string>("device"), entry->getValue<std::string>("metric"),
          entry->getValue<double>("value"), entry->getValue<std::string>("unit"),
          core::WallTime{std::chrono::milliseconds{entry->getValue<std::int64_t>("time_ms")}}});
    }
    return alert;
  } catch (const Poco::Exception& exception) {
    return Fail(Errc::kParse, "stored alert is not readable: " + exception.displayText());
  }
}

}  // namespace ehg::pipeline
