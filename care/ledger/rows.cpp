#include "care/ledger/rows.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "gateway/core/json.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::ledger {
namespace {

using core::JsonValue;
using Type = JsonValue::Type;

constexpr std::string_view kPseudonymSystem = "urn:ehealth-gateway:pseudonym";
constexpr std::string_view kDevicePrefix = "urn:ehealth-gateway:device:";
constexpr std::string_view kUuidPrefix = "urn:uuid:";
// The identifier system of a blood pressure entry's further event ids (gateway/fhir, docs/integration.md).
constexpr std::string_view kEventIdSystem = "urn:ietf:rfc:3986";

tl::unexpected<Error> Malformed(std::string message) {
  return Fail(Errc::kParse, std::move(message));
}

// Printable ASCII and UTF-8 beyond it: ids end up in logs, receipts and SQL text columns.
bool PrintableId(std::string_view text, std::size_t max) {
  if (text.empty() || text.size() > max) return false;
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

// What PostgreSQL would refuse to store, found here with a reason instead of failing the message's
// savepoint later: a NUL character (text and jsonb hold none; the JSON reader turns \u0000 into one).
// Numbers beyond a double the reader refuses itself.
std::optional<std::string> Unstorable(const JsonValue& value) {
  if (value.type == Type::kString && value.text.find('\0') != std::string::npos)
    return "a string holds a NUL character";
  for (const JsonValue& item : value.items)
    if (auto reason = Unstorable(item)) return reason;
  for (const core::JsonMember& member : value.members) {
    if (member.key.find('\0') != std::string::npos) return "a key holds a NUL character";
    if (auto reason = Unstorable(member.value)) return reason;
  }
  return std::nullopt;
}

// The strict reader allows comments (for config files); a body is RFC 8259, and PostgreSQL's jsonb,
// which keeps alert and event bodies, refuses them. Outside strings, valid JSON has no '/'.
bool HoldsComment(std::string_view text) {
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '/') {
      return true;
    }
  }
  return false;
}

const JsonValue* Member(const JsonValue& object, std::string_view key, Type type) {
  const JsonValue* value = object.Find(key);
  return value != nullptr && value->type == type ? value : nullptr;
}

Result<std::string> Id(const JsonValue& object, std::string_view key, std::size_t max = kMaxIdBytes) {
  const JsonValue* value = Member(object, key, Type::kString);
  if (value == nullptr) return Malformed("\"" + std::string(key) + "\" missing or not a string");
  if (!PrintableId(value->text, max)) {
    return Malformed("\"" + std::string(key) + "\" is empty, longer than " + std::to_string(max) +
                     " bytes or holds control characters");
  }
  return value->text;
}

Result<std::string> OptionalText(const JsonValue& object, std::string_view key, std::size_t max) {
  const JsonValue* value = object.Find(key);
  if (value == nullptr || value->type == Type::kNull) return std::string();
  if (value->type != Type::kString) return Malformed("\"" + std::string(key) + "\" is not a string");
  if (value->text.size() > max)
    return Malformed("\"" + std::string(key) + "\" is longer than " + std::to_string(max) + " bytes");
  return value->text;
}

Result<core::WallTime> Time(const JsonValue& object, std::string_view key) {
  const JsonValue* value = Member(object, key, Type::kString);
  if (value == nullptr) return Malformed("\"" + std::string(key) + "\" missing or not a string");
  const auto time = core::ParseIso8601(value->text);
  if (!time) return Malformed("\"" + std::string(key) + "\" is not an ISO 8601 time");
  return *time;
}

Result<std::optional<core::WallTime>> OptionalTime(const JsonValue& object, std::string_view key) {
  if (object.Find(key) == nullptr) return std::optional<core::WallTime>();
  auto time = Time(object, key);
  if (!time) return tl::unexpected(time.error());
  return std::optional<core::WallTime>(*time);
}

// A count: integral, not negative, below 2^53 (a double holds it exactly; PostgreSQL's bigint more).
Result<std::optional<std::int64_t>> Count(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.Find(key);
  if (value == nullptr) return std::optional<std::int64_t>();
  if (value->type != Type::kNumber || !value->integral || value->number < 0 || value->number > 9.0e15) {
    return Malformed("\"" + std::string(key) + "\" is not a count");
  }
  return std::optional<std::int64_t>(static_cast<std::int64_t>(value->number));
}

