// The receipt tracker stepped with a manual clock: exact resend times, no thread, no sleeping. These
// replace the threaded resend tests that raced the uplink thread under load.
#include "gateway/uplink/receipt_tracker.hpp"

#include <doctest/doctest.h>

#include "tests/unit/uplink/stepping.hpp"

using namespace std::chrono_literals;
using ehg::core::EventKind;
using ehg::core::Priority;
using ehg::uplink::ReceiptTracker;

namespace {

struct TrackerRig {
  ehg::core::ManualClock clock;
  ehg::test::EventMaker events{clock};
  ReceiptTracker tracker;
  std::int64_t next_sequence = 1;

  explicit TrackerRig(std::chrono::seconds base) : tracker(base) {}

  ehg::store::OutboxRow Alert(Priority priority) {
    return {next_sequence++, events.Make(EventKind::kAlert, priority), 0};
  }
  // Handed to the broker now and acknowledged now.
  void SendAndAck(const ehg::store::OutboxRow& row, std::uint32_t resends) {
    tracker.Sent(row, resends);
    REQUIRE(tracker.Acknowledged(row.sequence, clock.SteadyNow()));
  }
  // The gaps between the copies of `row` for `copies` more copies, each acknowledged at once; checks
  // that no copy is due a millisecond early.
  std::vector<std::chrono::seconds> Gaps(const ehg::store::OutboxRow& row, int copies) {
    std::vector<std::chrono::seconds> gaps;
    for (int i = 0; i < copies; ++i) {
      const auto next = tracker.next_resend();
      REQUIRE(next.has_value());
      const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock.SteadyNow());
      clock.Advance(gap - 1ms);
      CHECK_FALSE(tracker.TakeDue(clock.SteadyNow()).has_value());
      clock.Advance(1ms);
      auto due = tracker.TakeDue(clock.SteadyNow());
      REQUIRE(due.has_value());
      CHECK(due->row.event.id == row.event.id);  // the same event id every time
      CHECK(due->resends == static_cast<std::uint32_t>(i + 1));
      CHECK(tracker.waiting() == 0);
      SendAndAck(due->row, due->resends);
      gaps.push_back(std::chrono::duration_cast<std::chrono::seconds>(gap));
    }
    return gaps;
  }
};

using Seconds = std::vector<std::chrono::seconds>;

}  // namespace

TEST_CASE("A critical alert without a receipt goes again every base interval, never backing off") {
  TrackerRig rig(60s);
  const auto alert = rig.Alert(Priority::kCritical);
  rig.SendAndAck(alert, 0);
  CHECK(rig.tracker.waiting() == 1);
  CHECK(rig.Gaps(alert, 6) == Seconds{60s, 60s, 60s, 60s, 60s, 60s});
}

TEST_CASE("A high alert goes again at most 2 minutes apart, whatever the configured interval") {
  TrackerRig rig(300s);
  const auto alert = rig.Alert(Priority::kHigh);
  rig.SendAndAck(alert, 0);
  CHECK(rig.Gaps(alert, 4) == Seconds{120s, 120s, 120s, 120s});
}

TEST_CASE("A less urgent row backs off: base, then doubling to a quarter of an hour") {
  SUBCASE("base 60 s") {
    TrackerRig rig(60s);
    const auto row = rig.Alert(Priority::kNormal);
    rig.SendAndAck(row, 0);
    CHECK(rig.Gaps(row, 7) == Seconds{60s, 120s, 240s, 480s, 900s, 900s, 900s});
  }
  SUBCASE("base 120 s") {
    TrackerRig rig(120s);
    const auto row = rig.Alert(Priority::kNormal);
    rig.SendAndAck(row, 0);
    CHECK(rig.Gaps(row, 5) == Seconds{120s, 240s, 480s, 900s, 900s});
  }
  SUBCASE("a base above the cap is kept") {
    TrackerRig rig(1200s);
    const auto row = rig.Alert(Priority::kNormal);
    rig.SendAndAck(row, 0);
    CHECK(rig.Gaps(row, 3) == Seconds{1200s, 1200s, 1200s});
  }
}

TEST_CASE("When the care system answers, a backed-off row goes one base interval later and backs off anew") {
  TrackerRig rig(60s);
  const auto row = rig.Alert(Priority::kNormal);
  rig.SendAndAck(row, 0);
  REQUIRE(rig.Gaps(row, 3) == Seconds{60s, 120s, 240s});  // the next copy would wait 480 s
  rig.clock.Advance(100s);
  rig.tracker.RestartBackoff(rig.clock.SteadyNow());
  CHECK(rig.tracker.next_resend() == rig.clock.SteadyNow() + 60s);
  // Starting over: 60 s after the answer, then 120 s, 240 s.
  CHECK(rig.Gaps(row, 3) == Seconds{60s, 120s, 240s});

  // An answer never delays a copy that was due sooner.
  rig.clock.Advance(470s);  // the next copy is 10 s away
  const auto before = rig.tracker.next_resend();
  rig.tracker.RestartBackoff(rig.clock.SteadyNow());
  CHECK(rig.tracker.next_resend() == before);
}

