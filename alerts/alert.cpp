#include "alerts/alert.hpp"

#include <array>
#include <utility>

#include "alerts/rules.hpp"

namespace ehg::alerts {
namespace {

constexpr std::array<std::pair<Severity, std::string_view>, 5> kSeverityNames{{
    {Severity::kInfo, "info"},
    {Severity::kLow, "low"},
    {Severity::kMedium, "medium"},
    {Severity::kHigh, "high"},
    {Severity::kCritical, "critical"},
}};

constexpr std::array<std::pair<AlertState, std::string_view>, 4> kStateNames{{
    {AlertState::kRaised, "raised"},
    {AlertState::kDelivered, "delivered"},
    {AlertState::kAcknowledged, "acknowledged"},
    {AlertState::kResolved, "resolved"},
}};

}  // namespace

std::string_view ToString(Severity severity) {
  for (const auto& [value, name] : kSeverityNames) {
    if (value == severity) return name;
  }
  return "medium";
}

std::optional<Severity> ParseSeverity(std::string_view name) {
  for (const auto& [value, value_name] : kSeverityNames) {
    if (value_name == name) return value;
  }
  return std::nullopt;
}

core::Priority OutboxPriority(Severity severity) {
  return severity == Severity::kCritical ? core::Priority::kCritical : core::Priority::kHigh;
}

std::string_view ToString(AlertState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "raised";
}

std::optional<AlertState> ParseAlertState(std::string_view name) {
  for (const auto& [value, value_name] : kStateNames) {
    if (value_name == name) return value;
  }
  return std::nullopt;
}

std::string_view ToString(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kRaised:
      return "raised";
    case ChangeKind::kUpdated:
      return "updated";
    case ChangeKind::kEscalated:
      return "escalated";
    case ChangeKind::kDelivered:
      return "delivered";
    case ChangeKind::kAcknowledged:
      return "acknowledged";
    case ChangeKind::kResolved:
      return "resolved";
  }
  return "raised";
}

bool Published(ChangeKind kind) {
  return kind != ChangeKind::kDelivered;
}

std::string AlertKey(std::string_view rule_id, std::string_view device_id) {
  std::string key(rule_id);
  if (!device_id.empty()) {
    key += '@';
    key += device_id;
  }
  return key;
}

std::string Alert::Key() const {
  return AlertKey(rule_id, device_id);
}

// The rule kinds of the config (docs/rules.md) that make these conditions.
std::string_view ToString(DeviceCondition condition) {
  switch (condition) {
    case DeviceCondition::kBatteryLow:
      return "battery_low";
    case DeviceCondition::kSilent:
      return "device_silent";
    case DeviceCondition::kSensorError:
      return "sensor_error";
    case DeviceCondition::kClockWrong:
      return "device_clock";
  }
  return "unknown";
}

std::string_view ToString(GatewayCondition condition) {
  switch (condition) {
    case GatewayCondition::kStorageNearBudget:
      return "storage";
    case GatewayCondition::kClockUnsynchronised:
      return "clock";
  }
  return "unknown";
}

}  // namespace ehg::alerts
