#pragma once
// One hub against the real three-node engine (tests/support/engine) and a fresh database of the test
// PostgreSQL, and the real gateway daemon's config for that engine: shared by the hub's ingest tests
// and the console's whole-chain test.

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "care/engine/engine.hpp"
#include "care/hub/ingest.hpp"
#include "care/ledger/ledger.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/wire/commands.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/engine/test_cluster.hpp"
#include "tests/support/postgres/postgres.hpp"
#include "tests/unit/ledger/bodies.hpp"

namespace ehg::hub_test {

using ehg::crypto::EcKey;
using ehg::test::TestCluster;
using ehg::test::TestPostgres;
using namespace std::chrono_literals;
namespace bodies = ehg::ledger_test;

// A new durable consumer starts at the stream's beginning: what earlier cases published is not this
// case's business.
inline void SkipHistory(ehg::engine::Engine& engine) {
  for (;;) {
    auto history = engine.Fetch(500, 300ms);
    REQUIRE(history.has_value());
    if (history->empty()) break;
    for (const auto& delivery : *history)
      REQUIRE(engine.Ack(delivery).has_value());
  }
}

// One hub with its own database and durable consumer, the care system's keys, one gateway key.
struct HubRig {
  ehg::core::SystemClock clock{true};
  EcKey gateway_key = *EcKey::Generate();
  EcKey care_encryption = *EcKey::Generate();
  EcKey care_commands = *EcKey::Generate();
  std::string database = TestPostgres::Get().FreshDatabase();
  std::unique_ptr<ehg::ledger::Ledger> ledger;
  std::unique_ptr<ehg::engine::Engine> engine;
  std::unique_ptr<ehg::ledger::Ledger> lookahead;  // the pipeline's, as the hub's main lane has it
  std::unique_ptr<ehg::hub::Ingest> ingest;

  // `left_to_another_lane`: IngestOptions::left_to_another_lane, as the hub's main lane has it.
  // `ack_wait` zero: the consumer's default.
  explicit HubRig(const std::string& durable, const std::string& filter = "",
                  const std::string& left_to_another_lane = "", bool confirm_turn = true,
                  std::chrono::seconds ack_wait = {}) {
    ledger = std::move(ehg::ledger::Ledger::Open({database}).value());
    lookahead = std::move(ehg::ledger::Ledger::Open({database}).value());
    auto options = TestCluster::Get().HubOptions(durable);
    options.consumer.filter_subject = filter;
    if (ack_wait.count() > 0) options.consumer.ack_wait = ack_wait;
    engine = std::move(ehg::engine::Engine::Connect(options).value());
    REQUIRE(engine->WaitConnected(10s));
    REQUIRE(engine->EnsureStream().has_value());
    REQUIRE(engine->EnsureConsumer().has_value());
    SkipHistory(*engine);
    ehg::crypto::KeySet decryption;
    decryption.Add(care_encryption);
    ehg::hub::IngestOptions ingest_options;
    ingest_options.fetch_wait = 200ms;
    ingest_options.unknown_gateway_retry = 1s;
    ingest_options.store_failed_retry = 1s;
    ingest_options.left_to_another_lane = left_to_another_lane;
    ingest_options.confirm_turn = confirm_turn;
    ingest = std::make_unique<ehg::hub::Ingest>(ingest_options, *engine, *ledger, std::move(decryption),
                                                care_commands, clock, lookahead.get());
  }

  void Enrol(const std::string& gateway) {
    const ehg::ledger::Enrolment enrolment{
        bodies::kTenant, gateway, {gateway_key.id(), gateway_key.Jwk(false)}, std::string(64, 'a')};
    REQUIRE(ledger->Enrol(enrolment, "test", clock.Now()).has_value());
  }
  std::string Seal(const std::string& body) const {
    return ehg::crypto::SealEnvelope(body, gateway_key, care_encryption).value();
  }
  // Turns until `done` or the deadline.
  bool TurnUntil(const std::function<bool()>& done, std::chrono::seconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      auto turn = ingest->Turn();
      REQUIRE_MESSAGE(turn.has_value(), (turn ? "" : turn.error().message));
    }
    return true;
  }
  long Count(const std::string& sql) const {
    pqxx::connection connection(database);
    pqxx::work work(connection);
    return work.exec1(sql)[0].as<long>();
  }
  // The event ids of a receipt the gateway received, after checking its signature and audience.
  std::vector<std::string> ReceiptIds(const std::string& gateway, const std::string& jws) const {
    ehg::crypto::KeySet keys;
    keys.Add(care_commands);
    auto verified = ehg::crypto::VerifyCommand(jws, keys, {gateway, bodies::kTenant}, clock.Now());
    REQUIRE_MESSAGE(verified.has_value(), (verified ? "" : verified.error().message));
    auto command = ehg::wire::ParseCommand(verified->command);
    REQUIRE(command.has_value());
    std::vector<std::string> ids;
    for (const auto& id : std::get<ehg::wire::EventReceipt>(command->body).event_ids)
      ids.push_back(id.ToString());
    return ids;
  }
};

// The real gateway daemon's config for the engine: MQTT 3.1.1 with its certificate, statuses not
// retained and commands at QoS 0 (as docs/operations-hub.md advises for the engine), the rig's keys
// (written into `keys`), simulated oximeter and cuff, an alert on every SpO2 reading.
inline ehg::test::DaemonConfigOptions GatewayOnEngine(const HubRig& rig, const ehg::test::TempDir& keys) {
  REQUIRE(ehg::crypto::WritePrivateKeyFile(keys / "gateway.key", rig.gateway_key).has_value());
  std::ofstream(keys / "care-encryption.jwk") << rig.care_encryption.Jwk(false);
  std::ofstream(keys / "care-commands.jwks") << "{\"keys\":[" << rig.care_commands.Jwk(false) << "]}";
  ehg::test::DaemonConfigOptions options;
  options.broker_uri = "ssl://localhost:" + std::to_string(TestCluster::Get().MqttPort(1));
  options.broker_protocol = "3.1.1";
  options.retain_status = false;
  options.command_qos = 0;
  options.ca_file = TestCluster::Get().Pki("ca.crt").string();
  options.cert_file = TestCluster::Get().Pki("gateway.crt").string();
  options.key_file = TestCluster::Get().Pki("gateway.key").string();
  options.reconnect_max_seconds = 2;
  options.oximeter_interval_seconds = 0.2;
  options.cuff_interval_seconds = 0.5;
  options.rules =
      R"([{"id": "spo2-any", "kind": "threshold", "metric": "spo2", "above": 30, "severity": "high"}])";
  options.uplink_json = R"({"observation_batch_window_ms": 200, "receipt_resend_seconds": 5})";
  options.security_json = R"({"gateway_key_file": ")" + (keys / "gateway.key").string() +
                          R"(", "recipient_key_file": ")" + (keys / "care-encryption.jwk").string() +
                          R"(", "command_keys_file": ")" + (keys / "care-commands.jwks").string() + R"("})";
  return options;
}

inline std::string Unique(const std::string& what) {
  static int counter = 0;
  return what + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace ehg::hub_test
