#pragma once

#include "gateway/core/telemetry.hpp"

namespace ehg::uplink {

// Monotonic counters, readable from any thread.
struct UplinkCounters {
  // Each is declared once, here, on the registry the uplink's options name (docs/status-page.md).
  explicit UplinkCounters(core::telemetry::Registry& registry);
  using Counter = core::telemetry::Counter;
  Counter connects;
  Counter connect_failures;
  Counter connections_lost;
  Counter messages_published;  // handed to the client (incl. status, resends)
  Counter messages_acknowledged;
  Counter events_acknowledged;  // outbox rows inside acknowledged messages
  Counter delivery_failures;
  Counter alerts_resent;       // alerts sent again while waiting for a receipt
  Counter events_resent;       // any event sent again while waiting for a receipt (alerts included)
  Counter receipts;            // receipt commands
  Counter receipted_events;    // events a receipt confirmed that were waiting for one
  Counter receipts_unmatched;  // event ids in receipts that nothing waited for (a repeat, or unknown)
  Counter commands;
  Counter commands_rejected;  // authentic, but not a valid command: a result says why
  // Not authentic or not fresh (unsigned, forged, unknown key, expired, replayed, another gateway's):
  // logged and counted, nothing else happens, no result.
  Counter commands_refused;
  Counter seal_failures;
  Counter commands_dropped;  // queue full: the care system repeats unanswered ones
  // Larger than the maximum packet size announced on CONNECT: the broker ignored it. Dropped unread.
  Counter messages_oversized;
  // Events other than alerts the care system confirmed none of kMaxCopiesWithoutReceipt copies of:
  // removed from the outbox (ehg_dropped_total{reason="no_receipt"}).
  Counter events_given_up;
  Counter status_sign_failures;  // a status not sent (or a will not set) unsigned
  Counter commit_failures;
};

}  // namespace ehg::uplink
