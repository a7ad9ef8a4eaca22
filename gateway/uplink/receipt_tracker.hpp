#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/store/store.hpp"

// Rows the broker's PUBACK does not settle: they stay in the outbox until the care system's receipt,
// and go again, same event id, while none comes (docs/mqtt.md, "End-to-end receipts"). The tracker does
// not care what a row is; the uplink decides which rows need a receipt (every event by default, or
// alerts only). No thread and no clock: the uplink passes the time of each step, tests a manual one.
namespace ehg::uplink {

// Resends of a row without a receipt back off to this interval at most.
inline constexpr std::chrono::seconds kMaxReceiptResendInterval{15 * 60};
// A critical or high alert whose copy the care system lost must not wait a quarter of an hour: its
// resends do not back off, and come at most this far apart.
inline constexpr std::chrono::seconds kMaxUrgentReceiptResendInterval{2 * 60};

// The wait before the next copy of a row of `priority` of which `resends` copies went again already.
// Critical and high: `base`, at most kMaxUrgentReceiptResendInterval. Others: `base`, doubled per
// resend, up to kMaxReceiptResendInterval (or `base` when larger).
std::chrono::seconds ReceiptResendDelay(std::chrono::seconds base, core::Priority priority,
                                        std::uint32_t resends);

// A copy number past which an event other than an alert is given up: the care system did not confirm
// six copies over about half an hour (60 + 120 + 240 + 480 + 900 s), so it will not take this one (a
// body it refuses, a hub older than the gateway). It leaves the outbox, counted and logged as dropped
// (reason no_receipt), instead of holding a slot of the receipt window and a resend schedule for ever.
// Alerts are never given up.
inline constexpr std::uint32_t kMaxCopiesWithoutReceipt = 6;
// From this copy on, observations go again one per message: a care system that refuses a whole batch
// for one bad entry then takes the others.
inline constexpr std::uint32_t kAloneFromCopy = 3;

// Observations sent and not yet confirmed by the care system at most (a window, as TCP's): about 1 MiB
// of bodies held in memory, twenty full batches. Alerts and other events are never held back by it.
inline constexpr std::size_t kMaxUnconfirmedBulkRows = 1000;

class ReceiptTracker {
 public:
  explicit ReceiptTracker(std::chrono::seconds base_interval) : base_(base_interval) {}

  // A row that needs a receipt was handed to the broker; `resends`: copies that went again before.
  void Sent(store::OutboxRow row, std::uint32_t resends);
  // The broker acknowledged the message that carried `sequence`. true: the tracker holds that row (its
  // resend is now scheduled, or its receipt came first and nothing remains to do); false: the row
  // needs no receipt and may leave the outbox.
  bool Acknowledged(std::int64_t sequence, core::SteadyTime now);
  // The message carrying the row was refused, or the connection lost: the outbox still has the row
  // and the next read returns it (the backoff starts over then).
  void Unsent(std::int64_t sequence);
  void ConnectionLost();

  // The care system's receipt. The row's sequence when the tracker held it, in flight or waiting (its
  // removal is the caller's); its PUBACK then schedules nothing.
  std::optional<std::int64_t> Receipt(const core::EventId& event_id);

  struct Due {
    store::OutboxRow row;
    std::uint32_t resends = 0;           // this copy's step in the backoff (a restart sets it back)
    std::uint32_t copies = 0;            // copies handed over since this process took the row
    std::chrono::seconds next_delay{0};  // the wait after this copy, should no receipt come either
  };
  // The first row whose resend is due at `now`, alerts before everything else, then outbox order; of
  // `kind` when given (the uplink fills a batch of observations that way). It leaves the waiting rows: Sent()
  // again once handed over, or read again from the outbox when it could not be. `copies_below`: only a row
  // sent fewer times than that.
  std::optional<Due> TakeDue(core::SteadyTime now, std::optional<core::EventKind> kind = std::nullopt,
                             std::uint32_t copies_below = UINT32_MAX);
  // A row taken by TakeDue that will not be sent again (given up): its copy count goes.
  void Forget(std::int64_t sequence);
  // The care system answered or the connection is new: whatever still waits was lost on its side or
  // the broker's, so its next copy is one base interval away at most and the backoff starts over.
  void RestartBackoff(core::SteadyTime now);

  std::size_t waiting() const { return waiting_.size(); }
  std::size_t waiting_alerts() const;
  // Bulk rows (observations) sent and not yet confirmed, in flight or waiting: the uplink sends no more
  // of them beyond kMaxUnconfirmedBulkRows, which bounds this memory and the rows every outbox read
  // skips.
  std::size_t unconfirmed_bulk() const;
  std::optional<core::SteadyTime> next_resend() const;
  // Adds the waiting rows to `held`: not to be read from the outbox meanwhile.
  void AddWaiting(std::set<std::int64_t>& held) const;

 private:
  struct Sending {
    store::OutboxRow row;
    std::uint32_t resends = 0;
    bool receipted = false;  // the receipt came before the broker's acknowledgement
  };
  struct Waiting {
    store::OutboxRow row;
    core::SteadyTime resend_at{};
    std::uint32_t resends = 0;
  };

  std::chrono::seconds base_;
  std::map<std::int64_t, Sending> in_flight_;  // by outbox sequence
  std::map<std::int64_t, Waiting> waiting_;
  // Copies sent of each row not yet confirmed, by sequence: never set back, unlike the backoff step, so
  // a row the care system refuses is given up even on a link that keeps reconnecting.
  std::map<std::int64_t, std::uint32_t> copies_;
};

}  // namespace ehg::uplink
