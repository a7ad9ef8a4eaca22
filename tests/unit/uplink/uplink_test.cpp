#include "gateway/uplink/uplink.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <set>

#include "gateway/crypto/jose.hpp"
#include "gateway/wire/status_check.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/uplink/fakes.hpp"

using namespace std::chrono_literals;
using ehg::core::Event;
using ehg::core::EventKind;
using ehg::core::Priority;
using ehg::test::FakeTransport;
using ehg::test::WaitUntil;
using ehg::uplink::LinkState;
using ehg::uplink::Uplink;
using ehg::uplink::UplinkOptions;

namespace {

constexpr const char* kBase = "ehealth/v1/0301/gw-1/";

Poco::JSON::Object::Ptr Json(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

// Event ids inside a published message: one for an alert or result, several for a batch.
std::vector<std::string> EventIds(const FakeTransport::Published& message) {
  auto object = Json(message.payload);
  if (object->has("events")) {
    std::vector<std::string> ids;
    auto events = object->getArray("events");
    for (std::size_t i = 0; i < events->size(); ++i)
      ids.push_back(events->getObject(static_cast<unsigned>(i))->getValue<std::string>("event_id"));
    return ids;
  }
  if (object->has("event_id")) return {object->getValue<std::string>("event_id")};
  return {};
}

struct Fixture {
  ehg::test::TempDir dir;
  ehg::core::ManualClock clock{ehg::core::WallTime{1'767'225'600'000ms}};
  ehg::core::EventIdGenerator ids{clock};
  std::unique_ptr<ehg::store::Store> store;
  std::unique_ptr<ehg::test::StoreOutbox> outbox;
  std::shared_ptr<FakeTransport::State> transport = std::make_shared<FakeTransport::State>();
  std::unique_ptr<Uplink> uplink;

  explicit Fixture(std::uint64_t outbox_budget_bytes = ehg::store::StoreOptions{}.outbox_budget_bytes) {
    ehg::store::StoreOptions store_options{dir / "gateway.db"};
    store_options.outbox_budget_bytes = outbox_budget_bytes;
    store = std::move(ehg::store::Store::Open(store_options, clock).value());
    outbox = std::make_unique<ehg::test::StoreOutbox>(*store);
  }

  UplinkOptions Options() {
    UplinkOptions options;
    options.tenant = "0301";
    options.gateway_id = "gw-1";
    options.version = "test";
    options.in_flight_window = 8;
    options.observation_batch_max = 10;
    options.observation_batch_window = 2s;
    options.receipt_resend_interval = 60s;
    // Most cases here are about the broker's side (PUBACKs, windows, reconnects): with receipts for
    // alerts only, a PUBACK settles everything else. The end-to-end cases below set kEveryEvent, the
    // daemon's default.
    options.receipt_scope = ehg::uplink::ReceiptScope::kAlertsOnly;
    options.heartbeat_interval = 60s;
    options.protection = std::make_shared<ehg::crypto::PlaintextForDevelopment>();
    return options;
  }

  void Start(UplinkOptions options) {
    uplink = std::make_unique<Uplink>(
        options,
        [this](ehg::transport::TransportEvents events) {
          transport->events = std::move(events);
          return std::make_unique<FakeTransport>(transport);
        },
        *outbox, clock, ids);
    uplink->Start();
  }
  void Start() { Start(Options()); }

  Event MakeEvent(EventKind kind, Priority priority, const std::string& extra = "") {
    Event event{ids.Next(), kind, priority, clock.Now(), {}};
    event.body = R"({"event_id":")" + event.id.ToString() + R"(","kind":")" +
                 std::string(ehg::core::ToString(kind)) + "\"" + extra + "}";
    return event;
  }
  std::vector<Event> Observations(int count) {
    std::vector<Event> events;
    for (int i = 0; i < count; ++i)
      events.push_back(MakeEvent(EventKind::kObservation, Priority::kBulk));
    return events;
  }
  // As the pipeline does: commit, then tell the uplink the most urgent priority written.
  void Append(std::vector<Event> events) {
    Priority most_urgent = Priority::kBulk;
    for (const Event& event : events)
      most_urgent = std::min(most_urgent, event.priority);
    outbox->Append(std::move(events));
    uplink->NotifyOutbox(most_urgent);
  }

  std::vector<FakeTransport::Published> Published() {
    std::lock_guard lock(transport->mutex);
    return transport->published;
  }
  std::vector<FakeTransport::Published> PublishedTo(const std::string& suffix) {
    std::vector<FakeTransport::Published> out;
    for (auto& message : Published())
      if (message.topic == kBase + suffix) out.push_back(message);
    return out;
  }
  std::size_t PublishedCount() {
    std::lock_guard lock(transport->mutex);
    return transport->published.size();
  }
  void Ack(const FakeTransport::Published& message) { transport->events.delivered(message.tag); }
  void AckAll() {
    for (auto& message : Published())
      Ack(message);
  }
  void Command(const std::string& json) { transport->events.message(std::string(kBase) + "cmd", json); }
  // Moves the manual clock and lets the uplink look at its timers.
  void Advance(std::chrono::milliseconds step) {
    clock.Advance(step);
    uplink->Wake();
  }
  // Moves the clock and waits until the uplink thread has turned at the new time, to check that
  // nothing happened yet: its watchdog heartbeat is the clock's steady time at the end of a turn. Two
  // moves, so the second turn began after the first ended and ran every task posted before. A turn that
  // raced a move read the older time, which cannot make it act early either.
  void AdvanceAndSettle(std::chrono::milliseconds step) {
    for (const auto part : {step - 1ms, 1ms}) {
      Advance(part);
      REQUIRE(WaitUntil([&] { return uplink->LastHeartbeat() >= clock.SteadyNow(); }));
    }
  }
  // The broker acknowledges a message, and the uplink has taken the acknowledgement (with the time
  // before any later move of the clock).
  void AckAndWait(const FakeTransport::Published& message) {
    const auto acknowledged = uplink->counters().messages_acknowledged.load();
    Ack(message);
    REQUIRE(WaitUntil([&] { return uplink->counters().messages_acknowledged == acknowledged + 1; }));
  }

  // The broker acknowledges everything from now on, so the goodbye of a stop does not wait for it.
  ~Fixture() {
    if (!uplink) return;
    {
      std::lock_guard lock(transport->mutex);
      transport->auto_ack = true;
    }
    AckAll();
    uplink->Stop();
  }
};

}  // namespace

