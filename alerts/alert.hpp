#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/news2.hpp"
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

// Not acknowledged within `after` of being raised: sent again with the level raised, every `after`,
// up to `max_level`.
struct Escalation {
  std::chrono::seconds after{900};
  std::uint32_t max_level = 3;

  friend bool operator==(const Escalation&, const Escalation&) = default;
};

struct Alert {
  std::string alert_id;  // stable over the alert's life; the pipeline's id source makes it
  std::string rule_id;
  std::string device_id;  // the device a technical alert is about; empty for the resident's alerts
  std::string metric;     // the metric, or what a non-reading alert watches (e.g. gateway.storage)
  Severity severity = Severity::kMedium;
  AlertState state = AlertState::kRaised;
  core::WallTime raised_at{};
  core::WallTime updated_at{};
  std::uint32_t occurrences = 1;  // readings that met the condition while the alert was open
  // Repeats that changed nothing that matters (not worse) and so were not sent as an update.
  std::uint32_t suppressed_repeats = 0;
  double worst_value = 0;
  // The readings that raised the alert, then the latest ones (bounded by kMaxEvidence).
  std::vector<Evidence> evidence;
  std::optional<double> reference_value;  // the baseline or the trend's starting value
  std::optional<News2Score> news2;        // for a NEWS2 alert: total, risk and every sub-score

  std::optional<Escalation> escalation;  // the rule's, as it was when the alert was raised
  std::uint32_t escalation_level = 0;
  std::optional<core::WallTime> next_escalation_at;
  std::optional<core::WallTime> last_published_at;
  std::optional<core::WallTime> delivered_at;
  std::optional<core::WallTime> acknowledged_at;
  std::string acknowledged_by;
  std::optional<core::WallTime> resolved_at;
  std::string resolved_by;  // a care worker, or "condition_cleared"
  std::string resolution_note;
  // Ids of the events sent for this alert (most recent kMaxEventIds): a receipt for any of them means
  // the care system has the alert.
  std::vector<std::string> event_ids;

  static constexpr std::size_t kMaxEvidence = 8;
  static constexpr std::size_t kMaxEventIds = 16;

  std::string Key() const;

  friend bool operator==(const Alert&, const Alert&) = default;
};

inline constexpr std::string_view kResolvedByCondition = "condition_cleared";

// A rule has at most one open alert per subject: the key is the rule id, plus "@device" for rules that
// watch each device on its own.
std::string AlertKey(std::string_view rule_id, std::string_view device_id = {});

// Open alerts by key: repeats update the open alert.
using OpenAlerts = std::map<std::string, Alert>;

enum class ChangeKind { kRaised, kUpdated, kEscalated, kDelivered, kAcknowledged, kResolved };
std::string_view ToString(ChangeKind kind);
// Whether the change goes to the care system as an event. A delivery is the care system's own news.
bool Published(ChangeKind kind);

struct AlertChange {
  ChangeKind kind;
  Alert alert;  // the alert after the change
};

}  // namespace ehg::alerts
