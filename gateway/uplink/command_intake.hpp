#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/uplink/change_batcher.hpp"
#include "gateway/uplink/counters.hpp"
#include "gateway/uplink/outbox_port.hpp"
#include "gateway/wire/commands.hpp"

// Commands from the care system: opened (signature, audience, expiry), checked against the replay
// window, parsed, then carried out, each kind by its own handler, and answered with a command result
// (docs/mqtt.md, "Commands"; docs/integration.md). A command that is not authentic or not fresh changes
// nothing and gets no answer: anyone who can publish on the broker could have sent it. No thread and
// no clock: the uplink passes the wall time of each message, tests a manual one.
namespace ehg::uplink {

inline constexpr std::string_view kHeartbeatSetting = "uplink.heartbeat_interval_seconds";

// The largest message the uplink takes: a signed command is its JSON (at most kMaxCommandBytes, a
// config.apply carrying a whole config file) in base64url plus a header and a signature, well under
// twice its size.
inline constexpr std::size_t kMaxCommandMessageBytes = 2 * wire::kMaxCommandBytes;

// What commands do beyond the intake and its change batcher: the uplink's other parts and its thread.
class CommandEffects {
 public:
  virtual ~CommandEffects() = default;
  // An authentic, fresh command arrived (before it is parsed): the care system is listening.
  virtual void CareSystemAnswered() = 0;
  // The care system confirmed an event: true when the uplink held it (waiting, in flight or read). Its
  // removal is recorded by the effect.
  virtual bool Receipted(const core::EventId& event_id) = 0;
  virtual void HeartbeatChanged(std::chrono::seconds interval) = 0;  // announced at once
  virtual void StatusRequested() = 0;
  // Carried out by the daemon, which answers later. false: nobody here to do it (answered now).
  virtual bool ApplyConfig(const wire::ConfigChange& change, const wire::Command& command) = 0;
  virtual bool RequestUpdate(const wire::UpdateRequest& update, const wire::Command& command) = 0;
};

class CommandIntake {
 public:
  // `outbox` gives the persisted replay window (read once, at the first signed command); `changes`
  // takes what the commands change, their results and the ids to remember.
  CommandIntake(std::shared_ptr<const crypto::PayloadProtection> protection, OutboxPort& outbox,
                ChangeBatcher& changes, UplinkCounters& counters);

  // One message from the command topic, at wall time `now`. `clock_synchronised`: only a synchronised
  // clock may move a replay floor that lies in the future.
  void Take(std::string_view payload, core::WallTime now, bool clock_synchronised, CommandEffects& effects);

 private:
  bool LoadReplayWindow(core::WallTime now);
  bool Seen(const std::string& jti, core::WallTime now);
  void Dispatch(const wire::Command& command, core::WallTime now, CommandEffects& effects);

  std::shared_ptr<const crypto::PayloadProtection> protection_;
  OutboxPort& outbox_;
  ChangeBatcher& changes_;
  UplinkCounters& counters_;
  // The replay window: loaded once from the store, then kept here and persisted with each change.
  std::map<std::string, core::WallTime> seen_;  // jti -> remember until
  bool loaded_ = false;
  std::optional<core::WallTime> not_issued_before_;  // the database's replay floor
};

}  // namespace ehg::uplink