TEST_CASE("On connect it subscribes to commands and publishes a retained online status first") {
  Fixture fixture;
  fixture.outbox->Append(fixture.Observations(3));
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedCount() >= 1; }));
  const auto first = fixture.Published().front();
  CHECK(first.topic == std::string(kBase) + "status");
  CHECK(first.retained);
  const auto status = Json(first.payload);
  CHECK(status->getValue<std::string>("state") == "online");
  CHECK(status->getValue<std::string>("version") == "test");
  CHECK(status->getValue<int>("heartbeat_interval_seconds") == 60);
  CHECK(status->getObject("backlog")->getValue<int>("events") == 3);
  {
    std::lock_guard lock(fixture.transport->mutex);
    CHECK(fixture.transport->subscriptions == std::vector<std::string>{std::string(kBase) + "cmd"});
  }
  CHECK(fixture.uplink->status().state == LinkState::kConnected);
}

TEST_CASE("Alerts jump the backlog: observations follow in batches, first in first out") {
  Fixture fixture;
  auto observations = fixture.Observations(25);
  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kCritical);
  std::vector<Event> events = observations;
  events.push_back(alert);  // created last, sent first
  fixture.outbox->Append(events);
  fixture.Start();
  // 25 observations with batches of 10: 10 + 10 now, the last 5 wait for the batch window.
  REQUIRE(WaitUntil([&] { return fixture.PublishedCount() == 4; }));
  const auto published = fixture.Published();
  CHECK(published[1].topic == std::string(kBase) + "event/alert");
  CHECK(EventIds(published[1]) == std::vector<std::string>{alert.id.ToString()});
  std::vector<std::string> sent;
  for (std::size_t i = 2; i < published.size(); ++i) {
    CHECK(published[i].topic == std::string(kBase) + "event/observation");
    CHECK(Json(published[i].payload)->getValue<int>("count") == 10);
    for (auto& id : EventIds(published[i]))
      sent.push_back(id);
  }
  for (std::size_t i = 0; i < sent.size(); ++i)
    CHECK(sent[i] == observations[i].id.ToString());

  // The partial batch goes after the batch window (to the millisecond: outbox_publisher_test.cpp).
  fixture.Advance(2s);
  REQUIRE(WaitUntil([&] { return fixture.PublishedCount() == 5; }));
  CHECK(EventIds(fixture.Published()[4]).size() == 5);
}

TEST_CASE("A row leaves the outbox only after the broker acknowledged it") {
  Fixture fixture;
  fixture.outbox->Append(fixture.Observations(10));
  fixture.Start();
  // The turn that published the batch has ended (its status says so): it removed nothing.
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().in_flight == 2; }));
  CHECK(fixture.PublishedTo("event/observation").size() == 1);
  CHECK(fixture.outbox->commits == 0);
  CHECK(fixture.outbox->Rows().size() == 10);
  fixture.Ack(fixture.PublishedTo("event/observation").front());
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().empty(); }));
  CHECK(fixture.uplink->counters().events_acknowledged == 10);
  CHECK(fixture.uplink->status().last_acknowledged.has_value());
}

TEST_CASE("The in-flight window is never exceeded and keeps slots free for alerts") {
  Fixture fixture;
  auto options = fixture.Options();
  options.in_flight_window = 5;
  options.observation_batch_max = 1;
  fixture.outbox->Append(fixture.Observations(50));
  fixture.Start(options);
  // status + bulk up to window - 2 urgent slots = 3 messages in flight, once the turn has ended.
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().in_flight == 3; }));
  CHECK(fixture.PublishedCount() == 3);

  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kHigh);
  fixture.Append({alert});
  REQUIRE(WaitUntil([&] { return fixture.PublishedCount() == 4; }));
  CHECK(fixture.Published()[3].topic == std::string(kBase) + "event/alert");

  // Each acknowledgement frees exactly one slot: 4 in flight, then 3 once the turn after the
  // acknowledgement has ended, and no observation took the slot (3 + 2 urgent = full for bulk).
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().in_flight == 4; }));
  fixture.Ack(fixture.Published()[1]);
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().in_flight == 3; }));
  CHECK(fixture.PublishedCount() == 4);
  fixture.Ack(fixture.Published()[0]);
  fixture.Ack(fixture.Published()[3]);
  REQUIRE(WaitUntil([&] { return fixture.PublishedCount() == 6; }));
}

TEST_CASE("After a lost connection, rows in flight are sent again with the same event ids") {
  ehg::test::LogCapture log;
  Fixture fixture;
  fixture.outbox->Append(fixture.Observations(20));
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 2; }));
  const auto before = fixture.PublishedTo("event/observation");
  fixture.Ack(before[0]);  // the first batch made it, the second was in flight
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().size() == 10; }));
  {
    std::lock_guard lock(fixture.transport->mutex);
    fixture.transport->connected = false;
    fixture.transport->auto_connect = true;
  }
  fixture.transport->events.connection_lost("socket closed");
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().state == LinkState::kDisconnected; }));
  CHECK(log.Contains("msg=\"broker connection lost\" reason=\"socket closed\" in_flight=2"));
  // Reconnect waits for the backoff (at most 1 s for the first attempt).
  fixture.Advance(1000ms);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 3; }));
  CHECK(EventIds(fixture.PublishedTo("event/observation")[2]) == EventIds(before[1]));
  CHECK(fixture.uplink->counters().connects == 2);
}

