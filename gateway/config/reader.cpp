#include "gateway/config/reader.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

namespace ehg::config::detail {
namespace {

std::string JoinPath(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string FormatNumber(double number) {
  std::ostringstream out;
  out << number;
  return out.str();
}

std::filesystem::path ResolvePath(const std::filesystem::path& base, const std::string& text) {
  const std::filesystem::path path(text);
  return path.is_absolute() || base.empty() ? path : (base / path).lexically_normal();
}

struct DurationUnit {
  std::string_view suffix;
  double seconds;
};
constexpr std::array<DurationUnit, 4> kDurationUnits{
    {{"_seconds", 1}, {"_minutes", 60}, {"_hours", 3600}, {"_days", 86400}}};

}  // namespace

void Errors::Add(std::string path, std::string message, const JsonValue* at) {
  list_.push_back(ConfigError{std::move(path), std::move(message), at != nullptr ? at->position.line : 0});
}

void Errors::AddAtLine(std::string path, std::string message, int line) {
  list_.push_back(ConfigError{std::move(path), std::move(message), line});
}

std::string Expected(std::string_view expected, const JsonValue& got) {
  return "expected " + std::string(expected) + ", got " + core::Describe(got);
}

std::string JoinNames(std::span<const std::string_view> names) {
  std::string joined;
  for (const std::string_view name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

Field Field::Item(std::size_t index) const {
  return Field{&value->items[index], path + "[" + std::to_string(index) + "]"};
}

std::optional<std::string> ReadString(const Field& field, Errors& errors, std::string_view expected) {
  if (field->type != JsonValue::Type::kString) {
    errors.Add(field.path, Expected(expected, *field), field.value);
    return std::nullopt;
  }
  return field->text;
}

std::optional<bool> ReadBool(const Field& field, Errors& errors) {
  if (field->type != JsonValue::Type::kBool) {
    errors.Add(field.path, Expected("true or false", *field), field.value);
    return std::nullopt;
  }
  return field->boolean;
}

std::optional<double> ReadNumber(const Field& field, Errors& errors, double min, double max,
                                 std::string_view what) {
  const std::string expected =
      std::string(what) + " between " + FormatNumber(min) + " and " + FormatNumber(max);
  if (field->type != JsonValue::Type::kNumber || field->number < min || field->number > max) {
    errors.Add(field.path, Expected(expected, *field), field.value);
    return std::nullopt;
  }
  return field->number;
}

std::optional<std::int64_t> ReadInteger(const Field& field, Errors& errors, std::int64_t min,
                                        std::int64_t max, std::string_view what) {
  const std::string expected =
      std::string(what) + " (a whole number) between " + std::to_string(min) + " and " + std::to_string(max);
  if (field->type != JsonValue::Type::kNumber || !field->integral ||
      field->number < static_cast<double>(min) || field->number > static_cast<double>(max)) {
    errors.Add(field.path, Expected(expected, *field), field.value);
    return std::nullopt;
  }
  return static_cast<std::int64_t>(field->number);
}

std::optional<std::string> ReadChoice(const Field& field, Errors& errors,
                                      std::span<const std::string_view> choices) {
  const std::string expected = "one of " + JoinNames(choices);
  if (field->type != JsonValue::Type::kString ||
      std::find(choices.begin(), choices.end(), field->text) == choices.end()) {
    errors.Add(field.path, Expected(expected, *field), field.value);
    return std::nullopt;
  }
  return field->text;
}

std::string ObjectReader::PathOf(std::string_view key) const {
  return JoinPath(path_, key);
}

Field ObjectReader::Optional(std::string_view key) {
  known_.emplace_back(key);
  return Field{object_.Find(key), PathOf(key)};
}

Field ObjectReader::Required(std::string_view key, std::string_view expected) {
  Field field = Optional(key);
  if (!field) {
    errors_.Add(field.path, "required key missing (expected " + std::string(expected) + ")", &object_);
  }
  return field;
}

std::optional<bool> ObjectReader::Bool(std::string_view key) {
  const Field field = Optional(key);
  return field ? ReadBool(field, errors_) : std::nullopt;
}

std::optional<std::int64_t> ObjectReader::Integer(std::string_view key, std::int64_t min, std::int64_t max,
                                                  std::string_view what) {
  const Field field = Optional(key);
  return field ? ReadInteger(field, errors_, min, max, what) : std::nullopt;
}

std::optional<double> ObjectReader::Number(std::string_view key, double min, double max,
                                           std::string_view what) {
  const Field field = Optional(key);
  return field ? ReadNumber(field, errors_, min, max, what) : std::nullopt;
}

std::optional<std::string> ObjectReader::Choice(std::string_view key,
                                                std::span<const std::string_view> choices) {
  const Field field = Optional(key);
  return field ? ReadChoice(field, errors_, choices) : std::nullopt;
}

std::optional<std::filesystem::path> ObjectReader::FilePath(std::string_view key, bool required,
                                                            const std::filesystem::path& base) {
  constexpr std::string_view kExpected = "a file path";
  const Field field = required ? Required(key, kExpected) : Optional(key);
  if (!field) return std::nullopt;
  const auto text = ReadString(field, errors_, kExpected);
  if (!text) return std::nullopt;
  if (text->empty() || text->find('\0') != std::string::npos) {
    errors_.Add(field.path, Expected(kExpected, *field), field.value);
    return std::nullopt;
  }
  return ResolvePath(base, *text);
}

std::optional<std::chrono::seconds> ObjectReader::Duration(std::string_view name, std::chrono::seconds min,
                                                           std::chrono::seconds max, bool zero_allowed) {
  std::optional<std::chrono::seconds> result;
  std::string found_key;
  for (const DurationUnit& unit : kDurationUnits) {
    const std::string key = std::string(name) + std::string(unit.suffix);
    const Field field = Optional(key);
    if (!field) continue;
    if (result) {
      errors_.Add(field.path, "give " + std::string(name) + " once (already given as " + found_key + ")",
                  field.value);
      continue;
    }
    if (zero_allowed && field->type == JsonValue::Type::kNumber && field->number == 0) {
      found_key = key;
      result = std::chrono::seconds{0};
      continue;
    }
    const double min_in_unit = static_cast<double>(min.count()) / unit.seconds;
    const double max_in_unit = static_cast<double>(max.count()) / unit.seconds;
    const auto number =
        ReadNumber(field, errors_, min_in_unit, max_in_unit,
                   std::string(zero_allowed ? "0 or " : "") + std::string(unit.suffix.substr(1)));
    if (!number) continue;
    found_key = key;
    result = std::chrono::seconds(std::llround(*number * unit.seconds));
  }
  return result;
}

std::optional<std::chrono::seconds> ObjectReader::RequiredDuration(std::string_view name,
                                                                   std::string_view unit_hint,
                                                                   std::chrono::seconds min,
                                                                   std::chrono::seconds max,
                                                                   std::string_view what) {
  auto duration = Duration(name, min, max);
  if (!duration && !HasDuration(name)) {
    errors_.Add(PathOf(std::string(name) + "_" + std::string(unit_hint)), "required: " + std::string(what),
                &object_);
  }
  return duration;
}

bool ObjectReader::HasDuration(std::string_view name) const {
  return std::any_of(kDurationUnits.begin(), kDurationUnits.end(), [&](const DurationUnit& unit) {
    return Has(std::string(name) + std::string(unit.suffix));
  });
}

void ObjectReader::Finish() {
  for (const core::JsonMember& member : object_.members) {
    if (std::find(known_.begin(), known_.end(), member.key) != known_.end()) continue;
    std::string expected;
    std::vector<std::string> listed;
    for (const std::string& key : known_) {
      // A duration in any of its units is listed once: for_{seconds,minutes,hours,days}.
      std::string name = key;
      for (const DurationUnit& unit : kDurationUnits) {
        const std::string_view suffix = unit.suffix;
        if (name.size() > suffix.size() && name.ends_with(suffix) && known_.size() > 1 &&
            std::find(known_.begin(), known_.end(),
                      name.substr(0, name.size() - suffix.size()) + "_minutes") != known_.end()) {
          name = name.substr(0, name.size() - suffix.size()) + "_{seconds,minutes,hours,days}";
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

}  // namespace ehg::config::detail