Result<core::EventId> ParseEventId(std::string_view text) {
  const auto id = core::EventId::Parse(text);
  if (!id || id->IsNil()) return Malformed("event id is not a UUID");
  return *id;
}

template <typename T>
bool OneOf(std::string_view value, const T& allowed) {
  return std::find(std::begin(allowed), std::end(allowed), value) != std::end(allowed);
}

// The body's header every gateway event shares: schema, event_id, and the gateway it names, which must
// be the topic's (a gateway signs only for itself; the hub binds the key to the topic's gateway).
Result<core::EventId> Header(const JsonValue& object, std::string_view schema, std::string_view gateway) {
  const JsonValue* named_schema = Member(object, "schema", Type::kString);
  if (named_schema == nullptr || named_schema->text != schema)
    return Malformed("not an " + std::string(schema) + " body");
  const JsonValue* named_gateway = Member(object, "gateway", Type::kString);
  if (named_gateway == nullptr || named_gateway->text != gateway)
    return Fail(Errc::kRejected, "the body names another gateway than its topic");
  const JsonValue* id = Member(object, "event_id", Type::kString);
  if (id == nullptr) return Malformed("\"event_id\" missing or not a string");
  return ParseEventId(id->text);
}

int Stage(std::string_view change) {
  if (change == "acknowledged") return 1;
  if (change == "resolved") return 2;
  return 0;
}

Result<AlertRow> ReadAlert(const JsonValue& object) {
  static constexpr std::array<std::string_view, 5> kChanges{"raised", "updated", "escalated", "acknowledged",
                                                            "resolved"};
  static constexpr std::array<std::string_view, 4> kStates{"raised", "delivered", "acknowledged", "resolved"};
  static constexpr std::array<std::string_view, 5> kSeverities{"info", "low", "medium", "high", "critical"};
  AlertRow row;
  for (const auto& [key, out] : {std::pair<std::string_view, std::string*>{"alert_id", &row.alert_id},
                                 {"change", &row.change},
                                 {"state", &row.state},
                                 {"severity", &row.severity},
                                 {"rule_id", &row.rule_id},
                                 {"metric", &row.metric}}) {
    auto text = Id(object, key);
    if (!text) return tl::unexpected(text.error());
    *out = std::move(*text);
  }
  if (!OneOf(row.change, kChanges))
    return Malformed("unknown alert change \"" + row.change.substr(0, 32) + "\"");
  if (!OneOf(row.state, kStates)) return Malformed("unknown alert state \"" + row.state.substr(0, 32) + "\"");
  if (!OneOf(row.severity, kSeverities))
    return Malformed("unknown alert severity \"" + row.severity.substr(0, 32) + "\"");
  row.stage = Stage(row.change);
  row.priority = row.severity == "critical" ? 0 : 1;
  if (object.Find("device") != nullptr) {
    auto device = Id(object, "device");
    if (!device) return tl::unexpected(device.error());
    row.device = std::move(*device);
  }
  auto raised = Time(object, "raised_at");
  auto updated = Time(object, "updated_at");
  if (!raised) return tl::unexpected(raised.error());
  if (!updated) return tl::unexpected(updated.error());
  row.raised_at = *raised;
  row.updated_at = *updated;
  auto acknowledged = OptionalTime(object, "acknowledged_at");
  auto resolved = OptionalTime(object, "resolved_at");
  if (!acknowledged) return tl::unexpected(acknowledged.error());
  if (!resolved) return tl::unexpected(resolved.error());
  row.acknowledged_at = *acknowledged;
  row.resolved_at = *resolved;
  auto acknowledged_by = OptionalText(object, "acknowledged_by", kMaxIdBytes);
  auto resolved_by = OptionalText(object, "resolved_by", kMaxIdBytes);
  if (!acknowledged_by) return tl::unexpected(acknowledged_by.error());
  if (!resolved_by) return tl::unexpected(resolved_by.error());
  row.acknowledged_by = std::move(*acknowledged_by);
  row.resolved_by = std::move(*resolved_by);
  auto level = Count(object, "escalation_level");
  auto occurrences = Count(object, "occurrences");
  if (!level) return tl::unexpected(level.error());
  if (!occurrences) return tl::unexpected(occurrences.error());
  row.escalation_level = level->value_or(0);
  row.occurrences = occurrences->value_or(0);
  const JsonValue* worst = Member(object, "worst_value", Type::kNumber);
  if (worst == nullptr || !std::isfinite(worst->number)) return Malformed("\"worst_value\" is not a number");
  row.worst_value = worst->number;
  return row;
}