TEST_CASE("A reconnect waits longer after each failed attempt, and the failure is diagnosed in the log") {
  ehg::test::LogCapture log;
  Fixture fixture;
  fixture.transport->auto_connect = false;
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.transport->connect_calls == 1; }));
  for (int attempt = 1; attempt <= 3; ++attempt) {
    fixture.transport->events.connect_failed("TCP/TLS connect failure");
    REQUIRE(WaitUntil([&] { return fixture.uplink->status().state == LinkState::kDisconnected; }));
    // The n-th delay is between 2^(n-1)/2 and 2^(n-1) seconds: not yet after the lower bound minus a bit.
    const auto step = std::chrono::milliseconds(1000 << (attempt - 1));
    fixture.AdvanceAndSettle(step / 2 - 10ms);
    CHECK(fixture.transport->connect_calls == attempt);
    fixture.Advance(step / 2 + 10ms);
    REQUIRE(WaitUntil([&] { return fixture.transport->connect_calls == attempt + 1; }));
  }
  CHECK(log.Count("level=warning msg=\"broker connection failed\"") == 3);  // the network: passes by itself
  CHECK(log.Contains("reason=\"TCP/TLS connect failure\" diagnosis=diagnosed"));
  CHECK(fixture.uplink->status().last_error == "diagnosed");
}

TEST_CASE("An alert without a receipt is sent again on schedule: the receipt stops it and removes the row") {
  Fixture fixture;
  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kHigh);
  fixture.outbox->Append({alert});
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 1; }));
  fixture.Ack(fixture.PublishedTo("event/alert")[0]);
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().alerts_awaiting_receipt == 1; }));
  CHECK(fixture.outbox->Rows().size() == 1);  // acknowledged by the broker, still kept

  // Sent again after the interval (not a millisecond early: receipt_tracker_test.cpp).
  fixture.Advance(60s);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 2; }));
  CHECK(EventIds(fixture.PublishedTo("event/alert")[1]) == std::vector<std::string>{alert.id.ToString()});
  CHECK(fixture.uplink->counters().alerts_resent == 1);
  fixture.AckAndWait(fixture.PublishedTo("event/alert")[1]);

  fixture.Command(R"({"id":"c-1","type":"alert.receipt","event_id":")" + alert.id.ToString() + "\"}");
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().alerts_awaiting_receipt == 0; }));
  // The alert row is gone, and nothing took its place: a receipt has no command result (it would be an
  // event needing a receipt of its own).
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().empty(); }));
  fixture.AdvanceAndSettle(120s);
  CHECK(fixture.PublishedTo("event/alert").size() == 2);
  CHECK(fixture.PublishedTo("cmd/result").empty());
}

// The rest of the outbox, end to end: a broker that acknowledges and then loses a message (a restart
// without persistence, a shared subscription it forgot) must lose nothing.
TEST_CASE("With receipts for every event, an acknowledged batch stays until one receipt confirms all of it") {
  Fixture fixture;
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  const auto observations = fixture.Observations(10);
  auto device = fixture.MakeEvent(EventKind::kDevice, Priority::kNormal);
  fixture.outbox->Append(observations);
  fixture.outbox->Append({device});
  fixture.Start(options);
  REQUIRE(WaitUntil([&] {
    return fixture.PublishedTo("event/observation").size() == 1 &&
           fixture.PublishedTo("event/device").size() == 1;
  }));
  fixture.AckAndWait(fixture.PublishedTo("event/observation")[0]);
  fixture.AckAndWait(fixture.PublishedTo("event/device")[0]);
  fixture.AdvanceAndSettle(1s);
  CHECK(fixture.outbox->Rows().size() == 11);  // the broker has them; the care system has not said so
  CHECK(fixture.uplink->status().events_awaiting_receipt == 11);
  CHECK(fixture.uplink->status().alerts_awaiting_receipt == 0);

  std::string ids;
  for (const auto& event : observations)
    ids += std::string(ids.empty() ? "" : ",") + "\"" + event.id.ToString() + "\"";
  fixture.Command(R"({"id":"r-1","type":"event.receipt","event_ids":[)" + ids + "]}");
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().size() == 1; }));
  CHECK(fixture.outbox->Rows()[0].event.id == device.id);
  CHECK(fixture.uplink->counters().receipted_events == 10);
  // The same receipt again (the care system answers every copy): nothing else changes.
  fixture.Command(R"({"id":"r-2","type":"event.receipt","event_ids":[)" + ids + "]}");
  REQUIRE(WaitUntil([&] { return fixture.uplink->counters().receipts_unmatched == 10; }));
  CHECK(fixture.outbox->Rows().size() == 1);
  CHECK(fixture.PublishedTo("cmd/result").empty());
}

TEST_CASE("Observations without a receipt go again as one batch with the same event ids, backing off") {
  Fixture fixture;
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  const auto observations = fixture.Observations(10);
  fixture.outbox->Append(observations);
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 1; }));
  const auto first_ids = EventIds(fixture.PublishedTo("event/observation")[0]);
  REQUIRE(first_ids.size() == 10);
  fixture.AckAndWait(fixture.PublishedTo("event/observation")[0]);

  // Not before the interval, then the whole batch at once.
  fixture.AdvanceAndSettle(59s);
  CHECK(fixture.PublishedTo("event/observation").size() == 1);
  fixture.Advance(1s);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 2; }));
  CHECK(EventIds(fixture.PublishedTo("event/observation")[1]) == first_ids);
  CHECK(fixture.uplink->counters().events_resent == 10);
  CHECK(fixture.uplink->counters().alerts_resent == 0);
  fixture.AckAndWait(fixture.PublishedTo("event/observation")[1]);

  // Observations back off (60 s, then 120 s): the next copy is not due after another 60 s.
  fixture.AdvanceAndSettle(60s);
  CHECK(fixture.PublishedTo("event/observation").size() == 2);
  fixture.Advance(60s);
  // The third copy goes one observation per message: a care system that refuses a whole batch for one
  // bad entry takes the other nine.
  REQUIRE(WaitUntil([&] {
    for (std::size_t i = 2; i < fixture.PublishedTo("event/observation").size(); ++i)
      fixture.Ack(fixture.PublishedTo("event/observation")[i]);
    return fixture.PublishedTo("event/observation").size() == 12;
  }));
  std::vector<std::string> third;
  for (std::size_t i = 2; i < 12; ++i) {
    const auto ids = EventIds(fixture.PublishedTo("event/observation")[i]);
    REQUIRE(ids.size() == 1);
    third.push_back(ids.front());
  }
  CHECK(third == first_ids);
  CHECK(fixture.outbox->Rows().size() == 10);
}

