#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/store/store.hpp"
#include "gateway/uplink/outbox_port.hpp"

// Which outbox rows go to the broker next, and which are on their way (docs/mqtt.md, "Delivery"). The
// outbox is the only durable copy, so nothing here is kept that cannot be read again: a row whose
// message was lost is simply no longer excluded from the next read. No thread and no clock: the uplink
// passes the time of each step, tests a manual one.
namespace ehg::uplink {

// In-flight slots bulk observations may never take, so an alert always finds one free.
inline constexpr std::size_t kUrgentSlots = 2;
// Rows prefetched per outbox read, beyond those already in flight or held.
inline constexpr std::size_t kPrefetchRows = 256;
// After a failed outbox read, or a message not handed over or refused by the broker: the pause before
// rows are read and sent again (a broken key or a full client buffer must not spin the thread).
inline constexpr std::chrono::milliseconds kPublishRetryDelay{1000};

struct PublisherOptions {
  std::size_t in_flight_window = 32;  // raised to kUrgentSlots + 1 when smaller
  std::size_t observation_batch_max = 50;
  std::chrono::milliseconds observation_batch_window{2000};
};

// Outbox rows that go as one MQTT message: one event, or a batch of observations, in sending order.
struct OutgoingRows {
  std::vector<store::OutboxRow> rows;
  // For a copy sent again for want of a receipt: how many copies went before (the resend backoff's
  // step). 0 for a row read from the outbox in order.
  std::uint32_t resends = 0;
};

// One MQTT message handed to the transport and not yet acknowledged.
struct InFlight {
  std::vector<std::int64_t> sequences;  // outbox rows inside (none for a status message)
  core::SteadyTime sent_at{};
};

class OutboxPublisher {
 public:
  // Hands one message to the transport: its tag, or nothing when it was not handed over (not
  // connected, sealing failed). Must not call back into the publisher.
  using Send = std::function<std::optional<std::uint64_t>(const OutgoingRows& message)>;
  // The next resend that is due, or nothing (rows kept elsewhere, e.g. alerts without a receipt).
  using DueResend = std::function<std::optional<OutgoingRows>()>;
  // Rows to skip when reading: neither sendable nor gone yet. By sequence: waiting for a receipt, or
  // their removal not committed. By event id: a receipt named them before the uplink had read them, so
  // their removal is on its way although the uplink never knew their sequence.
  struct Skipped {
    std::set<std::int64_t> sequences;
    std::set<core::EventId> events;
  };
  // Adds the rows to skip. Asked only when the outbox is read, not on every step.
  using HeldRows = std::function<void(Skipped& held)>;
  // Whether one more bulk message (observations) may go: false while too many wait for the care
  // system's receipt. Asked before each one; none given: always.
  using BulkRoom = std::function<bool()>;

  OutboxPublisher(PublisherOptions options, OutboxPort& outbox);

  // Hands `send` what may go at `now` while the window has room: due resends first (out of order: they
  // do not move the read position), then outbox rows by priority, first in first out within one.
  // Bulk rows leave kUrgentSlots free and wait while `bulk_room` says no; a partial observation batch waits
  // up to the batch window for more. A message `send` could not hand over ends the fill; everything not in
  // flight is read again, from the front, after kPublishRetryDelay.
  void Fill(core::SteadyTime now, const HeldRows& held, const DueResend& due, const Send& send,
            const BulkRoom& bulk_room = {});

  // A status message went out: it takes a slot (a heartbeat waits for the previous one's PUBACK).
  void StatusSent(std::uint64_t tag, core::SteadyTime now);
  bool status_in_flight() const;
  // A message the caller made could not be handed over: read again from the front after the pause.
  void NotSent(core::SteadyTime now);

  // The broker's PUBACK: the message's rows, or nothing for a tag of an earlier connection.
  std::optional<InFlight> Delivered(std::uint64_t tag);
  // A PUBACK with a failure code: its rows are read again in their place after the pause.
  std::optional<InFlight> DeliveryFailed(std::uint64_t tag, core::SteadyTime now);
  // A new connection carries nothing of the old one: every row in flight is read again, in order.
  void ConnectionLost();
  void Connected();

  // New rows were committed; one more urgent than the last row sent sorts before the read position,
  // so reading starts from the front again. Any new row may fill a partial batch.
  void RowsAdded(core::Priority most_urgent);
  // Rows of unknown priority were committed (the pipeline's events for an alert action).
  void Reread() { need_refill_ = true; }
  // A read row that will not be sent (its receipt arrived first): its sequence, when it was queued.
  std::optional<std::int64_t> TakeQueued(const core::EventId& event_id);

  std::size_t in_flight() const { return in_flight_.size(); }
  // When a step is due: a partial batch has waited the batch window, or the pause ends.
  std::optional<core::SteadyTime> batch_deadline() const;
  core::SteadyTime retry_at() const { return retry_at_; }

 private:
  bool Refill(core::SteadyTime now, const HeldRows& held);
  bool Hand(OutgoingRows message, bool in_order, core::SteadyTime now, const Send& send);
  // Whatever was read may be stale or behind the position: read again from the front.
  void ReadAgainFromFront();

  PublisherOptions options_;
  OutboxPort& outbox_;
  std::map<std::uint64_t, InFlight> in_flight_;
  std::deque<store::OutboxRow> queue_;  // prefetched rows in sending order, none of them in flight
  // The last row sent in outbox order: the next read starts after it. Cleared whenever a row before it
  // may need sending again (lost connection, refused message) or a more urgent row arrived.
  std::optional<store::OutboxPosition> cursor_;
  bool need_refill_ = true;
  bool outbox_has_more_ = false;
  std::optional<core::SteadyTime> partial_batch_since_;
  core::SteadyTime retry_at_{};
};

}  // namespace ehg::uplink