// --- observations (the FHIR R4 Bundle, docs/integration.md) ---

const JsonValue* Path(const JsonValue& root, std::initializer_list<std::string_view> keys) {
  const JsonValue* value = &root;
  for (std::string_view key : keys) {
    if (value->type != Type::kObject) return nullptr;
    value = value->Find(key);
    if (value == nullptr) return nullptr;
  }
  return value;
}

const std::string* PathText(const JsonValue& root, std::initializer_list<std::string_view> keys) {
  const JsonValue* value = Path(root, keys);
  return value != nullptr && value->type == Type::kString ? &value->text : nullptr;
}

// A value[x] (or a component's valueQuantity) in the catalogue's unit. Out of the catalogue's range is
// refused as the gateway itself refuses it: a device or decoding fault, never a clinical value.
Result<std::pair<double, std::string>> ReadValue(const JsonValue& holder, const core::MetricInfo& info) {
  double value = 0;
  std::string unit(info.unit);
  switch (info.kind) {
    case core::MetricKind::kQuantity: {
      const JsonValue* number = Path(holder, {"valueQuantity", "value"});
      const std::string* code = PathText(holder, {"valueQuantity", "code"});
      if (number == nullptr || number->type != Type::kNumber || code == nullptr)
        return Malformed("no valueQuantity with a value and a code");
      value = number->number;
      if (info.name == "body_height" && *code == "cm") {
        value /= 100.0;  // the bodyheight profile wants cm; the catalogue (and rules) metres
      } else if (*code != info.unit) {
        return Malformed("unit \"" + code->substr(0, 16) + "\" is not " + std::string(info.unit) + " for " +
                         std::string(info.name));
      }
      break;
    }
    case core::MetricKind::kBoolean: {
      const JsonValue* flag = Member(holder, "valueBoolean", Type::kBool);
      if (flag == nullptr) return Malformed("no valueBoolean");
      value = flag->boolean ? 1 : 0;
      break;
    }
    case core::MetricKind::kCode: {
      const JsonValue* codings = Path(holder, {"valueCodeableConcept", "coding"});
      if (codings == nullptr || codings->type != Type::kArray || codings->items.empty())
        return Malformed("no valueCodeableConcept coding");
      const std::string* code = PathText(codings->items.front(), {"code"});
      static constexpr std::string_view kAcvpu = "ACVPU";
      if (code == nullptr || code->size() != 1 || kAcvpu.find((*code)[0]) == std::string_view::npos)
        return Malformed("not an ACVPU code");
      value = static_cast<double>(kAcvpu.find((*code)[0]));
      break;
    }
    case core::MetricKind::kEvent: {
      const JsonValue* number = Member(holder, "valueInteger", Type::kNumber);
      if (number == nullptr || !number->integral) return Malformed("no valueInteger");
      value = number->number;
      break;
    }
  }
  if (!std::isfinite(value) || value < info.min_value || value > info.max_value)
    return Malformed("value out of the accepted range of " + std::string(info.name));
  return std::pair{value, unit};
}

