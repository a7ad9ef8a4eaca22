// The fleet simulator's schedule and receipt bookkeeping, stepped with a time value: the load it
// claims to make is the load it makes, and "confirmed" means every event of a message was named.
#include "tools/fleet/fleet_model.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using ehg::fleet::Action;
using ehg::fleet::ActionKind;
using ehg::fleet::Micros;
using ehg::fleet::Millis;
using ehg::fleet::Profile;
using ehg::fleet::Receipts;
using ehg::fleet::Schedule;
using namespace std::chrono_literals;

namespace {

const ehg::core::SteadyTime kStart{std::chrono::hours(1)};

Profile Quiet() {
  Profile profile;
  profile.observation_interval = 60s;
  profile.heartbeat_interval = 3600s;
  profile.alerts_per_second = 0;
  return profile;
}

// Steps the schedule from kStart to kStart + length in `step`s; counts per gateway and kind.
std::map<std::pair<std::size_t, ActionKind>, int> Count(Schedule& schedule, Millis length, Millis step) {
  std::map<std::pair<std::size_t, ActionKind>, int> counts;
  for (Millis t{0}; t <= length; t += step)
    for (const Action& action : schedule.Due(kStart + t))
      ++counts[{action.gateway, action.kind}];
  return counts;
}

}  // namespace

TEST_CASE("Each gateway sends one batch per interval, the fleet spread evenly over it") {
  Schedule schedule(Quiet(), 4, kStart);
  // Gateway g of 4 starts at g/4 of the minute.
  CHECK(schedule.Due(kStart) == std::vector<Action>{{0, ActionKind::kObservations}});
  CHECK(schedule.Due(kStart + 14s).empty());
  CHECK(schedule.Due(kStart + 15s) == std::vector<Action>{{1, ActionKind::kObservations}});
  CHECK(schedule.Due(kStart + 45s) ==
        std::vector<Action>{{2, ActionKind::kObservations}, {3, ActionKind::kObservations}});
  // Ten minutes in one-second steps: ten batches each (the eleventh of gateway 0 at exactly 600 s).
  Schedule stepped(Quiet(), 4, kStart);
  const auto counts = Count(stepped, 599s, 1s);
  for (std::size_t g = 0; g < 4; ++g)
    CHECK(counts.at({g, ActionKind::kObservations}) == 10);
}

TEST_CASE("A late caller gets one batch per gateway, not the ones it missed, but every alert") {
  Profile profile = Quiet();
  profile.alerts_per_second = 2;
  Schedule schedule(profile, 3, kStart);
  const auto due = schedule.Due(kStart + 300s);  // five intervals late
  std::map<ActionKind, int> kinds;
  for (const Action& action : due)
    ++kinds[action.kind];
  CHECK(kinds[ActionKind::kObservations] == 3);
  CHECK(kinds[ActionKind::kAlert] == 600);
  // And the schedule goes on from now: the next batches are one interval away, not due at once.
  CHECK(schedule.Due(kStart + 301s).size() == 2);  // two more alerts only
}

TEST_CASE("Alerts come at the fleet-wide rate and visit every gateway in turn") {
  Profile profile = Quiet();
  profile.observation_interval = 3600s;
  profile.alerts_per_second = 2;
  Schedule schedule(profile, 4, kStart);
  const auto counts = Count(schedule, 10s, 100ms);
  int alerts = 0;
  for (std::size_t g = 0; g < 4; ++g) {
    CHECK(counts.at({g, ActionKind::kAlert}) == 5);
    alerts += counts.at({g, ActionKind::kAlert});
  }
  CHECK(alerts == 20);
}

TEST_CASE("The shards of one fleet interleave: two processes of two gateways send as one fleet of four") {
  Schedule first(Quiet(), 2, kStart, ehg::fleet::Shard{0, 2});
  Schedule second(Quiet(), 2, kStart, ehg::fleet::Shard{1, 2});
  // The fleet's gateways 0..3 start their minute at 0, 15, 30 and 45 s: shard 0 has 0 and 2, shard 1
  // has 1 and 3.
  CHECK(first.Due(kStart) == std::vector<Action>{{0, ActionKind::kObservations}});
  CHECK(second.Due(kStart).empty());
  CHECK(second.Due(kStart + 15s) == std::vector<Action>{{0, ActionKind::kObservations}});
  CHECK(first.Due(kStart + 29s).empty());
  CHECK(first.Due(kStart + 30s) == std::vector<Action>{{1, ActionKind::kObservations}});
  CHECK(second.Due(kStart + 44s).empty());
  CHECK(second.Due(kStart + 45s) == std::vector<Action>{{1, ActionKind::kObservations}});
}

