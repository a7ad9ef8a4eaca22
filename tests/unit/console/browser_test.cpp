// The console in a real browser: Debian's chromium driven by tests/browser/board.mjs (playwright-core,
// axe-core), against ehealth-console on the test PostgreSQL. This side owns the data: it enrols the
// accounts, stores alerts the way the hub does (Ledger::Store of the gateway's own bodies), and stores
// a critical alert while the board is open, which must appear without a reload.
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
  REQUIRE((*ledger)->Store({AlertMessage("0301", "gw-a", 1, "alert-0301-high", alerts::Severity::kHigh,
                                         now - std::chrono::minutes(7)),
                            AlertMessage("4601", "gw-b", 2, "alert-4601-critical",
                                         alerts::Severity::kCritical, now - std::chrono::minutes(3))}));

  const test::TestPki& pki = test::TestPki::Get();
  test::Process console = test::Process::Start({EHG_CONSOLE_BINARY, "--database", database, "--listen",
                                                "127.0.0.1:0", "--tls-cert", pki.File("broker.crt").string(),
                                                "--tls-key", pki.File("broker.key").string(), "--web-root",
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
       "OTHER_NURSE=ola.nordmann", std::string("PASSWORD=") + kPassword, "ARTEFACTS=" + artefacts});
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
                                   at + std::chrono::hours(1)};
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
  CHECK(std::filesystem::exists(artefacts + "/board-critical.png"));

  // The audit log names each sign-in, each read of a board and each action.
  auto audit =
      test::RunCommand({"/usr/bin/env", "psql", database, "-At", "-c",
                        "SELECT actor || ' ' || action FROM audit_log WHERE action IN "
                        "('session.sign_in', 'session.sign_in_refused', 'alerts.read', 'alert.claim', "
                        "'alert.acknowledge', 'alert.resolve') ORDER BY id"});
  CHECK(audit.output.find("kari.nordmann session.sign_in_refused") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann session.sign_in\n") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alerts.read") != std::string::npos);
  CHECK(audit.output.find("ola.nordmann alerts.read") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alert.claim") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alert.acknowledge") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alert.resolve") != std::string::npos);
  CHECK(audit.output.find("per.hansen alert.claim") == std::string::npos);  // the second was refused
}

}  // namespace
}  // namespace ehg::console