TEST_CASE(
    "Receipts that keep coming do not restart the backoff of an event the care system leaves unconfirmed") {
  Fixture fixture;
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  fixture.outbox->Append(fixture.Observations(10));
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 1; }));
  fixture.AckAndWait(fixture.PublishedTo("event/observation")[0]);
  // The care system answers every 30 s (receipts for other events): it is there, it just does not take
  // these ten.
  std::uint64_t receipts = 0;
  const auto answer = [&] {
    auto other = fixture.MakeEvent(EventKind::kObservation, Priority::kBulk);
    fixture.Command(R"({"id":"r-)" + std::to_string(receipts) + R"(","type":"event.receipt","event_ids":[")" +
                    other.id.ToString() + "\"]}");
    ++receipts;
    REQUIRE(WaitUntil([&] { return fixture.uplink->counters().receipts == receipts; }));
  };
  answer();
  fixture.AdvanceAndSettle(30s);
  answer();
  fixture.Advance(30s);  // 60 s: the second copy
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 2; }));
  fixture.AckAndWait(fixture.PublishedTo("event/observation")[1]);
  answer();
  // The third copy is due 120 s after the second, however many receipts come meanwhile.
  for (int i = 0; i < 3; ++i) {
    fixture.AdvanceAndSettle(30s);
    answer();
  }
  fixture.AdvanceAndSettle(29s);
  CHECK(fixture.PublishedTo("event/observation").size() == 2);  // 119 s: not yet
  fixture.Advance(1s);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() > 2; }));
}

TEST_CASE("A receipt naming an event twice confirms it once and corrects no drop count") {
  Fixture fixture;
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  auto observations = fixture.Observations(10);
  fixture.outbox->Append(observations);
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 1; }));
  // Still in flight (no PUBACK yet), named twice, then once more in a second receipt.
  const std::string id = "\"" + observations[0].id.ToString() + "\"";
  fixture.Command(R"({"id":"r-d","type":"event.receipt","event_ids":[)" + id + "," + id + "]}");
  fixture.Command(R"({"id":"r-e","type":"event.receipt","event_ids":[)" + id + "]}");
  REQUIRE(WaitUntil([&] { return fixture.uplink->counters().receipts == 2; }));
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().size() == 9; }));
  fixture.AdvanceAndSettle(1s);
  CHECK(fixture.uplink->counters().receipted_events == 1);
  CHECK(fixture.uplink->counters().receipts_unmatched == 1);
  CHECK(fixture.store->ReadCounter(ehg::store::kDroppedObservations).value_or(0) == 0);
}

TEST_CASE(
    "A receipt for rows not read yet keeps them from going again until their removal is committed, and "
    "corrects no drop count") {
  // A restarted gateway meets the receipts for the copies its previous run sent, queued for it by the
  // broker, while it reads its outbox for the first time and the pipeline is busy.
  Fixture fixture(2'000);  // a budget of about thirty observation bodies
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  fixture.outbox->Append(fixture.Observations(40));
  const std::int64_t dropped = fixture.store->ReadCounter(ehg::store::kDroppedObservations).value_or(0);
  REQUIRE(dropped > 0);
  const auto rows = fixture.outbox->Rows();
  REQUIRE(rows.size() > 10);
  fixture.transport->auto_connect = false;
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.transport->connect_calls == 1; }));

  fixture.outbox->DeferCommits();
  std::set<std::string> receipted;
  std::string ids;
  for (std::size_t i = 0; i < 5; ++i) {
    receipted.insert(rows[i].event.id.ToString());
    ids += std::string(ids.empty() ? "" : ",") + "\"" + rows[i].event.id.ToString() + "\"";
  }
  fixture.Command(R"({"id":"r-old","type":"event.receipt","event_ids":[)" + ids + "]}");
  REQUIRE(WaitUntil([&] { return fixture.outbox->DeferredCommits() == 1; }));
  {
    std::lock_guard lock(fixture.transport->mutex);
    fixture.transport->connected = true;
    fixture.transport->auto_ack = true;
  }
  fixture.transport->events.connected(false);
  // Everything else goes (two full batches, the partial one after the batch window); the five do not.
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() >= 2; }));
  fixture.AdvanceAndSettle(3s);
  std::set<std::string> sent;
  REQUIRE(WaitUntil([&] {
    for (const auto& message : fixture.PublishedTo("event/observation"))
      for (const auto& id : EventIds(message))
        sent.insert(id);
    return std::all_of(rows.begin() + 5, rows.end(),
                       [&](const auto& row) { return sent.count(row.event.id.ToString()) == 1; });
  }));
  for (const std::string& id : receipted)
    CHECK(sent.count(id) == 0);

  // The removal is committed; the care system confirms the rest.
  fixture.outbox->ReleaseCommits();
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().size() == rows.size() - receipted.size(); }));
  std::string rest;
  for (const std::string& id : sent)
    rest += std::string(rest.empty() ? "" : ",") + "\"" + id + "\"";
  fixture.Command(R"({"id":"r-new","type":"event.receipt","event_ids":[)" + rest + "]}");
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().empty(); }));
  fixture.AdvanceAndSettle(1s);
  // Nothing was dropped on its way: the count of observations the budget dropped stands.
  CHECK(fixture.store->ReadCounter(ehg::store::kDroppedObservations).value_or(0) == dropped);
  CHECK(fixture.uplink->counters().receipted_events.load() == sent.size());
}

