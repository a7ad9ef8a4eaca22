#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/rules.hpp"
#include "alerts/state.hpp"
#include "alerts/time_zone.hpp"
#include "gateway/core/reading.hpp"

namespace ehg::alerts {

struct Evaluation {
  std::vector<AlertChange> changes;
  std::set<std::string> rule_states_changed;  // keys of EngineState::rules to persist (absent = erased)
  // Open alerts that changed without a change to send (a suppressed repeat): persist them too.
  std::set<std::string> alerts_touched;
  // Readings that could not be trusted clinically (quality flags, uncertain time): never alert, counted.
  std::uint32_t unreliable_readings = 0;
  // Older than a reading of the same metric already evaluated: they may raise, never resolve or clear.
  std::uint32_t out_of_order_readings = 0;
  // Late readings older than kLateHorizon: stored and in the windows, but they raise nothing.
  std::uint32_t late_beyond_horizon = 0;
  std::uint32_t duplicate_readings = 0;  // same device, metric, time and value as a recent one
  std::uint32_t suppressed_repeats = 0;  // repeats of open alerts that were not sent as updates

  void Append(Evaluation other);
  std::uint64_t Count(ChangeKind kind) const;
};

// The gateway's own condition, for the gateway rules.
struct GatewayStatus {
  std::optional<double> outbox_percent_of_budget;
  std::chrono::milliseconds clock_unsynchronised_for{0};  // 0 while the clock is synchronised
};

enum class ActionOutcome { kDone, kAlreadyDone, kUnknownAlert };
std::string_view ToString(ActionOutcome outcome);

struct ActionResult {
  ActionOutcome outcome = ActionOutcome::kDone;
  Evaluation evaluation;
};

using NewAlertId = std::function<std::string()>;

// An open alert's repeats are sent as an update when worse, or at most this often to carry the count.
// Event rules (button, fall) send every repeat at once.
inline constexpr std::chrono::minutes kRepeatUpdateInterval{15};
// A late reading (older than a newer one of its metric) may raise an alert only when it is at most this
// old: an upload of last week's memory is history, not an emergency.
inline constexpr std::chrono::hours kLateHorizon{24};
// The furthest ahead of now an effective time can be (the longest clock_ahead the config allows; the time
// model turns anything further into the receive time). A reading beyond it is not evaluated: it would be
// the newest of its metric for as long as it is ahead.
inline constexpr std::chrono::hours kFurthestAhead{24};
// Verdict runs kept per rule (a flapping signal makes one per reading): the oldest go first.
inline constexpr std::size_t kMaxVerdictRuns = 1024;
// The device clock rule that applies when the rule set has none (docs/rules.md, "Time").
inline constexpr std::string_view kDefaultClockRuleId = "device-clock";

// The time buckets one metric needs for the trend and baseline rules on it.
struct WindowSpec {
  std::string metric;
  std::chrono::milliseconds bucket{};  // BucketWidthFor(the longest window of that width)
  std::chrono::seconds span{};         // the longest window using these buckets

  std::string Key() const;
};

// Pure: readings + state + time in, alert changes out; `state` is updated to match. Not thread-safe;
// the pipeline thread owns it. `now` stamps the changes; durations between readings use reading times.
class Evaluator {
 public:
  Evaluator(RuleSet rules, std::shared_ptr<const TimeZone> zone);

  Evaluation OnReadings(std::span<const core::Reading> readings, EngineState& state, core::WallTime now,
                        const NewAlertId& new_alert_id) const;
  // Time-based rules: schedules, inactivity, silent devices, escalation, the gateway's own condition.
  Evaluation OnTick(EngineState& state, core::WallTime now, const GatewayStatus& status,
                    const NewAlertId& new_alert_id) const;

  // Care staff, by downlink command. `by` names the care worker.
  ActionResult Acknowledge(EngineState& state, std::string_view alert_id, std::string_view by,
                           core::WallTime now) const;
  ActionResult Resolve(EngineState& state, std::string_view alert_id, std::string_view by,
                       std::string_view note, core::WallTime now) const;
  // The care system's receipt for one of the alert's events.
  Evaluation MarkDelivered(EngineState& state, std::string_view event_id, core::WallTime now) const;

  // Adds a reading to the reading memory without evaluating any rule: RememberLatest and the windows.
  // Any order. When a device was last seen is not taken from readings: the caller restores it from its
  // device records.
  void Remember(EngineState& state, const core::Reading& reading) const;
  // Restart: the newest reading of a source (and the newest activity), not the windows.
  void RememberLatest(EngineState& state, const core::Reading& reading) const;
  // Restart: a stored summary of usable readings (or one usable reading) into the window `spec`.
  void RestoreWindow(EngineState& state, const WindowSpec& spec, const WindowSample& sample) const;
  // The windows the trend and baseline rules need.
  const std::vector<WindowSpec>& Windows() const { return windows_; }

  const RuleSet& rules() const { return rules_; }
  const TimeZone& zone() const { return *zone_; }

 private:
  void AddToWindows(EngineState& state, const Evidence& evidence) const;
  BucketWindow& WindowFor(EngineState& state, const WindowSpec& spec) const;
  const WindowSpec& SpecFor(const std::string& metric, std::chrono::seconds window) const;

  RuleSet rules_;
  std::shared_ptr<const TimeZone> zone_;
  std::vector<WindowSpec> windows_;
};

using core::ClinicallyUsable;

}  // namespace ehg::alerts
