// The BLE link's phases, stepped transition by transition with a manual clock: retries, backoff and the
// services and records deadlines are decided here, the manager only executes them (docs/ble.md,
// "Connections").
#include "devices/ble/link_phase.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using namespace ehg::devices::ble;
namespace ev = ehg::devices::ble::link_event;

namespace {

LinkPolicy LinkTestPolicy() {
  LinkPolicy policy;
  policy.services_timeout = 30s;
  policy.records_timeout = 60s;
  policy.backoff_initial = 1s;
  policy.backoff_max = 300s;
  policy.advertisement_gap = 1s;
  return policy;
}

// One device's link with the clock it is stepped by and the radio's state.
struct LinkUnderTest {
  explicit LinkUnderTest(LinkPolicy policy = LinkTestPolicy()) : machine(policy) {}

  LinkActions Step(const LinkEvent& event) { return machine.Step(event, clock.SteadyNow(), radio_ready); }
  LinkActions After(std::chrono::milliseconds step, const LinkEvent& event = ev::Tick{}) {
    clock.Advance(step);
    return Step(event);
  }
  ehg::core::SteadyTime In(std::chrono::milliseconds from_now) const { return clock.SteadyNow() + from_now; }

  // Listed and connected with its services resolved: set up.
  void SetUp() {
    Step(ev::Listed{});
    REQUIRE(Step(ev::RadioReady{}).connect);
    REQUIRE_FALSE(Step(ev::ConnectAnswered{machine.generation(), true}).stale_reply);
    REQUIRE(Step(ev::ServicesResolved{}).set_up);
    REQUIRE(machine.phase() == LinkPhase::kSubscribing);
  }

  ehg::core::ManualClock clock;
  LinkMachine machine;
  bool radio_ready = true;
};

bool NoAction(const LinkActions& actions) {
  return !actions.stale_reply && !actions.lost && !actions.report_lost && !actions.report_listening &&
         !actions.disconnect && !actions.connect && !actions.set_up && !actions.request_records &&
         !actions.abort_records;
}

}  // namespace

TEST_CASE("A listed device connects as soon as the radio is ready, never before") {
  LinkUnderTest link;
  CHECK(link.machine.phase() == LinkPhase::kUnlisted);
  CHECK(NoAction(link.Step(ev::Listed{})));
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  link.radio_ready = false;  // BlueZ not on the bus, or the adapter off
  CHECK(NoAction(link.Step(ev::RadioReady{})));
  CHECK(NoAction(link.Step(ev::Advertised{})));
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  link.radio_ready = true;
  const std::uint64_t before = link.machine.generation();
  CHECK(link.Step(ev::RadioReady{}).connect);
  CHECK(link.machine.phase() == LinkPhase::kConnecting);
  CHECK(link.machine.generation() == before + 1);
  CHECK_FALSE(link.machine.next_wake());         // the Connect call's own timeout answers a silent device
  CHECK(NoAction(link.Step(ev::RadioReady{})));  // one attempt at a time
  CHECK(NoAction(link.Step(ev::Advertised{})));
}

TEST_CASE("A device BlueZ does not list yet is retried with a backoff doubling up to the maximum") {
  LinkPolicy policy = LinkTestPolicy();
  policy.backoff_max = 5s;
  LinkUnderTest link(policy);
  CHECK(NoAction(link.Step(ev::RadioReady{})));  // discovery has not listed it: try again later
  CHECK(link.machine.phase() == LinkPhase::kUnlisted);
  REQUIRE(link.machine.retry_at() == link.In(1s));
  CHECK(NoAction(link.After(999ms)));  // not due yet
  CHECK(link.machine.retry_at() == link.In(1ms));
  CHECK(NoAction(link.After(1ms)));  // due, still not listed: tried again after twice the wait
  CHECK(link.machine.retry_at() == link.In(2s));
  CHECK(NoAction(link.After(2s)));
  CHECK(link.machine.retry_at() == link.In(4s));
  CHECK(NoAction(link.After(4s)));
  CHECK(link.machine.retry_at() == link.In(5s));  // 8 s capped at the maximum
  CHECK(NoAction(link.After(5s)));
  CHECK(link.machine.retry_at() == link.In(5s));
  // Listed at last: the next retry connects.
  link.Step(ev::Listed{});
  CHECK(link.After(5s).connect);
  CHECK_FALSE(link.machine.retry_at());
}

