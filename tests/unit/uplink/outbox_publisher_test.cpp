// The outbox publisher stepped event by event: no thread, no transport, no sleeping. The test plays
// the broker (tags, PUBACKs) and the pipeline (rows removed once their removal is committed).
#include "gateway/uplink/outbox_publisher.hpp"

#include <doctest/doctest.h>

#include <set>

#include "tests/unit/uplink/stepping.hpp"

using namespace std::chrono_literals;
using ehg::core::EventKind;
using ehg::core::Priority;
using ehg::uplink::OutboxPublisher;
using ehg::uplink::OutgoingRows;
using ehg::uplink::PublisherOptions;

namespace {

using Sequences = std::vector<std::int64_t>;

struct Message {
  std::uint64_t tag = 0;
  Sequences sequences;
  std::uint32_t resends = 0;
};

struct PublisherRig {
  ehg::core::ManualClock clock;
  ehg::test::EventMaker events{clock};
  ehg::test::MemoryOutbox outbox;
  OutboxPublisher publisher;
  std::vector<Message> sent;     // every message handed over, in order
  std::set<std::uint64_t> open;  // tags handed over and not answered
  // Acknowledged rows whose removal the pipeline has not committed yet (the change batcher's).
  std::set<std::int64_t> removing;
  bool refuse = false;  // the transport takes nothing (not connected, or sealing failed)
  std::uint64_t next_tag = 1;

  explicit PublisherRig(PublisherOptions options) : publisher(options, outbox) {}

  std::int64_t Add(EventKind kind, Priority priority) { return outbox.Add(events.Make(kind, priority)); }
  Sequences AddObservations(int count) {
    Sequences sequences;
    for (int i = 0; i < count; ++i)
      sequences.push_back(Add(EventKind::kObservation, Priority::kBulk));
    return sequences;
  }

  // One step at the clock's time: the messages that went out.
  std::vector<Message> Step(const OutboxPublisher::DueResend& due = {}) {
    const std::size_t before = sent.size();
    const auto held = [&](ehg::uplink::OutboxPublisher::Skipped& rows) {
      rows.sequences.insert(removing.begin(), removing.end());
    };
    publisher.Fill(clock.SteadyNow(), held, due,
                   [&](const OutgoingRows& rows) -> std::optional<std::uint64_t> {
                     if (refuse) return std::nullopt;
                     Message message{next_tag++, {}, rows.resends};
                     for (const auto& row : rows.rows)
                       message.sequences.push_back(row.sequence);
                     sent.push_back(message);
                     open.insert(message.tag);
                     return message.tag;
                   });
    return {sent.begin() + static_cast<std::ptrdiff_t>(before), sent.end()};
  }
  // The broker's PUBACK: the rows are being removed (not readable, not yet gone).
  void Ack(const Message& message) {
    open.erase(message.tag);
    const auto entry = publisher.Delivered(message.tag);
    REQUIRE(entry.has_value());
    CHECK(entry->sequences == message.sequences);
    removing.insert(entry->sequences.begin(), entry->sequences.end());
  }
  void AckAll() {
    for (const Message& message : sent)
      if (open.count(message.tag) > 0) Ack(message);
  }
  // The pipeline committed the removals.
  void Commit() {
    outbox.Remove(Sequences(removing.begin(), removing.end()));
    removing.clear();
  }
  // Every row in the order it was first acknowledged, by draining the outbox step by step.
  Sequences Drain(std::chrono::milliseconds step = 100ms) {
    Sequences order;
    for (int i = 0; i < 10'000 && !outbox.rows().empty(); ++i) {
      Step();
      for (const Message& message : sent)
        if (open.count(message.tag) > 0)
          order.insert(order.end(), message.sequences.begin(), message.sequences.end());
      AckAll();
      Commit();
      clock.Advance(step);
    }
    return order;
  }
};

Sequences Slice(const Sequences& all, std::size_t from, std::size_t to) {
  return Sequences(all.begin() + static_cast<std::ptrdiff_t>(from),
                   all.begin() + static_cast<std::ptrdiff_t>(to));
}

}  // namespace