TEST_CASE(
    "Observations a care system never confirms are given up after six copies and counted: new ones go") {
  Fixture fixture;
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  options.in_flight_window = 64;
  {
    std::lock_guard lock(fixture.transport->mutex);
    fixture.transport->auto_ack = true;
  }
  const auto refused = fixture.Observations(static_cast<int>(ehg::uplink::kMaxUnconfirmedBulkRows));
  fixture.outbox->Append(refused);
  fixture.Start(options);
  const auto copies_of = [&](const std::string& id) {
    std::size_t copies = 0;
    for (const auto& message : fixture.PublishedTo("event/observation"))
      for (const auto& sent : EventIds(message))
        copies += sent == id ? 1U : 0U;
    return copies;
  };
  REQUIRE(WaitUntil([&] { return copies_of(refused.back().id.ToString()) == 1; }));
  auto fresh = fixture.Observations(10);
  fixture.Append(fresh);
  // An hour and a half in which the care system takes nothing of the first thousand: after six copies
  // (60 + 120 + 240 + 480 + 900 s of backoff, and the window) they are given up, and the fresh ones go.
  for (int minute = 0; minute < 90; ++minute)
    fixture.AdvanceAndSettle(60s);
  REQUIRE(WaitUntil([&] { return copies_of(fresh[0].id.ToString()) >= 1; }));
  INFO("given up: " << fixture.uplink->counters().events_given_up.load());
  CHECK(copies_of(refused[0].id.ToString()) == ehg::uplink::kMaxCopiesWithoutReceipt);
  // Every one of the thousand left the outbox (the fresh ten, unconfirmed too, may follow them).
  REQUIRE(WaitUntil([&] { return fixture.uplink->counters().events_given_up >= refused.size(); }));
  REQUIRE(WaitUntil([&] {
    for (const auto& row : fixture.outbox->Rows())
      for (const auto& event : refused)
        if (row.event.id == event.id) return false;
    return true;
  }));
  // Given up is not delivered: the drop count is not corrected by it.
  CHECK(fixture.store->ReadCounter(ehg::store::kDroppedObservations).value_or(0) == 0);
}

TEST_CASE("Resends leave the urgent slots free: a new alert goes while the window is full of them") {
  Fixture fixture;
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  options.in_flight_window = 8;
  fixture.outbox->Append(fixture.Observations(100));
  fixture.Start(options);
  for (int round = 0; round < 20; ++round) {
    for (auto& message : fixture.PublishedTo("event/observation"))
      fixture.Ack(message);
    fixture.AdvanceAndSettle(100ms);
  }
  const auto before = fixture.PublishedTo("event/observation").size();
  fixture.Advance(60s);  // all 100 due again: ten resend batches, no PUBACK comes for them
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() >= before + 5; }));
  fixture.AdvanceAndSettle(10ms);
  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kCritical);
  fixture.Append({alert});
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 1; }));
}

TEST_CASE("At most kMaxUnconfirmedBulkRows observations wait for receipts: the rest waits, alerts still go") {
  Fixture fixture;
  auto options = fixture.Options();
  options.receipt_scope = ehg::uplink::ReceiptScope::kEveryEvent;
  options.in_flight_window = 64;
  {
    std::lock_guard lock(fixture.transport->mutex);
    fixture.transport->auto_ack = true;  // a broker that takes everything, and a care system that is silent
  }
  const std::size_t total = ehg::uplink::kMaxUnconfirmedBulkRows + 200;
  fixture.outbox->Append(fixture.Observations(static_cast<int>(total)));
  fixture.Start(options);
  const auto observation_rows = [&] {
    std::size_t rows = 0;
    for (const auto& message : fixture.PublishedTo("event/observation"))
      rows += EventIds(message).size();
    return rows;
  };
  REQUIRE(WaitUntil([&] { return observation_rows() == ehg::uplink::kMaxUnconfirmedBulkRows; }));
  fixture.AdvanceAndSettle(2s);
  CHECK(observation_rows() == ehg::uplink::kMaxUnconfirmedBulkRows);  // held back, not dropped

  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kCritical);
  fixture.Append({alert});
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 1; }));

  // The care system confirms the first batch: the next one may go.
  const auto first = EventIds(fixture.PublishedTo("event/observation")[0]);
  std::string ids;
  for (const auto& id : first)
    ids += std::string(ids.empty() ? "" : ",") + "\"" + id + "\"";
  fixture.Command(R"({"id":"r-1","type":"event.receipt","event_ids":[)" + ids + "]}");
  REQUIRE(
      WaitUntil([&] { return observation_rows() == ehg::uplink::kMaxUnconfirmedBulkRows + first.size(); }));
  CHECK(fixture.outbox->Rows().size() == total + 1 - first.size());
}

TEST_CASE("A receipt that arrives before the broker's acknowledgement still ends the alert's life") {
  Fixture fixture;
  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kCritical);
  fixture.outbox->Append({alert});
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 1; }));
  fixture.Command(R"({"id":"c-2","type":"alert.receipt","event_id":")" + alert.id.ToString() + "\"}");
  REQUIRE(WaitUntil([&] { return fixture.uplink->counters().receipts == 1; }));
  fixture.Ack(fixture.PublishedTo("event/alert")[0]);
  REQUIRE(WaitUntil([&] {
    for (const auto& row : fixture.outbox->Rows())
      if (row.event.kind == EventKind::kAlert) return false;
    return true;
  }));
  CHECK(fixture.uplink->status().alerts_awaiting_receipt == 0);
  fixture.AdvanceAndSettle(61s);
  CHECK(fixture.PublishedTo("event/alert").size() == 1);
}

TEST_CASE("heartbeat.set changes the interval, announces it at once and persists it") {
  Fixture fixture;
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 1; }));
  fixture.Ack(fixture.PublishedTo("status")[0]);
  fixture.Command(R"({"id":"c-3","type":"heartbeat.set","interval_seconds":20})");
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 2; }));
  CHECK(Json(fixture.PublishedTo("status")[1].payload)->getValue<int>("heartbeat_interval_seconds") == 20);
  REQUIRE(
      WaitUntil([&] { return fixture.outbox->Settings().count("uplink.heartbeat_interval_seconds") == 1; }));
  CHECK(fixture.outbox->Settings().at("uplink.heartbeat_interval_seconds") == "20");
  fixture.Ack(fixture.PublishedTo("status")[1]);

  fixture.AdvanceAndSettle(19s);
  CHECK(fixture.PublishedTo("status").size() == 2);
  fixture.Advance(1s);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 3; }));
}