bool ValidFlag(std::string_view flag) {
  return !flag.empty() && flag.size() <= 32 &&
         std::all_of(flag.begin(), flag.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

// The notes say in words what the stored body said in flags (gateway/fhir/observation.cpp writes them).
Result<std::vector<std::string>> ReadFlags(const JsonValue& resource) {
  std::vector<std::string> flags;
  const JsonValue* notes = resource.Find("note");
  if (notes == nullptr) return flags;
  if (notes->type != Type::kArray || notes->items.size() > 8)
    return Malformed("\"note\" is not a short array");
  constexpr std::string_view kQuality = "device quality flags: ";
  for (const JsonValue& note : notes->items) {
    const std::string* text = PathText(note, {"text"});
    if (text == nullptr) return Malformed("a note without text");
    std::string_view words(*text);
    if (words.starts_with(kQuality)) {
      words.remove_prefix(kQuality.size());
      while (!words.empty()) {
        const std::size_t comma = words.find(", ");
        const std::string_view flag = words.substr(0, comma);
        if (!ValidFlag(flag)) return Malformed("a quality flag that is not a flag name");
        flags.emplace_back(flag);
        words = comma == std::string_view::npos ? std::string_view() : words.substr(comma + 2);
      }
    } else if (words.starts_with("time uncertain")) {
      flags.emplace_back("time_uncertain");
    } else if (words.starts_with("device clock implausible")) {
      flags.emplace_back("device_clock_suspect");
    }
    // Other notes are words for people; the flags above are what a query needs.
  }
  std::sort(flags.begin(), flags.end());
  flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
  if (flags.size() > kMaxFlags) return Malformed("more than " + std::to_string(kMaxFlags) + " quality flags");
  return flags;
}

// The identifier naming this metric's value (a blood pressure carries one per component).
std::string IdentifierFor(const JsonValue& resource, std::string_view metric) {
  const JsonValue* identifiers = Member(resource, "identifier", Type::kArray);
  if (identifiers == nullptr) return {};
  const std::string needle = "/" + std::string(metric) + "/";
  for (const JsonValue& identifier : identifiers->items) {
    const std::string* value = PathText(identifier, {"value"});
    if (value != nullptr && PrintableId(*value, 512) && value->find(needle) != std::string::npos)
      return *value;
  }
  return {};
}

Result<void> ReadEntry(const JsonValue& entry, std::string_view gateway, Message& message) {
  const std::string* full_url = PathText(entry, {"fullUrl"});
  if (full_url == nullptr || !full_url->starts_with(kUuidPrefix))
    return Malformed("no fullUrl urn:uuid:<event id>");
  auto id = ParseEventId(std::string_view(*full_url).substr(kUuidPrefix.size()));
  if (!id) return tl::unexpected(id.error());
  const JsonValue* resource = Member(entry, "resource", Type::kObject);
  const std::string* type = resource ? PathText(*resource, {"resourceType"}) : nullptr;
  if (type == nullptr || *type != "Observation") return Malformed("the resource is not an Observation");
  const std::string* system = PathText(*resource, {"subject", "identifier", "system"});
  const std::string* subject = PathText(*resource, {"subject", "identifier", "value"});
  if (system == nullptr || *system != kPseudonymSystem || subject == nullptr ||
      !PrintableId(*subject, kMaxIdBytes))
    return Malformed("the subject is not a pseudonym");
  const std::string* device_system = PathText(*resource, {"device", "identifier", "system"});
  const std::string* device = PathText(*resource, {"device", "identifier", "value"});
  if (device_system == nullptr || device == nullptr || !PrintableId(*device, kMaxIdBytes))
    return Malformed("no device identifier");
  if (*device_system != std::string(kDevicePrefix) + std::string(gateway))
    return Fail(Errc::kRejected, "an Observation names a device of another gateway than its topic");
  auto effective = Time(*resource, "effectiveDateTime");
  if (!effective) return tl::unexpected(effective.error());
  auto issued = OptionalTime(*resource, "issued");
  if (!issued) return tl::unexpected(issued.error());
  auto flags = ReadFlags(*resource);
  if (!flags) return tl::unexpected(flags.error());

  ObservationRow row;
  row.event_id = *id;
  row.subject = *subject;
  row.device = *device;
  row.effective = *effective;
  row.issued = *issued;
  row.flags = std::move(*flags);
  const std::size_t first_row = message.observations.size();
  const auto add = [&](const JsonValue& holder, const std::string* metric) -> Result<void> {
    const core::MetricInfo* info = metric != nullptr ? core::FindMetric(*metric) : nullptr;
    if (info == nullptr) return Malformed("code.text is not a metric of the catalogue");
    auto value = ReadValue(holder, *info);
    if (!value) return tl::unexpected(value.error());
    ObservationRow part = row;
    part.metric = std::string(info->name);
    part.value = value->first;
    part.unit = std::move(value->second);
    part.identifier = IdentifierFor(*resource, part.metric);
    const bool repeated = std::any_of(
        message.observations.begin() + static_cast<std::ptrdiff_t>(first_row), message.observations.end(),
        [&](const ObservationRow& other) { return other.metric == part.metric; });
    if (repeated) return Malformed("a component repeats " + part.metric);
    message.observations.push_back(std::move(part));
    return {};
  };
  if (const JsonValue* components = resource->Find("component")) {
    if (components->type != Type::kArray || components->items.empty() || components->items.size() > 3)
      return Malformed("\"component\" is not an array of 1 to 3 blood pressure values");
    for (const JsonValue& component : components->items) {
      const std::string* metric = PathText(component, {"code", "text"});
      if (metric == nullptr || !metric->starts_with("bp."))
        return Malformed("a component that is not a blood pressure value");
      if (auto added = add(component, metric); !added) return added;
    }
  } else if (auto added = add(*resource, PathText(*resource, {"code", "text"})); !added) {
    return added;
  }
  message.events.push_back({*id, Kind::kObservation, *effective, *subject});
  // A blood pressure's further parts are events of their own in the gateway's outbox, named by
  // identifiers of system urn:ietf:rfc:3986 (docs/integration.md): stored and confirmed with the entry,
  // or the gateway would send them again for ever.
  std::size_t further = 0;
  if (const JsonValue* identifiers = Member(*resource, "identifier", Type::kArray)) {
    for (const JsonValue& identifier : identifiers->items) {
      const std::string* identifier_system = PathText(identifier, {"system"});
      if (identifier_system == nullptr || *identifier_system != kEventIdSystem) continue;
      const std::string* value = PathText(identifier, {"value"});
      if (value == nullptr || !value->starts_with(kUuidPrefix) || ++further > 2)
        return Malformed("an event id identifier that is not one of a blood pressure's further parts");
      auto part_id = ParseEventId(std::string_view(*value).substr(kUuidPrefix.size()));
      if (!part_id) return tl::unexpected(part_id.error());
      message.events.push_back({*part_id, Kind::kObservation, *effective, *subject});
    }
  }
  return {};
}

Result<void> ReadBundle(const JsonValue& object, std::string_view gateway, Message& message) {
  const std::string* resource_type = PathText(object, {"resourceType"});
  const std::string* type = PathText(object, {"type"});
  if (resource_type == nullptr || *resource_type != "Bundle" || type == nullptr || *type != "batch")
    return Malformed("not a FHIR Bundle of type batch");
  const JsonValue* entries = object.Find("entry");
  if (entries == nullptr) return Malformed("a Bundle without entries");
  if (entries->type != Type::kArray || entries->items.empty())
    return Malformed("\"entry\" is not an array of entries");
  if (entries->items.size() > kMaxBundleEntries)
    return Malformed("more than " + std::to_string(kMaxBundleEntries) + " entries");
  for (std::size_t i = 0; i < entries->items.size(); ++i) {
    if (auto read = ReadEntry(entries->items[i], gateway, message); !read)
      return tl::unexpected(read.error().WithContext("entry " + std::to_string(i)));
  }
  std::vector<core::EventId> ids;
  for (const IngestedEvent& event : message.events)
    ids.push_back(event.event_id);
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end())
    return Malformed("two entries or parts share an event id");
  return {};
}

Result<void> ReadEvent(const JsonValue& object, std::string_view gateway, Kind kind, std::string_view body,
                       Message& message) {
  static constexpr std::array<std::string_view, 5> kSchemas{
      "ehealth-gateway/alert/v0", "", "ehealth-gateway/device-event/v0", "ehealth-gateway/gateway-event/v0",
      "ehealth-gateway/command-result/v0"};
  auto id = Header(object, kSchemas[static_cast<std::size_t>(kind)], gateway);
  if (!id) return tl::unexpected(id.error());
  IngestedEvent event{*id, kind, {}, {}};
  if (kind != Kind::kCommandResult) {
    auto subject = Id(object, "subject");
    if (!subject) return tl::unexpected(subject.error());
    event.subject = std::move(*subject);
  }
  auto time = Time(object, kind == Kind::kAlert ? "updated_at" : "time");
  if (!time) return tl::unexpected(time.error());
  event.time = *time;
  switch (kind) {
    case Kind::kAlert: {
      auto alert = ReadAlert(object);
      if (!alert) return tl::unexpected(alert.error());
      message.alert = std::move(*alert);
      break;
    }
    case Kind::kDevice: {
      DeviceRow row;
      auto device = Id(object, "device");
      auto state = Id(object, "state");
      auto detail = OptionalText(object, "detail", kMaxTextBytes);
      if (!device || !state || !detail)
        return tl::unexpected(!device ? device.error() : !state ? state.error() : detail.error());
      if (*state != "connected" && *state != "disconnected")
        return Malformed("device state is neither connected nor disconnected");
      row.device = std::move(*device);
      row.connected = *state == "connected";
      row.detail = std::move(*detail);
      message.device = std::move(row);
      break;
    }
    case Kind::kGateway: {
      GatewayEventRow row;
      auto code = Id(object, "code");
      auto severity = Id(object, "severity", 32);
      auto detail = OptionalText(object, "detail", kMaxTextBytes);
      if (!code || !severity || !detail)
        return tl::unexpected(!code ? code.error() : !severity ? severity.error() : detail.error());
      row.code = std::move(*code);
      row.severity = std::move(*severity);
      row.detail = std::move(*detail);
      message.gateway_event = std::move(row);
      break;
    }
    case Kind::kCommandResult: {
      CommandResultRow row;
      // A command refused before its id or type could be read is answered with them null.
      auto command_id = OptionalText(object, "command_id", 64);
      auto type = OptionalText(object, "type", 64);
      auto status = Id(object, "status", 16);
      auto detail = OptionalText(object, "detail", kMaxTextBytes);
      if (!command_id || !type || !status || !detail)
        return tl::unexpected(!command_id ? command_id.error()
                              : !type     ? type.error()
                              : !status   ? status.error()
                                          : detail.error());
      if (*status != "ok" && *status != "rejected")
        return Malformed("command status is neither ok nor rejected");
      row.command_id = std::move(*command_id);
      row.type = std::move(*type);
      row.status = std::move(*status);
      row.detail = std::move(*detail);
      message.command_result = std::move(row);
      break;
    }
    case Kind::kObservation:
      break;
  }
  message.events.push_back(std::move(event));
  message.body = std::string(body);
  return {};
}

}  // namespace