TEST_CASE("A full window sends nothing more, and each PUBACK frees one slot for the next row in order") {
  PublisherRig rig({5, 1, 2s});
  const Sequences rows = rig.AddObservations(20);
  // Bulk rows take the window less the two urgent slots.
  const auto first = rig.Step();
  REQUIRE(first.size() == 3);
  CHECK(first[0].sequences == Sequences{rows[0]});
  CHECK(first[2].sequences == Sequences{rows[2]});
  CHECK(rig.Step().empty());
  CHECK(rig.publisher.in_flight() == 3);

  // Alerts take the urgent slots; a third alert waits for a slot like anyone.
  const auto alert1 = rig.Add(EventKind::kAlert, Priority::kCritical);
  const auto alert2 = rig.Add(EventKind::kAlert, Priority::kHigh);
  const auto alert3 = rig.Add(EventKind::kAlert, Priority::kHigh);
  rig.publisher.RowsAdded(Priority::kCritical);
  const auto alerts = rig.Step();
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].sequences == Sequences{alert1});
  CHECK(alerts[1].sequences == Sequences{alert2});
  CHECK(rig.publisher.in_flight() == 5);
  CHECK(rig.Step().empty());

  // One PUBACK, one slot: the waiting alert.
  rig.Ack(first[1]);
  const auto third = rig.Step();
  REQUIRE(third.size() == 1);
  CHECK(third[0].sequences == Sequences{alert3});
  // A free slot that is one of the two urgent ones stays free for alerts.
  rig.Ack(alerts[0]);
  CHECK(rig.Step().empty());
  CHECK(rig.publisher.in_flight() == 4);
  rig.Ack(alerts[1]);
  rig.Ack(first[0]);
  const auto next = rig.Step();
  REQUIRE(next.size() == 1);
  CHECK(next[0].sequences == Sequences{rows[3]});  // the next row, none skipped, none twice

  // The rest in order, each once.
  rig.AckAll();
  rig.Commit();
  const Sequences rest = rig.Drain();
  CHECK(rest == Slice(rows, 4, 20));
}

TEST_CASE("An alert written behind 500 observations on their way is the next message sent") {
  PublisherRig rig({4, 50, 2s});
  const Sequences observations = rig.AddObservations(500);
  const auto first = rig.Step();
  REQUIRE(first.size() == 2);  // the bulk share of a window of 4
  CHECK(first[0].sequences == Slice(observations, 0, 50));
  CHECK(first[1].sequences == Slice(observations, 50, 100));
  rig.AckAll();
  rig.Commit();
  // The read position is now inside the observations; the alert sorts before it.
  const auto alert = rig.Add(EventKind::kAlert, Priority::kCritical);
  rig.publisher.RowsAdded(Priority::kCritical);
  const auto next = rig.Step();
  REQUIRE(!next.empty());
  CHECK(next[0].sequences == Sequences{alert});
  // Then the observations go on where they stopped: nothing lost, nothing twice, in order.
  Sequences order;
  for (std::size_t i = 1; i < next.size(); ++i)
    order.insert(order.end(), next[i].sequences.begin(), next[i].sequences.end());
  rig.AckAll();
  rig.Commit();
  const Sequences rest = rig.Drain();
  order.insert(order.end(), rest.begin(), rest.end());
  CHECK(order == Slice(observations, 100, 500));
}

TEST_CASE("Rows of the same or a lower priority are read on from the last row sent, not from the front") {
  PublisherRig rig({8, 10, 2s});
  const Sequences observations = rig.AddObservations(10);
  REQUIRE(rig.Step().size() == 1);
  rig.AddObservations(10);
  rig.publisher.RowsAdded(Priority::kBulk);
  REQUIRE(rig.Step().size() == 1);
  REQUIRE(rig.outbox.last_after.has_value());
  CHECK(rig.outbox.last_after->sequence == observations.back());
}

