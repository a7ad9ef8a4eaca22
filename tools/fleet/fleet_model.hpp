#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/core/clock.hpp"

// The fleet simulator's pure parts (docs/operations-hub.md#the-fleet-simulator): when each simulated
// gateway sends what, which of its events still wait for the care system's receipt, and the latency
// figures. Stepped with a time value by the caller; no I/O, no threads.
namespace ehg::fleet {

using Millis = std::chrono::milliseconds;
using Micros = std::chrono::microseconds;

struct Profile {
  Millis observation_interval{60'000};  // one observation batch per gateway per interval
  int readings_per_batch = 4;
  Millis heartbeat_interval{60'000};  // the retained online status
  double alerts_per_second = 0.5;     // across the whole fleet, spread over the gateways in turn
  // Bursts: every burst_every (0: never) for burst_length, observation batches come burst_factor times
  // as often (a region catching up after an outage, a morning round of measurements).
  Millis burst_every{0};
  Millis burst_length{30'000};
  int burst_factor = 10;
  // Reconnect storms: every storm_every (0: never) storm_fraction of the gateways drop their connection
  // at once and reconnect (a mobile network or a broker node going away).
  Millis storm_every{0};
  double storm_fraction = 0.25;
  // A message with an event still unconfirmed this long after its last copy is sent again.
  Millis receipt_timeout{30'000};
};

enum class ActionKind { kObservations, kAlert, kHeartbeat, kReconnect };

struct Action {
  std::size_t gateway = 0;
  ActionKind kind = ActionKind::kObservations;
  friend bool operator==(const Action&, const Action&) = default;
};

// Which part of the whole fleet a process runs (ehealth-fleet-sim --shard K/N): its gateways are every
// N-th of the fleet from the K-th.
struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
};

// Which gateway does what when. Periodic work is spread evenly over each interval by the gateway's place
// in the whole fleet (gateway g of n starts at g/n of it; with shards, the shards' gateways interleave),
// so a fleet of 2,000 does not publish in lock step; alerts go to the gateways in a fixed stride order
// at the process's rate, each shard's a share of the interval after the one before (the shards of a
// fleet do not raise their alerts in the same instant, as homes do not). Storms and bursts hit every
// shard at once: they stand for events that reach the whole fleet.
class Schedule {
 public:
  Schedule(const Profile& profile, std::size_t gateways, core::SteadyTime start, Shard shard = {});

  // Everything due up to `now`. Each gateway's periodic work comes at most once per call: a caller that
  // was late gets one batch, not a catch-up flood. Alerts missed by a late caller are all returned
  // (an alert is an event that happened).
  std::vector<Action> Due(core::SteadyTime now);
  bool InBurst(core::SteadyTime now) const;

 private:
  Millis ObservationInterval(core::SteadyTime now) const;
  Millis Spread(std::size_t gateway, Millis interval) const;

  Profile profile_;
  std::size_t gateways_;
  Shard shard_;
  core::SteadyTime start_;
  std::vector<core::SteadyTime> next_observation_;
  std::vector<core::SteadyTime> next_heartbeat_;
  core::SteadyTime next_alert_;
  core::SteadyTime next_storm_;
  std::int64_t bursts_started_ = 0;
  std::size_t alert_cursor_ = 0;
  std::size_t alert_stride_ = 1;
  std::size_t storm_cursor_ = 0;
};

// What a receipt did.
struct Confirmation {
  std::size_t events = 0;                 // named events that were waiting
  std::size_t repeats = 0;                // named events confirmed before, or never sent by this gateway
  std::vector<Micros> alert_round_trips;  // first publish of each confirmed alert to this receipt
  std::vector<std::uint64_t> completed;   // messages with every event confirmed now
};

struct MessageRef {
  std::size_t gateway = 0;
  std::uint64_t message = 0;
  friend bool operator==(const MessageRef&, const MessageRef&) = default;
};

// The simulated gateways' outboxes: messages sent and not yet confirmed event by event, like the
// gateway's own (docs/mqtt.md#end-to-end-receipts): a message is done when the care system has named
// all of its events; until then it is sent again after the receipt timeout and after every reconnect.
class Receipts {
 public:
  // `message` (unique per gateway) with these events is in the gateway's outbox: it waits for their
  // receipt from now, whether or not it could be sent yet.
  void Stored(std::size_t gateway, std::uint64_t message, const std::vector<std::string>& event_ids,
              bool alert, core::SteadyTime now);
  // A copy went out. The first one starts the round trip (an alert stored while offline is not the care
  // system's delay); every one restarts the receipt timeout.
  void Published(std::size_t gateway, std::uint64_t message, core::SteadyTime now);
  Confirmation Confirm(std::size_t gateway, const std::vector<std::string>& event_ids, core::SteadyTime now);
  // Messages whose last copy is older than `timeout`, oldest gateway order; each is marked sent again now.
  std::vector<MessageRef> TakeDueForResend(core::SteadyTime now, Millis timeout);
  // A gateway's unconfirmed messages (sent again after it reconnects); each is marked sent again now.
  std::vector<std::uint64_t> TakeUnconfirmed(std::size_t gateway, core::SteadyTime now);

  std::size_t waiting_events() const { return waiting_.size(); }
  std::size_t waiting_alerts() const { return waiting_alerts_; }
  std::size_t waiting_messages() const { return messages_.size(); }

 private:
  struct Message {
    std::size_t unconfirmed = 0;
    bool alert = false;
    std::optional<core::SteadyTime> first_published;
    core::SteadyTime last_sent{};
  };
  std::map<std::pair<std::size_t, std::uint64_t>, Message> messages_;
  // "gateway/event id" -> its message
  std::unordered_map<std::string, std::uint64_t> waiting_;
  std::size_t waiting_alerts_ = 0;
};

// p-th percentile (0..100, nearest rank) of the samples; 0 for none.
Micros Percentile(std::vector<Micros> samples, double p);

}  // namespace ehg::fleet
