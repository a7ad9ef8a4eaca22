#include "gateway/uplink/receipt_tracker.hpp"

#include <algorithm>

namespace ehg::uplink {

std::chrono::seconds ReceiptResendDelay(std::chrono::seconds base, core::Priority priority,
                                        std::uint32_t resends) {
  // A critical or high alert the care system lost is a resident waiting for help: no backoff, and never
  // more than two minutes between copies (the receiver answers every copy with a receipt, so a copy
  // too many costs one message). Today every alert is critical or high (info alerts go as high).
  if (priority <= core::Priority::kHigh) return std::min(base, kMaxUrgentReceiptResendInterval);
  // Less urgent ones double per resend, so one whose receipts keep getting lost does not go out every
  // minute for ever; the cap keeps a resend within a quarter of an hour.
  const std::chrono::seconds cap = std::max(base, kMaxReceiptResendInterval);
  std::chrono::seconds delay = base;
  for (std::uint32_t i = 0; i < resends && delay < cap; ++i)
    delay *= 2;
  return std::min(delay, cap);
}

void ReceiptTracker::Sent(store::OutboxRow row, std::uint32_t resends) {
  const std::int64_t sequence = row.sequence;
  ++copies_[sequence];
  in_flight_[sequence] = Sending{std::move(row), resends, false};
}

bool ReceiptTracker::Acknowledged(std::int64_t sequence, core::SteadyTime now) {
  auto found = in_flight_.find(sequence);
  if (found == in_flight_.end()) return false;
  Sending sending = std::move(found->second);
  in_flight_.erase(found);
  // Receipted already: its removal is on its way, the PUBACK must not start the resend schedule.
  if (sending.receipted) return true;
  // The broker has it; the care system has not said so yet. Keep it, and send it again if no receipt
  // comes.
  Waiting waiting;
  waiting.resends = sending.resends;
  waiting.resend_at = now + ReceiptResendDelay(base_, sending.row.event.priority, sending.resends);
  waiting.row = std::move(sending.row);
  waiting_[sequence] = std::move(waiting);
  return true;
}

void ReceiptTracker::Unsent(std::int64_t sequence) {
  in_flight_.erase(sequence);
}

void ReceiptTracker::ConnectionLost() {
  in_flight_.clear();
}

std::optional<std::int64_t> ReceiptTracker::Receipt(const core::EventId& event_id) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->second.row.event.id == event_id) {
      const std::int64_t sequence = it->first;
      waiting_.erase(it);
      copies_.erase(sequence);
      return sequence;
    }
  }
  for (auto& [sequence, sending] : in_flight_) {
    // Receipted already (a receipt naming it twice, or a second receipt before the PUBACK): its removal
    // is on its way; a second one would be taken for a row the budget dropped.
    if (sending.row.event.id == event_id && !sending.receipted) {
      sending.receipted = true;
      copies_.erase(sequence);
      return sequence;
    }
  }
  return std::nullopt;
}

std::optional<ReceiptTracker::Due> ReceiptTracker::TakeDue(core::SteadyTime now,
                                                           std::optional<core::EventKind> kind,
                                                           std::uint32_t copies_below) {
  // An alert due goes before anything else due: a resident waiting for help first.
  auto it = waiting_.end();
  for (auto candidate = waiting_.begin(); candidate != waiting_.end(); ++candidate) {
    if (candidate->second.resend_at > now) continue;
    if (kind && candidate->second.row.event.kind != *kind) continue;
    if (copies_below != UINT32_MAX) {
      const auto copies = copies_.find(candidate->first);
      if (copies != copies_.end() && copies->second >= copies_below) continue;
    }
    if (it == waiting_.end()) it = candidate;
    if (candidate->second.row.event.kind == core::EventKind::kAlert) {
      it = candidate;
      break;
    }
  }
  if (it == waiting_.end()) return std::nullopt;
  Due due;
  due.resends = it->second.resends + 1;
  due.copies = copies_[it->first];
  due.row = std::move(it->second.row);
  due.next_delay = ReceiptResendDelay(base_, due.row.event.priority, due.resends);
  waiting_.erase(it);
  return due;
}

void ReceiptTracker::Forget(std::int64_t sequence) {
  copies_.erase(sequence);
}

void ReceiptTracker::RestartBackoff(core::SteadyTime now) {
  for (auto& [sequence, waiting] : waiting_) {
    waiting.resend_at =
        std::min(waiting.resend_at, now + ReceiptResendDelay(base_, waiting.row.event.priority, 0));
    waiting.resends = 0;
  }
  for (auto& [sequence, sending] : in_flight_)
    sending.resends = 0;
}

std::size_t ReceiptTracker::waiting_alerts() const {
  return static_cast<std::size_t>(std::count_if(waiting_.begin(), waiting_.end(), [](const auto& entry) {
    return entry.second.row.event.kind == core::EventKind::kAlert;
  }));
}

std::size_t ReceiptTracker::unconfirmed_bulk() const {
  const auto bulk = [](const auto& entry) {
    return entry.second.row.event.priority == core::Priority::kBulk;
  };
  return static_cast<std::size_t>(std::count_if(waiting_.begin(), waiting_.end(), bulk) +
                                  std::count_if(in_flight_.begin(), in_flight_.end(), bulk));
}

std::optional<core::SteadyTime> ReceiptTracker::next_resend() const {
  std::optional<core::SteadyTime> next;
  for (const auto& [sequence, waiting] : waiting_)
    if (!next || waiting.resend_at < *next) next = waiting.resend_at;
  return next;
}

void ReceiptTracker::AddWaiting(std::set<std::int64_t>& held) const {
  for (const auto& [sequence, waiting] : waiting_)
    held.insert(sequence);
}

}  // namespace ehg::uplink