TEST_CASE("A partial observation batch waits exactly the batch window, counted from when it was first seen") {
  PublisherRig rig({8, 10, 2s});
  const auto t0 = rig.clock.SteadyNow();
  const Sequences first = rig.AddObservations(5);
  CHECK(rig.Step().empty());
  CHECK(rig.publisher.batch_deadline() == t0 + 2s);
  rig.clock.Advance(1500ms);
  // More arrive, still not a full batch: the wait does not start over.
  const Sequences more = rig.AddObservations(3);
  rig.publisher.RowsAdded(Priority::kBulk);
  CHECK(rig.Step().empty());
  rig.clock.Advance(499ms);
  CHECK(rig.Step().empty());
  CHECK(rig.publisher.batch_deadline() == t0 + 2s);
  rig.clock.Advance(1ms);
  const auto sent = rig.Step();
  REQUIRE(sent.size() == 1);
  Sequences all = first;
  all.insert(all.end(), more.begin(), more.end());
  CHECK(sent[0].sequences == all);
  CHECK_FALSE(rig.publisher.batch_deadline().has_value());

  // A full batch does not wait, and neither does an alert behind a waiting partial batch.
  const Sequences full = rig.AddObservations(12);
  rig.publisher.RowsAdded(Priority::kBulk);
  const auto batch = rig.Step();
  REQUIRE(batch.size() == 1);
  CHECK(batch[0].sequences == Slice(full, 0, 10));
  const auto alert = rig.Add(EventKind::kAlert, Priority::kCritical);
  rig.publisher.RowsAdded(Priority::kCritical);
  const auto urgent = rig.Step();
  REQUIRE(urgent.size() == 1);
  CHECK(urgent[0].sequences == Sequences{alert});
}

TEST_CASE("A lost connection puts every row in flight back, in order: nothing lost, nothing sent twice") {
  PublisherRig rig({8, 10, 2s});
  const Sequences rows = rig.AddObservations(25);
  const auto before = rig.Step();
  REQUIRE(before.size() == 2);  // 10 + 10; the last 5 wait for the batch window
  rig.Ack(before[0]);           // acknowledged, its removal not committed yet
  rig.publisher.ConnectionLost();
  CHECK(rig.publisher.in_flight() == 0);
  // The PUBACK of the lost connection's message comes too late: it does not count, the rows go again.
  CHECK_FALSE(rig.publisher.Delivered(before[1].tag).has_value());
  rig.open.erase(before[1].tag);
  rig.publisher.Connected();
  auto after = rig.Step();
  REQUIRE(after.size() == 1);
  CHECK(after[0].sequences == before[1].sequences);  // the same rows, so the same event ids
  // The partial batch behind them waits its window again, from when it came to the front.
  rig.clock.Advance(2s);
  const auto last = rig.Step();
  REQUIRE(last.size() == 1);
  CHECK(last[0].sequences == Slice(rows, 20, 25));
  after.push_back(last[0]);
  rig.AckAll();
  rig.Commit();
  CHECK(rig.outbox.rows().empty());
  // Each row was acknowledged once: the first batch before the loss, the others after.
  Sequences acknowledged = before[0].sequences;
  for (const auto& message : after)
    acknowledged.insert(acknowledged.end(), message.sequences.begin(), message.sequences.end());
  CHECK(acknowledged == rows);
}

TEST_CASE("A message the broker refuses goes again after a second, in its place before later rows") {
  PublisherRig rig({8, 10, 2s});
  const auto a = rig.Add(EventKind::kDevice, Priority::kNormal);
  const auto b = rig.Add(EventKind::kDevice, Priority::kNormal);
  const auto c = rig.Add(EventKind::kDevice, Priority::kNormal);
  const auto sent = rig.Step();
  REQUIRE(sent.size() == 3);
  rig.open.erase(sent[0].tag);
  REQUIRE(rig.publisher.DeliveryFailed(sent[0].tag, rig.clock.SteadyNow()).has_value());
  CHECK(rig.publisher.in_flight() == 2);
  const auto d = rig.Add(EventKind::kDevice, Priority::kNormal);
  rig.publisher.RowsAdded(Priority::kNormal);
  rig.clock.Advance(999ms);
  CHECK(rig.Step().empty());
  CHECK(rig.publisher.retry_at() == rig.clock.SteadyNow() + 1ms);
  rig.clock.Advance(1ms);
  const auto again = rig.Step();
  REQUIRE(again.size() == 2);
  CHECK(again[0].sequences == Sequences{a});  // b and c are still in flight: not sent twice
  CHECK(again[1].sequences == Sequences{d});
  (void)b;
  (void)c;
}

