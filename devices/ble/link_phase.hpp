#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/core/clock.hpp"

// Where one configured Bluetooth device's link stands, and what happens next (docs/ble.md,
// "Connections"). Pure: events and the monotonic time in, the next phase and the BlueZ calls to make out.
// The BLE manager feeds it what BlueZ says and executes what it decides; it keeps no other link state.
// Tests step it with a manual time.
namespace ehg::devices::ble {

enum class LinkPhase {
  kUnlisted,           // BlueZ does not list the device (not found yet, forgotten, bluetoothd away)
  kWaiting,            // listed, not connected: a retry is due, or the device's next advertisement
  kConnecting,         // Device1.Connect sent, no answer yet (the call's own timeout: connect_timeout)
  kResolvingServices,  // connected; its services must resolve by the deadline (services_timeout)
  kSubscribing,        // set up: subscriptions, clock, battery and information asked for
  kMeasuring,          // subscribed: measurements arrive (a cuff until it hangs up, a stream until lost)
  kFetchingRecords,    // a glucose meter sends its stored records; it must finish by the deadline
  kAbortingRecords,    // the transfer took longer than records_timeout: abort sent
  kListening,          // BTHome: advertisements arrive (a device that is only listened to)
};

std::string_view PhaseName(LinkPhase phase);  // "waiting", "connecting", ... for logs and tests

// A connection attempt runs or a link is up: BlueZ has (or is making) a connection.
bool Linked(LinkPhase phase);
// The care system was told the device is connected (or, BTHome, receiving advertisements).
bool ReportedConnected(LinkPhase phase);

// Why a link ended.
enum class LinkLoss { kHungUp, kBluetoothdStopped, kAdapterOff, kRemovedFromBluez, kServicesTimedOut };
// The device event's detail as the care system receives it ("device disconnected", "bluetoothd
// stopped", "adapter powered off", "device removed from BlueZ", "gave up waiting for services").
std::string LinkLossDetail(LinkLoss loss);
// What the installer reads on the status page: what happened and what to do.
std::string LinkLossText(LinkLoss loss);
// A cuff, thermometer, scale or glucose meter hanging up is how it works, not an error to show.
bool LinkLossIsError(LinkLoss loss, std::string_view profile);

struct LinkPolicy {
  bool connects = true;  // false: a BTHome device, only listened to
  std::chrono::milliseconds services_timeout{30'000};
  std::chrono::milliseconds records_timeout{60'000};
  std::chrono::milliseconds backoff_initial{1'000};
  std::chrono::milliseconds backoff_max{300'000};
  // After a link ends, an advertisement does not start a connection before this has passed: BlueZ
  // reports the device's last advertisement again right after a hang-up.
  std::chrono::milliseconds advertisement_gap{1'000};
};

// What happened, as the manager learned it from BlueZ (or from its own timer).
namespace link_event {
struct Listed {};      // BlueZ lists the device (its object list, or InterfacesAdded)
struct Advertised {};  // the device was heard advertising (RSSI or service data changed, or it appeared)
struct RadioReady {};  // BlueZ is on the bus with the adapter powered: connect what waits
struct ConnectAnswered {
  std::uint64_t generation = 0;  // the attempt the reply belongs to
  bool ok = false;
};
struct LinkUp {};            // Device1.Connected became true
struct ServicesResolved {};  // Device1.ServicesResolved became true
struct Subscribed {
  std::uint64_t generation = 0;
  bool fetches_records = false;  // a glucose meter with a Record Access Control Point: request records
};
struct RecordsEnded {  // the meter's final answer arrived, or the request was refused
  std::uint64_t generation = 0;
};
struct AdvertisementAccepted {};  // BTHome: a new advertisement was decoded
// The link ended, or cannot be while the radio is away (a hang-up ends only a link that exists).
struct Lost {
  LinkLoss loss = LinkLoss::kHungUp;
  bool unlisted = false;  // BlueZ no longer lists the device
};
struct Tick {};  // the manager's timer for next_wake() fired: retries and deadlines due by now
}  // namespace link_event

using LinkEvent = std::variant<link_event::Listed, link_event::Advertised, link_event::RadioReady,
                               link_event::ConnectAnswered, link_event::LinkUp, link_event::ServicesResolved,
                               link_event::Subscribed, link_event::RecordsEnded,
                               link_event::AdvertisementAccepted, link_event::Lost, link_event::Tick>;

// What the manager does after a step, in this order: hang up, note and report the loss, report
// listening, connect, set up, request or abort records.
struct LinkActions {
  bool stale_reply = false;       // a reply to an earlier attempt or link: ignore it (nothing else is set)
  std::optional<LinkLoss> lost;   // the link ended: show the reason (LinkLossIsError), report it
  bool report_lost = false;       // the care system was told connected: tell it the link is down
  bool report_listening = false;  // BTHome: tell the care system advertisements arrive
  bool disconnect = false;        // call Device1.Disconnect (services did not resolve in time)
  bool connect = false;           // call Device1.Connect
  bool set_up = false;            // subscribe, write the clock, read battery and device information
  bool request_records = false;   // glucose: ask for the records after the last one known
  bool abort_records = false;     // write the RACP abort
};

class LinkMachine {
 public:
  explicit LinkMachine(LinkPolicy policy);

  // One event at `now`. `radio_ready`: BlueZ is on the bus and the adapter present and powered (no
  // connection is attempted without).
  LinkActions Step(const LinkEvent& event, core::SteadyTime now, bool radio_ready);

  LinkPhase phase() const { return phase_; }
  // Replies to BlueZ calls carry the generation they were made in; a link that ended or a new attempt
  // makes every older reply stale.
  std::uint64_t generation() const { return generation_; }
  std::chrono::milliseconds backoff() const { return backoff_; }  // the wait before the next retry
  std::optional<core::SteadyTime> retry_at() const { return retry_at_; }
  std::optional<core::SteadyTime> deadline() const { return deadline_; }
  // When the manager must Step(Tick) next: the earlier of the retry and the phase's deadline.
  std::optional<core::SteadyTime> next_wake() const;

 private:
  void MaybeConnect(LinkActions& actions, core::SteadyTime now, bool radio_ready);
  void ScheduleRetry(core::SteadyTime now);
  void SetUp(LinkActions& actions);
  void Lose(LinkActions& actions, LinkLoss loss, bool unlisted, core::SteadyTime now);
  void OnTick(LinkActions& actions, core::SteadyTime now, bool radio_ready);

  LinkPolicy policy_;
  LinkPhase phase_ = LinkPhase::kUnlisted;
  std::uint64_t generation_ = 0;
  std::chrono::milliseconds backoff_;
  std::optional<core::SteadyTime> retry_at_;
  std::optional<core::SteadyTime> deadline_;
  core::SteadyTime earliest_advertised_connect_{};
};

}  // namespace ehg::devices::ble
