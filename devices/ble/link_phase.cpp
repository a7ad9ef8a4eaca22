#include "devices/ble/link_phase.hpp"

#include <algorithm>

#include "devices/ble_profiles/profiles.hpp"

namespace ehg::devices::ble {

std::string_view PhaseName(LinkPhase phase) {
  switch (phase) {
    case LinkPhase::kUnlisted:
      return "unlisted";
    case LinkPhase::kWaiting:
      return "waiting";
    case LinkPhase::kConnecting:
      return "connecting";
    case LinkPhase::kResolvingServices:
      return "resolving services";
    case LinkPhase::kSubscribing:
      return "subscribing";
    case LinkPhase::kMeasuring:
      return "measuring";
    case LinkPhase::kFetchingRecords:
      return "fetching records";
    case LinkPhase::kAbortingRecords:
      return "aborting records";
    case LinkPhase::kListening:
      return "listening";
  }
  return "unknown";
}

bool Linked(LinkPhase phase) {
  switch (phase) {
    case LinkPhase::kConnecting:
    case LinkPhase::kResolvingServices:
    case LinkPhase::kSubscribing:
    case LinkPhase::kMeasuring:
    case LinkPhase::kFetchingRecords:
    case LinkPhase::kAbortingRecords:
      return true;
    case LinkPhase::kUnlisted:
    case LinkPhase::kWaiting:
    case LinkPhase::kListening:
      return false;
  }
  return false;
}

bool ReportedConnected(LinkPhase phase) {
  return phase == LinkPhase::kSubscribing || phase == LinkPhase::kMeasuring ||
         phase == LinkPhase::kFetchingRecords || phase == LinkPhase::kAbortingRecords ||
         phase == LinkPhase::kListening;
}

std::string LinkLossDetail(LinkLoss loss) {
  switch (loss) {
    case LinkLoss::kHungUp:
      return "device disconnected";
    case LinkLoss::kBluetoothdStopped:
      return "bluetoothd stopped";
    case LinkLoss::kAdapterOff:
      return "adapter powered off";
    case LinkLoss::kRemovedFromBluez:
      return "device removed from BlueZ";
    case LinkLoss::kServicesTimedOut:
      return "gave up waiting for services";
  }
  return "link lost";
}

std::string LinkLossText(LinkLoss loss) {
  switch (loss) {
    case LinkLoss::kHungUp:
      return "The device ended the connection: switched off, out of range or a flat battery. The gateway "
             "reconnects when it is back.";
    case LinkLoss::kBluetoothdStopped:
      return "The Bluetooth service (bluetoothd) stopped; devices reconnect when it is back. If it stays "
             "away: `systemctl status bluetooth`.";
    case LinkLoss::kAdapterOff:
      return "The gateway's Bluetooth adapter was switched off; devices reconnect when it is on again "
             "(`bluetoothctl show`, `rfkill list`).";
    case LinkLoss::kRemovedFromBluez:
      return "Bluetooth forgot the device (it stopped advertising, or its pairing was removed); it is found "
             "again when it advertises.";
    case LinkLoss::kServicesTimedOut:
      return "The device connected but did not list its services in time; the gateway reconnects.";
  }
  return LinkLossDetail(loss);
}

bool LinkLossIsError(LinkLoss loss, std::string_view profile) {
  return !(loss == LinkLoss::kHungUp && HangsUpAfterMeasuring(profile));
}

LinkMachine::LinkMachine(LinkPolicy policy) : policy_(policy), backoff_(policy.backoff_initial) {}

std::optional<core::SteadyTime> LinkMachine::next_wake() const {
  if (retry_at_ && deadline_) return std::min(*retry_at_, *deadline_);
  return retry_at_ ? retry_at_ : deadline_;
}

LinkActions LinkMachine::Step(const LinkEvent& event, core::SteadyTime now, bool radio_ready) {
  namespace e = link_event;
  LinkActions actions;
  const auto stale = [&](std::uint64_t generation) {
    actions.stale_reply = generation != generation_;
    return actions.stale_reply;
  };
  if (std::holds_alternative<e::Listed>(event)) {
    if (phase_ == LinkPhase::kUnlisted) phase_ = LinkPhase::kWaiting;
  } else if (std::holds_alternative<e::Advertised>(event)) {
    // BlueZ repeats the last advertisement right after a hang-up: that is not the device coming back.
    if (!Linked(phase_) && now >= earliest_advertised_connect_) MaybeConnect(actions, now, radio_ready);
  } else if (std::holds_alternative<e::RadioReady>(event)) {
    MaybeConnect(actions, now, radio_ready);
  } else if (const auto* answer = std::get_if<e::ConnectAnswered>(&event)) {
    if (stale(answer->generation)) return actions;
    // The answer may come after Connected and ServicesResolved: then the link is on already.
    if (phase_ != LinkPhase::kConnecting) return actions;
    if (answer->ok) {
      phase_ = LinkPhase::kResolvingServices;
      deadline_ = now + policy_.services_timeout;
    } else {
      phase_ = LinkPhase::kWaiting;
      ScheduleRetry(now);
    }
  } else if (std::holds_alternative<e::LinkUp>(event)) {
    // Also a link BlueZ made without us (a device still connected when the gateway started): its services
    // must resolve in time like any other, or it would never be set up.
    if (policy_.connects && !Linked(phase_)) phase_ = LinkPhase::kConnecting;
    if (phase_ == LinkPhase::kConnecting) {
      phase_ = LinkPhase::kResolvingServices;
      deadline_ = now + policy_.services_timeout;
    }
  } else if (std::holds_alternative<e::ServicesResolved>(event)) {
    // BlueZ resolves services only on a connection, so while connecting they mean the link is up.
    if (phase_ == LinkPhase::kResolvingServices || phase_ == LinkPhase::kConnecting) SetUp(actions);
  } else if (const auto* subscribed = std::get_if<e::Subscribed>(&event)) {
    if (stale(subscribed->generation) || phase_ != LinkPhase::kSubscribing) return actions;
    if (subscribed->fetches_records) {
      phase_ = LinkPhase::kFetchingRecords;
      deadline_ = now + policy_.records_timeout;
      actions.request_records = true;
    } else {
      phase_ = LinkPhase::kMeasuring;
    }
  } else if (const auto* ended = std::get_if<e::RecordsEnded>(&event)) {
    if (stale(ended->generation)) return actions;
    if (phase_ == LinkPhase::kFetchingRecords || phase_ == LinkPhase::kAbortingRecords) {
      phase_ = LinkPhase::kMeasuring;
      deadline_.reset();
    }
  } else if (std::holds_alternative<e::AdvertisementAccepted>(event)) {
    if (!policy_.connects && phase_ != LinkPhase::kListening) {
      phase_ = LinkPhase::kListening;
      actions.report_listening = true;
    }
  } else if (const auto* lost = std::get_if<e::Lost>(&event)) {
    // BlueZ says "not connected" of a device it never connected (its object list, a failed attempt).
    if (lost->loss == LinkLoss::kHungUp && !Linked(phase_)) return actions;
    Lose(actions, lost->loss, lost->unlisted, now);
  } else if (std::holds_alternative<e::Tick>(event)) {
    OnTick(actions, now, radio_ready);
  }
  return actions;
}

void LinkMachine::OnTick(LinkActions& actions, core::SteadyTime now, bool radio_ready) {
  if (deadline_ && now >= *deadline_) {
    deadline_.reset();
    if (phase_ == LinkPhase::kResolvingServices) {
      actions.disconnect = true;
      Lose(actions, LinkLoss::kServicesTimedOut, false, now);
    } else if (phase_ == LinkPhase::kFetchingRecords) {
      // The abort's answer ends the transfer; a meter that does not answer it is left until it hangs up.
      phase_ = LinkPhase::kAbortingRecords;
      actions.abort_records = true;
    }
  }
  if (retry_at_ && now >= *retry_at_) {
    retry_at_.reset();
    MaybeConnect(actions, now, radio_ready);
  }
}

void LinkMachine::MaybeConnect(LinkActions& actions, core::SteadyTime now, bool radio_ready) {
  if (!policy_.connects || Linked(phase_) || !radio_ready) return;
  if (phase_ == LinkPhase::kUnlisted) {
    ScheduleRetry(now);  // discovery lists it; try again then
    return;
  }
  retry_at_.reset();
  ++generation_;
  phase_ = LinkPhase::kConnecting;
  actions.connect = true;
}

void LinkMachine::ScheduleRetry(core::SteadyTime now) {
  if (!policy_.connects || retry_at_) return;
  retry_at_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, policy_.backoff_max);
}

void LinkMachine::SetUp(LinkActions& actions) {
  phase_ = LinkPhase::kSubscribing;
  deadline_.reset();
  backoff_ = policy_.backoff_initial;  // the device works: a later failure starts the backoff afresh
  actions.set_up = true;
}

void LinkMachine::Lose(LinkActions& actions, LinkLoss loss, bool unlisted, core::SteadyTime now) {
  const bool was_linked = Linked(phase_);
  actions.lost = loss;
  actions.report_lost = ReportedConnected(phase_);
  phase_ = unlisted || phase_ == LinkPhase::kUnlisted ? LinkPhase::kUnlisted : LinkPhase::kWaiting;
  ++generation_;
  deadline_.reset();
  earliest_advertised_connect_ = now + policy_.advertisement_gap;
  // A link that was up (or being made) is tried again; a device that was waiting keeps its retry.
  if (was_linked) ScheduleRetry(now);
}

}  // namespace ehg::devices::ble