TEST_CASE("An unsupported or invalid command is rejected with a result, and the uplink carries on") {
  ehg::test::LogCapture log;
  Fixture fixture;
  fixture.Start();
  fixture.Command("{not json");
  fixture.Command(R"({"id":"c-4","type":"reboot"})");
  fixture.Command(R"({"id":"c-5","type":"heartbeat.set","interval_seconds":1})");
  fixture.Command(R"({"id":"c-6","type":"ping"})");
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("cmd/result").size() == 3; }));
  std::map<std::string, std::string> status_by_id;
  for (auto& message : fixture.PublishedTo("cmd/result")) {
    auto result = Json(message.payload);
    const std::string id = result->isNull("command_id") ? "" : result->getValue<std::string>("command_id");
    status_by_id[id] = result->getValue<std::string>("status");
  }
  CHECK(status_by_id.count("") == 0);  // not JSON: refused without a result, like any unreadable command
  CHECK(status_by_id["c-4"] == "rejected");
  CHECK(status_by_id["c-5"] == "rejected");
  CHECK(status_by_id["c-6"] == "ok");
  CHECK(fixture.uplink->counters().commands_rejected == 2);
  CHECK(fixture.uplink->counters().commands_refused == 1);
  CHECK(log.Contains("msg=\"command refused\" reason=malformed"));
  CHECK(
      log.Contains("msg=\"command rejected\" command_id=c-4 type=\"\" reason=\"unsupported command type\""));
}

TEST_CASE("Only a ping is answered pong: an unknown kind is rejected with its reason, never answered ok") {
  Fixture fixture;
  fixture.Start();
  fixture.Command(R"({"id":"c-1","type":"ping"})");
  fixture.Command(R"({"id":"c-2","type":"Ping"})");
  fixture.Command(R"({"id":"c-3","type":"status"})");
  fixture.Command(R"({"id":"c-4","type":"factory.reset"})");
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("cmd/result").size() == 4; }));
  std::map<std::string, std::pair<std::string, std::string>> result_by_id;  // status, detail
  for (auto& message : fixture.PublishedTo("cmd/result")) {
    auto result = Json(message.payload);
    result_by_id[result->getValue<std::string>("command_id")] = {result->getValue<std::string>("status"),
                                                                 result->getValue<std::string>("detail")};
  }
  CHECK(result_by_id["c-1"] == std::pair<std::string, std::string>{"ok", "pong"});
  CHECK(result_by_id["c-2"] == std::pair<std::string, std::string>{"rejected", "unsupported command type"});
  CHECK(result_by_id["c-3"] == std::pair<std::string, std::string>{"ok", "status published"});
  CHECK(result_by_id["c-4"] == std::pair<std::string, std::string>{"rejected", "unsupported command type"});
}

TEST_CASE("A message the broker does not acknowledge stays in the outbox and is sent again") {
  Fixture fixture;
  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kHigh);
  fixture.outbox->Append({alert});
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 1; }));
  fixture.transport->events.delivery_failed(fixture.PublishedTo("event/alert")[0].tag, "Not authorized");
  REQUIRE(WaitUntil([&] { return fixture.uplink->counters().delivery_failures == 1; }));
  fixture.Advance(1s);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 2; }));
  CHECK(EventIds(fixture.PublishedTo("event/alert")[1]) == std::vector<std::string>{alert.id.ToString()});
  CHECK(fixture.outbox->Rows().size() == 1);
}

TEST_CASE("A refused commit is offered again: acknowledged rows are not sent twice meanwhile") {
  Fixture fixture;
  fixture.outbox->refuse_commits = true;
  fixture.outbox->Append(fixture.Observations(10));
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() == 1; }));
  fixture.AckAndWait(fixture.PublishedTo("event/observation")[0]);
  fixture.uplink->NotifyOutbox(Priority::kBulk);  // a fresh read must skip the acknowledged rows
  fixture.AdvanceAndSettle(3s);
  CHECK(fixture.outbox->peeks >= 2);
  CHECK(fixture.PublishedTo("event/observation").size() == 1);
  CHECK(fixture.outbox->Rows().size() == 10);
  fixture.outbox->refuse_commits = false;
  fixture.Advance(100ms);
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().empty(); }));
  CHECK(fixture.PublishedTo("event/observation").size() == 1);
}

TEST_CASE("Stop says goodbye on the status topic and disconnects") {
  Fixture fixture;
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 1; }));
  std::thread acker([&] {
    WaitUntil([&] { return fixture.PublishedTo("status").size() == 2; });
    fixture.AckAll();
  });
  fixture.uplink->Stop();
  acker.join();
  const auto statuses = fixture.PublishedTo("status");
  REQUIRE(statuses.size() == 2);
  CHECK(statuses[1].retained);
  CHECK(Json(statuses[1].payload)->getValue<std::string>("state") == "offline");
  CHECK(Json(statuses[1].payload)->getValue<std::string>("reason") == "shutdown");
  CHECK(fixture.transport->disconnect_calls >= 1);
  CHECK(fixture.uplink->status().state == LinkState::kStopped);
}

TEST_CASE(
    "With retain_status off, no status is retained: not the first, a heartbeat, the will or the goodbye") {
  Fixture fixture;
  auto options = fixture.Options();
  options.retain_status = false;
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 1; }));
  fixture.AckAll();
  fixture.Advance(61s);  // a heartbeat
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 2; }));
  {
    std::lock_guard lock(fixture.transport->mutex);
    REQUIRE(fixture.transport->will.has_value());
    CHECK(fixture.transport->will->topic == std::string(kBase) + "status");
    CHECK_FALSE(fixture.transport->will->retained);
  }
  std::thread acker([&] {
    WaitUntil([&] { return fixture.PublishedTo("status").size() == 3; });
    fixture.AckAll();
  });
  fixture.uplink->Stop();
  acker.join();
  const auto statuses = fixture.PublishedTo("status");
  REQUIRE(statuses.size() == 3);
  for (const auto& status : statuses)
    CHECK_FALSE(status.retained);
  CHECK(Json(statuses[0].payload)->getValue<std::string>("state") == "online");
  CHECK(Json(statuses[1].payload)->getValue<std::string>("state") == "online");
  CHECK(Json(statuses[2].payload)->getValue<std::string>("reason") == "shutdown");
}

