// The console in a real browser: Debian's chromium driven by tests/browser/board.mjs (playwright-core,
// axe-core), against ehealth-console on the test PostgreSQL. This side owns the data: it enrols the
// accounts, stores alerts the way the hub does (Ledger::Store of the gateway's own bodies), and stores
// a critical alert while the board is open, which must appear without a reload.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>

#include "care/accounts/passwords.hpp"
#include "care/ledger/ledger.hpp"
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
    "the console in chromium: sign-in, a live critical alert, another municipality refused, axe clean") {
  const std::string database = test::TestPostgres::Get().FreshDatabase();
  auto ledger = ledger::Ledger::Open({database});
  REQUIRE(ledger);
  const core::WallTime now = core::SystemClock().Now();
  auto hash = accounts::HashPassword(kPassword, {1, 8192});
  REQUIRE(hash);
  REQUIRE((*ledger)->CreateAccount({"kari.nordmann", accounts::Role::kNurse, {"0301"}, *hash}, "test", now));
  REQUIRE((*ledger)->CreateAccount({"ola.nordmann", accounts::Role::kNurse, {"4601"}, *hash}, "test", now));
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
      {"CONSOLE_URL=https://localhost:" + port[1].str() + "/", "NURSE=kari.nordmann",
       "OTHER_NURSE=ola.nordmann", std::string("PASSWORD=") + kPassword, "ARTEFACTS=" + artefacts});
  // Until the board is ready, or the script gave up (its output says why).
  bool ready = false;
  for (int i = 0; i < 180 && !ready; ++i) {
    ready = browser.WaitForOutput("READY", milliseconds(500));
    if (!ready && browser.Wait(milliseconds(0)).has_value()) break;
  }
  REQUIRE_MESSAGE(ready, browser.Output());
  REQUIRE((*ledger)->Store({AlertMessage("0301", "gw-a", 3, "alert-0301-critical-live",
                                         alerts::Severity::kCritical, core::SystemClock().Now())}));
  browser.WriteInput("STORED alert-0301-critical-live\n");
  const auto exit_code = browser.Wait(seconds(120));
  INFO(browser.Output());
  INFO(console.Output());
  REQUIRE(exit_code.has_value());
  CHECK(*exit_code == 0);
  CHECK(std::filesystem::exists(artefacts + "/board-critical.png"));

  // The audit log names each sign-in and each read of a board.
  auto audit =
      test::RunCommand({"/usr/bin/env", "psql", database, "-At", "-c",
                        "SELECT actor || ' ' || action FROM audit_log WHERE action IN "
                        "('session.sign_in', 'session.sign_in_refused', 'alerts.read') ORDER BY id"});
  CHECK(audit.output.find("kari.nordmann session.sign_in_refused") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann session.sign_in\n") != std::string::npos);
  CHECK(audit.output.find("kari.nordmann alerts.read") != std::string::npos);
  CHECK(audit.output.find("ola.nordmann alerts.read") != std::string::npos);
}

}  // namespace
}  // namespace ehg::console