std::string_view ToString(Kind kind) {
  switch (kind) {
    case Kind::kAlert:
      return "alert";
    case Kind::kObservation:
      return "observation";
    case Kind::kDevice:
      return "device";
    case Kind::kGateway:
      return "gateway";
    case Kind::kCommandResult:
      return "command_result";
  }
  return "unknown";
}

std::optional<Kind> ParseKind(std::string_view name) {
  for (Kind kind : {Kind::kAlert, Kind::kObservation, Kind::kDevice, Kind::kGateway, Kind::kCommandResult}) {
    if (ToString(kind) == name) return kind;
  }
  return std::nullopt;
}

bool ValidTenant(std::string_view tenant) {
  return tenant.size() == 4 &&
         std::all_of(tenant.begin(), tenant.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool ValidGateway(std::string_view gateway) {
  return !gateway.empty() && gateway.size() <= 64 && std::all_of(gateway.begin(), gateway.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

Result<Topic> ParseTopic(std::string_view topic) {
  if (topic.size() > 256) return Malformed("topic too long");
  // A NATS subject is the MQTT topic with '.' for '/'; a valid topic has neither inside a level.
  const char separator = topic.find('/') != std::string_view::npos ? '/' : '.';
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = topic.find(separator, start);
    parts.push_back(topic.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() < 5 || parts[0] != "ehealth" || parts[1] != "v1")
    return Malformed("not an ehealth/v1 topic");
  Topic parsed;
  parsed.tenant = std::string(parts[2]);
  parsed.gateway = std::string(parts[3]);
  if (!ValidTenant(parsed.tenant) || !ValidGateway(parsed.gateway))
    return Malformed("the topic's tenant or gateway id is not valid");
  if (parts.size() == 5 && parts[4] == "status") {
    parsed.status = true;
  } else if (parts.size() == 6 && parts[4] == "event" && parts[5] != "command_result") {
    parsed.kind = ParseKind(parts[5]);
  } else if (parts.size() == 6 && parts[4] == "cmd" && parts[5] == "result") {
    parsed.kind = Kind::kCommandResult;
  }
  if (!parsed.status && !parsed.kind) return Malformed("not an event, command result or status topic");
  return parsed;
}

Result<Message> ReadMessage(std::string_view tenant, std::string_view gateway, Kind kind,
                            std::string_view body) {
  if (!ValidTenant(tenant) || !ValidGateway(gateway)) return Malformed("tenant or gateway id is not valid");
  if (body.size() > kMaxBodyBytes)
    return Malformed("body larger than " + std::to_string(kMaxBodyBytes) + " bytes");
  auto json = core::ParseJson(body);
  if (!json) return Malformed("not JSON: " + json.error().message);
  if (json->type != Type::kObject) return Malformed("the body is not a JSON object");
  if (auto reason = Unstorable(*json)) return Malformed(*reason);
  if (HoldsComment(body)) return Malformed("a comment: the body is not RFC 8259 JSON");
  Message message;
  message.tenant = std::string(tenant);
  message.gateway = std::string(gateway);
  message.kind = kind;
  auto read = kind == Kind::kObservation ? ReadBundle(*json, gateway, message)
                                         : ReadEvent(*json, gateway, kind, body, message);
  if (!read) return tl::unexpected(read.error().WithContext(std::string(ToString(kind))));
  return message;
}

Result<StatusRow> ReadStatus(std::string_view tenant, std::string_view gateway, std::string_view body) {
  if (!ValidTenant(tenant) || !ValidGateway(gateway)) return Malformed("tenant or gateway id is not valid");
  if (body.size() > 64 * 1024) return Malformed("status larger than 64 KiB");
  auto json = core::ParseJson(body);
  if (!json || json->type != Type::kObject) return Malformed("status: not a JSON object");
  if (auto reason = Unstorable(*json)) return Malformed("status: " + *reason);
  const JsonValue& object = *json;
  const std::string* schema = PathText(object, {"schema"});
  if (schema == nullptr || *schema != "ehealth-gateway/status/v0") return Malformed("not a status/v0 body");
  const std::string* named_tenant = PathText(object, {"tenant"});
  const std::string* named_gateway = PathText(object, {"gateway"});
  if (named_tenant == nullptr || *named_tenant != tenant || named_gateway == nullptr ||
      *named_gateway != gateway)
    return Fail(Errc::kRejected, "status: the body names another gateway or tenant than its topic");
  StatusRow row;
  row.tenant = std::string(tenant);
  row.gateway = std::string(gateway);
  auto state = Id(object, "state", 16);
  if (!state || (*state != "online" && *state != "offline"))
    return Malformed("status: state is neither online nor offline");
  row.state = std::move(*state);
  auto reason = OptionalText(object, "reason", kMaxIdBytes);
  auto version = OptionalText(object, "version", kMaxIdBytes);
  auto time = OptionalTime(object, "time");
  auto connected_at = Time(object, "connected_at");
  if (!reason || !version || !time || !connected_at)
    return Malformed("status: unreadable reason, version or times");
  if (row.state == "online" && !*time) return Malformed("status: an online status without a time");
  row.reason = std::move(*reason);
  row.version = std::move(*version);
  row.time = *time;
  row.connected_at = *connected_at;
  const JsonValue empty;
  const JsonValue* backlog = Member(object, "backlog", Type::kObject);
  for (const auto& [holder, key, out] :
       {std::tuple{&object, "heartbeat_interval_seconds", &row.heartbeat_interval_seconds},
        std::tuple{backlog ? backlog : &empty, "events", &row.backlog_events},
        std::tuple{backlog ? backlog : &empty, "bytes", &row.backlog_bytes},
        std::tuple{backlog ? backlog : &empty, "alerts", &row.backlog_alerts},
        std::tuple{&object, "alerts_awaiting_receipt", &row.alerts_awaiting_receipt},
        std::tuple{&object, "dropped_observations", &row.dropped_observations}}) {
    auto count = Count(*holder, key);
    if (!count) return tl::unexpected(count.error().WithContext("status"));
    *out = *count;
  }
  if (const JsonValue* synchronised = object.Find("clock_synchronised")) {
    if (synchronised->type != Type::kBool) return Malformed("status: clock_synchronised is not a boolean");
    row.clock_synchronised = synchronised->boolean;
  }
  return row;
}

}  // namespace ehg::ledger
