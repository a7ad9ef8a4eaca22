// The care console at the end of the real chain: the gateway daemon on simulated devices, the
// three-node engine, a hub (its turn and its command loop on a thread of this test), PostgreSQL, the
// console, and a nurse in Debian's chromium (tests/browser/chain.mjs); then a rules change from the care
// side, applied by the gateway.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <thread>

#include "care/accounts/passwords.hpp"
#include "care/hub/send_command.hpp"
#include "gateway/wire/commands.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/hub/hub_rig.hpp"

using namespace ehg::hub_test;
using ehg::test::Process;

TEST_CASE(
    "A real gateway's alert reaches a nurse's board, her acknowledgement and resolution reach the gateway "
    "and its confirmations come back, every step audited") {
  HubRig rig(Unique("hub-console"));
  const std::string gateway = TestCluster::kGateway;
  rig.Enrol(gateway);
  constexpr const char* kPassword = "correct horse battery";
  auto hash = ehg::accounts::HashPassword(kPassword, {1, 8192});
  REQUIRE(hash);
  REQUIRE(rig.ledger->CreateAccount({"kari.nordmann", ehg::accounts::Role::kNurse, {bodies::kTenant}, *hash},
                                    "test", rig.clock.Now()));

  // The hub: turns and sends what the console asked for, until the test ends.
  std::atomic<bool> stop{false};
  std::atomic<int> hub_errors{0};
  std::thread hub([&] {
    ehg::core::EventIdGenerator ids(rig.clock);
    while (!stop) {
      if (!rig.ingest->Turn()) ++hub_errors;
      if (!ehg::hub::SendRequestedCommands(*rig.ledger, *rig.engine, rig.care_commands, rig.clock, ids))
        ++hub_errors;
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Join() {
      stop = true;
      thread.join();
    }
  } join{stop, hub};

  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  Process console =
      Process::Start({EHG_CONSOLE_BINARY, "--database", rig.database, "--listen", "127.0.0.1:0", "--tls-cert",
                      pki.File("broker.crt").string(), "--tls-key", pki.File("broker.key").string(),
                      "--web-root", std::string(EHG_SOURCE_DIR) + "/care/console/web"});
  REQUIRE_MESSAGE(console.WaitForOutput("console listening on https://", 30s), console.Output());
  std::smatch port;
  const std::string listening = console.Output();
  REQUIRE(std::regex_search(listening, port, std::regex("127\\.0\\.0\\.1:([0-9]+)")));

  ehg::test::TempDir keys;
  ehg::test::TempDir dir;
  Process daemon =
      ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), GatewayOnEngine(rig, keys)));

  const std::string artefacts = std::string(EHG_ARTEFACTS_DIR) + "/console";
  Process browser =
      Process::Start({"/usr/bin/env", "node", std::string(EHG_SOURCE_DIR) + "/tests/browser/chain.mjs"},
                     {"CONSOLE_URL=https://localhost:" + port[1].str() + "/", "NURSE=kari.nordmann",
                      std::string("PASSWORD=") + kPassword, "ARTEFACTS=" + artefacts});
  const auto exit_code = browser.Wait(240s);
  INFO(browser.Output());
  INFO(daemon.Output().substr(daemon.Output().size() > 4000 ? daemon.Output().size() - 4000 : 0));
  REQUIRE(exit_code.has_value());
  REQUIRE(*exit_code == 0);
  std::smatch resolved;
  const std::string said = browser.Output();
  REQUIRE(std::regex_search(said, resolved, std::regex("RESOLVED ([0-9a-f-]+)")));
  const std::string alert_id = resolved[1].str();

  // A rules change as municipal IT asks for it: the hub signs and sends it, the gateway checks it as its
  // own config, answers ok, and reports the rules now in force.
  const std::string rules_id = "rules-chain-1";
  // On a connection of its own, as the console has: rig.ledger is the hub thread's (one Ledger is one
  // connection for one thread).
  auto console_ledger = ehg::ledger::Ledger::Open({rig.database});
  REQUIRE(console_ledger);
  REQUIRE(
      (*console_ledger)
          ->RequestCommand(
              {bodies::kTenant, gateway, rules_id,
               ehg::wire::RulesApplyCommand(
                   rules_id,
                   R"([{"id":"spo2-low","kind":"threshold","metric":"spo2","below":90,"severity":"high"}])"),
               "it.oslo"},
              rig.clock.Now()));
  const auto rules_answered = [&] {
    return rig.Count("SELECT count(*) FROM commands WHERE command_id = '" + rules_id +
                     "' AND result_status IS NOT NULL");
  };
  for (int i = 0; i < 300 && rules_answered() == 0; ++i)
    std::this_thread::sleep_for(100ms);
  CHECK(rig.Count("SELECT count(*) FROM commands WHERE command_id = '" + rules_id +
                  "' AND result_status = 'ok' AND result_detail LIKE 'rules replaced%'") == 1);
  const auto rules_reported = [&] {
    return rig.Count(
        "SELECT count(*) FROM gateway_events WHERE code = 'rules.in_force' AND body::text LIKE "
        "'%spo2-low%'");
  };
  for (int i = 0; i < 300 && rules_reported() == 0; ++i)
    std::this_thread::sleep_for(100ms);
  CHECK(rules_reported() == 1);

  // The gateway itself holds the alert as resolved by the nurse, with her note.
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(15s) == 0);
  {
    SQLite::Database store((dir / "data" / "gateway.db").string(), SQLite::OPEN_READONLY);
    SQLite::Statement alert(store, "SELECT is_open, detail FROM alerts WHERE alert_id = ?");
    alert.bind(1, alert_id);
    REQUIRE(alert.executeStep());
    CHECK(alert.getColumn(0).getInt() == 0);
    const std::string detail = alert.getColumn(1).getString();
    CHECK(detail.find("kari.nordmann") != std::string::npos);
    CHECK(detail.find("Sjekket, alt i orden") != std::string::npos);
  }
  // Each step is in the audit log, by the nurse, naming the resident.
  for (const char* action :
       {"session.sign_in", "alerts.read", "alert.acknowledge", "alert.resolve", "resident.read"}) {
    CAPTURE(action);
    CHECK(
        rig.Count(std::string("SELECT count(*) FROM audit_log WHERE actor = 'kari.nordmann' AND action = '") +
                  action + "'") >= 1);
  }
  CHECK(rig.Count("SELECT count(*) FROM command_requests WHERE sent_at IS NOT NULL AND gateway_id = '" +
                  gateway + "'") == 3);
  CHECK(hub_errors == 0);
}
