#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/news2.hpp"
#include "alerts/time_zone.hpp"

// The rule model. gateway/config builds these structs from the JSON config (docs/rules.md).
namespace ehg::alerts {

// What every rule has.
struct RuleCommon {
  std::string id;
  Severity severity = Severity::kMedium;
  std::optional<Escalation> escalation;
  // The condition must stay clear this long before the alert resolves by itself.
  std::chrono::seconds clear_for{0};

  friend bool operator==(const RuleCommon&, const RuleCommon&) = default;
};

// Persistence and hysteresis shared by the rules that compare a number with a limit.
struct Persistence {
  // The condition must be seen continuously this long before the alert is raised: every usable reading
  // in between breaches, and no two of them are further apart than `for_duration`.
  std::chrono::seconds for_duration{0};
  // Clearing needs the value this far back inside the limit (no flapping around the limit).
  double hysteresis = 0;

  friend bool operator==(const Persistence&, const Persistence&) = default;
};

// Fires while a value is strictly above `above` or strictly below `below`.
struct ThresholdRule {
  RuleCommon common;
  std::string metric;
  std::optional<double> above;
  std::optional<double> below;
  Persistence persistence;

  friend bool operator==(const ThresholdRule&, const ThresholdRule&) = default;
};

// Fires when a value rose by more than `rise` (or fell by more than `fall`) compared with any usable
// reading of the same metric within the preceding `window`.
struct TrendRule {
  RuleCommon common;
  std::string metric;
  std::optional<double> rise;
  std::optional<double> fall;
  std::chrono::seconds window{std::chrono::hours{72}};
  Persistence persistence;

  friend bool operator==(const TrendRule&, const TrendRule&) = default;
};

// Fires when a value is more than `above_by` over (or `below_by` under) the mean of the resident's own
// usable readings within the preceding `baseline_window`, once that holds at least `min_readings`.
struct BaselineRule {
  RuleCommon common;
  std::string metric;
  std::optional<double> above_by;
  std::optional<double> below_by;
  std::chrono::seconds baseline_window{std::chrono::days{7}};
  std::size_t min_readings = 3;
  Persistence persistence;

  friend bool operator==(const BaselineRule&, const BaselineRule&) = default;
};

// A scheduled measurement that did not come: either daily (a usable reading between `daily_from` and
// `daily_by`, resident's local time) or at least one within every `within`.
struct MissedRule {
  RuleCommon common;
  std::string metric;
  std::optional<TimeOfDay> daily_by;
  TimeOfDay daily_from{0};
  std::optional<std::chrono::seconds> within;

  friend bool operator==(const MissedRule&, const MissedRule&) = default;
};

// No activity (a non-zero motion or door reading) for `quiet_for`, counting only time inside the daily
// window (the night is not counted).
struct InactivityRule {
  RuleCommon common;
  std::vector<std::string> metrics{"motion", "door"};
  std::chrono::seconds quiet_for{std::chrono::hours{4}};
  DailyWindow window{TimeOfDay{8 * 60}, TimeOfDay{22 * 60}};

  friend bool operator==(const InactivityRule&, const InactivityRule&) = default;
};

// An event reading (button pressed, fall detected, door opened: any non-zero value), optionally only
// inside a daily window (door opened at night). Open until staff resolve it, or `clear_for` after the
// last event when that is set.
struct EventRule {
  RuleCommon common;
  std::string metric;
  std::optional<DailyWindow> window;

  friend bool operator==(const EventRule&, const EventRule&) = default;
};

// NEWS2 from the freshest usable reading of each parameter within `fresh_for` of the reading that
// triggers the computation. Alerts at `min_risk` or above once `min_parameters` are known. Severity
// follows the risk: low-medium -> medium, medium -> high, high -> critical (never below
// common.severity).
struct News2Rule {
  RuleCommon common;
  SpO2Scale spo2_scale = SpO2Scale::kScale1;
  std::chrono::seconds fresh_for{std::chrono::hours{1}};
  News2Risk min_risk = News2Risk::kLowMedium;
  std::size_t min_parameters = 3;
  Persistence persistence;  // the risk must hold this long (hysteresis is not used)

  friend bool operator==(const News2Rule&, const News2Rule&) = default;
};

// Technical supervision of each device (one alert per device). kClockWrong: the device's clock gives
// times that are implausible against the gateway's (docs/rules.md, "Time").
enum class DeviceCondition { kBatteryLow, kSilent, kSensorError, kClockWrong };
struct DeviceRule {
  RuleCommon common;
  DeviceCondition condition = DeviceCondition::kSilent;
  double battery_below = 20;  // percent, kBatteryLow; clears at battery_below + hysteresis
  double battery_hysteresis = 5;
  // kSilent: the devices watched and how long each may be quiet. A device never heard is counted from
  // the moment supervision started.
  std::map<std::string, std::chrono::seconds> expected_intervals;

  friend bool operator==(const DeviceRule&, const DeviceRule&) = default;
};

// The gateway watching itself.
enum class GatewayCondition { kStorageNearBudget, kClockUnsynchronised };
struct GatewayRule {
  RuleCommon common;
  GatewayCondition condition = GatewayCondition::kStorageNearBudget;
  double storage_percent = 80;  // outbox share of its budget; clears 10 points lower
  std::chrono::seconds clock_unsynchronised_for{std::chrono::minutes{30}};

  friend bool operator==(const GatewayRule&, const GatewayRule&) = default;
};

struct RuleSet {
  std::vector<ThresholdRule> thresholds;
  std::vector<TrendRule> trends;
  std::vector<BaselineRule> baselines;
  std::vector<MissedRule> missed;
  std::vector<InactivityRule> inactivity;
  std::vector<EventRule> events;
  std::vector<News2Rule> news2;
  std::vector<DeviceRule> devices;
  std::vector<GatewayRule> gateway;

  std::size_t size() const {
    return thresholds.size() + trends.size() + baselines.size() + missed.size() + inactivity.size() +
           events.size() + news2.size() + devices.size() + gateway.size();
  }
  friend bool operator==(const RuleSet&, const RuleSet&) = default;
};

// The config's rule kind for the condition (battery_low, device_silent, ...; storage, clock).
std::string_view ToString(DeviceCondition condition);
std::string_view ToString(GatewayCondition condition);

}  // namespace ehg::alerts
