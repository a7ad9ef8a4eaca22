// The console's fleet view and audit view on a real PostgreSQL 15.
#include <doctest/doctest.h>

#include <optional>
#include <pqxx/pqxx>
#include <thread>

#include "care/accounts/passwords.hpp"
#include "tests/support/postgres/postgres.hpp"
#include "tests/unit/ledger/bodies.hpp"
#include "tests/unit/ledger/ledger_database.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger_test;
using std::chrono::milliseconds;

// A well-formed argon2id string (the table checks the prefix); never verified here.
constexpr std::string_view kTestHash =
    "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

TEST_CASE("the fleet: the tenants' gateways with their signed status and latest update outcome") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k1"}, "ab12"}, "operator-1", ledger_test::kT0));
  REQUIRE(db.ledger->Enrol({kTenant, "gw-quiet", {"kid-2", "k2"}, "cd34"}, "operator-1", ledger_test::kT0));
  REQUIRE(db.ledger->Enrol({"4601", "gw-far", {"kid-3", "k3"}, "ef56"}, "operator-1", ledger_test::kT0));
  StatusRow status;
  status.tenant = kTenant;
  status.gateway = kGateway;
  status.state = "online";
  status.time = ledger_test::kT0 + milliseconds(60'000);
  status.connected_at = ledger_test::kT0;
  status.version = "0.3.0";
  status.heartbeat_interval_seconds = 60;
  status.backlog_events = 12;
  status.backlog_alerts = 1;
  status.alerts_awaiting_receipt = 1;
  status.dropped_observations = 7;
  status.clock_synchronised = false;
  REQUIRE(db.ledger->ApplyStatus(status).value());
  auto update = ReadMessage(kTenant, kGateway, Kind::kGateway, GatewayBody(1));
  REQUIRE(update);
  REQUIRE(db.ledger->Store({*update}));

  auto fleet = db.ledger->FleetGateways({kTenant}, 100);
  REQUIRE_MESSAGE(fleet.has_value(), fleet.error().message);
  REQUIRE(fleet->size() == 2);
  const FleetGateway& reporting = fleet->at(0);
  CHECK(reporting.gateway == kGateway);
  CHECK(reporting.status == "enrolled");
  CHECK(reporting.state == "online");
  CHECK(reporting.software_version == "0.3.0");
  CHECK(reporting.last_heartbeat == ledger_test::kT0 + milliseconds(60'000));
  CHECK(reporting.backlog_events == 12);
  CHECK(reporting.alerts_awaiting_receipt == 1);
  CHECK(reporting.dropped_observations == 7);
  CHECK(reporting.clock_synchronised == false);
  CHECK(reporting.last_update == "update.installed");
  CHECK(reporting.last_update_at == ledger_test::kT0);
  // Enrolled and never heard from: no state, no heartbeat, nothing made up.
  const FleetGateway& quiet = fleet->at(1);
  CHECK(quiet.gateway == "gw-quiet");
  CHECK(quiet.state.empty());
  CHECK_FALSE(quiet.last_heartbeat);
  CHECK_FALSE(quiet.clock_synchronised);
  CHECK(quiet.last_update.empty());

  CHECK(db.ledger->FleetGateways({"4601"}, 100)->size() == 1);
  CHECK(db.ledger->FleetGateways({"*"}, 100)->size() == 3);
  CHECK(db.ledger->FleetGateways({"5001"}, 100)->empty());
  CHECK(db.ledger->FleetGateways({"*"}, 2)->size() == 2);

  auto found = db.ledger->FindGateway(kTenant, kGateway);
  REQUIRE(found);
  REQUIRE(found->has_value());
  CHECK((*found)->software_version == "0.3.0");
  CHECK_FALSE(db.ledger->FindGateway("4601", kGateway).value().has_value());  // another municipality's
  CHECK_FALSE(db.ledger->FindGateway(kTenant, "gw-none").value().has_value());
}

TEST_CASE("the fleet shows the update the console asked for: requested, sent, then the gateway's answer") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k1"}, "ab12"}, "operator-1", ledger_test::kT0));
  const auto state = [&] { return db.ledger->FindGateway(kTenant, kGateway).value().value(); };
  CHECK(state().update_request_state.empty());
  REQUIRE(db.ledger->RequestCommand(
      {kTenant, kGateway, "upd-1", wire::UpdateRequestCommand("upd-1", "0.5.0-1"), "it.oslo"},
      ledger_test::kT0));
  CHECK(state().update_requested_version == "0.5.0-1");
  CHECK(state().update_requested_at == ledger_test::kT0);
  CHECK(state().update_request_state == "requested");
  auto sent = db.ledger->SendRequestedCommands(
      10,
      [&](const CommandRequest& request) -> Result<SentCommand> {
        return SentCommand{request.tenant,
                           request.gateway,
                           request.command_id,
                           "update.request",
                           request.body,
                           ledger_test::kT0,
                           ledger_test::kT0 + std::chrono::hours(1),
                           "signed"};
      },
      ledger_test::kT0);
  REQUIRE(sent);
  CHECK(state().update_request_state == "sent");
  auto result = ReadMessage(kTenant, kGateway, Kind::kCommandResult,
                            wire::CommandResultBody(Id(7), kGateway, ledger_test::kT0, "upd-1",
                                                    "update.request", false, "a critical alert is open"));
  REQUIRE(result);
  REQUIRE(db.ledger->Store({*result}));
  CHECK(state().update_request_state == "rejected");
  // The audit log names who asked for it, and what.
  CHECK(db.Count("audit_log WHERE actor = 'it.oslo' AND action = 'command.request' AND detail = 'command "
                 "upd-1, update.request 0.5.0-1'") == 1);

  // A rules change: its own state beside the update's, with the gateway's reason when it refuses.
  const auto later = ledger_test::kT0 + std::chrono::minutes(1);
  REQUIRE(
      db.ledger->RequestCommand({kTenant, kGateway, "rules-1",
                                 wire::RulesApplyCommand("rules-1", R"([{"id":"a"},{"id":"b"}])"), "it.oslo"},
                                later));
  CHECK(state().rules_request_state == "requested");
  CHECK(state().rules_requested_at == later);
  CHECK(state().update_request_state == "rejected");
  REQUIRE(db.ledger->SendRequestedCommands(
      10,
      [&](const CommandRequest& request) -> Result<SentCommand> {
        return SentCommand{request.tenant,
                           request.gateway,
                           request.command_id,
                           "rules.apply",
                           request.body,
                           later,
                           later + std::chrono::hours(1),
                           "signed"};
      },
      later));
  CHECK(state().rules_request_state == "sent");
  auto refused = ReadMessage(kTenant, kGateway, Kind::kCommandResult,
                             wire::CommandResultBody(Id(8), kGateway, later, "rules-1", "rules.apply", false,
                                                     "invalid config, nothing changed: rules[0]: no kind"));
  REQUIRE(refused);
  REQUIRE(db.ledger->Store({*refused}));
  CHECK(state().rules_request_state == "rejected");
  CHECK(state().rules_request_detail == "invalid config, nothing changed: rules[0]: no kind");
  CHECK(state().update_request_state == "rejected");
  // The audit row counts the rules; their limits stay out of the log.
  CHECK(db.Count("audit_log WHERE action = 'command.request' AND detail = 'command rules-1, rules.apply (2 "
                 "rules)'") == 1);
}

TEST_CASE("the audit view: newest first, filtered, in the reader's scope, and itself audited") {
  LedgerDatabase db;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(db.ledger->Append(
        {ledger_test::kT0 + milliseconds(i), "kari", "resident.read", "0301", "", "r-1", "view"}));
  }
  REQUIRE(db.ledger->Append(
      {ledger_test::kT0 + milliseconds(10), "ola", "alert.acknowledge", "0301", kGateway, "r-2", ""}));
  REQUIRE(db.ledger->Append(
      {ledger_test::kT0 + milliseconds(11), "per", "resident.read", "4601", "", "r-9", "view"}));
  // A search without a municipality that names a resident (kari's, say, as an administrator of two
  // municipalities): no municipality's administrator sees it, only the region's.
  REQUIRE(db.ledger->Append(
      {ledger_test::kT0 + milliseconds(11), "kari", "audit.read", "", "", "r-9", "audit log (subject r-9)"}));
  // Accounts (created by "admin", a region-wide administrator: account.create rows without a
  // municipality) and their sign-ins (also without one).
  const auto kari =
      db.ledger->CreateAccount({"kari", accounts::Role::kNurse, {"0301"}, std::string(kTestHash)}, "admin",
                               ledger_test::kT0 + milliseconds(12));
  const auto per = db.ledger->CreateAccount({"per", accounts::Role::kNurse, {"4601"}, std::string(kTestHash)},
                                            "admin", ledger_test::kT0 + milliseconds(13));
  REQUIRE(kari);
  REQUIRE(per);
  REQUIRE(db.ledger->RecordSignIn(*kari, "kari", "192.0.2.1", SignInOutcome::kOk,
                                  ledger_test::kT0 + milliseconds(14)));
  REQUIRE(db.ledger->RecordSignIn(*per, "per", "192.0.2.2", SignInOutcome::kOk,
                                  ledger_test::kT0 + milliseconds(15)));

  AuditQuery all;
  all.tenants = {"*"};
  auto rows = db.ledger->ReadAudit(all, "admin", ledger_test::kT0 + milliseconds(20));
  REQUIRE_MESSAGE(rows.has_value(), rows.error().message);
  REQUIRE(rows->size() == 12);
  CHECK(rows->front().entry.actor == "per");  // newest first
  CHECK(rows->front().entry.action == "session.sign_in");
  CHECK(rows->front().id > rows->back().id);

  // A municipality's administrator: her municipality's rows, and the rows without a municipality of
  // her own staff (kari's sign-in); not the region's (per's sign-in, the region's account changes).
  AuditQuery oslo;
  oslo.tenants = {"0301"};
  rows = db.ledger->ReadAudit(oslo, "admin-oslo", ledger_test::kT0 + milliseconds(21));
  REQUIRE(rows);
  CHECK(rows->size() == 7);
  for (const AuditRow& row : *rows) {
    CAPTURE(row.entry.action);
    CHECK((row.entry.tenant == "0301" || (row.entry.actor == "kari" && row.entry.tenant.empty())));
    CHECK(row.entry.subject != "r-9");
  }

  AuditQuery who;
  who.tenants = {"*"};
  who.subject = "r-1";
  who.action = "resident.read";
  who.limit = 3;
  rows = db.ledger->ReadAudit(who, "admin", ledger_test::kT0 + milliseconds(22));
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  AuditQuery next = who;
  next.before_id = rows->back().id;
  auto page = db.ledger->ReadAudit(next, "admin", ledger_test::kT0 + milliseconds(23));
  REQUIRE(page);
  CHECK(page->size() == 2);  // the other two of the five, none twice
  for (const AuditRow& row : *page)
    CHECK(row.id < rows->back().id);
  CHECK(db.Count("audit_log WHERE action = 'audit.read' AND actor <> 'kari'") == 4);  // kari's was appended
  CHECK(db.Scalar("SELECT detail FROM audit_log WHERE action = 'audit.read' ORDER BY id DESC LIMIT 1") ==
        "audit log (subject r-1, action resident.read): 2 rows");
}

}  // namespace
}  // namespace ehg::ledger