TEST_CASE("A failed connection is retried after the backoff, doubling, and a set-up link starts it afresh") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  REQUIRE(link.Step(ev::RadioReady{}).connect);
  CHECK(NoAction(link.Step(ev::ConnectAnswered{link.machine.generation(), false})));
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  CHECK(link.machine.retry_at() == link.In(1s));
  CHECK(NoAction(link.After(999ms)));
  CHECK(link.After(1ms).connect);  // the retry, due exactly now
  link.Step(ev::ConnectAnswered{link.machine.generation(), false});
  CHECK(link.machine.retry_at() == link.In(2s));
  CHECK(link.After(2s).connect);
  link.Step(ev::ConnectAnswered{link.machine.generation(), false});
  CHECK(link.machine.retry_at() == link.In(4s));
  CHECK(link.After(4s).connect);
  link.Step(ev::ConnectAnswered{link.machine.generation(), true});
  CHECK(link.Step(ev::ServicesResolved{}).set_up);
  CHECK(link.machine.backoff() == 1s);
  // The link ends later: retried after the initial backoff again, not after 8 s.
  link.Step(ev::Lost{LinkLoss::kHungUp, false});
  CHECK(link.machine.retry_at() == link.In(1s));
}

TEST_CASE("The backoff stops doubling at its maximum") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  link.Step(ev::RadioReady{});
  std::chrono::milliseconds last{0};
  for (int attempt = 0; attempt < 12; ++attempt) {
    link.Step(ev::ConnectAnswered{link.machine.generation(), false});
    REQUIRE(link.machine.retry_at());
    last = std::chrono::duration_cast<std::chrono::milliseconds>(*link.machine.retry_at() -
                                                                 link.clock.SteadyNow());
    REQUIRE(link.After(last).connect);
  }
  CHECK(last == 300s);  // 1, 2, 4, ... 256, then 300 s (5 minutes), and stays
}

TEST_CASE("Connected, the services must resolve within services_timeout, else hang up and retry") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  link.Step(ev::RadioReady{});
  link.Step(ev::ConnectAnswered{link.machine.generation(), true});
  CHECK(link.machine.phase() == LinkPhase::kResolvingServices);
  CHECK(link.machine.next_wake() == link.In(30s));
  CHECK(NoAction(link.After(29'999ms)));
  const std::uint64_t generation = link.machine.generation();
  const LinkActions gave_up = link.After(1ms);
  CHECK(gave_up.disconnect);
  REQUIRE(gave_up.lost == LinkLoss::kServicesTimedOut);
  CHECK_FALSE(gave_up.report_lost);  // never reported connected: it was not set up
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  CHECK(link.machine.generation() == generation + 1);
  CHECK(link.machine.retry_at() == link.In(1s));
  // The hang-up BlueZ reports after our Disconnect is no second loss.
  CHECK(NoAction(link.Step(ev::Lost{LinkLoss::kHungUp, false})));
}

TEST_CASE("Services resolved in time: set up once, the deadline cleared") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  link.Step(ev::RadioReady{});
  link.Step(ev::ConnectAnswered{link.machine.generation(), true});
  const LinkActions resolved = link.After(29s, ev::ServicesResolved{});
  CHECK(resolved.set_up);
  CHECK(link.machine.phase() == LinkPhase::kSubscribing);
  CHECK_FALSE(link.machine.next_wake());
  CHECK(NoAction(link.After(10s)));
  CHECK(NoAction(link.Step(ev::ServicesResolved{})));  // BlueZ re-resolving: no second set-up
}

TEST_CASE("Connected and resolved before Connect answers: set up at once, the late answer changes nothing") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  link.Step(ev::RadioReady{});
  const std::uint64_t attempt = link.machine.generation();
  CHECK(NoAction(link.Step(ev::LinkUp{})));
  CHECK(link.machine.phase() == LinkPhase::kResolvingServices);
  CHECK(link.machine.deadline() == link.In(30s));
  CHECK(link.Step(ev::ServicesResolved{}).set_up);
  const LinkActions answer = link.Step(ev::ConnectAnswered{attempt, true});
  CHECK(NoAction(answer));  // current, so the manager counts the connection; nothing else happens
  CHECK(link.machine.phase() == LinkPhase::kSubscribing);
}

