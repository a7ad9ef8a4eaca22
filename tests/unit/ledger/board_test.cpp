// The console's board of open alerts and the hub's notifications that they changed, on a real
// PostgreSQL 15.
#include <doctest/doctest.h>

#include <thread>

#include "gateway/wire/commands.hpp"
#include "tests/unit/ledger/bodies.hpp"
#include "tests/unit/ledger/ledger_database.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger_test;
using std::chrono::milliseconds;

Message AlertOf(const std::string& tenant, const std::string& gateway, std::uint64_t n,
                alerts::ChangeKind change, alerts::Alert alert) {
  auto message = ReadMessage(tenant, gateway, Kind::kAlert, AlertBody(n, change, alert, gateway));
  REQUIRE_MESSAGE(message.has_value(), message.error().message);
  return *message;
}

alerts::Alert Raised(const std::string& id, alerts::Severity severity, core::WallTime at) {
  alerts::Alert alert = SpO2Alert(severity);
  alert.alert_id = id;
  alert.raised_at = at;
  alert.updated_at = at;
  return alert;
}

TEST_CASE(
    "the board: open alerts of the account's municipalities, critical first, then the longest waiting") {
  LedgerDatabase db;
  const auto store = [&](const Message& message) { REQUIRE(db.ledger->Store({message})); };
  store(AlertOf("0301", "gw-a", 1, alerts::ChangeKind::kRaised,
                Raised("a-high-old", alerts::Severity::kHigh, kT0)));
  store(AlertOf("0301", "gw-a", 2, alerts::ChangeKind::kRaised,
                Raised("a-critical-new", alerts::Severity::kCritical, kT0 + milliseconds(60'000))));
  store(AlertOf("0301", "gw-b", 3, alerts::ChangeKind::kRaised,
                Raised("b-critical-old", alerts::Severity::kCritical, kT0 + milliseconds(1'000))));
  store(AlertOf("4601", "gw-c", 4, alerts::ChangeKind::kRaised,
                Raised("c-other-town", alerts::Severity::kCritical, kT0)));
  alerts::Alert done = Raised("a-resolved", alerts::Severity::kCritical, kT0);
  store(AlertOf("0301", "gw-a", 5, alerts::ChangeKind::kRaised, done));
  done.state = alerts::AlertState::kResolved;
  done.resolved_at = kT0 + milliseconds(5'000);
  done.resolved_by = "nurse-0417";
  done.updated_at = kT0 + milliseconds(5'000);
  store(AlertOf("0301", "gw-a", 6, alerts::ChangeKind::kResolved, done));

  auto board = db.ledger->BoardAlerts({"0301"}, 500, "kari.nordmann", kT0 + milliseconds(120'000));
  REQUIRE(board);
  std::vector<std::string> order;
  for (const BoardAlert& alert : *board)
    order.push_back(alert.alert_id);
  CHECK(order == std::vector<std::string>{"b-critical-old", "a-critical-new", "a-high-old"});
  const BoardAlert& first = board->front();
  CHECK(first.tenant == "0301");
  CHECK(first.gateway == "gw-b");
  CHECK(first.subject == kResident);
  CHECK(first.severity == "critical");
  CHECK(first.priority == 0);
  CHECK(first.raised_at == kT0 + milliseconds(1'000));
  CHECK(first.worst_value == 86);
  CHECK_FALSE(first.acknowledged_at);

  // Another municipality's alert is not on this board, whatever the list order; '*' sees every one.
  CHECK(db.ledger->BoardAlerts({"4601"}, 500, "ola", kT0)->size() == 1);
  CHECK(db.ledger->BoardAlerts({"0301", "4601"}, 500, "ola", kT0)->size() == 4);
  CHECK(db.ledger->BoardAlerts({"*"}, 500, "admin", kT0)->size() == 4);
  CHECK(db.ledger->BoardAlerts({"5001"}, 500, "ola", kT0)->empty());
  CHECK(db.ledger->BoardAlerts({"0301"}, 2, "kari.nordmann", kT0)->size() == 2);
  // Every read is in the audit log, with who read which board.
  CHECK(db.Scalar("SELECT actor || ' ' || action || ' ' || detail FROM audit_log ORDER BY id LIMIT 1") ==
        "kari.nordmann alerts.read board of 0301: 3 alerts");
  CHECK(db.Count("audit_log WHERE action = 'alerts.read'") == 6);
}

TEST_CASE(
    "alert changes: the hub's commit wakes a listener with the tenant, a reconnect asks for everything") {
  LedgerDatabase db;
  AlertChanges changes(db.connection);
  // The first call connects and says "read everything" (what happened before it listened is unknown).
  CHECK(changes.Wait(milliseconds(0)).value() == std::vector<std::string>{"*"});
  CHECK(changes.Wait(milliseconds(50)).value().empty());

  // Two alerts of one tenant in one turn and one of another: each tenant once.
  REQUIRE(db.ledger->Store(
      {AlertOf("0301", "gw-a", 1, alerts::ChangeKind::kRaised, Raised("x1", alerts::Severity::kHigh, kT0)),
       AlertOf("0301", "gw-b", 2, alerts::ChangeKind::kRaised, Raised("x2", alerts::Severity::kHigh, kT0)),
       AlertOf("4601", "gw-c", 3, alerts::ChangeKind::kRaised, Raised("x3", alerts::Severity::kHigh, kT0))}));
  std::vector<std::string> woken;
  for (int i = 0; i < 50 && woken.size() < 2; ++i) {
    auto got = changes.Wait(milliseconds(100));
    REQUIRE(got);
    woken.insert(woken.end(), got->begin(), got->end());
  }
  std::sort(woken.begin(), woken.end());
  CHECK(woken == std::vector<std::string>{"0301", "4601"});

  // A duplicate changes nothing and wakes nobody; an observation wakes nobody either.
  REQUIRE(db.ledger->Store(
      {AlertOf("0301", "gw-a", 1, alerts::ChangeKind::kRaised, Raised("x1", alerts::Severity::kHigh, kT0))}));
  CHECK(changes.Wait(milliseconds(200)).value().empty());

  // The listener's connection killed by the server: an error, then a reconnect that asks for everything.
  db.Execute(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' OR "
      "(backend_type = 'client backend' AND pid <> pg_backend_pid() AND state = 'idle')");
  bool reconnected = false;
  for (int i = 0; i < 20 && !reconnected; ++i) {
    auto got = changes.Wait(milliseconds(100));
    reconnected = got && *got == std::vector<std::string>{"*"};
  }
  CHECK(reconnected);
}

TEST_CASE("actions on an alert: first come first served, acknowledge and resolve queue a command, audited") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Store({AlertOf("0301", "gw-a", 1, alerts::ChangeKind::kRaised,
                                    Raised("a1", alerts::Severity::kCritical, kT0))}));
  const auto act = [&](AlertActionKind kind, const std::string& actor, const std::string& command_id = "") {
    AlertAction action{
        "0301",     "gw-a",
        "a1",       kind,
        actor,      "",
        command_id, command_id.empty() ? "" : R"({"id":")" + command_id + R"(","type":"alert.ack"})"};
    return db.ledger->RecordAlertAction(action, kT0 + milliseconds(1000));
  };
  auto claimed = act(AlertActionKind::kClaim, "kari.nordmann");
  REQUIRE(claimed);
  CHECK(claimed->done);
  auto second = act(AlertActionKind::kClaim, "per.hansen");
  REQUIRE(second);
  CHECK_FALSE(second->done);
  CHECK(second->first_actor == "kari.nordmann");
  CHECK(act(AlertActionKind::kAcknowledge, "per.hansen").error().code ==
        Errc::kInvalidArgument);  // no command
  REQUIRE(act(AlertActionKind::kAcknowledge, "per.hansen", "cmd-1")->done);
  CHECK(act(AlertActionKind::kAcknowledge, "kari.nordmann", "cmd-2")->first_actor == "per.hansen");
  CHECK(db.Count("command_requests") == 1);
  // Unknown alerts, other municipalities' ids and other gateways are not found.
  AlertAction stranger{"4601", "gw-a", "a1", AlertActionKind::kClaim, "ola", "", "", ""};
  CHECK(db.ledger->RecordAlertAction(stranger, kT0).error().code == Errc::kNotFound);
  AlertAction missing{"0301", "gw-a", "nope", AlertActionKind::kClaim, "ola", "", "", ""};
  CHECK(db.ledger->RecordAlertAction(missing, kT0).error().code == Errc::kNotFound);

  auto board = db.ledger->BoardAlerts({"0301"}, 10, "kari.nordmann", kT0 + milliseconds(2000));
  REQUIRE(board);
  REQUIRE(board->size() == 1);
  REQUIRE(board->front().claim);
  CHECK(board->front().claim->actor == "kari.nordmann");
  REQUIRE(board->front().acknowledge);
  CHECK(board->front().acknowledge->actor == "per.hansen");
  CHECK_FALSE(board->front().acknowledge->sent_at);
  CHECK_FALSE(board->front().resolve);

  // A hub sends it: recorded in commands, marked sent, shown on the board; the gateway's result too.
  int calls = 0;
  auto sent = db.ledger->SendRequestedCommands(
      10,
      [&](const CommandRequest& request) -> Result<SentCommand> {
        ++calls;
        CHECK(request.command_id == "cmd-1");
        CHECK(request.requested_by == "per.hansen");
        return SentCommand{request.tenant,
                           request.gateway,
                           request.command_id,
                           "alert.ack",
                           request.body,
                           kT0 + milliseconds(3000),
                           kT0 + milliseconds(3'603'000),
                           "signed"};
      },
      kT0 + milliseconds(3000));
  REQUIRE(sent);
  CHECK(*sent == 1);
  CHECK(db.ledger
            ->SendRequestedCommands(
                10,
                [&](const CommandRequest&) -> Result<SentCommand> {
                  ++calls;
                  return Fail(Errc::kUnavailable, "never called");
                },
                kT0)
            .value() == 0);
  CHECK(calls == 1);
  REQUIRE(db.ledger->Store(
      {ReadMessage("0301", "gw-a", Kind::kCommandResult,
                   wire::CommandResultBody(Id(7), "gw-a", kT0, "cmd-1", "alert.ack", true, "ok"))
           .value()}));
  board = db.ledger->BoardAlerts({"0301"}, 10, "kari.nordmann", kT0 + milliseconds(4000));
  CHECK(board->front().acknowledge->sent_at == kT0 + milliseconds(3000));
  CHECK(board->front().acknowledge->result_status == "ok");

  // A request the gateway would refuse is marked refused; the engine away leaves it waiting.
  REQUIRE(db.ledger->RequestCommand({"0301", "gw-a", "cmd-3", "{}", "it.oslo"}, kT0));
  REQUIRE(db.ledger->RequestCommand({"0301", "gw-a", "cmd-4", "{}", "it.oslo"}, kT0 + milliseconds(1)));
  CHECK(db.ledger
            ->SendRequestedCommands(
                10,
                [](const CommandRequest&) -> Result<SentCommand> {
                  return Fail(Errc::kUnavailable, "engine away");
                },
                kT0)
            .value() == 0);
  CHECK(db.ledger
            ->SendRequestedCommands(
                10,
                [](const CommandRequest& request) -> Result<SentCommand> {
                  return Fail(Errc::kRejected, "the gateway would refuse " + request.command_id);
                },
                kT0)
            .value() == 2);
  CHECK(db.Scalar(
            "SELECT string_agg(refused, ',' ORDER BY command_id) FROM command_requests WHERE refused IS NOT "
            "NULL") == "the gateway would refuse cmd-3,the gateway would refuse cmd-4");

  // Resolved at the gateway: off the board, and nothing more can be done with it.
  alerts::Alert done = Raised("a1", alerts::Severity::kCritical, kT0);
  done.state = alerts::AlertState::kResolved;
  done.resolved_at = kT0 + milliseconds(9000);
  done.resolved_by = "per.hansen";
  done.updated_at = kT0 + milliseconds(9000);
  REQUIRE(db.ledger->Store({AlertOf("0301", "gw-a", 8, alerts::ChangeKind::kResolved, done)}));
  CHECK(act(AlertActionKind::kResolve, "kari.nordmann", "cmd-5").error().code == Errc::kNotFound);
  CHECK(db.ledger->BoardAlerts({"0301"}, 10, "kari.nordmann", kT0)->empty());
  CHECK(db.Scalar("SELECT string_agg(actor || ' ' || action || ' ' || coalesce(subject, '-'), ', ' ORDER BY "
                  "id) FROM audit_log "
                  "WHERE action LIKE 'alert.%' OR action = 'command.request'") ==
        "kari.nordmann alert.claim demo-resident-7f3a, per.hansen alert.acknowledge demo-resident-7f3a, "
        "it.oslo command.request -, it.oslo command.request -");
}

}  // namespace
}  // namespace ehg::ledger
