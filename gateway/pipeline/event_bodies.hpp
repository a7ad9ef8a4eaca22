#pragma once

#include <string>

#include "alerts/alert.hpp"
#include "alerts/rules.hpp"
#include "alerts/state.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/core/reading_sink.hpp"
#include "gateway/core/result.hpp"

// JSON bodies of the events the pipeline appends to the outbox, and the persisted form of an alert.
// The schemas are documented in docs/events.md.
namespace ehg::pipeline {

struct EventContext {
  std::string gateway_id;
  std::string resident_pseudonym;
};

std::string ObservationBody(const EventContext& context, const core::EventId& id,
                            const core::Reading& reading);
std::string AlertBody(const EventContext& context, const core::EventId& id, alerts::ChangeKind change,
                      const alerts::Alert& alert);
std::string GatewayEventBody(const EventContext& context, const core::EventId& id, core::WallTime time,
                             std::string_view code, std::string_view severity, std::string_view detail);
// The gateway event `rules.in_force` (severity info): the rules the gateway runs, summarised for the
// care system (id, kind, severity and each rule's limits in the metric's unit), so a resident's charts
// can draw the limits in force and staff can see which rules watch the resident. Sent at start and
// whenever the rules change. Not the config itself: no schedules' time zone, no escalation targets.
std::string RulesInForceBody(const EventContext& context, const core::EventId& id, core::WallTime time,
                             const alerts::RuleSet& rules);
// The `rules` array of that body alone. The gateway remembers it as reported (the setting
// kRulesReportedSetting, with its gateway id and the resident's pseudonym), so a restart with the same
// rules for the same resident sends nothing.
std::string RulesSummary(const alerts::RuleSet& rules);
inline constexpr std::string_view kRulesReportedSetting = "rules.reported";

// A device's link changed (docs/events.md, `ehealth-gateway/device-event/v0`).
std::string DeviceEventBody(const EventContext& context, const core::EventId& id,
                            const core::DeviceStatusChange& change);

// One line of the replay timeline (docs/rules.md): the change, when, and the alert after it.
std::string AlertTimelineEntry(core::WallTime time, alerts::ChangeKind change, const alerts::Alert& alert);

// An alert as stored in the alerts table, and back.
std::string AlertToJson(const alerts::Alert& alert);
Result<alerts::Alert> AlertFromJson(const std::string& json);

// A rule's state as stored in the rule_states table, and back.
std::string RuleStateToJson(const alerts::RuleState& state);
Result<alerts::RuleState> RuleStateFromJson(const std::string& json);

}  // namespace ehg::pipeline
