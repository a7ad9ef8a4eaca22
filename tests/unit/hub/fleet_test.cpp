// The fleet simulator against the real engine and hub (docs/operations-hub.md#the-fleet-simulator): a
// small fleet, each gateway with its own certificate and key, connects over MQTT 3.1.1, sends batches
// and alerts while reconnect storms drop half of it, and the run ends only when the hub has confirmed
// every event: what the simulator counts as confirmed is what PostgreSQL holds, once.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "care/hub/ingest.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/crypto/keys.hpp"
#include "tests/support/engine/test_cluster.hpp"
#include "tests/support/postgres/postgres.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/fleet/fleet_runner.hpp"
#include "tools/fleet/provision.hpp"

using ehg::crypto::EcKey;
using ehg::test::TestCluster;
using ehg::test::TestPostgres;
using namespace std::chrono_literals;

TEST_CASE(
    "A simulated fleet through reconnect storms: every event it sent is in PostgreSQL once and every "
    "alert got its receipt") {
  ehg::core::SystemClock clock;
  TestCluster& cluster = TestCluster::Get();
  ehg::test::TempDir dir;
  const std::size_t gateways = TestCluster::kFleetGateways;
  auto members = ehg::fleet::Provision({dir / "fleet",
                                        cluster.Pki("ca.crt"),
                                        cluster.Pki("ca.key"),
                                        {TestCluster::kTenant, TestCluster::kFleetOtherTenant},
                                        gateways,
                                        TestCluster::kFleetPrefix});
  REQUIRE_MESSAGE(members.has_value(), (members ? "" : members.error().message));

  const EcKey care_encryption = *EcKey::Generate();
  const EcKey care_commands = *EcKey::Generate();
  std::ofstream(dir / "care-encryption.jwk") << care_encryption.Jwk(false);
  std::ofstream(dir / "care-commands.jwks") << "{\"keys\":[" << care_commands.Jwk(false) << "]}";

  const std::string database = TestPostgres::Get().FreshDatabase();
  auto ledger = std::move(ehg::ledger::Ledger::Open({database}).value());
  auto lookahead = std::move(ehg::ledger::Ledger::Open({database}).value());  // as the main lane has it
  {
    std::ifstream enrol(dir / "fleet" / "enrol.tsv");
    std::string line;
    while (std::getline(enrol, line)) {
      std::vector<std::string> fields;
      std::istringstream split(line);
      for (std::string field; std::getline(split, field, '\t');)
        fields.push_back(field);
      REQUIRE(fields.size() == 4);
      auto key = EcKey::FromText(fields[2]).value();
      REQUIRE(
          ledger->Enrol({fields[0], fields[1], {key.id(), key.Jwk(false)}, fields[3]}, "test", clock.Now())
              .has_value());
    }
  }
  const std::string durable = "hub-fleet-" + std::to_string(::getpid());
  auto engine = std::move(ehg::engine::Engine::Connect(cluster.HubOptions(durable)).value());
  REQUIRE(engine->WaitConnected(10s));
  REQUIRE(engine->EnsureStream().has_value());
  REQUIRE(engine->EnsureConsumer().has_value());
  ehg::crypto::KeySet decryption;
  decryption.Add(care_encryption);
  ehg::hub::IngestOptions ingest_options;
  ingest_options.fetch_wait = 100ms;
  ehg::hub::Ingest ingest(ingest_options, *engine, *ledger, std::move(decryption), care_commands, clock,
                          lookahead.get());
  std::atomic<bool> hub_stop{false};
  std::thread hub([&] {
    while (!hub_stop) {
      if (auto turn = ingest.Turn(); !turn) std::this_thread::sleep_for(100ms);
    }
  });

  ehg::fleet::RunOptions options;
  options.fleet_directory = dir / "fleet";
  options.ca_file = cluster.Pki("ca.crt");
  for (int node = 1; node <= 3; ++node)
    options.broker_uris.push_back("ssl://localhost:" + std::to_string(cluster.MqttPort(node)));
  options.care_encryption_key = dir / "care-encryption.jwk";
  options.command_keys = dir / "care-commands.jwks";
  options.profile.observation_interval = 1s;
  options.profile.readings_per_batch = 3;
  options.profile.heartbeat_interval = 2s;
  options.profile.alerts_per_second = 4;
  options.profile.storm_every = 2500ms;
  options.profile.storm_fraction = 0.5;
  options.profile.receipt_timeout = 3s;
  options.duration = 8s;
  options.drain = 30s;
  options.events_file = dir / "events.tsv";
  options.alerts_file = dir / "alerts.tsv";
  const std::atomic<bool> never{false};
  auto report = ehg::fleet::RunFleet(options, never);
  hub_stop = true;
  hub.join();
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
  INFO(ehg::fleet::ReportJson(*report));

  CHECK(report->gateways == gateways);
  // Three storms of half the fleet each. A gateway still connecting when a storm comes is not dropped
  // (a loaded machine has connect failures), so ask for at least one storm's worth, not all three.
  CHECK(report->storm_drops >= gateways / 2);
  CHECK(report->connections > gateways);  // and they came back
  CHECK(report->alerts >= 20);
  CHECK(report->heartbeats >= gateways * 2);
  CHECK(report->events_waiting == 0);
  CHECK(report->alerts_waiting == 0);
  CHECK(report->events_confirmed == report->events);
  CHECK(report->alerts_confirmed == report->alerts);
  CHECK(report->commands_refused == 0);

  // What it sent, by its own list, is what PostgreSQL holds: each event once, under its gateway.
  std::set<std::string> sent;
  std::ifstream events(dir / "events.tsv");
  for (std::string line; std::getline(events, line);) {
    const std::string id = line.substr(0, line.find('\t'));
    CHECK(sent.insert(id).second);
  }
  CHECK(sent.size() == report->events);
  pqxx::connection connection(database);
  pqxx::work work(connection);
  std::set<std::string> stored;
  for (const auto& row : work.exec("SELECT event_id::text, gateway_id FROM events"))
    if (row[1].as<std::string>().starts_with(TestCluster::kFleetPrefix))
      stored.insert(row[0].as<std::string>());
  CHECK(stored == sent);
  CHECK(work.exec1("SELECT count(*) FROM observations")[0].as<long>() ==
        static_cast<long>(report->events - report->alerts));
  CHECK(work.exec1("SELECT count(DISTINCT tenant) FROM events")[0].as<long>() == 2);
  // Their signed heartbeats reached the fleet's table with what they report: version and backlog.
  CHECK(
      work.exec1(
              "SELECT count(*) FROM gateways WHERE software_version = 'fleet-sim' AND backlog_events IS NOT "
              "NULL AND last_heartbeat IS NOT NULL")[0]
          .as<long>() == static_cast<long>(gateways));
  // Every alert's receipt came back, after its publish; each line also says how many copies went out,
  // whether the receipt came on a later connection than the first copy (the storms drop half the fleet),
  // and when the process's main thread verified the receipt, after paho had handed it over.
  std::ifstream alerts(dir / "alerts.tsv");
  std::size_t alert_lines = 0;
  for (std::string line; std::getline(alerts, line); ++alert_lines) {
    std::istringstream fields(line);
    std::string id, published, receipted, handled;
    int copies = -1, reconnected = -1;
    fields >> id >> published >> receipted >> copies >> reconnected >> handled;
    REQUIRE(published != "-");
    REQUIRE(receipted != "-");
    REQUIRE(handled != "-");
    CHECK(std::stoll(receipted) >= std::stoll(published));
    CHECK(std::stoll(handled) >= std::stoll(receipted));
    CHECK(copies >= 1);
    CHECK((reconnected == 0 || reconnected == 1));
  }
  CHECK(alert_lines == report->alerts);
}
