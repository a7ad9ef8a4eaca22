#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/event.hpp"
#include "gateway/core/result.hpp"

// The gateway's MQTT topics as NATS subjects (docs/mqtt.md, docs/operations-hub.md#the-engine). NATS
// MQTT turns a topic's '/' into '.': ehealth/v1/0301/gw-1/event/alert is ehealth.v1.0301.gw-1.event.alert.
// Pure: no I/O.
namespace ehg::engine {

// What a subject below ehealth.v1.{tenant}.{gateway}. carries.
enum class SubjectKind {
  kEvent,    // event.{alert|observation|device|gateway} and cmd.result (up)
  kStatus,   // status (up, retained in MQTT)
  kCommand,  // cmd (down)
};

struct GatewaySubject {
  std::string tenant;   // four digits
  std::string gateway;  // [A-Za-z0-9_-]+
  SubjectKind kind = SubjectKind::kEvent;
  core::EventKind event = core::EventKind::kObservation;  // only for kEvent; cmd.result is kCommandResult

  bool operator==(const GatewaySubject&) const = default;
};

// A municipality number: exactly four digits.
bool ValidTenant(std::string_view tenant);
// A gateway id: letters, digits, '-' and '_' (valid as an MQTT topic level and a NATS token alike).
bool ValidGatewayId(std::string_view gateway);

// ehealth/v1/... -> ehealth.v1...; refuses a topic with a character that means something else in a
// NATS subject ('.', '*', '>', white space), an empty level, or wildcards ('+', '#').
Result<std::string> TopicToSubject(std::string_view topic);
// The inverse; refuses wildcards and empty tokens.
Result<std::string> SubjectToTopic(std::string_view subject);

// Reads one of the contract's subjects; anything else (another prefix, an unknown kind, a wildcard, a
// bad tenant or gateway id) is refused.
Result<GatewaySubject> ParseSubject(std::string_view subject);
// The subject of `parts` (ParseSubject's inverse).
std::string SubjectOf(const GatewaySubject& parts);

// ehealth.v1.{tenant}.{gateway}.cmd, where the hub sends receipts and commands.
Result<std::string> CommandSubject(std::string_view tenant, std::string_view gateway);

// NATS subject matching: '*' matches one token, a final '>' one or more.
bool SubjectMatches(std::string_view pattern, std::string_view subject);

}  // namespace ehg::engine