TEST_CASE(
    "While draining, each read starts after the last row sent, and an urgent row restarts from the front") {
  Fixture fixture;
  auto options = fixture.Options();
  options.observation_batch_max = 50;
  fixture.outbox->Append(fixture.Observations(600));
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/observation").size() >= 5; }));
  // The broker acknowledges each message once; each round waits for the uplink to send more.
  std::set<std::uint64_t> acknowledged;
  for (int i = 0; i < 200 && !fixture.outbox->Rows().empty(); ++i) {
    const std::size_t before = fixture.PublishedCount();
    for (auto& message : fixture.Published())
      if (acknowledged.insert(message.tag).second) fixture.Ack(message);
    REQUIRE(WaitUntil([&] { return fixture.PublishedCount() > before || fixture.outbox->Rows().empty(); }));
  }
  REQUIRE(WaitUntil([&] { return fixture.outbox->Rows().empty(); }));
  CHECK(fixture.outbox->peeks_from_position > 0);
  // Every observation went out exactly once, in order.
  std::vector<std::string> sent;
  for (auto& message : fixture.PublishedTo("event/observation"))
    for (auto& id : EventIds(message))
      sent.push_back(id);
  CHECK(sent.size() == 600);
  CHECK(std::is_sorted(sent.begin(), sent.end()));
  CHECK(std::set<std::string>(sent.begin(), sent.end()).size() == 600);

  // A critical alert written now sorts before the read position: it is found and sent.
  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kCritical);
  fixture.Append({alert});
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 1; }));
}

namespace {

// Real keys: statuses are signed as in production (events sealed, commands verified).
struct SigningKeys {
  ehg::crypto::EcKey gateway = ehg::crypto::EcKey::Generate().value();
  ehg::crypto::KeySet enrolled;  // the care system's copy of the gateway's public key
  SigningKeys() { enrolled.Add(ehg::crypto::EcKey::FromJwkText(gateway.Jwk()).value()); }

  std::shared_ptr<const ehg::crypto::PayloadProtection> Protection() const {
    ehg::crypto::KeySet command_keys;
    command_keys.Add(ehg::crypto::EcKey::Generate().value());
    ehg::crypto::CommandPolicy policy;
    policy.gateway_id = "gw-1";
    return std::make_shared<ehg::crypto::JoseProtection>(gateway, ehg::crypto::EcKey::Generate().value(),
                                                         std::move(command_keys), std::move(policy));
  }
};

}  // namespace

TEST_CASE("Every status is signed by the gateway key, and each connection gets its own signed last will") {
  SigningKeys keys;
  Fixture fixture;
  auto options = fixture.Options();
  options.protection = keys.Protection();
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 1; }));
  ehg::wire::StatusTracker receiver(&keys.enrolled);
  const auto now = fixture.clock.Now();

  const auto online = receiver.Check("0301", "gw-1", fixture.PublishedTo("status")[0].payload, now);
  REQUIRE(online.accepted);
  CHECK(online.status.state == "online");
  CHECK(online.status.signer == keys.gateway.id());
  std::optional<ehg::transport::LastWill> will;
  {
    std::lock_guard lock(fixture.transport->mutex);
    will = fixture.transport->will;
  }
  REQUIRE(will.has_value());
  CHECK(will->topic == std::string(kBase) + "status");
  CHECK(will->retained);                                              // broker.retain_status defaults to on
  CHECK(will->payload.find("connection lost") == std::string::npos);  // a JWS, not plain JSON
  const auto first_will = ehg::wire::StatusTracker(&keys.enrolled).Check("0301", "gw-1", will->payload, now);
  REQUIRE(first_will.accepted);
  CHECK(first_will.status.state == "offline");
  CHECK(first_will.status.reason == "connection lost");
  CHECK_FALSE(first_will.status.time.has_value());
  CHECK(first_will.status.connected_at == online.status.connected_at);

  // A new connection: a new will, naming it; the old connection's will is no longer taken after it.
  fixture.Ack(fixture.PublishedTo("status")[0]);
  fixture.clock.Advance(10s);
  fixture.transport->events.connection_lost("socket closed");
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().state == LinkState::kDisconnected; }));
  fixture.Advance(1000ms);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 2; }));
  const auto reconnected =
      receiver.Check("0301", "gw-1", fixture.PublishedTo("status")[1].payload, fixture.clock.Now());
  REQUIRE(reconnected.accepted);
  CHECK(reconnected.status.connected_at > online.status.connected_at);
  std::vector<ehg::transport::LastWill> wills;
  {
    std::lock_guard lock(fixture.transport->mutex);
    wills = fixture.transport->wills;
    will = fixture.transport->will;
  }
  REQUIRE(wills.size() == 2);
  CHECK(receiver.Check("0301", "gw-1", wills[0].payload, fixture.clock.Now()).reason == "replayed");
  CHECK(receiver.Check("0301", "gw-1", will->payload, fixture.clock.Now()).accepted);

  // The goodbye on a clean stop is signed too.
  std::thread acker([&] {
    WaitUntil([&] { return fixture.PublishedTo("status").size() == 3; });
    fixture.AckAll();
  });
  fixture.uplink->Stop();
  acker.join();
  const auto goodbye =
      ehg::wire::StatusTracker(&keys.enrolled)
          .Check("0301", "gw-1", fixture.PublishedTo("status")[2].payload, fixture.clock.Now());
  REQUIRE(goodbye.accepted);
  CHECK(goodbye.status.state == "offline");
  CHECK(goodbye.status.reason == "shutdown");
  CHECK(goodbye.status.time == fixture.clock.Now());
  CHECK(fixture.uplink->counters().status_sign_failures == 0);
}

