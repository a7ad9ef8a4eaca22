// The change batcher stepped with a manual clock: the test plays the pipeline, taking or refusing each
// offered change and answering with its outcome.
#include "gateway/uplink/change_batcher.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include "tests/unit/uplink/stepping.hpp"

using namespace std::chrono_literals;
using ehg::store::OutboxChange;
using ehg::uplink::ChangeBatcher;

namespace {

struct BatcherRig {
  ehg::core::ManualClock clock;
  ehg::test::EventMaker events{clock};
  ehg::test::StepCounters counters;
  ChangeBatcher batcher{"gw-1", events.ids(), counters.counters};
  std::vector<OutboxChange> offered;  // every change offered, taken or not
  bool take = true;                   // the pipeline's queue has room

  // One flush at the clock's time: whether a change was offered.
  bool Flush() {
    const std::size_t before = offered.size();
    batcher.Flush(clock.SteadyNow(), [&](const OutboxChange& change) {
      offered.push_back(change);
      return take;
    });
    return offered.size() > before;
  }
  ChangeBatcher::Committed Done(ehg::Result<ehg::store::WriteOutcome> outcome) {
    return batcher.CommitDone(outcome, clock.SteadyNow(), clock.Now());
  }
  ChangeBatcher::Committed Committed(std::vector<ehg::store::AlertActionResult> results = {}) {
    ehg::store::WriteOutcome outcome;
    outcome.alert_action_results = std::move(results);
    return Done(outcome);
  }
  ChangeBatcher::Committed Failed() { return Done(ehg::Fail(ehg::Errc::kIo, "disk full")); }
};

Poco::JSON::Object::Ptr ResultBody(const ehg::core::Event& event) {
  return Poco::JSON::Parser().parse(event.body).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST_CASE("A change the pipeline refuses is offered again 50 ms later with what came since, nothing lost") {
  BatcherRig rig;
  rig.batcher.RowAcknowledged(1);
  rig.batcher.RowAcknowledged(2);
  rig.take = false;
  REQUIRE(rig.Flush());
  CHECK_FALSE(rig.batcher.committing());
  // Meanwhile: another row, a result, a setting. The removals stay held: not read and sent again.
  rig.batcher.RowAcknowledged(3);
  rig.batcher.CommandResult("c-1", "ping", true, "pong", rig.clock.Now());
  rig.batcher.Setting("uplink.heartbeat_interval_seconds", "20");
  CHECK(rig.batcher.removing() == std::set<std::int64_t>{1, 2, 3});
  rig.take = true;
  rig.clock.Advance(49ms);
  CHECK_FALSE(rig.Flush());
  rig.clock.Advance(1ms);
  REQUIRE(rig.Flush());
  const OutboxChange& change = rig.offered.back();
  CHECK(change.sent_sequences == std::vector<std::int64_t>{1, 2, 3});
  REQUIRE(change.events.size() == 1);
  CHECK(ResultBody(change.events[0])->getValue<std::string>("command_id") == "c-1");
  CHECK(change.settings.at("uplink.heartbeat_interval_seconds") == "20");
  CHECK(rig.batcher.committing());
  CHECK(rig.batcher.removing() == std::set<std::int64_t>{1, 2, 3});  // until committed
  rig.Committed();
  CHECK(rig.batcher.removing().empty());
  CHECK(rig.batcher.Settled());
  CHECK(rig.counters.counters.commit_failures == 0);
}

TEST_CASE("A change that failed to commit goes back in front of what came since, offered again after 1 s") {
  BatcherRig rig;
  const auto receipted = rig.events.Make(ehg::core::EventKind::kAlert, ehg::core::Priority::kCritical).id;
  rig.batcher.RowAcknowledged(7);
  rig.batcher.Receipted(receipted, 9);
  rig.batcher.CommandSeen({"jti-1", rig.clock.Now() + 24h}, rig.clock.Now());
  rig.batcher.CommandResult("c-1", "alert.receipt", true, "receipt recorded", rig.clock.Now());
  rig.batcher.Setting("a", "old");
  REQUIRE(rig.Flush());
  // One change at a time: what comes now waits, even past the pause.
  rig.batcher.RowAcknowledged(8);
  rig.batcher.CommandSeen({"jti-2", rig.clock.Now() + 24h}, rig.clock.Now() + 1s);
  rig.batcher.CommandResult("c-2", "ping", true, "pong", rig.clock.Now());
  rig.batcher.Setting("a", "new");
  rig.clock.Advance(5s);
  CHECK_FALSE(rig.Flush());

  const auto failed = rig.Failed();
  CHECK_FALSE(failed.most_urgent_event.has_value());
  CHECK(rig.counters.counters.commit_failures == 1);
  CHECK(rig.batcher.removing() == std::set<std::int64_t>{7, 8, 9});
  rig.clock.Advance(999ms);
  CHECK_FALSE(rig.Flush());
  rig.clock.Advance(1ms);
  REQUIRE(rig.Flush());
  const OutboxChange& again = rig.offered.back();
  CHECK(again.sent_sequences == std::vector<std::int64_t>{7, 8});
  CHECK(again.receipted_events == std::vector<ehg::core::EventId>{receipted});
  REQUIRE(again.events.size() == 2);
  CHECK(ResultBody(again.events[0])->getValue<std::string>("command_id") == "c-1");
  CHECK(ResultBody(again.events[1])->getValue<std::string>("command_id") == "c-2");
  CHECK(again.settings.at("a") == "new");  // the later value wins
  // The command ids go with their commands' results, or a replay after a restart would be taken again.
  REQUIRE(again.seen_commands.size() == 2);
  CHECK(again.seen_commands[0].jti == "jti-1");
  CHECK(again.seen_commands[1].jti == "jti-2");
  CHECK(again.forget_commands_before == rig.clock.Now() - 6s + 1s);
  const auto committed = rig.Committed();
  CHECK(committed.most_urgent_event == ehg::core::Priority::kNormal);
  CHECK(rig.batcher.removing().empty());
}

TEST_CASE("An alert action's command is answered only after the change carrying the action is committed") {
  BatcherRig rig;
  ehg::store::AlertAction ack{ehg::store::AlertAction::Kind::kAcknowledge, "alert-1", "nurse-0417", {}};
  ehg::store::AlertAction resolve{ehg::store::AlertAction::Kind::kResolve, "alert-2", "nurse-0417", "ok"};
  rig.batcher.AlertAction(ack, "c-1", "alert.ack");
  rig.batcher.AlertAction(resolve, "c-2", "alert.resolve");
  REQUIRE(rig.Flush());
  CHECK(rig.offered.back().alert_actions.size() == 2);
  CHECK(rig.offered.back().events.empty());  // no result before the outcome
  rig.Failed();
  CHECK(rig.batcher.pending().events.empty());  // a failed commit answers nothing
  rig.clock.Advance(1s);
  REQUIRE(rig.Flush());
  CHECK(rig.offered.back().alert_actions.size() == 2);
  CHECK(rig.offered.back().events.empty());

  const auto committed = rig.Committed({{true, "acknowledged"}, {false, "no such open alert"}});
  CHECK(committed.alert_actions);
  const auto& results = rig.batcher.pending().events;
  REQUIRE(results.size() == 2);
  const auto first = ResultBody(results[0]);
  CHECK(first->getValue<std::string>("command_id") == "c-1");
  CHECK(first->getValue<std::string>("status") == "ok");
  CHECK(first->getValue<std::string>("detail") == "acknowledged");
  const auto second = ResultBody(results[1]);
  CHECK(second->getValue<std::string>("command_id") == "c-2");
  CHECK(second->getValue<std::string>("status") == "rejected");
  CHECK(second->getValue<std::string>("detail") == "no such open alert");
  REQUIRE(rig.Flush());  // the results go in the next change
  CHECK(rig.offered.back().events.size() == 2);
}

TEST_CASE("An action the pipeline did not report on is answered as not applied, never as done") {
  BatcherRig rig;
  rig.batcher.AlertAction({ehg::store::AlertAction::Kind::kAcknowledge, "alert-1", "nurse", {}}, "c-1",
                          "alert.ack");
  REQUIRE(rig.Flush());
  rig.Committed({});
  REQUIRE(rig.batcher.pending().events.size() == 1);
  const auto result = ResultBody(rig.batcher.pending().events[0]);
  CHECK(result->getValue<std::string>("status") == "rejected");
  CHECK(result->getValue<std::string>("detail") == "not applied");
}

TEST_CASE("Command ids alone wait for their command's effect, and an empty batcher offers nothing") {
  BatcherRig rig;
  CHECK_FALSE(rig.Flush());
  rig.batcher.CommandSeen({"jti-1", rig.clock.Now() + 1h}, rig.clock.Now());
  CHECK_FALSE(rig.Flush());
  rig.batcher.CommandResult("c-1", "ping", true, "pong", rig.clock.Now());
  REQUIRE(rig.Flush());
  CHECK(rig.offered.back().seen_commands.size() == 1);
  CHECK(rig.offered.back().events.size() == 1);
}

TEST_CASE("A receipt names its event id, and a row the uplink held stays out of reads until committed") {
  BatcherRig rig;
  const auto held = rig.events.Make(ehg::core::EventKind::kAlert, ehg::core::Priority::kHigh).id;
  const auto unknown = rig.events.Make(ehg::core::EventKind::kAlert, ehg::core::Priority::kHigh).id;
  rig.batcher.Receipted(held, 4);
  rig.batcher.Receipted(unknown, std::nullopt);
  CHECK(rig.batcher.removing() == std::set<std::int64_t>{4});
  CHECK_FALSE(rig.batcher.Settled());
  REQUIRE(rig.Flush());
  CHECK(rig.offered.back().receipted_events == std::vector<ehg::core::EventId>{held, unknown});
  CHECK(rig.offered.back().sent_sequences.empty());  // an alert leaves by its receipt only
  CHECK_FALSE(rig.batcher.Settled());
  rig.Committed();
  CHECK(rig.batcher.removing().empty());
  CHECK(rig.batcher.Settled());
}

TEST_CASE("A row receipted before the uplink read it stays out of reads by its event id until committed") {
  BatcherRig rig;
  const auto unread = rig.events.Make(ehg::core::EventKind::kObservation, ehg::core::Priority::kBulk).id;
  rig.batcher.Receipted(unread, std::nullopt);
  CHECK(rig.batcher.removing().empty());
  CHECK(rig.batcher.removing_events() == std::set<ehg::core::EventId>{unread});
  REQUIRE(rig.Flush());
  CHECK(rig.offered.back().receipt_held == std::vector<bool>{false});
  // A failed commit leaves the row in the outbox: still not to be read while the change is retried.
  rig.Failed();
  CHECK(rig.batcher.removing_events() == std::set<ehg::core::EventId>{unread});
  rig.clock.Advance(ehg::uplink::kCommitFailedRetryDelay);
  REQUIRE(rig.Flush());
  CHECK(rig.offered.back().receipted_events == std::vector<ehg::core::EventId>{unread});
  CHECK(rig.batcher.removing_events() == std::set<ehg::core::EventId>{unread});
  rig.Committed();
  CHECK(rig.batcher.removing_events().empty());
  CHECK(rig.batcher.Settled());
}
