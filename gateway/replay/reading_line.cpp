#include "gateway/replay/reading_line.hpp"

#include <algorithm>
#include <cmath>

#include "gateway/core/json.hpp"

namespace ehg::replay {
namespace {

using core::JsonValue;

tl::unexpected<std::string> Refuse(std::string reason) {
  return tl::unexpected(std::move(reason));
}

const JsonValue* StringField(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.Find(key);
  return value != nullptr && value->type == JsonValue::Type::kString ? value : nullptr;
}

}  // namespace

tl::expected<core::Reading, std::string> ParseReadingLine(std::string_view line) {
  if (line.size() > kMaxLineBytes)
    return Refuse("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
  auto document = core::ParseJson(line);
  if (!document) {
    return Refuse("not JSON: " + document.error().message + " at column " +
                  std::to_string(document.error().position.column));
  }
  if (document->type != JsonValue::Type::kObject) return Refuse("a reading is a JSON object");
  constexpr std::string_view kKeys[] = {"time", "device", "metric",         "value",
                                        "unit", "flags",  "time_uncertain", "sequence"};
  for (const core::JsonMember& member : document->members) {
    if (std::find(std::begin(kKeys), std::end(kKeys), member.key) == std::end(kKeys)) {
      return Refuse("unknown key \"" + member.key + "\"");
    }
  }
  core::Reading reading;
  const JsonValue* time = StringField(*document, "time");
  if (time == nullptr) return Refuse("\"time\" must be an ISO 8601 time such as \"2026-03-02T07:15:00Z\"");
  const auto parsed_time = core::ParseIso8601(time->text);
  if (!parsed_time) return Refuse("\"time\" is not an ISO 8601 time with a zone (Z or +01:00)");
  reading.received_at = *parsed_time;
  reading.device_time = *parsed_time;
  const JsonValue* device = StringField(*document, "device");
  if (device == nullptr || device->text.empty() || device->text.size() > 64) {
    return Refuse("\"device\" must be a device id of 1-64 characters");
  }
  reading.device_id = device->text;
  const JsonValue* metric = StringField(*document, "metric");
  if (metric == nullptr) return Refuse("\"metric\" must be a metric name");
  reading.metric = metric->text;
  const JsonValue* value = document->Find("value");
  if (value == nullptr || value->type != JsonValue::Type::kNumber || !std::isfinite(value->number)) {
    return Refuse("\"value\" must be a number");
  }
  reading.value = value->number;
  const JsonValue* unit = StringField(*document, "unit");
  if (unit == nullptr) return Refuse("\"unit\" must be the metric's UCUM unit");
  reading.unit = unit->text;
  if (const JsonValue* flags = document->Find("flags")) {
    if (flags->type != JsonValue::Type::kArray) return Refuse("\"flags\" must be an array of flag names");
    for (const JsonValue& flag : flags->items) {
      const auto known =
          flag.type == JsonValue::Type::kString ? core::QualityFlags::FromName(flag.text) : std::nullopt;
      if (!known) return Refuse("unknown quality flag in \"flags\"");
      reading.flags.Set(*known);
    }
  }
  if (const JsonValue* uncertain = document->Find("time_uncertain")) {
    if (uncertain->type != JsonValue::Type::kBool) return Refuse("\"time_uncertain\" must be true or false");
    reading.time_uncertain = uncertain->boolean;
  }
  if (const JsonValue* sequence = document->Find("sequence")) {
    if (sequence->type != JsonValue::Type::kNumber || !sequence->integral || sequence->number < 0 ||
        sequence->number > 4294967295.0) {
      return Refuse("\"sequence\" must be a whole number from 0 to 4294967295");
    }
    reading.sequence = static_cast<std::uint32_t>(sequence->number);
  }
  if (auto valid = core::ValidateReading(reading); !valid) return Refuse(valid.error().message);
  return reading;
}

}  // namespace ehg::replay
