#include "care/hub/send_command.hpp"

#include <cctype>
#include <string_view>

#include "care/command_signing.hpp"
#include "care/engine/engine.hpp"
#include "care/engine/subjects.hpp"
#include "care/ledger/ledger.hpp"
#include "gateway/core/json.hpp"
#include "gateway/core/overloaded.hpp"
#include "gateway/wire/commands.hpp"

namespace ehg::hub {

namespace {

// The object's text with `"id":"<id>",` as its first member. `text` is a JSON object with at least one
// member (checked by the caller): its first non-space character is the opening brace.
std::string WithId(std::string_view text, const std::string& id) {
  const std::size_t brace = text.find('{');
  return std::string(text.substr(0, brace + 1)) + "\"id\":\"" + id + "\"," +
         std::string(text.substr(brace + 1));
}

// Publishes a signed command (or a resend of one) to its gateway's command subject.
Result<void> PublishCommand(engine::Engine& engine, const std::string& tenant, const std::string& gateway,
                            const std::string& jws) {
  auto subject = engine::CommandSubject(tenant, gateway);
  if (!subject) return tl::unexpected(subject.error());
  return engine.Publish(*subject, jws);
}

}  // namespace

Result<PreparedCommand> PrepareCommand(const CommandRequest& request, const crypto::EcKey& signing_key,
                                       core::WallTime now, const std::string& new_id) {
  if (request.lifetime < std::chrono::minutes(1) || request.lifetime > std::chrono::hours(24 * 7))
    return Fail(Errc::kInvalidArgument, "command: the lifetime must be 1 minute to 7 days");
  auto subject = engine::CommandSubject(request.tenant, request.gateway);
  if (!subject) return tl::unexpected(subject.error());
  auto parsed = core::ParseJson(request.command_json);
  if (!parsed || parsed->type != core::JsonValue::Type::kObject || parsed->Find("type") == nullptr)
    return Fail(Errc::kParse, "command: not a JSON object with a \"type\"");
  const std::string body =
      parsed->Find("id") != nullptr ? request.command_json : WithId(request.command_json, new_id);
  auto command = wire::ParseCommand(body);
  if (!command)
    return Fail(Errc::kRejected, "command: the gateway would refuse it (" + command.error().reason + ")");
  if (std::holds_alternative<wire::EventReceipt>(command->body))
    return Fail(Errc::kRejected, "command: receipts are the hub's own, sent when it stores events");
  auto jws =
      care::SignCommand(signing_key, request.tenant, request.gateway, body, new_id, now, request.lifetime);
  if (!jws) return tl::unexpected(jws.error());
  PreparedCommand prepared;
  prepared.tenant = request.tenant;
  prepared.gateway = request.gateway;
  prepared.command_id = command->id;
  prepared.type = command->type;
  prepared.body = body;
  prepared.jws = std::move(*jws);
  prepared.sent_at = now;
  prepared.expires_at = now + request.lifetime;
  return prepared;
}

Result<void> CheckConsoleRequest(std::string_view command_json) {
  auto command = wire::ParseCommand(command_json);
  if (!command)
    return Fail(Errc::kRejected, "command: the gateway would refuse it (" + command.error().reason + ")");
  const auto refuse = [&]() -> Result<void> {
    return Fail(Errc::kRejected, "command: the console may not ask for " + command->type);
  };
  // One handler per kind (core::Overloaded): a new kind is refused or allowed here on purpose.
  return std::visit(core::Overloaded{
                        [&](const wire::AlertAck&) -> Result<void> { return {}; },
                        [&](const wire::AlertResolve&) -> Result<void> { return {}; },
                        [&](const wire::UpdateRequest&) -> Result<void> { return {}; },
                        [&](const wire::RulesApply& rules) -> Result<void> {
                          if (rules.rules == "[]")
                            return Fail(Errc::kRejected, "command: the console may not remove every rule");
                          return {};
                        },
                        [&](const wire::ConfigApply&) { return refuse(); },
                        [&](const wire::EventReceipt&) { return refuse(); },
                        [&](const wire::HeartbeatSet&) { return refuse(); },
                        [&](const wire::Ping&) { return refuse(); },
                        [&](const wire::StatusRequest&) { return refuse(); },
                    },
                    command->body);
}

Result<void> SendCommand(const PreparedCommand& command, ledger::Ledger& ledger, engine::Engine& engine) {
  // Recorded first: a result that comes back finds its row, and a command whose publish failed is on
  // record as sent without a result.
  if (auto recorded = ledger.RecordCommand({command.tenant, command.gateway, command.command_id, command.type,
                                            command.body, command.sent_at, command.expires_at, command.jws});
      !recorded)
    return recorded;
  return PublishCommand(engine, command.tenant, command.gateway, command.jws);
}

Result<int> SendRequestedCommands(ledger::Ledger& ledger, engine::Engine& engine,
                                  const crypto::EcKey& signing_key, core::Clock& clock,
                                  core::EventIdGenerator& ids) {
  return ledger.SendRequestedCommands(
      50,
      [&](const ledger::CommandRequest& request) -> Result<ledger::SentCommand> {
        if (auto allowed = CheckConsoleRequest(request.body); !allowed)
          return tl::unexpected(allowed.error());
        auto prepared = PrepareCommand({request.tenant, request.gateway, request.body, std::chrono::hours(1)},
                                       signing_key, clock.Now(), ids.Next().ToString());
        // Whatever PrepareCommand refuses would be refused again: the request is marked so.
        if (!prepared) return Fail(Errc::kRejected, prepared.error().message);
        auto subject = engine::CommandSubject(prepared->tenant, prepared->gateway);
        if (!subject) return Fail(Errc::kRejected, subject.error().message);
        if (auto published = engine.Publish(*subject, prepared->jws); !published)
          return Fail(Errc::kUnavailable, published.error().message);
        return ledger::SentCommand{prepared->tenant, prepared->gateway, prepared->command_id, prepared->type,
                                   prepared->body,   prepared->sent_at, prepared->expires_at, prepared->jws};
      },
      clock.Now());
}

Result<int> ResendCommands(ledger::Ledger& ledger, engine::Engine& engine, core::WallTime now,
                           const ledger::ResendPolicy& policy) {
  return ledger.ResendCommands(
      50, policy,
      [&](const ledger::CommandToResend& command) {
        return PublishCommand(engine, command.tenant, command.gateway, command.jws);
      },
      now);
}

}  // namespace ehg::hub
