#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"

namespace ehg::alerts {

enum class Severity { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };

std::string_view ToString(Severity severity);
std::optional<Severity> ParseSeverity(std::string_view name);
// Outbox priority: critical alerts jump every backlog, other alerts still go before anything else.
core::Priority OutboxPriority(Severity severity);

// raised -> delivered (care system receipt) -> acknowledged (care worker) -> resolved.
enum class AlertState { kRaised, kDelivered, kAcknowledged, kResolved };

std::string_view ToString(AlertState state);
std::optional<AlertState> ParseAlertState(std::string_view name);

// A reading that caused or updated an alert, carried with the alert so care staff see why.
struct Evidence {
  std::string device_id;
  std::string metric;
  double value = 0;
  std::string unit;
  core::WallTime time{};

  friend bool operator==(const Evidence&, const Evidence&) = default;
};

struct Alert {
  std::string alert_id;  // stable over the alert's life; the pipeline's id source makes it
  std::string rule_id;
  std::string metric;
  Severity severity = Severity::kMedium;
  AlertState state = AlertState::kRaised;
  core::WallTime raised_at{};
  core::WallTime updated_at{};
  std::uint32_t occurrences = 1;  // readings that met the condition while the alert was open
  double worst_value = 0;
  // The reading that raised the alert, then the latest ones (bounded by kMaxEvidence).
  std::vector<Evidence> evidence;

  static constexpr std::size_t kMaxEvidence = 8;

  friend bool operator==(const Alert&, const Alert&) = default;
};

// Open alerts by rule id: a rule has at most one open alert, repeats update it.
using OpenAlerts = std::map<std::string, Alert>;

enum class ChangeKind { kRaised, kUpdated, kResolved };
std::string_view ToString(ChangeKind kind);

struct AlertChange {
  ChangeKind kind;
  Alert alert;  // the alert after the change
};

}  // namespace ehg::alerts