TEST_CASE("Replies to an attempt or a link that ended are stale and ignored") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  link.Step(ev::RadioReady{});
  const std::uint64_t first = link.machine.generation();
  link.Step(ev::Lost{LinkLoss::kHungUp, false});  // Connected false while connecting
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  CHECK(link.Step(ev::ConnectAnswered{first, true}).stale_reply);
  CHECK(link.machine.phase() == LinkPhase::kWaiting);

  link.SetUp();
  const std::uint64_t set_up = link.machine.generation();
  link.Step(ev::Lost{LinkLoss::kHungUp, false});
  CHECK(link.Step(ev::Subscribed{set_up, false}).stale_reply);
  CHECK(link.Step(ev::RecordsEnded{set_up}).stale_reply);
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
}

TEST_CASE("A cuff hangs up after measuring and is connected again when it advertises after the gap") {
  LinkUnderTest link;
  link.SetUp();
  CHECK(NoAction(link.Step(ev::Subscribed{link.machine.generation(), false})));
  CHECK(link.machine.phase() == LinkPhase::kMeasuring);
  const LinkActions hung_up = link.After(5s, ev::Lost{LinkLoss::kHungUp, false});
  CHECK(hung_up.lost == LinkLoss::kHungUp);
  CHECK(hung_up.report_lost);
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  // BlueZ repeats the last advertisement right after the hang-up: that is not the cuff coming back.
  CHECK(NoAction(link.After(999ms, ev::Advertised{})));
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  CHECK(link.After(1ms, ev::Advertised{}).connect);
  CHECK_FALSE(link.machine.retry_at());  // the retry the hang-up scheduled is not needed any more
}

TEST_CASE("A cuff asleep between measurements is retried with backoff until it advertises again") {
  LinkUnderTest link;
  link.SetUp();
  link.Step(ev::Lost{LinkLoss::kHungUp, false});
  REQUIRE(link.After(1s).connect);
  link.Step(ev::ConnectAnswered{link.machine.generation(), false});  // asleep: no answer
  CHECK(link.machine.retry_at() == link.In(2s));
  CHECK(link.After(1500ms, ev::Advertised{}).connect);  // measured again: tried at once
}

TEST_CASE("A hang-up of a device that was not linked is no loss at all") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  const std::uint64_t generation = link.machine.generation();
  CHECK(NoAction(link.Step(ev::Lost{LinkLoss::kHungUp, false})));
  CHECK(link.machine.generation() == generation);
  CHECK_FALSE(link.machine.retry_at());
}

TEST_CASE("A device BlueZ kept connected (gateway restart) is set up, or given up if it never resolves") {
  LinkUnderTest resolves;
  resolves.Step(ev::Listed{});
  CHECK(NoAction(resolves.Step(ev::LinkUp{})));
  CHECK(resolves.machine.phase() == LinkPhase::kResolvingServices);
  CHECK(resolves.Step(ev::ServicesResolved{}).set_up);
  CHECK(NoAction(resolves.Step(ev::RadioReady{})));  // already linked: no second connection

  // Connected but never resolved: it used to wait forever; now the services deadline applies.
  LinkUnderTest stuck;
  stuck.Step(ev::Listed{});
  stuck.Step(ev::LinkUp{});
  const LinkActions gave_up = stuck.After(30s);
  CHECK(gave_up.disconnect);
  CHECK(gave_up.lost == LinkLoss::kServicesTimedOut);
  CHECK(stuck.machine.retry_at() == stuck.In(1s));
}

TEST_CASE("Services resolved of a device not connected is ignored") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  CHECK(NoAction(link.Step(ev::ServicesResolved{})));
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
}