namespace ehg::ledger {
namespace {

TEST_CASE("two enrolments of one new gateway at once: one enrols it, the other is told it already is") {
  LedgerDatabase db;
  pqxx::connection first(db.connection);
  pqxx::work holding(first);
  CHECK(holding
            .exec_params1("SELECT enrol_new_gateway($1, $2, 'kid-r', 'kr', '', 'it-1', now())", kTenant,
                          "gw-race")[0]
            .as<std::string>() == "enrolled");
  // The second waits on the first's uncommitted row, then finds it (a double tap on "Confirm").
  std::optional<Result<bool>> second;
  std::thread other([&] {
    second = db.ledger->EnrolNew({kTenant, "gw-race", {"kid-r", "kr"}, ""}, "it-2", ledger_test::kT0);
  });
  bool waiting = false;
  for (int i = 0; i < 200 && !waiting; ++i) {
    waiting = db.Count("pg_stat_activity WHERE wait_event_type = 'Lock'") == 1;
    if (!waiting) std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(waiting);
  holding.commit();
  other.join();
  REQUIRE(second.has_value());
  REQUIRE_MESSAGE(second->has_value(), second->error().message);
  CHECK_FALSE(**second);
  CHECK(db.Count("audit_log WHERE action = 'gateway.enrol'") == 1);
  CHECK(db.Count("gateway_keys WHERE gateway_id = 'gw-race'") == 1);
  // Another key for it, or malformed values for the audit row: refused, nothing written.
  auto other_key = db.ledger->EnrolNew({kTenant, "gw-race", {"kid-s", "ks"}, ""}, "it-2", ledger_test::kT0);
  REQUIRE_FALSE(other_key.has_value());
  CHECK(other_key.error().code == Errc::kRejected);
  CHECK_FALSE(db.ledger->EnrolNew({kTenant, "gw-odd", {"kid with space", "k"}, ""}, "it", ledger_test::kT0));
  CHECK_FALSE(db.ledger->EnrolNew({kTenant, "gw-odd", {"kid-o", "k"}, "AB"}, "it", ledger_test::kT0));
  CHECK_THROWS_WITH(
      test::TestPostgres::Get().Execute(
          db.connection.substr(db.connection.rfind('=') + 1),
          "SELECT enrol_new_gateway('0301', 'gw-odd', 'kid-o', 'k', '', 'it\nforged row', now())"),
      doctest::Contains("malformed"));
  CHECK(db.Count("gateways WHERE gateway_id = 'gw-odd'") == 0);
}

TEST_CASE("the console's role reads and acts as the console does, and can change nothing else") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k1"}, "ab12"}, "operator-1", ledger_test::kT0));
  alerts::Alert alert = SpO2Alert();
  auto raised =
      ReadMessage(kTenant, kGateway, Kind::kAlert, AlertBody(1, alerts::ChangeKind::kRaised, alert));
  REQUIRE(raised);
  REQUIRE(db.ledger->Store({*raised}));
  const auto kari = db.ledger->CreateAccount(
      {"kari", accounts::Role::kNurse, {kTenant}, std::string(kTestHash)}, "admin", ledger_test::kT0);
  REQUIRE(kari);

  const std::string database = db.connection.substr(db.connection.rfind('=') + 1);
  const std::string role = "ehg_console_" + database;
  CHECK_FALSE(ConsoleGrants("console; DROP TABLE x"));
  auto grants = ConsoleGrants(role);
  REQUIRE(grants);
  test::TestPostgres::Get().Execute(database, "CREATE ROLE " + role + " LOGIN; " + *grants);
  auto opened = Ledger::Open({test::TestPostgres::Get().Connection(database) + " user=" + role});
  REQUIRE_MESSAGE(opened.has_value(), opened.error().message);
  Ledger& console = **opened;

  // What the console does, as that role.
  const auto now = ledger_test::kT0 + std::chrono::minutes(1);
  REQUIRE(console.RecordSignIn(*kari, "kari", "192.0.2.7", SignInOutcome::kOk, now));
  StaffSession session;
  session.token_digest = accounts::TokenDigest(accounts::NewToken());
  session.account = {*kari, "kari", accounts::Role::kNurse, {kTenant}, false};
  session.csrf_token = accounts::NewToken();
  session.address = "192.0.2.7";
  session.created_at = now;
  session.last_seen_at = now;
  REQUIRE(console.CreateSession(session));
  auto touched = console.TouchSession(session.token_digest, now, {});
  REQUIRE_MESSAGE(touched.has_value(), touched.error().message);
  CHECK(touched->has_value());
  REQUIRE(console.BoardAlerts({kTenant}, 100, "kari", now).value().size() == 1);
  AlertAction ack{
      kTenant,        kGateway,
      alert.alert_id, AlertActionKind::kAcknowledge,
      "kari",         "",
      "cmd-ack-1",    wire::AlertActionCommand("alert.ack", "cmd-ack-1", alert.alert_id, "kari", "")};
  auto acted = console.RecordAlertAction(ack, now);
  REQUIRE_MESSAGE(acted.has_value(), acted.error().message);
  CHECK(acted->done);
  REQUIRE(console.ReadResident(
      {kTenant, kResident, ledger_test::kT0 - std::chrono::hours(1), now, std::chrono::seconds(300)}, "kari",
      now));
  REQUIRE(console.FleetGateways({kTenant}, 10));
  REQUIRE(console.FindGateway(kTenant, kGateway));
  REQUIRE(console.RequestCommand(
      {kTenant, kGateway, "upd-1", wire::UpdateRequestCommand("upd-1", "0.5.0-1"), "it"}, now));
  REQUIRE(console.ReadAudit({{"*"}, "", "", "", "", {}, 10}, "admin", now));
  // A new gateway, through the schema's function; never another key for one already enrolled.
  auto enrolled = console.EnrolNew({kTenant, "gw-from-console", {"kid-c", "kc"}, ""}, "it", now);
  REQUIRE_MESSAGE(enrolled.has_value(), enrolled.error().message);
  CHECK(*enrolled);
  auto rekeyed = console.EnrolNew({kTenant, kGateway, {"kid-evil", "ke"}, ""}, "it", now);
  REQUIRE_FALSE(rekeyed.has_value());
  CHECK(rekeyed.error().code == Errc::kRejected);
  REQUIRE(console.EndSession(session.token_digest, "signed_out", now));

  // What it must not do: store events, change alerts, accounts or keys, send commands, touch the log.
  const std::string as_console = "SET ROLE " + role + "; ";
  for (const char* change :
       {"UPDATE alerts SET stage = 2", "DELETE FROM alerts",
        "INSERT INTO events (event_id, tenant, gateway_id, "
        "kind, event_time) VALUES (gen_random_uuid(), '0301', 'gw-x', 'alert', now())",
        "UPDATE staff_accounts SET role = 'administrator'",
        "INSERT INTO staff_accounts (username, role, tenants, "
        "password_hash, created_at) VALUES ('x', 'administrator', '{*}', '$argon2id$x', now())",
        "UPDATE command_requests SET sent_at = now()", "UPDATE gateways SET status = 'enrolled'",
        "INSERT INTO gateway_keys SELECT * FROM gateway_keys",
        "INSERT INTO gateway_keys (tenant, gateway_id, key_id, public_key, cert_fingerprint, added_at) "
        "VALUES ('0301', 'demo-gw-01', 'kid-x', 'x', '', now())",
        "INSERT INTO gateways (tenant, gateway_id, status, key_id, public_key, cert_fingerprint, "
        "enrolled_at) VALUES ('0301', 'gw-y', 'enrolled', 'kid-y', 'y', '', now())",
        "DELETE FROM audit_log", "SELECT * FROM receipts",
        "UPDATE alert_actions SET actor = 'someone else'"}) {
    CAPTURE(change);
    CHECK_THROWS_WITH(test::TestPostgres::Get().Execute(database, as_console + change),
                      doctest::Contains("permission denied"));
  }
  CHECK(db.Scalar("SELECT stage FROM alerts") == "0");
  CHECK(db.Scalar("SELECT string_agg(key_id, ',' ORDER BY key_id) FROM gateway_keys") == "kid-1,kid-c");
}

}  // namespace
}  // namespace ehg::ledger