TEST_CASE("The shards' alerts come half an alert interval apart, never in the same instant") {
  Profile profile = Quiet();
  profile.alerts_per_second = 1;
  Schedule first(profile, 2, kStart, ehg::fleet::Shard{0, 2});
  Schedule second(profile, 2, kStart, ehg::fleet::Shard{1, 2});
  const auto alerts = [](const std::vector<Action>& due) {
    return std::count_if(due.begin(), due.end(),
                         [](const Action& a) { return a.kind == ActionKind::kAlert; });
  };
  CHECK(alerts(first.Due(kStart + 999ms)) == 0);
  CHECK(alerts(first.Due(kStart + 1000ms)) == 1);
  CHECK(alerts(second.Due(kStart + 1499ms)) == 0);
  CHECK(alerts(second.Due(kStart + 1500ms)) == 1);
  CHECK(alerts(first.Due(kStart + 2000ms)) == 1);
  CHECK(alerts(second.Due(kStart + 2000ms)) == 0);
  CHECK(alerts(second.Due(kStart + 2500ms)) == 1);
}

TEST_CASE("Heartbeats come once per heartbeat interval per gateway") {
  Profile profile = Quiet();
  profile.observation_interval = 3600s;
  profile.heartbeat_interval = 10s;
  Schedule schedule(profile, 5, kStart);
  // The first beats at 5 s to 13 s (half an interval, then spread): ten each by 104 s.
  const auto counts = Count(schedule, 104s, 500ms);
  for (std::size_t g = 0; g < 5; ++g)
    CHECK(counts.at({g, ActionKind::kHeartbeat}) == 10);
}

TEST_CASE("In a burst batches come burst_factor times as often, and the burst starts at once") {
  Profile profile = Quiet();
  profile.burst_every = 100s;
  profile.burst_length = 12s;
  profile.burst_factor = 10;  // every 6 s in the burst
  Schedule schedule(profile, 2, kStart);
  int before = 0, during = 0;
  for (Millis t{0}; t < 112s; t += 500ms)
    for (const Action& action : schedule.Due(kStart + t)) {
      if (action.kind != ActionKind::kObservations) continue;
      (t < 100s ? before : during) += 1;
    }
  CHECK(!schedule.InBurst(kStart + 99s));
  CHECK(schedule.InBurst(kStart + 100s));
  CHECK(!schedule.InBurst(kStart + 112s));
  // Before: gateway 0 at 0 s and 60 s, gateway 1 at 30 s and 90 s.
  CHECK(before == 4);
  // During 12 s at one batch per 6 s: two each, the first at the burst's start (not at 120/150 s).
  CHECK(during == 4);
}

TEST_CASE("A reconnect storm drops its share of the fleet, the next storm the next share") {
  Profile profile = Quiet();
  profile.observation_interval = 3600s;
  profile.storm_every = 30s;
  profile.storm_fraction = 0.5;
  Schedule schedule(profile, 4, kStart);
  (void)schedule.Due(kStart);
  CHECK(schedule.Due(kStart + 29s).empty());
  CHECK(schedule.Due(kStart + 30s) ==
        std::vector<Action>{{0, ActionKind::kReconnect}, {1, ActionKind::kReconnect}});
  CHECK(schedule.Due(kStart + 60s) ==
        std::vector<Action>{{2, ActionKind::kReconnect}, {3, ActionKind::kReconnect}});
  CHECK(schedule.Due(kStart + 90s) ==
        std::vector<Action>{{0, ActionKind::kReconnect}, {1, ActionKind::kReconnect}});
}

