#include "gateway/uplink/command_intake.hpp"

#include <set>
#include <variant>

#include "gateway/core/log.hpp"
#include "gateway/core/overloaded.hpp"

namespace ehg::uplink {
namespace {

// iat has whole seconds and the care system's clock may be a little behind: a minute of slack, so a
// command sent just after a fresh start is not refused (a replay needs the command taken before).
constexpr auto kReplayFloorSlack = std::chrono::seconds(60);

}  // namespace

CommandIntake::CommandIntake(std::shared_ptr<const crypto::PayloadProtection> protection, OutboxPort& outbox,
                             ChangeBatcher& changes, UplinkCounters& counters)
    : protection_(std::move(protection)), outbox_(outbox), changes_(changes), counters_(counters) {}

void CommandIntake::Take(std::string_view payload, core::WallTime now, bool clock_synchronised,
                         CommandEffects& effects) {
  ++counters_.commands;
  const auto refuse = [&](std::string_view reason, std::string_view detail) {
    ++counters_.commands_refused;
    core::LogWarning("command refused", {{"reason", reason}, {"detail", detail}, {"bytes", payload.size()}});
  };
  if (payload.size() > kMaxCommandMessageBytes) {
    return refuse("malformed", "larger than " + std::to_string(kMaxCommandMessageBytes / 1024) + " KiB");
  }
  auto opened = protection_->OpenCommand(payload, now);
  if (!opened) return refuse(crypto::ToString(opened.error().reason), opened.error().message);
  if (!opened->jti.empty()) {
    if (!LoadReplayWindow(now))
      return refuse("unavailable", "the replay window could not be read; send it again");
    if (Seen(opened->jti, now)) {
      return refuse(crypto::ToString(crypto::Refusal::kReplayed),
                    "jti \"" + opened->jti + "\" was taken before");
    }
    if (not_issued_before_ && *not_issued_before_ > now && clock_synchronised) {
      // The clock was ahead when the database was created: a floor in the future would refuse every
      // command until then. Now is a later floor than the true one, so moving it here refuses no less;
      // only a synchronised clock may move it (a clock that is behind would lower it for good).
      core::LogWarning(
          "command replay floor was in the future (the clock was wrong when the database "
          "was created); moved to now");
      not_issued_before_ = now;
      changes_.Setting(std::string(store::kCommandsNotIssuedBeforeSetting),
                       std::to_string(now.time_since_epoch().count()));
    }
    if (not_issued_before_ && opened->issued_at + kReplayFloorSlack < *not_issued_before_) {
      return refuse(crypto::ToString(crypto::Refusal::kReplayed),
                    "issued before this gateway's database was created, whose replay window starts then; "
                    "send a new command");
    }
    // Remembered with the command's effect: both are committed in the same change, or neither.
    seen_[opened->jti] = opened->remember_until;
    changes_.CommandSeen({opened->jti, opened->remember_until}, now);
  }
  // Authentic and fresh (a replay the broker kept proves nothing): the care system is there and
  // listening.
  effects.CareSystemAnswered();
  auto command = wire::ParseCommand(opened->command);
  if (!command) {
    ++counters_.commands_rejected;
    core::LogWarning("command rejected", {{"command_id", command.error().id},
                                          {"type", command.error().type},
                                          {"reason", command.error().reason}});
    changes_.CommandResult(command.error().id, command.error().type, false, command.error().reason, now);
    return;
  }
  Dispatch(*command, now, effects);
}

bool CommandIntake::LoadReplayWindow(core::WallTime now) {
  if (loaded_) return true;
  auto window = outbox_.LoadReplayWindow(now);
  if (!window) {
    core::LogError("reading the command replay window failed", {{"reason", window.error().message}});
    return false;
  }
  for (store::SeenCommand& command : window->seen)
    seen_[std::move(command.jti)] = command.remember_until;
  not_issued_before_ = window->not_issued_before;
  loaded_ = true;
  return true;
}

bool CommandIntake::Seen(const std::string& jti, core::WallTime now) {
  std::erase_if(seen_, [&](const auto& entry) { return entry.second < now; });
  return seen_.count(jti) > 0;
}

void CommandIntake::Dispatch(const wire::Command& command, core::WallTime now, CommandEffects& effects) {
  // Receipts come with every event message the care system stored: at info level they would bury the
  // log.
  if (std::holds_alternative<wire::EventReceipt>(command.body)) {
    core::LogDebug("command received", {{"command_id", command.id}, {"type", command.type}});
  } else {
    core::LogInfo("command received", {{"command_id", command.id}, {"type", command.type}});
  }
  const auto answer = [&](bool ok, std::string_view detail) {
    changes_.CommandResult(command.id, command.type, ok, detail, now);
  };
  // One handler per command kind (core::Overloaded): a kind without one does not compile.
  std::visit(core::Overloaded{
                 // No result: it would be an event needing a receipt of its own. The events' removal is the
                 // answer (and the status's count of events awaiting a receipt).
                 [&](const wire::EventReceipt& receipt) {
                   ++counters_.receipts;
                   std::set<core::EventId> taken;  // an id named twice is one receipt
                   for (const core::EventId& event_id : receipt.event_ids) {
                     if (!taken.insert(event_id).second) continue;
                     if (effects.Receipted(event_id)) {
                       ++counters_.receipted_events;
                     } else {
                       ++counters_.receipts_unmatched;
                     }
                   }
                 },
                 // Answered once the pipeline has applied the action (ChangeBatcher::CommitDone).
                 [&](const wire::AlertAck& ack) {
                   changes_.AlertAction({store::AlertAction::Kind::kAcknowledge, ack.alert_id, ack.by, {}},
                                        command.id, command.type);
                 },
                 [&](const wire::AlertResolve& resolve) {
                   changes_.AlertAction(
                       {store::AlertAction::Kind::kResolve, resolve.alert_id, resolve.by, resolve.note},
                       command.id, command.type);
                 },
                 [&](const wire::HeartbeatSet& heartbeat) {
                   changes_.Setting(std::string(kHeartbeatSetting),
                                    std::to_string(heartbeat.interval.count()));
                   effects.HeartbeatChanged(heartbeat.interval);
                   answer(true, "heartbeat every " + std::to_string(heartbeat.interval.count()) + " s");
                 },
                 // Carried out by the daemon (on its main thread); answered when it is done.
                 [&](const wire::ConfigApply& apply) {
                   if (!effects.ApplyConfig(apply, command)) answer(false, "not supported here");
                 },
                 [&](const wire::RulesApply& rules) {
                   if (!effects.ApplyConfig(rules, command)) answer(false, "not supported here");
                 },
                 [&](const wire::UpdateRequest& update) {
                   if (!effects.RequestUpdate(update, command)) answer(false, "not supported here");
                 },
                 [&](const wire::StatusRequest&) {
                   effects.StatusRequested();
                   answer(true, "status published");
                 },
                 [&](const wire::Ping&) { answer(true, "pong"); },
             },
             command.body);
}

}  // namespace ehg::uplink
