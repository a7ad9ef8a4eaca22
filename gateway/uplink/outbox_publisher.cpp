#include "gateway/uplink/outbox_publisher.hpp"

#include <algorithm>
#include <iterator>

#include "gateway/core/log.hpp"

namespace ehg::uplink {

OutboxPublisher::OutboxPublisher(PublisherOptions options, OutboxPort& outbox)
    : options_(options), outbox_(outbox) {
  options_.in_flight_window = std::max<std::size_t>(options_.in_flight_window, kUrgentSlots + 1);
  options_.observation_batch_max = std::max<std::size_t>(options_.observation_batch_max, 1);
}

void OutboxPublisher::Fill(core::SteadyTime now, const HeldRows& held, const DueResend& due, const Send& send,
                           const BulkRoom& bulk_room) {
  if (now < retry_at_) return;
  // Overdue resends first, with their original event ids, leaving the urgent slots to new alerts (a
  // resend of an alert comes first among the resends).
  while (due && in_flight_.size() + kUrgentSlots < options_.in_flight_window) {
    std::optional<OutgoingRows> resend = due();
    if (!resend) break;
    if (!Hand(std::move(*resend), false, now, send)) return;
  }

  bool refilled_for_batch = false;
  while (in_flight_.size() < options_.in_flight_window) {
    if (need_refill_ || (queue_.empty() && outbox_has_more_)) {
      if (!Refill(now, held)) return;
    }
    if (queue_.empty()) return;
    const store::OutboxRow& front = queue_.front();
    if (front.event.priority == core::Priority::kBulk &&
        (in_flight_.size() + kUrgentSlots >= options_.in_flight_window || (bulk_room && !bulk_room()))) {
      return;
    }
    if (front.event.kind != core::EventKind::kObservation) {
      OutgoingRows message;
      message.rows.push_back(std::move(queue_.front()));
      queue_.pop_front();
      if (!Hand(std::move(message), true, now, send)) return;
      continue;
    }
    std::size_t available = 0;
    while (available < queue_.size() && available < options_.observation_batch_max &&
           queue_[available].event.kind == core::EventKind::kObservation) {
      ++available;
    }
    const bool partial = available < options_.observation_batch_max && available == queue_.size();
    if (partial && outbox_has_more_ && !refilled_for_batch) {
      // The read stopped inside the batch: read on before calling it partial.
      refilled_for_batch = true;
      need_refill_ = true;
      continue;
    }
    if (partial) {
      // A partial batch: wait a little for more, unless it has waited long enough.
      if (!partial_batch_since_) partial_batch_since_ = now;
      if (now - *partial_batch_since_ < options_.observation_batch_window) return;
    }
    partial_batch_since_.reset();
    OutgoingRows message;
    message.rows.assign(std::make_move_iterator(queue_.begin()),
                        std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(available)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(available));
    if (!Hand(std::move(message), true, now, send)) return;
  }
}

bool OutboxPublisher::Refill(core::SteadyTime now, const HeldRows& held) {
  need_refill_ = false;
  Skipped excluded;
  if (held) held(excluded);
  for (const auto& [tag, entry] : in_flight_)
    excluded.sequences.insert(entry.sequences.begin(), entry.sequences.end());
  // From the read position only what is new; from the front, enough to see past what is excluded.
  const std::size_t limit =
      cursor_ ? kPrefetchRows : kPrefetchRows + excluded.sequences.size() + excluded.events.size();
  auto rows = outbox_.Peek(limit, cursor_);
  queue_.clear();
  if (!rows) {
    core::LogError("cannot read the outbox", {{"reason", rows.error().message}});
    // Read again after the pause: the rows that were to be read are still waiting (an alert among
    // them must not wait for the next row the pipeline writes).
    need_refill_ = true;
    retry_at_ = now + kPublishRetryDelay;
    return false;
  }
  outbox_has_more_ = rows->size() == limit;
  for (store::OutboxRow& row : *rows) {
    if (excluded.sequences.count(row.sequence) == 0 && excluded.events.count(row.event.id) == 0)
      queue_.push_back(std::move(row));
  }
  return true;
}

bool OutboxPublisher::Hand(OutgoingRows message, bool in_order, core::SteadyTime now, const Send& send) {
  const std::optional<std::uint64_t> tag = send(message);
  if (!tag) {
    NotSent(now);
    return false;
  }
  InFlight& entry = in_flight_[*tag];
  entry.sent_at = now;
  for (const store::OutboxRow& row : message.rows)
    entry.sequences.push_back(row.sequence);
  if (in_order)
    cursor_ = store::OutboxPosition{message.rows.back().event.priority, message.rows.back().sequence};
  return true;
}

void OutboxPublisher::StatusSent(std::uint64_t tag, core::SteadyTime now) {
  in_flight_[tag] = InFlight{{}, now};
}

bool OutboxPublisher::status_in_flight() const {
  return std::any_of(in_flight_.begin(), in_flight_.end(),
                     [](const auto& entry) { return entry.second.sequences.empty(); });
}

void OutboxPublisher::ReadAgainFromFront() {
  queue_.clear();
  cursor_.reset();
  need_refill_ = true;
}

void OutboxPublisher::NotSent(core::SteadyTime now) {
  ReadAgainFromFront();
  retry_at_ = now + kPublishRetryDelay;
}

std::optional<InFlight> OutboxPublisher::Delivered(std::uint64_t tag) {
  auto found = in_flight_.find(tag);
  if (found == in_flight_.end()) return std::nullopt;  // from a connection that has since been replaced
  InFlight entry = std::move(found->second);
  in_flight_.erase(found);
  return entry;
}

std::optional<InFlight> OutboxPublisher::DeliveryFailed(std::uint64_t tag, core::SteadyTime now) {
  std::optional<InFlight> entry = Delivered(tag);
  // Its rows are no longer excluded, so the next read returns them in their place.
  if (entry) NotSent(now);
  return entry;
}

void OutboxPublisher::ConnectionLost() {
  // Sent again after reconnecting (same rows, same event ids): they are still in the outbox.
  in_flight_.clear();
  ReadAgainFromFront();
}

void OutboxPublisher::Connected() {
  in_flight_.clear();
  need_refill_ = true;
}

void OutboxPublisher::RowsAdded(core::Priority most_urgent) {
  need_refill_ = true;
  if (cursor_ && most_urgent < cursor_->priority) cursor_.reset();
}

std::optional<std::int64_t> OutboxPublisher::TakeQueued(const core::EventId& event_id) {
  const auto queued = std::find_if(queue_.begin(), queue_.end(),
                                   [&](const store::OutboxRow& row) { return row.event.id == event_id; });
  if (queued == queue_.end()) return std::nullopt;
  const std::int64_t sequence = queued->sequence;
  queue_.erase(queued);
  return sequence;
}

std::optional<core::SteadyTime> OutboxPublisher::batch_deadline() const {
  if (!partial_batch_since_) return std::nullopt;
  return *partial_batch_since_ + options_.observation_batch_window;
}

}  // namespace ehg::uplink