TEST_CASE("A message is done only when the care system named every one of its events") {
  Receipts receipts;
  receipts.Stored(0, 1, {"a", "b", "c"}, false, kStart);
  receipts.Stored(0, 2, {"d"}, true, kStart);
  receipts.Published(0, 1, kStart);
  receipts.Published(0, 2, kStart);
  CHECK(receipts.waiting_events() == 4);
  CHECK(receipts.waiting_alerts() == 1);

  auto first = receipts.Confirm(0, {"a", "b"}, kStart + 1s);
  CHECK(first.events == 2);
  CHECK(first.completed.empty());
  CHECK(receipts.waiting_messages() == 2);

  // A repeated receipt and an id this gateway never sent confirm nothing.
  auto repeat = receipts.Confirm(0, {"a", "zzz"}, kStart + 2s);
  CHECK(repeat.events == 0);
  CHECK(repeat.repeats == 2);

  auto rest = receipts.Confirm(0, {"c", "d"}, kStart + 3s);
  CHECK(rest.events == 2);
  CHECK(rest.completed == std::vector<std::uint64_t>{1, 2});
  CHECK(rest.alert_round_trips == std::vector<Micros>{Micros(3'000'000)});
  CHECK(receipts.waiting_events() == 0);
  CHECK(receipts.waiting_alerts() == 0);
  CHECK(receipts.waiting_messages() == 0);
}

TEST_CASE("Another gateway's receipt naming the same id confirms nothing of this one") {
  Receipts receipts;
  receipts.Stored(0, 1, {"same"}, true, kStart);
  receipts.Stored(1, 1, {"same"}, true, kStart);
  CHECK(receipts.Confirm(1, {"same"}, kStart + 1s).events == 1);
  CHECK(receipts.waiting_alerts() == 1);
  CHECK(receipts.TakeUnconfirmed(0, kStart + 2s) == std::vector<std::uint64_t>{1});
  CHECK(receipts.TakeUnconfirmed(1, kStart + 2s).empty());
}

TEST_CASE(
    "Unconfirmed messages are due again after the timeout from their last copy, measured from the first") {
  Receipts receipts;
  receipts.Stored(0, 1, {"a"}, true, kStart);
  receipts.Published(0, 1, kStart);
  receipts.Stored(1, 7, {"b"}, false, kStart + 10s);
  CHECK(receipts.TakeDueForResend(kStart + 29s, 30s).empty());
  CHECK(receipts.TakeDueForResend(kStart + 30s, 30s) == std::vector<ehg::fleet::MessageRef>{{0, 1}});
  // Marked sent again at 30 s: not due again until 60 s; the other one at 40 s.
  CHECK(receipts.TakeDueForResend(kStart + 40s, 30s) == std::vector<ehg::fleet::MessageRef>{{1, 7}});
  CHECK(receipts.TakeDueForResend(kStart + 59s, 30s).empty());
  // A reconnect sends it again too, and restarts its timeout.
  CHECK(receipts.TakeUnconfirmed(0, kStart + 59s) == std::vector<std::uint64_t>{1});
  CHECK(receipts.TakeDueForResend(kStart + 60s, 30s).empty());
  // The round trip counts from the first copy, not the last.
  auto confirmed = receipts.Confirm(0, {"a"}, kStart + 61s);
  CHECK(confirmed.alert_round_trips == std::vector<Micros>{Micros(61'000'000)});
}

TEST_CASE("Percentiles are nearest rank") {
  std::vector<Micros> samples;
  for (int i = 100; i >= 1; --i)
    samples.push_back(Micros(i));
  CHECK(ehg::fleet::Percentile(samples, 50) == Micros(50));
  CHECK(ehg::fleet::Percentile(samples, 99) == Micros(99));
  CHECK(ehg::fleet::Percentile(samples, 100) == Micros(100));
  CHECK(ehg::fleet::Percentile(samples, 0) == Micros(1));
  CHECK(ehg::fleet::Percentile({}, 99) == Micros(0));
  CHECK(ehg::fleet::Percentile({Micros(7)}, 99) == Micros(7));
}

TEST_CASE("An alert stored while offline counts its round trip from its first publish, not from storing") {
  Receipts receipts;
  receipts.Stored(3, 1, {"x"}, true, kStart);
  receipts.Published(3, 1, kStart + 40s);  // the gateway came online
  receipts.Published(3, 1, kStart + 45s);  // a second copy does not restart the round trip
  auto confirmed = receipts.Confirm(3, {"x"}, kStart + 46s);
  CHECK(confirmed.events == 1);
  CHECK(confirmed.alert_round_trips == std::vector<Micros>{Micros(6'000'000)});
}

TEST_CASE("A schedule that starts later (the fleet settling) has nothing due before its start") {
  Profile profile;
  profile.alerts_per_second = 5;
  profile.storm_every = 10s;
  profile.burst_every = 10s;
  Schedule schedule(profile, 10, kStart + 30s);
  CHECK(schedule.Due(kStart).empty());
  CHECK(schedule.Due(kStart + 29s).empty());
  CHECK(!schedule.Due(kStart + 30s).empty());
}
