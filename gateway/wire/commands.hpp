#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <variant>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/json.hpp"

// Commands from the care system on .../cmd (docs/mqtt.md). The uplink verifies the signed JWS around a
// command (gateway/crypto) and hands its "command" object to this parser.
namespace ehg::wire {

// The care system has stored these events (docs/mqtt.md, "End-to-end receipts"): they leave the outbox
// and are not sent again. `event.receipt` names up to kMaxReceiptEventIds events (one message can
// confirm a whole observation batch); `alert.receipt`, the older form, names one. A receipt is answered
// by nothing but the events' removal: a command result would itself be an event needing a receipt.
struct EventReceipt {
  std::vector<core::EventId> event_ids;  // at least one
};
struct HeartbeatSet {
  std::chrono::seconds interval;
};
// A care worker's decision; `by` is the care system's identifier for that worker.
struct AlertAck {
  std::string alert_id;
  std::string by;
};
struct AlertResolve {
  std::string alert_id;
  std::string by;
  std::string note;  // optional, at most kMaxNoteBytes
};
// A complete new configuration file: validated, written atomically, applied by a reload; the previous
// file is kept when anything fails.
struct ConfigApply {
  std::string text;
};
// The resident's alert rules, nothing else: the gateway puts this list in place of the "rules" of its
// own config file (the rest of the file, comments included, stays as it is) and applies the file as it
// applies a config.apply: the same checks, the security floor among them, the previous file kept.
struct RulesApply {
  std::string rules;  // a JSON array of rules, as compact JSON text
};
// What the daemon's main thread carries out for the uplink: a whole config, or only its rules.
using ConfigChange = std::variant<ConfigApply, RulesApply>;
// Install this package version (handed to the update helper, which runs as root; see docs/operations.md).
struct UpdateRequest {
  std::string version;
};
struct Ping {};
struct StatusRequest {};

// The command kinds. The uplink dispatches with std::visit, one handler per kind: a kind added here
// without a handler does not compile.
using CommandBody = std::variant<EventReceipt, AlertAck, AlertResolve, HeartbeatSet, Ping, StatusRequest,
                                 ConfigApply, RulesApply, UpdateRequest>;

struct Command {
  std::string id;    // chosen by the care system, echoed in the result
  std::string type;  // event.receipt, alert.receipt, alert.ack, alert.resolve, heartbeat.set, ping, status,
                     // config.apply, rules.apply, update.request
  CommandBody body;  // set from `type` by ParseCommand; never a default
};

// Why a command was refused; id and type are filled in when they could be read.
struct CommandError {
  std::string id;
  std::string type;
  std::string reason;
};

inline constexpr std::size_t kMaxCommandBytes = 64 * 1024;  // a whole config file fits
inline constexpr std::size_t kMaxNoteBytes = 1000;
// A receipt's event ids: a whole batch of the largest configurable size (uplink.observation_batch_max),
// about 40 KiB of JSON, within kMaxCommandBytes.
inline constexpr std::size_t kMaxReceiptEventIds = 1000;
inline constexpr std::chrono::seconds kMinHeartbeat{10};
inline constexpr std::chrono::seconds kMaxHeartbeat{3600};

// Strict: unknown types and unknown keys are refused, so a misspelt field never silently does nothing.
tl::expected<Command, CommandError> ParseCommand(std::string_view payload);
tl::expected<Command, CommandError> ParseCommand(const core::JsonValue& object);

// An event.receipt command confirming `event_ids` (at most kMaxReceiptEventIds; the caller splits
// longer lists), unsigned: the care system signs it as any command.
std::string EventReceiptCommand(std::string_view command_id, const std::vector<std::string>& event_ids);

// An alert.ack (note empty, not sent) or alert.resolve command from care worker `by`, unsigned. The
// caller checks the values (ParseCommand refuses what the gateway would).
std::string AlertActionCommand(std::string_view type, std::string_view command_id, std::string_view alert_id,
                               std::string_view by, std::string_view note);

// An update.request command for package `version`, unsigned. The caller checks it with ParseCommand.
std::string UpdateRequestCommand(std::string_view command_id, std::string_view version);
// `rules` must be a JSON array (the caller checks the result with ParseCommand before sending it).
std::string RulesApplyCommand(std::string_view command_id, std::string_view rules);

// The body of a command_result event (ehealth-gateway/command-result/v0).
std::string CommandResultBody(const core::EventId& event_id, std::string_view gateway_id, core::WallTime time,
                              std::string_view command_id, std::string_view type, bool ok,
                              std::string_view detail);

}  // namespace ehg::wire
