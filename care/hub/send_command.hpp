#pragma once

#include <chrono>
#include <string>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/result.hpp"
#include "gateway/crypto/keys.hpp"

namespace ehg::engine {
class Engine;
}
namespace ehg::ledger {
class Ledger;
struct ResendPolicy;
}  // namespace ehg::ledger

// A command from the care side to one gateway (docs/operations-hub.md#commands-to-a-gateway): checked
// against the gateway's own command contract, signed with the care system's key, recorded in the
// ledger with what was signed, and published to the gateway's command subject. A gateway on the engine
// subscribes at QoS 0, so nothing keeps a command for it while it is away: the hubs send it again once
// it reports itself online (ResendCommands) until its result comes, as a cmd.result event the hub's
// turn writes to the same row, or the command expires.
namespace ehg::hub {

struct CommandRequest {
  std::string tenant;
  std::string gateway;
  std::string command_json;  // the command object; an "id" is made when it has none
  std::chrono::seconds lifetime{3600};
};

struct PreparedCommand {
  std::string tenant;
  std::string gateway;
  std::string command_id;
  std::string type;
  std::string body;  // the command object as sent
  std::string jws;   // what goes on the wire
  core::WallTime sent_at{};
  core::WallTime expires_at{};
};

// Pure: refuses what the gateway would refuse (wire::ParseCommand: unknown types and keys, bad values),
// receipts (the hub's own business), and lifetimes outside 1 minute to 7 days (the gateway's replay
// window); gives the command `new_id` when it has none; signs it for this gateway only.
Result<PreparedCommand> PrepareCommand(const CommandRequest& request, const crypto::EcKey& signing_key,
                                       core::WallTime now, const std::string& new_id);

// Pure: whether the console may ask for this command (its requests wait in command_requests for a hub to
// sign): a care worker's acknowledgement or resolution, an update, or a non-empty rules change. A
// config, a heartbeat interval, a status or a ping are an operator's, through `ehealth-hub command`; a
// console that was broken into cannot have them signed. The error names the type refused.
Result<void> CheckConsoleRequest(std::string_view command_json);

// Records the command (the audit of who sent what is the caller's log; the row is its state) and
// publishes it to the gateway's command subject.
Result<void> SendCommand(const PreparedCommand& command, ledger::Ledger& ledger, engine::Engine& engine);

// Sends what the console asked for (ledger::RequestCommand, RecordAlertAction): each waiting request is
// checked and signed like any command (PrepareCommand, one hour to live), stored in its gateway's
// session, and recorded in commands, where the gateway's result arrives. A request the gateway would
// refuse is marked refused; the engine being away leaves the rest waiting. Several hubs may call it at
// once: each request goes out from one of them. Returns how many were handled.
Result<int> SendRequestedCommands(ledger::Ledger& ledger, engine::Engine& engine,
                                  const crypto::EcKey& signing_key, core::Clock& clock,
                                  core::EventIdGenerator& ids);

// Sends again, as first signed, the commands without a result whose gateway reported itself online
// since they last went out (ledger::ResendPolicy says how soon), at most 50 a call. The gateway carries
// out each command once: a repeat of one it took is refused by its replay window, and the first copy's
// result is in its durable outbox. Several hubs may call it at once. Returns how many went out.
Result<int> ResendCommands(ledger::Ledger& ledger, engine::Engine& engine, core::WallTime now,
                           const ledger::ResendPolicy& policy);

}  // namespace ehg::hub
