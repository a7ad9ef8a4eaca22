#include "alerts/alert.hpp"

#include <doctest/doctest.h>

using ehg::alerts::AlertState;
using ehg::alerts::Severity;

TEST_CASE("Severities and states have stable names that parse back") {
  for (const Severity severity :
       {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh, Severity::kCritical}) {
    CAPTURE(ehg::alerts::ToString(severity));
    CHECK(ehg::alerts::ParseSeverity(ehg::alerts::ToString(severity)) == severity);
  }
  for (const AlertState state :
       {AlertState::kRaised, AlertState::kDelivered, AlertState::kAcknowledged, AlertState::kResolved}) {
    CAPTURE(ehg::alerts::ToString(state));
    CHECK(ehg::alerts::ParseAlertState(ehg::alerts::ToString(state)) == state);
  }
  CHECK_FALSE(ehg::alerts::ParseSeverity("urgent").has_value());
  CHECK_FALSE(ehg::alerts::ParseAlertState("open").has_value());
}

TEST_CASE("Critical alerts jump the outbox queue, every other alert is still ahead of observations") {
  using ehg::core::Priority;
  CHECK(ehg::alerts::OutboxPriority(Severity::kCritical) == Priority::kCritical);
  CHECK(ehg::alerts::OutboxPriority(Severity::kHigh) == Priority::kHigh);
  CHECK(ehg::alerts::OutboxPriority(Severity::kInfo) == Priority::kHigh);
  CHECK(static_cast<int>(Priority::kHigh) < static_cast<int>(Priority::kBulk));
}
