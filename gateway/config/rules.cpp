// The config's rules: the keys every rule has (id, kind, severity, clear_for, escalation), then the keys
// of its kind, read by that kind's parser. A new kind is one row of kRuleKinds and its parser.
#include <algorithm>
#include <array>
#include <initializer_list>
#include <limits>
#include <set>

#include "alerts/evaluator.hpp"
#include "alerts/window.hpp"
#include "gateway/config/parsers.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::config {
namespace {

using detail::Errors;
using detail::Expected;
using detail::Field;
using detail::JoinNames;
using detail::ObjectReader;

// What the parser of one kind works on: the rule's object, what every rule has (already read), where
// the parsed rule goes. A rule is kept only when it read without error.
struct RuleInput {
  std::string_view kind;
  ObjectReader& reader;
  alerts::RuleCommon common;
  alerts::RuleSet& out;
  const detail::ErrorMark& mark;

  Errors& errors() const { return reader.errors(); }
  bool Clean() const { return mark.Clean(); }
};

std::optional<alerts::TimeOfDay> ReadTimeOfDay(const Field& field, Errors& errors) {
  constexpr std::string_view kExpected = "a local time of day as \"HH:MM\" (24 h)";
  if (field->type == core::JsonValue::Type::kString) {
    if (auto time = alerts::TimeOfDay::Parse(field->text)) return time;
  }
  errors.Add(field.path, Expected(kExpected, *field), field.value);
  return std::nullopt;
}

std::optional<alerts::DailyWindow> ReadDailyWindow(const Field& field, Errors& errors) {
  constexpr std::string_view kExpected = "a daily window [\"HH:MM\", \"HH:MM\"] in local time";
  if (field->type != core::JsonValue::Type::kArray || field->items.size() != 2) {
    errors.Add(field.path, Expected(kExpected, *field), field.value);
    return std::nullopt;
  }
  auto from = ReadTimeOfDay(field.Item(0), errors);
  auto to = ReadTimeOfDay(field.Item(1), errors);
  if (!from || !to) return std::nullopt;
  return alerts::DailyWindow{*from, *to};
}

// A metric of the vital-sign catalogue, of one of the given kinds.
const core::MetricInfo* ReadMetric(const Field& field, Errors& errors,
                                   std::initializer_list<core::MetricKind> kinds,
                                   std::string_view kinds_text) {
  constexpr std::string_view kExpected = "a metric name from the catalogue such as \"spo2\"";
  const core::MetricInfo* metric =
      field->type == core::JsonValue::Type::kString ? core::FindMetric(field->text) : nullptr;
  if (metric == nullptr) {
    errors.Add(field.path, Expected(kExpected, *field), field.value);
    return nullptr;
  }
  if (std::find(kinds.begin(), kinds.end(), metric->kind) == kinds.end()) {
    errors.Add(field.path, "metric \"" + field->text + "\" is not " + std::string(kinds_text), field.value);
    return nullptr;
  }
  return metric;
}

// The required `metric` key of a rule.
const core::MetricInfo* ReadRuleMetric(RuleInput& rule, std::string_view expected,
                                       std::initializer_list<core::MetricKind> kinds,
                                       std::string_view kinds_text) {
  const Field field = rule.reader.Required("metric", expected);
  return field ? ReadMetric(field, rule.errors(), kinds, kinds_text) : nullptr;
}

// "a threshold rule needs "above", "below" or both" when neither key is there.
void RequireEither(RuleInput& rule, std::string_view first, std::string_view second) {
  if (rule.reader.Has(first) || rule.reader.Has(second)) return;
  rule.errors().Add(rule.reader.path(),
                    "a " + std::string(rule.kind) + " rule needs \"" + std::string(first) + "\", \"" +
                        std::string(second) + "\" or both",
                    &rule.reader.object());
}

// The keys every rule has besides id and kind.
void ParseRuleCommon(ObjectReader& reader, alerts::RuleCommon& common, bool severity_required) {
  Errors& errors = reader.errors();
  constexpr std::array<std::string_view, 5> kSeverities{"info", "low", "medium", "high", "critical"};
  const Field severity = severity_required ? reader.Required("severity", "one of " + JoinNames(kSeverities))
                                           : reader.Optional("severity");
  if (severity) {
    if (auto name = detail::ReadChoice(severity, errors, kSeverities))
      common.severity = *alerts::ParseSeverity(*name);
  } else if (!severity_required) {
    common.severity = alerts::Severity::kInfo;  // a floor that never lowers what the rule decides
  }
  if (auto clear_for = reader.Duration("clear_for", std::chrono::seconds{0}, std::chrono::days{7}))
    common.clear_for = *clear_for;
  if (const Field escalation_field = reader.Optional("escalation")) {
    if (escalation_field->type != core::JsonValue::Type::kObject) {
      errors.Add(escalation_field.path,
                 Expected("an object such as {\"after_minutes\": 15, \"max_level\": 3}", *escalation_field),
                 escalation_field.value);
      return;
    }
    ObjectReader escalation_reader(*escalation_field, escalation_field.path, errors);
    alerts::Escalation escalation;
    if (auto after = escalation_reader.RequiredDuration(
            "after", "minutes", std::chrono::seconds{30}, std::chrono::days{2},
            "how long an unacknowledged alert waits before it escalates")) {
      escalation.after = *after;
    }
    if (auto max_level = escalation_reader.Integer("max_level", 1, 10, "a level"))
      escalation.max_level = static_cast<std::uint32_t>(*max_level);
    escalation_reader.Finish();
    common.escalation = escalation;
  }
}

// What threshold, trend and baseline rules share: a measured quantity, its physical range, persistence.
struct ValueRuleBasics {
  std::string metric;  // empty when it was missing or wrong
  double min = std::numeric_limits<double>::lowest();
  double max = std::numeric_limits<double>::max();
  double span = std::numeric_limits<double>::max();
  std::string unit;  // " mm[Hg]", for "a value in mm[Hg]"
  alerts::Persistence persistence;
};

ValueRuleBasics ReadValueRuleBasics(RuleInput& rule) {
  ValueRuleBasics basics;
  const core::MetricInfo* metric = ReadRuleMetric(rule, "a metric name from the catalogue such as \"spo2\"",
                                                  {core::MetricKind::kQuantity}, "a measured quantity");
  if (metric != nullptr) {
    basics.metric = std::string(metric->name);
    basics.min = metric->min_value;
    basics.max = metric->max_value;
    basics.span = metric->max_value - metric->min_value;
    basics.unit = " " + std::string(metric->unit);
  }
  if (auto for_duration = rule.reader.Duration("for", std::chrono::seconds{0}, std::chrono::days{7}))
    basics.persistence.for_duration = *for_duration;
  if (auto hysteresis = rule.reader.Number("hysteresis", 0, basics.span, "a margin"))
    basics.persistence.hysteresis = *hysteresis;
  return basics;
}

void ParseThresholdRule(RuleInput& rule) {
  const ValueRuleBasics basics = ReadValueRuleBasics(rule);
  constexpr std::string_view kAbove = "above";
  constexpr std::string_view kBelow = "below";
  alerts::ThresholdRule parsed{std::move(rule.common), basics.metric, {}, {}, basics.persistence};
  parsed.above = rule.reader.Number(kAbove, basics.min, basics.max, "a value in" + basics.unit);
  parsed.below = rule.reader.Number(kBelow, basics.min, basics.max, "a value in" + basics.unit);
  RequireEither(rule, kAbove, kBelow);
  if (parsed.above && parsed.below && *parsed.below >= *parsed.above) {
    rule.errors().Add(rule.reader.PathOf(kBelow),
                      "must be lower than \"" + std::string(kAbove) + "\" (the rule fires outside [" +
                          std::string(kBelow) + ", " + std::string(kAbove) + "])",
                      rule.reader.object().Find(kBelow));
  }
  if (rule.Clean()) rule.out.thresholds.push_back(std::move(parsed));
}

void ParseTrendRule(RuleInput& rule) {
  const ValueRuleBasics basics = ReadValueRuleBasics(rule);
  constexpr std::string_view kRise = "rise";
  constexpr std::string_view kFall = "fall";
  alerts::TrendRule parsed{std::move(rule.common), basics.metric, {}, {}, {}, basics.persistence};
  parsed.rise = rule.reader.Number(kRise, 0, basics.span, "a change in" + basics.unit);
  parsed.fall = rule.reader.Number(kFall, 0, basics.span, "a change in" + basics.unit);
  RequireEither(rule, kRise, kFall);
  if (auto window =
          rule.reader.RequiredDuration("window", "hours", std::chrono::minutes{1}, std::chrono::days{31},
                                       "the time the change is measured over")) {
    parsed.window = *window;
  }
  if (rule.Clean()) rule.out.trends.push_back(std::move(parsed));
}

void ParseBaselineRule(RuleInput& rule) {
  const ValueRuleBasics basics = ReadValueRuleBasics(rule);
  constexpr std::string_view kAboveBy = "above_by";
  constexpr std::string_view kBelowBy = "below_by";
  alerts::BaselineRule parsed{std::move(rule.common), basics.metric, {}, {}, std::chrono::days{7}, 3,
                              basics.persistence};
  parsed.above_by = rule.reader.Number(kAboveBy, 0, basics.span, "a margin in" + basics.unit);
  parsed.below_by = rule.reader.Number(kBelowBy, 0, basics.span, "a margin in" + basics.unit);
  RequireEither(rule, kAboveBy, kBelowBy);
  // The engine's bucketed windows reach further than any window the config allows.
  static_assert(std::chrono::days{90} <= alerts::kMaxWindow && std::chrono::days{31} <= alerts::kMaxWindow);
  if (auto window = rule.reader.Duration("baseline", std::chrono::hours{1}, std::chrono::days{90}))
    parsed.baseline_window = *window;
  if (auto count = rule.reader.Integer("min_readings", 1, 1000, "a number of readings"))
    parsed.min_readings = static_cast<std::size_t>(*count);
  if (rule.Clean()) rule.out.baselines.push_back(std::move(parsed));
}

void ParseMissedRule(RuleInput& rule) {
  Errors& errors = rule.errors();
  ObjectReader& reader = rule.reader;
  alerts::MissedRule parsed{std::move(rule.common), {}, {}, {}, {}};
  const core::MetricInfo* metric = ReadRuleMetric(
      rule, "a metric name",
      {core::MetricKind::kQuantity, core::MetricKind::kCode, core::MetricKind::kBoolean}, "a measurement");
  if (metric != nullptr) parsed.metric = std::string(metric->name);
  constexpr std::string_view kDailyBy = "daily_by";
  constexpr std::string_view kDailyFrom = "daily_from";
  const Field by = reader.Optional(kDailyBy);
  const Field from = reader.Optional(kDailyFrom);
  if (by) parsed.daily_by = ReadTimeOfDay(by, errors);
  if (from) {
    if (auto time = ReadTimeOfDay(from, errors)) parsed.daily_from = *time;
    if (!by) errors.Add(from.path, std::string(kDailyFrom) + " needs " + std::string(kDailyBy), from.value);
  }
  parsed.within = reader.Duration("within", std::chrono::minutes{1}, std::chrono::days{60});
  if (static_cast<bool>(by) == parsed.within.has_value()) {
    errors.Add(reader.path(),
               "a missed rule needs either \"" + std::string(kDailyBy) +
                   "\" or a \"within_...\" duration (one of them)",
               &reader.object());
  }
  if (parsed.daily_by && parsed.daily_from >= *parsed.daily_by) {
    errors.Add(from.path, "must be earlier in the day than " + std::string(kDailyBy), from.value);
  }
  if (rule.Clean()) rule.out.missed.push_back(std::move(parsed));
}

void ParseInactivityRule(RuleInput& rule) {
  Errors& errors = rule.errors();
  alerts::InactivityRule parsed;
  parsed.common = std::move(rule.common);
  if (const Field metrics = rule.reader.Optional("metrics")) {
    if (metrics->type != core::JsonValue::Type::kArray || metrics->items.empty()) {
      errors.Add(metrics.path, Expected("a non-empty array of event metrics", *metrics), metrics.value);
    } else {
      parsed.metrics.clear();
      for (std::size_t i = 0; i < metrics->items.size(); ++i) {
        const core::MetricInfo* metric =
            ReadMetric(metrics.Item(i), errors, {core::MetricKind::kEvent}, "an event metric");
        if (metric != nullptr) parsed.metrics.emplace_back(metric->name);
      }
    }
  }
  if (auto quiet =
          rule.reader.RequiredDuration("quiet", "hours", std::chrono::minutes{5}, std::chrono::days{2},
                                       "how long without activity raises the alert")) {
    parsed.quiet_for = *quiet;
  }
  if (const Field between = rule.reader.Optional("between")) {
    if (auto window = ReadDailyWindow(between, errors)) parsed.window = *window;
  }
  if (rule.Clean()) rule.out.inactivity.push_back(std::move(parsed));
}

void ParseEventRule(RuleInput& rule) {
  alerts::EventRule parsed{std::move(rule.common), {}, {}};
  const core::MetricInfo* metric = ReadRuleMetric(rule, "an event metric: button, fall, door or motion",
                                                  {core::MetricKind::kEvent}, "an event metric");
  if (metric != nullptr) parsed.metric = std::string(metric->name);
  if (const Field between = rule.reader.Optional("between"))
    parsed.window = ReadDailyWindow(between, rule.errors());
  if (rule.Clean()) rule.out.events.push_back(std::move(parsed));
}

void ParseNews2Rule(RuleInput& rule) {
  ObjectReader& reader = rule.reader;
  alerts::News2Rule parsed;
  parsed.common = std::move(rule.common);
  if (auto scale = reader.Integer("spo2_scale", 1, 2, "an SpO2 scale"))
    parsed.spo2_scale = *scale == 2 ? alerts::SpO2Scale::kScale2 : alerts::SpO2Scale::kScale1;
  if (auto for_duration = reader.Duration("for", std::chrono::seconds{0}, std::chrono::days{1}))
    parsed.persistence.for_duration = *for_duration;
  if (auto fresh = reader.Duration("fresh", std::chrono::minutes{1}, std::chrono::days{1}))
    parsed.fresh_for = *fresh;
  constexpr std::array<std::string_view, 3> kRisks{"low_medium", "medium", "high"};
  if (auto risk = reader.Choice("min_risk", kRisks)) parsed.min_risk = *alerts::ParseNews2Risk(*risk);
  if (auto count = reader.Integer("min_parameters", 1, 7, "a parameter count"))
    parsed.min_parameters = static_cast<std::size_t>(*count);
  if (rule.Clean()) rule.out.news2.push_back(std::move(parsed));
}

// Supervision of each device; only battery_low has keys of its own.
void AddDeviceRule(RuleInput& rule, alerts::DeviceRule parsed) {
  parsed.common = std::move(rule.common);
  if (rule.Clean()) rule.out.devices.push_back(std::move(parsed));
}

void ParseBatteryLowRule(RuleInput& rule) {
  alerts::DeviceRule parsed;
  parsed.condition = alerts::DeviceCondition::kBatteryLow;
  if (auto below = rule.reader.Number("below", 1, 99, "a battery percentage")) parsed.battery_below = *below;
  if (auto hysteresis = rule.reader.Number("hysteresis", 0, 50, "percentage points"))
    parsed.battery_hysteresis = *hysteresis;
  AddDeviceRule(rule, std::move(parsed));
}

void ParseDeviceSilentRule(RuleInput& rule) {
  alerts::DeviceRule parsed;
  parsed.condition = alerts::DeviceCondition::kSilent;  // intervals come from the devices
  AddDeviceRule(rule, std::move(parsed));
}

void ParseSensorErrorRule(RuleInput& rule) {
  alerts::DeviceRule parsed;
  parsed.condition = alerts::DeviceCondition::kSensorError;
  AddDeviceRule(rule, std::move(parsed));
}

void ParseDeviceClockRule(RuleInput& rule) {
  alerts::DeviceRule parsed;
  parsed.condition = alerts::DeviceCondition::kClockWrong;  // replaces the built-in one
  AddDeviceRule(rule, std::move(parsed));
}

void ParseStorageRule(RuleInput& rule) {
  alerts::GatewayRule parsed;
  parsed.common = std::move(rule.common);
  parsed.condition = alerts::GatewayCondition::kStorageNearBudget;
  if (auto percent = rule.reader.Number("above_percent", 20, 100, "a share of the outbox budget"))
    parsed.storage_percent = *percent;
  if (rule.Clean()) rule.out.gateway.push_back(std::move(parsed));
}

void ParseClockRule(RuleInput& rule) {
  alerts::GatewayRule parsed;
  parsed.common = std::move(rule.common);
  parsed.condition = alerts::GatewayCondition::kClockUnsynchronised;
  if (auto after = rule.reader.Duration("unsynchronised_for", std::chrono::minutes{1}, std::chrono::days{2}))
    parsed.clock_unsynchronised_for = *after;
  if (rule.Clean()) rule.out.gateway.push_back(std::move(parsed));
}

// Rule kind -> its parser, in the order the config's errors list the kinds.
struct RuleKind {
  std::string_view name;
  bool severity_required;  // NEWS2 derives the severity from the risk; a given one is a floor
  void (*parse)(RuleInput& rule);
};
constexpr std::array<RuleKind, 13> kRuleKinds{{
    {"threshold", true, ParseThresholdRule},
    {"trend", true, ParseTrendRule},
    {"baseline", true, ParseBaselineRule},
    {"missed", true, ParseMissedRule},
    {"inactivity", true, ParseInactivityRule},
    {"event", true, ParseEventRule},
    {"news2", false, ParseNews2Rule},
    {"battery_low", true, ParseBatteryLowRule},
    {"device_silent", true, ParseDeviceSilentRule},
    {"sensor_error", true, ParseSensorErrorRule},
    {"device_clock", true, ParseDeviceClockRule},
    {"storage", true, ParseStorageRule},
    {"clock", true, ParseClockRule},
}};
constexpr std::array<std::string_view, kRuleKinds.size()> kRuleKindNames = [] {
  std::array<std::string_view, kRuleKinds.size()> names{};
  for (std::size_t i = 0; i < names.size(); ++i)
    names[i] = kRuleKinds[i].name;
  return names;
}();

void ParseRule(const Field& object, Errors& errors, std::set<std::string>& seen, alerts::RuleSet& out) {
  ObjectReader reader(*object, object.path, errors);
  const detail::ErrorMark mark(errors);
  alerts::RuleCommon common;
  constexpr std::string_view kIdExpected = "a rule id of 1-64 letters, digits, '-', '_' or '.'";
  if (const Field id = reader.Required("id", kIdExpected)) {
    if (id->type != core::JsonValue::Type::kString || !detail::IsIdentifier(id->text, 1, 64, true)) {
      errors.Add(id.path, Expected(kIdExpected, *id), id.value);
    } else if (!seen.insert(id->text).second) {
      errors.Add(id.path, "duplicate rule id \"" + id->text + "\"", id.value);
    } else {
      common.id = id->text;
    }
  }
  const Field kind_field = reader.Required("kind", "one of " + JoinNames(kRuleKindNames));
  const auto kind_name = kind_field ? detail::ReadChoice(kind_field, errors, kRuleKindNames) : std::nullopt;
  if (!kind_name) return;  // the other keys depend on the kind
  const RuleKind& kind = *std::find_if(kRuleKinds.begin(), kRuleKinds.end(),
                                       [&](const RuleKind& row) { return row.name == *kind_name; });
  ParseRuleCommon(reader, common, kind.severity_required);
  RuleInput input{kind.name, reader, std::move(common), out, mark};
  kind.parse(input);
  reader.Finish();
}

}  // namespace

namespace detail {

void ParseRules(const Field& rules, Errors& errors, alerts::RuleSet& out) {
  if (rules->type != core::JsonValue::Type::kArray) {
    errors.Add(rules.path, Expected("an array of rules", *rules), rules.value);
    return;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < rules->items.size(); ++i) {
    const Field item = rules.Item(i);
    if (item->type != core::JsonValue::Type::kObject) {
      errors.Add(item.path, Expected("a rule object", *item), item.value);
      continue;
    }
    ParseRule(item, errors, seen, out);
  }
}

void SuperviseDeviceSilence(const std::vector<DeviceConfig>& devices, alerts::RuleSet& rules) {
  for (alerts::DeviceRule& rule : rules.devices) {
    if (rule.condition != alerts::DeviceCondition::kSilent) continue;
    for (const DeviceConfig& device : devices)
      rule.expected_intervals[device.id] = ExpectedInterval(device);
  }
}

}  // namespace detail
}  // namespace ehg::config