TEST_CASE(
    "A message the transport did not take, or an outbox read that failed, is tried again after a second") {
  PublisherRig rig({8, 10, 2s});
  const auto alert = rig.Add(EventKind::kAlert, Priority::kCritical);
  rig.refuse = true;
  CHECK(rig.Step().empty());
  CHECK(rig.publisher.in_flight() == 0);
  rig.refuse = false;
  CHECK(rig.Step().empty());  // not before the pause
  rig.clock.Advance(1s);
  const auto sent = rig.Step();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].sequences == Sequences{alert});

  rig.AckAll();
  rig.Commit();
  rig.outbox.fail_reads = true;
  rig.Add(EventKind::kAlert, Priority::kCritical);
  rig.publisher.RowsAdded(Priority::kCritical);
  CHECK(rig.Step().empty());
  const int peeks = rig.outbox.peeks;
  rig.outbox.fail_reads = false;
  rig.clock.Advance(999ms);
  CHECK(rig.Step().empty());
  CHECK(rig.outbox.peeks == peeks);  // no read during the pause
  // Read again after it, with no new row written to prompt it.
  rig.clock.Advance(1ms);
  CHECK(rig.Step().size() == 1);
}

TEST_CASE(
    "Due resends go first and do not move the read position, and rows being removed are not sent again") {
  PublisherRig rig({8, 10, 2s});
  const auto first = rig.Add(EventKind::kAlert, Priority::kHigh);
  rig.Add(EventKind::kDevice, Priority::kNormal);
  REQUIRE(rig.Step().size() == 2);
  rig.AckAll();  // acknowledged; their removal is not committed yet
  // An alert waiting for its receipt (here: the first row, resend number 3) is due once.
  const ehg::store::OutboxRow waiting = rig.outbox.rows().front();
  REQUIRE(waiting.sequence == first);
  int due_calls = 0;
  const auto due_once = [&]() -> std::optional<OutgoingRows> {
    if (due_calls++ > 0) return std::nullopt;
    return OutgoingRows{{waiting}, 3};
  };
  // It goes before a row read from the outbox; the acknowledged device row is not read again.
  const auto later = rig.Add(EventKind::kDevice, Priority::kNormal);
  rig.publisher.RowsAdded(Priority::kHigh);  // a read from the front
  const auto sent = rig.Step(due_once);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].sequences == Sequences{first});
  CHECK(sent[0].resends == 3);
  CHECK(sent[1].sequences == Sequences{later});
  // A resend alone leaves the read position after the last row read in order.
  due_calls = 0;
  REQUIRE(rig.Step(due_once).size() == 1);
  rig.Add(EventKind::kDevice, Priority::kNormal);
  rig.publisher.RowsAdded(Priority::kNormal);
  REQUIRE(rig.Step().size() == 1);
  REQUIRE(rig.outbox.last_after.has_value());
  CHECK(rig.outbox.last_after->priority == Priority::kNormal);
  CHECK(rig.outbox.last_after->sequence == later);
}

TEST_CASE("A receipt for a row read but not sent yet takes it out of the queue") {
  PublisherRig rig({3, 10, 2s});
  rig.AddObservations(10);
  REQUIRE(rig.Step().size() == 1);  // a window of 3 has one bulk slot
  const auto device = rig.Add(EventKind::kDevice, Priority::kNormal);
  rig.AddObservations(10);
  rig.publisher.RowsAdded(Priority::kNormal);
  // The device event goes into an urgent slot; the observations behind it are read and wait.
  REQUIRE(rig.Step().size() == 1);
  const auto queued_id = rig.outbox.rows().back().event.id;
  const auto queued = rig.publisher.TakeQueued(queued_id);
  REQUIRE(queued.has_value());
  CHECK(*queued == rig.outbox.rows().back().sequence);
  CHECK_FALSE(rig.publisher.TakeQueued(queued_id).has_value());
  (void)device;
}

TEST_CASE("Only one status message is in flight at a time, and it takes a slot") {
  PublisherRig rig({3, 10, 2s});
  rig.publisher.StatusSent(100, rig.clock.SteadyNow());
  CHECK(rig.publisher.status_in_flight());
  rig.AddObservations(10);
  CHECK(rig.Step().empty());  // status + bulk would leave fewer than two urgent slots
  const auto delivered = rig.publisher.Delivered(100);
  REQUIRE(delivered.has_value());
  CHECK(delivered->sequences.empty());
  CHECK_FALSE(rig.publisher.status_in_flight());
  CHECK(rig.Step().size() == 1);
}