// The resend schedules themselves (exact times, backoff, caps, restarts) are the receipt tracker's,
// stepped in receipt_tracker_test.cpp; here only that the thread shell wires them: due copies go out,
// and a reconnect or an authentic command restarts the backoff while a refused one does not.
TEST_CASE(
    "A lost alert's backoff starts over on reconnect and when the care system answers, not on a forgery") {
  Fixture fixture;
  auto alert = fixture.MakeEvent(EventKind::kAlert, Priority::kNormal);  // backs off (60, 120, 240 s)
  fixture.outbox->Append({alert});
  fixture.Start();
  const auto alerts = [&] { return fixture.PublishedTo("event/alert"); };
  const auto resent_after = [&](std::chrono::seconds wait, std::size_t copies) {
    fixture.Advance(wait);
    REQUIRE(WaitUntil([&] { return alerts().size() == copies; }));
    CHECK(EventIds(alerts().back()) == std::vector<std::string>{alert.id.ToString()});
    fixture.AckAndWait(alerts().back());
  };
  REQUIRE(WaitUntil([&] { return alerts().size() == 1; }));
  fixture.AckAndWait(alerts()[0]);
  resent_after(60s, 2);  // the next copy waits 120 s

  // Anyone on the broker can send this: no earlier copy.
  fixture.Command("not a command");
  REQUIRE(WaitUntil([&] { return fixture.uplink->counters().commands_refused == 1; }));
  fixture.AdvanceAndSettle(60s);
  CHECK(alerts().size() == 2);
  resent_after(60s, 3);  // 120 s after the last copy; the next would wait 240 s

  // The care system answers (a ping, answered once its result is published): one base interval later.
  fixture.Advance(10s);
  fixture.Command(R"({"id":"c-10","type":"ping"})");
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("cmd/result").size() == 1; }));
  resent_after(60s, 4);  // the next would wait 120 s

  // A reconnect (the broker may have lost what it held): one base interval after it.
  fixture.transport->events.connection_lost("broker restarted");
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().state == LinkState::kDisconnected; }));
  fixture.Advance(1000ms);
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("status").size() == 2; }));  // the birth message
  resent_after(60s, 5);
  CHECK(fixture.uplink->counters().alerts_resent == 4);
}

TEST_CASE("config.apply does not hold the uplink: other commands are answered while the daemon works") {
  Fixture fixture;
  auto options = fixture.Options();
  std::mutex mutex;
  ehg::uplink::CommandDone pending;
  options.apply_config = [&](const ehg::wire::ConfigChange&, ehg::uplink::CommandDone done) {
    std::lock_guard lock(mutex);
    pending = std::move(done);  // the daemon's main thread answers later
  };
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().state == LinkState::kConnected; }));
  fixture.Command(R"({"id":"c-1","type":"config.apply","config":"{}"})");
  fixture.Command(R"({"id":"c-2","type":"ping"})");
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("cmd/result").size() == 1; }));
  CHECK(Json(fixture.PublishedTo("cmd/result")[0].payload)->getValue<std::string>("command_id") == "c-2");
  std::thread main_thread([&] {
    std::lock_guard lock(mutex);
    REQUIRE(pending);
    pending({false, "invalid config, nothing changed: test"});
  });
  main_thread.join();
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("cmd/result").size() == 2; }));
  auto applied = Json(fixture.PublishedTo("cmd/result")[1].payload);
  CHECK(applied->getValue<std::string>("command_id") == "c-1");
  CHECK(applied->getValue<std::string>("status") == "rejected");
  CHECK(applied->getValue<std::string>("detail") == "invalid config, nothing changed: test");
}

TEST_CASE("A flood of oversized messages while the uplink is busy does not grow its task queue unbounded") {
  ehg::test::LogCapture log;
  Fixture fixture;
  auto options = fixture.Options();
  std::atomic<bool> applying{false};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  // Holds the uplink thread inside the call (a daemon does not; a slow one must not break the queue).
  options.apply_config = [&](const ehg::wire::ConfigChange&, ehg::uplink::CommandDone done) {
    applying = true;
    released.wait();
    done({true, "applied"});
  };
  fixture.Start(options);
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().state == LinkState::kConnected; }));
  // The uplink thread is held inside a command; a broker that ignores the maximum packet size keeps
  // sending.
  fixture.Command(R"({"id":"c-1","type":"config.apply","config":"{}"})");
  REQUIRE(WaitUntil([&] { return applying.load(); }));
  constexpr std::size_t kFlood = ehg::uplink::kMaxQueuedUplinkTasks + 2000;
  for (std::size_t i = 0; i < kFlood; ++i)
    fixture.transport->events.oversized(std::string(kBase) + "cmd", 200'000);
  release.set_value();
  // A row appended now is sent only after every task queued before its notice has run.
  fixture.Append({fixture.MakeEvent(EventKind::kAlert, Priority::kCritical)});
  REQUIRE(WaitUntil([&] { return fixture.PublishedTo("event/alert").size() == 1; }));
  CHECK(fixture.uplink->counters().messages_oversized == kFlood);  // every one counted
  CHECK(log.Count("maximum packet size dropped unread") <= ehg::uplink::kMaxQueuedUplinkTasks);
  CHECK(log.Count("maximum packet size dropped unread") > 0);
}

TEST_CASE("A message larger than the announced maximum packet size is counted and logged, never opened") {
  ehg::test::LogCapture log;
  Fixture fixture;
  fixture.Start();
  REQUIRE(WaitUntil([&] { return fixture.uplink->status().state == LinkState::kConnected; }));
  fixture.transport->events.oversized(std::string(kBase) + "cmd", 100'000'000);
  REQUIRE(WaitUntil([&] { return log.Contains("maximum packet size dropped unread"); }));
  CHECK(fixture.uplink->counters().messages_oversized == 1);
  CHECK(fixture.uplink->counters().commands == 0);
  CHECK(log.Contains("bytes=100000000 maximum=147456"));
}
