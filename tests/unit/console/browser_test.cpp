// The console in a real browser: Debian's chromium driven by tests/browser/board.mjs (playwright-core,
// axe-core), against ehealth-console on the test PostgreSQL. This side owns the data: it enrols the
// accounts and gateways, stores alerts, readings and the rules in force the way the hub does
// (Ledger::Store of the gateway's own bodies), and stores a critical alert while the board is open,
// which must appear without a reload. Then the resident view, the fleet and the audit log.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>

#include "care/accounts/passwords.hpp"
#include "care/ledger/ledger.hpp"
#include "gateway/wire/commands.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/postgres/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/ledger/bodies.hpp"

namespace ehg::console {
namespace {

using namespace ehg::ledger_test;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPassword = "correct horse battery";

ledger::Message AlertMessage(const std::string& tenant, const std::string& gateway, std::uint64_t n,
                             const std::string& alert_id, alerts::Severity severity, core::WallTime at) {
  alerts::Alert alert = SpO2Alert(severity);
  alert.alert_id = alert_id;
  alert.raised_at = at;
  alert.updated_at = at;
  auto message = ledger::ReadMessage(tenant, gateway, ledger::Kind::kAlert,
                                     AlertBody(n, alerts::ChangeKind::kRaised, alert, gateway));
  REQUIRE_MESSAGE(message.has_value(), message.error().message);
  return *message;
}

TEST_CASE(
    "the console in chromium: sign-in, a live critical alert taken, acknowledged and resolved, another "
    "municipality refused, axe clean") {
  const std::string database = test::TestPostgres::Get().FreshDatabase();
  auto ledger = ledger::Ledger::Open({database});
  REQUIRE(ledger);
  const core::WallTime now = core::SystemClock().Now();
  auto hash = accounts::HashPassword(kPassword, {1, 8192});
  REQUIRE(hash);
  REQUIRE((*ledger)->CreateAccount({"kari.nordmann", accounts::Role::kNurse, {"0301"}, *hash}, "test", now));
  REQUIRE((*ledger)->CreateAccount({"ola.nordmann", accounts::Role::kNurse, {"4601"}, *hash}, "test", now));
  REQUIRE((*ledger)->CreateAccount({"per.hansen", accounts::Role::kNurse, {"0301"}, *hash}, "test", now));
  REQUIRE((*ledger)->CreateAccount({"it.oslo", accounts::Role::kMunicipalIt, {"0301"}, *hash}, "test", now));
  REQUIRE(
      (*ledger)->CreateAccount({"admin.oslo", accounts::Role::kAdministrator, {"0301"}, *hash}, "test", now));
  // A municipality with 500 open alerts (ten per gateway): how long its board takes to show.
  REQUIRE((*ledger)->CreateAccount({"lise.berg", accounts::Role::kNurse, {"5001"}, *hash}, "test", now));
  std::vector<ledger::Message> busy;
  for (std::uint64_t i = 0; i < 500; ++i) {
    busy.push_back(AlertMessage("5001", "gw-busy-" + std::to_string(i / 10), 1000 + i,
                                "busy-" + std::to_string(i),
                                i % 7 == 0 ? alerts::Severity::kCritical : alerts::Severity::kHigh,
                                now - std::chrono::seconds(static_cast<std::int64_t>(i))));
  }
  REQUIRE((*ledger)->Store(busy));
  // The resident's last six hours (SpO2 every five minutes, a battery level), the rules her gateway
  // reported, and the fleet: gw-a online and reporting, gw-b enrolled and never heard from.
  std::vector<std::string> bodies;
  for (int i = 0; i < 72; ++i) {
    bodies.push_back(
        ObservationBody(100 + static_cast<std::uint64_t>(i),
                        Reading("spo2", 91 + i % 7, "%", now - std::chrono::minutes(5 * (72 - i))), "gw-a"));
  }
  bodies.push_back(ObservationBody(200, Reading("battery", 64, "%", now - std::chrono::minutes(30)), "gw-a"));
  auto readings = ledger::ReadMessage("0301", "gw-a", ledger::Kind::kObservation, Bundle(bodies));
  REQUIRE_MESSAGE(readings.has_value(), readings.error().message);
  alerts::RuleSet rules;
  alerts::ThresholdRule low;
  low.common.id = "spo2-low";
  low.common.severity = alerts::Severity::kHigh;
  low.metric = "spo2";
  low.below = 92;
  rules.thresholds.push_back(low);
  auto reported = ledger::ReadMessage(
      "0301", "gw-a", ledger::Kind::kGateway,
      pipeline::RulesInForceBody(Context("gw-a"), Id(201), now - std::chrono::hours(7), rules));
  REQUIRE(reported);
  REQUIRE((*ledger)->Store({*readings, *reported}));
  REQUIRE((*ledger)->Enrol({"0301", "gw-a", {"kid-a", "ka"}, "aa"}, "test", now));
  REQUIRE((*ledger)->Enrol({"0301", "gw-b", {"kid-b", "kb"}, "bb"}, "test", now));
  ledger::StatusRow status;
  status.tenant = "0301";
  status.gateway = "gw-a";
  status.state = "online";
  status.time = now - std::chrono::seconds(20);
  status.connected_at = now - std::chrono::hours(2);
  status.version = "0.4.0";
  status.heartbeat_interval_seconds = 60;
  status.backlog_events = 3;
  status.clock_synchronised = true;
  REQUIRE((*ledger)->ApplyStatus(status));
  REQUIRE((*ledger)->Store({AlertMessage("0301", "gw-a", 1, "alert-0301-high", alerts::Severity::kHigh,
                                         now - std::chrono::minutes(7)),
                            AlertMessage("4601", "gw-b", 2, "alert-4601-critical",
                                         alerts::Severity::kCritical, now - std::chrono::minutes(3))}));

  // The console connects as a role of its own with ledger::ConsoleGrants, as a region runs it.
  const std::string database_name = database.substr(database.rfind('=') + 1);
  const std::string role = "ehg_console_" + database_name;
  auto grants = ledger::ConsoleGrants(role);
  REQUIRE(grants);
  test::TestPostgres::Get().Execute(database_name, "CREATE ROLE " + role + " LOGIN; " + *grants);
  const test::TestPki& pki = test::TestPki::Get();
  test::Process console = test::Process::Start(
      {EHG_CONSOLE_BINARY, "--database", database + " user=" + role, "--listen", "127.0.0.1:0", "--tls-cert",
       pki.File("broker.crt").string(), "--tls-key", pki.File("broker.key").string(), "--web-root",
       std::string(EHG_SOURCE_DIR) + "/care/console/web"});
  REQUIRE_MESSAGE(console.WaitForOutput("console listening on https://", seconds(30)), console.Output());
  std::smatch port;
  const std::string output = console.Output();
  REQUIRE(std::regex_search(output, port, std::regex("127\\.0\\.0\\.1:([0-9]+)")));

  const std::string artefacts = std::string(EHG_ARTEFACTS_DIR) + "/console";
  std::filesystem::create_directories(artefacts);
  test::Process browser = test::Process::Start(
      {"/usr/bin/env", "node", std::string(EHG_SOURCE_DIR) + "/tests/browser/board.mjs"},
      {"CONSOLE_URL=https://localhost:" + port[1].str() + "/", "NURSE=kari.nordmann", "COLLEAGUE=per.hansen",
       "OTHER_NURSE=ola.nordmann", "IT=it.oslo", "ADMIN=admin.oslo", "BUSY_NURSE=lise.berg",
       std::string("PASSWORD=") + kPassword, "ARTEFACTS=" + artefacts, std::string("RESIDENT=") + kResident});
  // Until the board is ready, or the script gave up (its output says why).
  bool ready = false;
  for (int i = 0; i < 180 && !ready; ++i) {
    ready = browser.WaitForOutput("READY", milliseconds(500));
    if (!ready && browser.Wait(milliseconds(0)).has_value()) break;
  }
  REQUIRE_MESSAGE(ready, browser.Output());
  const core::WallTime live_raised = core::SystemClock().Now();
  REQUIRE((*ledger)->Store({AlertMessage("0301", "gw-a", 3, "alert-0301-critical-live",
                                         alerts::Severity::kCritical, live_raised)}));
  browser.WriteInput("STORED alert-0301-critical-live\n");

  // The nurse acknowledged: play the hub (sign and send the requested command; here it is only recorded)
  // and the gateway (its cmd.result, and the alert's acknowledged event), as they would arrive.
  bool acknowledged = false;
  for (int i = 0; i < 120 && !acknowledged; ++i) {
    acknowledged = browser.WaitForOutput("ACKNOWLEDGED", milliseconds(500));
    if (!acknowledged && browser.Wait(milliseconds(0)).has_value()) break;
  }
  REQUIRE_MESSAGE(acknowledged, browser.Output());
  std::string command_id;
  auto sent = (*ledger)->SendRequestedCommands(
      10,
      [&](const ledger::CommandRequest& request) -> Result<ledger::SentCommand> {
        command_id = request.command_id;
        CHECK(request.body.find("\"type\":\"alert.ack\"") != std::string::npos);
        CHECK(request.body.find("\"by\":\"kari.nordmann\"") != std::string::npos);
        const core::WallTime at = core::SystemClock().Now();
        return ledger::SentCommand{request.tenant,
                                   request.gateway,
                                   request.command_id,
                                   "alert.ack",
                                   request.body,
                                   at,
                                   at + std::chrono::hours(1),
                                   "signed-" + request.command_id};
      },
      core::SystemClock().Now());
  REQUIRE(sent);
  CHECK(*sent == 1);
  alerts::Alert acked = SpO2Alert(alerts::Severity::kCritical);
  acked.alert_id = "alert-0301-critical-live";
  acked.raised_at = live_raised;
  acked.state = alerts::AlertState::kAcknowledged;
  acked.acknowledged_at = core::SystemClock().Now();
  acked.acknowledged_by = "kari.nordmann";
  acked.updated_at = *acked.acknowledged_at;
  auto result = ledger::ReadMessage("0301", "gw-a", ledger::Kind::kCommandResult,
                                    wire::CommandResultBody(Id(4), "gw-a", core::SystemClock().Now(),
                                                            command_id, "alert.ack", true, "acknowledged"));
  auto event = ledger::ReadMessage("0301", "gw-a", ledger::Kind::kAlert,
                                   AlertBody(5, alerts::ChangeKind::kAcknowledged, acked, "gw-a"));
  REQUIRE(result);
  REQUIRE(event);
  REQUIRE((*ledger)->Store({*result, *event}));
  browser.WriteInput("CONFIRMED\n");
  const auto exit_code = browser.Wait(seconds(120));
  INFO(browser.Output());
  INFO(console.Output());
  REQUIRE(exit_code.has_value());
  CHECK(*exit_code == 0);
  for (const char* screenshot : {"board-critical.png", "resident.png", "fleet.png", "audit.png"})
    CHECK(std::filesystem::exists(artefacts + "/" + screenshot));

  // The audit log names each sign-in, each read of a board and each action.
  auto audit = test::RunCommand(
      {"/usr/bin/env", "psql", database, "-At", "-c",
       "SELECT actor || ' ' || action FROM audit_log WHERE action IN "
       "('session.sign_in', 'session.sign_in_refused', 'alerts.read', 'alert.claim', "
       "'alert.acknowledge', 'alert.resolve', 'resident.read', 'audit.read', 'command.request', "
       "'gateway.enrol') "
       "ORDER BY id"});
  CHECK(audit.output.find("kari.nordmann session.sign_in_refused") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann session.sign_in\n") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alerts.read") != std::string::npos);
  CHECK(audit.output.find("ola.nordmann alerts.read") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alert.claim") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alert.acknowledge") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alert.resolve") != std::string::npos);
  // Her colleague's claim of the alert she had taken was refused; his claim of another one (while she
  // typed her note) is there: one.
  const auto colleague_claims = [&] {
    int count = 0;
    for (std::size_t at = audit.output.find("per.hansen alert.claim"); at != std::string::npos;
         at = audit.output.find("per.hansen alert.claim", at + 1))
      ++count;
    return count;
  };
  CHECK(colleague_claims() == 1);
  CHECK(audit.output.find("kari.nordmann resident.read") != std::string::npos);
  CHECK(audit.output.find("ola.nordmann resident.read") == std::string::npos);  // refused before reading
  CHECK(audit.output.find("admin.oslo audit.read") != std::string::npos);
  CHECK(audit.output.find("it.oslo command.request") != std::string::npos);
  CHECK(audit.output.find("it.oslo gateway.enrol") != std::string::npos);
  // The gateway municipal IT enrolled in the page: its public key only, one key.
  auto enrolled =
      test::RunCommand({"/usr/bin/env", "psql", database, "-At", "-c",
                        "SELECT g.status || ' ' || count(k.*) || ' ' || (g.public_key LIKE '%\"d\"%') "
                        "FROM gateways g JOIN gateway_keys k USING (tenant, gateway_id) "
                        "WHERE g.tenant = '0301' AND g.gateway_id = 'gw-new-01' GROUP BY g.status, "
                        "g.public_key"});
  CHECK(enrolled.output == "enrolled 1 false\n");
  // The rules change municipal IT confirmed, queued for a hub as the gateway will read it.
  auto rules_requested =
      test::RunCommand({"/usr/bin/env", "psql", database, "-At", "-c",
                        "SELECT requested_by || ' ' || (body::jsonb->'rules'->0->>'below') FROM "
                        "command_requests WHERE body::jsonb->>'type' = 'rules.apply'"});
  CHECK(rules_requested.output == "it.oslo 90\n");
}

}  // namespace
}  // namespace ehg::console