TEST_CASE("A copy in flight when the care system answers starts its backoff over once acknowledged") {
  TrackerRig rig(60s);
  const auto row = rig.Alert(Priority::kNormal);
  rig.tracker.Sent(row, 4);  // the fifth copy, on its way
  rig.tracker.RestartBackoff(rig.clock.SteadyNow());
  REQUIRE(rig.tracker.Acknowledged(row.sequence, rig.clock.SteadyNow()));
  CHECK(rig.tracker.next_resend() == rig.clock.SteadyNow() + 60s);  // not 900 s
}

TEST_CASE("A receipt before the broker's PUBACK ends the row's life: the PUBACK schedules nothing") {
  TrackerRig rig(60s);
  const auto alert = rig.Alert(Priority::kCritical);
  rig.tracker.Sent(alert, 0);
  const auto receipted = rig.tracker.Receipt(alert.event.id);
  REQUIRE(receipted.has_value());
  CHECK(*receipted == alert.sequence);
  // Still the tracker's row: the caller must not remove it as a plain acknowledged row.
  CHECK(rig.tracker.Acknowledged(alert.sequence, rig.clock.SteadyNow()));
  CHECK(rig.tracker.waiting() == 0);
  CHECK_FALSE(rig.tracker.next_resend().has_value());
  rig.clock.Advance(24h);
  CHECK_FALSE(rig.tracker.TakeDue(rig.clock.SteadyNow()).has_value());
}

TEST_CASE("A receipt for a waiting row stops its resends, and one for a row not held says so") {
  TrackerRig rig(60s);
  const auto first = rig.Alert(Priority::kCritical);
  const auto second = rig.Alert(Priority::kHigh);
  rig.SendAndAck(first, 0);
  rig.SendAndAck(second, 0);
  REQUIRE(rig.tracker.waiting() == 2);
  CHECK(rig.tracker.Receipt(first.event.id) == first.sequence);
  CHECK(rig.tracker.waiting() == 1);
  CHECK_FALSE(rig.tracker.Receipt(first.event.id).has_value());  // a duplicate receipt
  CHECK_FALSE(rig.tracker.Receipt(rig.Alert(Priority::kHigh).event.id).has_value());
  rig.clock.Advance(60s);
  const auto due = rig.tracker.TakeDue(rig.clock.SteadyNow());
  REQUIRE(due.has_value());
  CHECK(due->row.sequence == second.sequence);
  CHECK_FALSE(rig.tracker.TakeDue(rig.clock.SteadyNow()).has_value());
}

TEST_CASE(
    "Rows due together come in outbox order, waiting rows are held from reads, a lost copy is forgotten") {
  TrackerRig rig(60s);
  const auto first = rig.Alert(Priority::kHigh);
  const auto second = rig.Alert(Priority::kCritical);
  rig.SendAndAck(second, 0);
  rig.SendAndAck(first, 0);
  std::set<std::int64_t> held;
  rig.tracker.AddWaiting(held);
  CHECK(held == std::set<std::int64_t>{first.sequence, second.sequence});
  rig.clock.Advance(60s);
  CHECK(rig.tracker.TakeDue(rig.clock.SteadyNow())->row.sequence == first.sequence);
  CHECK(rig.tracker.TakeDue(rig.clock.SteadyNow())->row.sequence == second.sequence);

  // Copies on their way when the connection drops: the outbox has the rows, the tracker lets go, and a
  // late PUBACK for one of them does not make it the tracker's again.
  rig.tracker.Sent(first, 1);
  rig.tracker.Sent(second, 1);
  rig.tracker.ConnectionLost();
  CHECK_FALSE(rig.tracker.Acknowledged(first.sequence, rig.clock.SteadyNow()));
  CHECK_FALSE(rig.tracker.Receipt(second.event.id).has_value());
  rig.tracker.Sent(first, 0);
  rig.tracker.Unsent(first.sequence);
  CHECK_FALSE(rig.tracker.Receipt(first.event.id).has_value());
  CHECK(rig.tracker.waiting() == 0);
}

TEST_CASE("The resend delay: urgent priorities capped at 2 minutes, others doubling to the cap") {
  using ehg::uplink::ReceiptResendDelay;
  CHECK(ReceiptResendDelay(60s, Priority::kCritical, 0) == 60s);
  CHECK(ReceiptResendDelay(60s, Priority::kCritical, 40) == 60s);
  CHECK(ReceiptResendDelay(600s, Priority::kCritical, 0) == 120s);
  CHECK(ReceiptResendDelay(30s, Priority::kHigh, 3) == 30s);
  CHECK(ReceiptResendDelay(60s, Priority::kNormal, 0) == 60s);
  CHECK(ReceiptResendDelay(60s, Priority::kNormal, 3) == 480s);
  CHECK(ReceiptResendDelay(60s, Priority::kBulk, 4) == 900s);
  CHECK(ReceiptResendDelay(60s, Priority::kNormal, 4'000'000'000U) == 900s);  // no overflow
}