TEST_CASE("A glucose meter's records: requested once subscribed, finished in time or aborted once") {
  LinkUnderTest link;
  link.SetUp();
  const LinkActions subscribed = link.Step(ev::Subscribed{link.machine.generation(), true});
  CHECK(subscribed.request_records);
  CHECK(link.machine.phase() == LinkPhase::kFetchingRecords);
  CHECK(link.machine.next_wake() == link.In(60s));
  CHECK(NoAction(link.After(59'999ms)));
  const LinkActions timed_out = link.After(1ms);
  CHECK(timed_out.abort_records);
  CHECK_FALSE(timed_out.lost);  // the link stays up
  CHECK(link.machine.phase() == LinkPhase::kAbortingRecords);
  CHECK_FALSE(link.machine.next_wake());
  CHECK(NoAction(link.After(120s)));  // aborted once, however long the meter takes to answer
  CHECK(NoAction(link.Step(ev::RecordsEnded{link.machine.generation()})));
  CHECK(link.machine.phase() == LinkPhase::kMeasuring);

  LinkUnderTest in_time;
  in_time.SetUp();
  in_time.Step(ev::Subscribed{in_time.machine.generation(), true});
  CHECK(NoAction(in_time.After(10s, ev::RecordsEnded{in_time.machine.generation()})));
  CHECK(in_time.machine.phase() == LinkPhase::kMeasuring);
  CHECK_FALSE(in_time.machine.next_wake());
  CHECK(NoAction(in_time.After(60s)));
}

TEST_CASE("A meter hanging up during its transfer ends it with the link") {
  LinkUnderTest link;
  link.SetUp();
  link.Step(ev::Subscribed{link.machine.generation(), true});
  const LinkActions hung_up = link.After(3s, ev::Lost{LinkLoss::kHungUp, false});
  CHECK(hung_up.report_lost);
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
  CHECK(link.machine.next_wake() == link.In(1s));  // the retry, not the records deadline
  CHECK_FALSE(link.machine.deadline());
}

TEST_CASE("The adapter switched off ends every link, devices wait for it and keep their place in BlueZ") {
  LinkUnderTest set_up;
  set_up.SetUp();
  set_up.radio_ready = false;
  const LinkActions off = set_up.Step(ev::Lost{LinkLoss::kAdapterOff, false});
  CHECK(off.lost == LinkLoss::kAdapterOff);
  CHECK(off.report_lost);
  CHECK(set_up.machine.phase() == LinkPhase::kWaiting);
  REQUIRE(set_up.machine.retry_at());
  // The retry comes due while the adapter is off: nothing is tried, and nothing more is scheduled.
  CHECK(NoAction(set_up.After(1s)));
  CHECK_FALSE(set_up.machine.next_wake());
  set_up.radio_ready = true;
  CHECK(set_up.Step(ev::RadioReady{}).connect);

  // A device waiting for its retry loses nothing it had: the loss is shown, nothing is reported.
  LinkUnderTest waiting;
  waiting.Step(ev::Listed{});
  waiting.Step(ev::RadioReady{});
  waiting.Step(ev::ConnectAnswered{waiting.machine.generation(), false});
  const auto retry = waiting.machine.retry_at();
  const LinkActions also_off = waiting.Step(ev::Lost{LinkLoss::kAdapterOff, false});
  CHECK(also_off.lost == LinkLoss::kAdapterOff);
  CHECK_FALSE(also_off.report_lost);
  CHECK(waiting.machine.retry_at() == retry);
}

TEST_CASE("A loss of a device that had no link schedules no retry: the radio coming back connects it") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  link.radio_ready = false;
  CHECK(link.Step(ev::Lost{LinkLoss::kAdapterOff, false}).lost == LinkLoss::kAdapterOff);
  CHECK_FALSE(link.machine.next_wake());
  link.radio_ready = true;
  CHECK(link.Step(ev::RadioReady{}).connect);
}

TEST_CASE("bluetoothd stopping unlists every device, it is listed again from the new object list") {
  LinkUnderTest link;
  link.SetUp();
  link.radio_ready = false;
  const LinkActions stopped = link.Step(ev::Lost{LinkLoss::kBluetoothdStopped, true});
  CHECK(stopped.report_lost);
  CHECK(link.machine.phase() == LinkPhase::kUnlisted);
  link.radio_ready = true;
  link.Step(ev::Listed{});
  CHECK(link.After(1s, ev::RadioReady{}).connect);

  LinkUnderTest removed;
  removed.SetUp();
  CHECK(removed.Step(ev::Lost{LinkLoss::kRemovedFromBluez, true}).lost == LinkLoss::kRemovedFromBluez);
  CHECK(removed.machine.phase() == LinkPhase::kUnlisted);
  CHECK(NoAction(removed.After(1s)));  // the retry finds it unlisted: tried again after the backoff
  CHECK(removed.machine.retry_at() == removed.In(2s));
}

TEST_CASE("A BTHome device is never connected: reported once when heard, reported lost with the radio") {
  LinkPolicy policy = LinkTestPolicy();
  policy.connects = false;
  LinkUnderTest button(policy);
  button.Step(ev::Listed{});
  CHECK(NoAction(button.Step(ev::RadioReady{})));
  CHECK(NoAction(button.Step(ev::Advertised{})));
  CHECK(NoAction(button.Step(ev::LinkUp{})));
  CHECK(NoAction(button.Step(ev::ServicesResolved{})));
  CHECK(button.machine.phase() == LinkPhase::kWaiting);
  CHECK(button.Step(ev::AdvertisementAccepted{}).report_listening);
  CHECK(button.machine.phase() == LinkPhase::kListening);
  CHECK(NoAction(button.Step(ev::AdvertisementAccepted{})));
  const LinkActions off = button.Step(ev::Lost{LinkLoss::kAdapterOff, false});
  CHECK(off.report_lost);
  CHECK_FALSE(button.machine.next_wake());  // nothing to retry: it is only listened to
  CHECK(button.Step(ev::AdvertisementAccepted{}).report_listening);
}

TEST_CASE("Connecting devices ignore BTHome advertisements accepted") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  CHECK(NoAction(link.Step(ev::AdvertisementAccepted{})));
  CHECK(link.machine.phase() == LinkPhase::kWaiting);
}

TEST_CASE("The next wake-up is the earlier of the retry and the phase's deadline") {
  LinkUnderTest link;
  link.Step(ev::Listed{});
  link.Step(ev::RadioReady{});
  link.Step(ev::ConnectAnswered{link.machine.generation(), false});  // retry in 1 s
  link.Step(ev::LinkUp{});  // BlueZ connected it anyway: services due in 30 s
  CHECK(link.machine.retry_at() == link.In(1s));
  CHECK(link.machine.deadline() == link.In(30s));
  CHECK(link.machine.next_wake() == link.In(1s));
  CHECK(NoAction(link.After(1s)));  // the retry finds it linked: nothing to do
  CHECK(link.machine.next_wake() == link.In(29s));
}

TEST_CASE("Link losses: the care system's detail, and a hang-up is no error only for devices that hang up") {
  CHECK(LinkLossDetail(LinkLoss::kHungUp) == "device disconnected");
  CHECK(LinkLossDetail(LinkLoss::kBluetoothdStopped) == "bluetoothd stopped");
  CHECK(LinkLossDetail(LinkLoss::kAdapterOff) == "adapter powered off");
  CHECK(LinkLossDetail(LinkLoss::kRemovedFromBluez) == "device removed from BlueZ");
  CHECK(LinkLossDetail(LinkLoss::kServicesTimedOut) == "gave up waiting for services");
  for (const char* profile : {"blood_pressure", "thermometer", "weight_scale", "glucose"}) {
    CHECK_MESSAGE(!LinkLossIsError(LinkLoss::kHungUp, profile), profile);
    CHECK_MESSAGE(LinkLossIsError(LinkLoss::kAdapterOff, profile), profile);
    CHECK_MESSAGE(LinkLossIsError(LinkLoss::kServicesTimedOut, profile), profile);
  }
  for (const char* profile : {"pulse_oximeter", "heart_rate", "bthome"})
    CHECK_MESSAGE(LinkLossIsError(LinkLoss::kHungUp, profile), profile);
  CHECK(LinkLossText(LinkLoss::kBluetoothdStopped).find("systemctl status bluetooth") != std::string::npos);
}

TEST_CASE("Phases: which are linked and which the care system was told are connected") {
  CHECK_FALSE(Linked(LinkPhase::kUnlisted));
  CHECK_FALSE(Linked(LinkPhase::kWaiting));
  CHECK_FALSE(Linked(LinkPhase::kListening));
  for (const LinkPhase phase :
       {LinkPhase::kConnecting, LinkPhase::kResolvingServices, LinkPhase::kSubscribing, LinkPhase::kMeasuring,
        LinkPhase::kFetchingRecords, LinkPhase::kAbortingRecords})
    CHECK_MESSAGE(Linked(phase), PhaseName(phase));
  CHECK_FALSE(ReportedConnected(LinkPhase::kConnecting));
  CHECK_FALSE(ReportedConnected(LinkPhase::kResolvingServices));
  CHECK(ReportedConnected(LinkPhase::kSubscribing));
  CHECK(ReportedConnected(LinkPhase::kListening));
}
