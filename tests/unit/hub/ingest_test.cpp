// The hub's turn against the real three-node engine (scripts/cluster) and a real PostgreSQL 15: what a
// gateway publishes is stored once, answered with a signed receipt (a repeat too), and acknowledged to
// JetStream only after the commit; what does not verify is never stored; what cannot be stored yet is
// offered again, never lost (docs/operations-hub.md#the-hub).
#include "care/hub/ingest.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "care/engine/stream_config.hpp"
#include "care/engine/subjects.hpp"
#include "care/hub/send_command.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/wire/commands.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/engine/test_cluster.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/postgres/postgres.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/hub/hub_rig.hpp"
#include "tests/unit/ledger/bodies.hpp"

using ehg::crypto::EcKey;
using ehg::test::Process;
using ehg::test::TestCluster;
using ehg::test::TestPostgres;
using namespace std::chrono_literals;
namespace bodies = ehg::ledger_test;

using namespace ehg::hub_test;

TEST_CASE(
    "An alert and a batch a gateway publishes over MQTT 3.1.1 are stored once, each answered with a "
    "signed receipt it receives, and a repeat is answered again") {
  // Turns as the alert lane's: without the flush's round trip at the end (IngestOptions::confirm_turn),
  // the client sends receipts and acknowledgements by itself. A 2 s ack wait shows below that they left.
  HubRig rig(Unique("hub-mqtt"), "", "", false, 2s);
  const std::string gateway = TestCluster::kGateway;
  rig.Enrol(gateway);
  const std::string base = std::string("ehealth/v1/") + bodies::kTenant + "/" + gateway + "/";
  auto subscriber = TestCluster::Get().MqttSubscribe(gateway, Unique("gw-cmd"), base + "cmd", 3);
  REQUIRE(subscriber.WaitForOutput("SUBACK", 10s));

  const std::uint64_t n = static_cast<std::uint64_t>(::getpid()) * 1000;
  const auto alert = bodies::AlertBody(n + 1, ehg::alerts::ChangeKind::kRaised, bodies::SpO2Alert(), gateway);
  const std::string batch = bodies::Bundle(
      {bodies::ObservationBody(n + 2, bodies::Reading("bp.systolic", 142, "mm[Hg]", bodies::kT0, "cuff"),
                               gateway),
       bodies::ObservationBody(n + 3, bodies::Reading("bp.diastolic", 91, "mm[Hg]", bodies::kT0, "cuff"),
                               gateway),
       bodies::ObservationBody(n + 4, bodies::Reading("spo2", 95, "%", bodies::kT0), gateway)});
  // One at a time, so each is its own turn and its own receipt (a turn confirms all it stored for a
  // gateway in one receipt).
  REQUIRE(TestCluster::Get().MqttPublish(gateway, base + "event/alert", rig.Seal(alert)).exit_code == 0);
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().events_new == 1; }));
  REQUIRE(TestCluster::Get().MqttPublish(gateway, base + "event/observation", rig.Seal(batch)).exit_code ==
          0);
  const std::string in_events = "SELECT count(*) FROM events WHERE event_id IN ('" +
                                bodies::Id(n + 1).ToString() + "','" + bodies::Id(n + 2).ToString() + "','" +
                                bodies::Id(n + 3).ToString() + "','" + bodies::Id(n + 4).ToString() + "')";
  REQUIRE(rig.TurnUntil([&] { return rig.Count(in_events) == 4; }));
  // The same alert again, as a gateway does while no receipt reached it.
  REQUIRE(TestCluster::Get().MqttPublish(gateway, base + "event/alert", rig.Seal(alert)).exit_code == 0);
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().events_duplicate == 1; }));
  CHECK(rig.Count(in_events) == 4);
  CHECK(rig.ingest->counters().events_new == 4);

  const bool all_came = subscriber.Wait(20s).has_value();
  INFO(subscriber.Output());
  REQUIRE(all_came);
  std::vector<std::vector<std::string>> receipts;
  for (const std::string& line : subscriber.Lines()) {
    if (!line.starts_with(base + "cmd ")) continue;
    receipts.push_back(rig.ReceiptIds(gateway, line.substr(base.size() + 4)));
  }
  REQUIRE(receipts.size() == 3);
  // The alert, the whole batch (both blood pressure parts included), and the alert again: the repeat is
  // answered too.
  CHECK(receipts[0] == std::vector<std::string>{bodies::Id(n + 1).ToString()});
  CHECK(receipts[1] == std::vector<std::string>{bodies::Id(n + 2).ToString(), bodies::Id(n + 3).ToString(),
                                                bodies::Id(n + 4).ToString()});
  CHECK(receipts[2] == receipts[0]);
  // Twice the ack wait of turns more: an acknowledgement that never left would bring a message again.
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until)
    REQUIRE(rig.ingest->Turn().has_value());
  CHECK(rig.ingest->counters().messages == 3);
  CHECK(rig.ingest->counters().events_duplicate == 1);
}

// The value of `key=` in a logfmt line, as a number (-1 when missing).
static long long AlertTimesField(const std::string& line, const std::string& key) {
  const std::size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return -1;
  return std::stoll(line.substr(at + key.size() + 2));
}

TEST_CASE(
    "At debug level each stored alert says where its time went, in order, and observations say nothing") {
  HubRig rig(Unique("hub-times"));
  const std::string gateway = TestCluster::kGateway;
  rig.Enrol(gateway);
  const std::string base = std::string("ehealth/v1/") + bodies::kTenant + "/" + gateway + "/";
  const std::uint64_t n = static_cast<std::uint64_t>(::getpid()) * 1000 + 500;
  const auto alert = bodies::AlertBody(n + 1, ehg::alerts::ChangeKind::kRaised, bodies::SpO2Alert(), gateway);
  const std::string batch = bodies::Bundle(
      {bodies::ObservationBody(n + 2, bodies::Reading("spo2", 95, "%", bodies::kT0), gateway)});
  ehg::test::LogCapture log(ehg::core::LogLevel::kDebug);
  const long long before = ehg::core::SystemClock().Now().time_since_epoch().count();
  REQUIRE(TestCluster::Get().MqttPublish(gateway, base + "event/observation", rig.Seal(batch)).exit_code ==
          0);
  REQUIRE(TestCluster::Get().MqttPublish(gateway, base + "event/alert", rig.Seal(alert)).exit_code == 0);
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().events_new == 2; }));
  const long long after = ehg::core::SystemClock().Now().time_since_epoch().count();

  std::vector<std::string> lines;
  for (const std::string& line : log.Lines())
    if (line.find("msg=\"alert times\"") != std::string::npos) lines.push_back(line);
  REQUIRE(lines.size() == 1);
  const std::string& line = lines.front();
  INFO(line);
  CHECK(line.find("level=debug") != std::string::npos);
  CHECK(line.find("event_id=" + bodies::Id(n + 1).ToString()) != std::string::npos);
  CHECK(line.find(" lane=main ") != std::string::npos);
  // Stored by the engine after it was published, then fetched, committed and receipted, in that order;
  // the turn that fetched it began after the publish here (the test turns only then).
  const long long stored = AlertTimesField(line, "engine_stored_ms");
  const long long fetch_began = AlertTimesField(line, "fetch_began_ms");
  const long long fetched = AlertTimesField(line, "fetched_ms");
  const long long committed = AlertTimesField(line, "committed_ms");
  const long long receipts_handed = AlertTimesField(line, "receipts_handed_ms");
  const long long receipt_sent = AlertTimesField(line, "receipt_sent_ms");
  CHECK(before <= stored);
  CHECK(before <= fetch_began);
  CHECK(fetch_began <= fetched);
  CHECK(stored <= fetched);
  CHECK(fetched <= committed);
  CHECK(committed <= receipts_handed);
  CHECK(receipts_handed <= receipt_sent);
  CHECK(receipt_sent <= after);
}

TEST_CASE("What does not verify is never stored, and a gateway enrolled late loses nothing") {
  HubRig rig(Unique("hub-refuse"));
  ehg::test::TestPublisher publisher;
  const std::string gateway = Unique("gw-late");
  const std::uint64_t n = static_cast<std::uint64_t>(::getpid()) * 1000 + 500;
  const std::string subject = std::string("ehealth.v1.") + bodies::kTenant + "." + gateway + ".event.alert";
  const auto alert = bodies::AlertBody(n, ehg::alerts::ChangeKind::kRaised, bodies::SpO2Alert(), gateway);
  // Not enrolled yet: offered again, not stored, not dropped.
  REQUIRE(publisher.Publish(subject, rig.Seal(alert)).has_value());
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().unknown_gateway >= 1; }));
  rig.Enrol(gateway);
  // A stranger's envelope and plain JSON on the enrolled gateway's subject: refused for good.
  const EcKey stranger = *EcKey::Generate();
  REQUIRE(
      publisher.Publish(subject, ehg::crypto::SealEnvelope(alert, stranger, rig.care_encryption).value()));
  REQUIRE(publisher.Publish(subject, alert));
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().refused == 2; }));
  // The first copy comes back after its retry delay (1 s here) and is stored, once. Waited for past the
  // consumer's ack wait (30 s): once, under the sanitizer suite's load, the copy did not come back within
  // 20 s (a clean CI run at 930014e, cause not found); whatever delays the retry, the ack wait still
  // brings it back, and that is what this test promises: nothing lost.
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().events_new == 1; }, 45s));
  CHECK(rig.Count("SELECT count(*) FROM events WHERE event_id = '" + bodies::Id(n).ToString() + "'") == 1);
  CHECK(rig.Count("SELECT count(*) FROM events") == 1);
}

TEST_CASE("PostgreSQL restarted under a turn: its messages are offered again and stored exactly once") {
  HubRig rig(Unique("hub-restart"));
  ehg::test::TestPublisher publisher;
  const std::string gateway = Unique("gw-pg");
  rig.Enrol(gateway);
  const std::uint64_t n = static_cast<std::uint64_t>(::getpid()) * 1000 + 700;
  const std::string subject = std::string("ehealth.v1.") + bodies::kTenant + "." + gateway + ".event.alert";
  TestPostgres::Get().Stop();
  REQUIRE(publisher
              .Publish(subject, rig.Seal(bodies::AlertBody(n, ehg::alerts::ChangeKind::kRaised,
                                                           bodies::SpO2Alert(), gateway)))
              .has_value());
  // Fetched and handed back: the keys could not even be looked up.
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().messages >= 1; }));
  CHECK(rig.ingest->counters().events_new == 0);
  TestPostgres::Get().Start();
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().events_new == 1; }));
  CHECK(rig.Count("SELECT count(*) FROM events") == 1);
}

// The main lane's pipeline (Ingest's `lookahead`): while a turn stores, the next turn's messages are
// fetched and opened, but nothing of them is stored or acknowledged before that turn commits. A hub that
// stops with such a turn in hand loses none of it: the consumer offers those messages again.
TEST_CASE(
    "A lane that ran ahead and stopped stored and acknowledged nothing of its next turn, and the next "
    "instance stores every message once") {
  HubRig rig(Unique("hub-ahead"), "", "", true, 3s);  // ack wait 3 s: what was held comes back soon
  const std::string gateway = Unique("gw-ahead");
  rig.Enrol(gateway);
  ehg::test::TestPublisher publisher;
  const std::string subject =
      std::string("ehealth.v1.") + bodies::kTenant + "." + gateway + ".event.observation";
  const std::uint64_t n = static_cast<std::uint64_t>(::getpid()) * 1000 + 800;
  constexpr int kMessages = 8;
  for (int i = 0; i < kMessages; ++i)
    REQUIRE(publisher
                .Publish(subject, rig.Seal(bodies::Bundle({bodies::ObservationBody(
                                      n + static_cast<std::uint64_t>(i),
                                      bodies::Reading("spo2", 95, "%", bodies::kT0 + std::chrono::seconds(i)),
                                      gateway)})))
                .has_value());
  // Lanes of their own on the rig's engine and databases (rig.ingest never turns here).
  const auto make_lane = [&](ehg::ledger::Ledger* lookahead) {
    ehg::crypto::KeySet decryption;
    decryption.Add(rig.care_encryption);
    ehg::hub::IngestOptions options;
    options.batch = 3;
    options.fetch_wait = 200ms;
    return std::make_unique<ehg::hub::Ingest>(options, *rig.engine, *rig.ledger, std::move(decryption),
                                              rig.care_commands, rig.clock, lookahead);
  };
  long stored_by_first = 0;
  {
    auto ahead = make_lane(rig.lookahead.get());
    auto turn = ahead->Turn();
    REQUIRE(turn.has_value());
    REQUIRE(*turn > 0);
    stored_by_first = static_cast<long>(ahead->counters().events_new);
    CHECK(stored_by_first == static_cast<long>(*turn));
  }  // the lane stops here: its destructor waits for the next turn, fetched and opened, never committed
  CHECK(rig.Count("SELECT count(*) FROM events") == stored_by_first);

  auto next = make_lane(nullptr);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (rig.Count("SELECT count(*) FROM events") < kMessages && std::chrono::steady_clock::now() < deadline)
    REQUIRE(next->Turn().has_value());
  CHECK(rig.Count("SELECT count(DISTINCT event_id) FROM events") == kMessages);
  // Each once: what the first instance stored it acknowledged, so none of that came again.
  CHECK(static_cast<long>(next->counters().events_new) == kMessages - stored_by_first);
  CHECK(next->counters().events_duplicate == 0);
  // And the first instance had run ahead: the message after its turn was held by it, so the next
  // instance got the last one, which nobody held, first, and the held one only after the ack wait.
  const std::string held = bodies::Id(n + static_cast<std::uint64_t>(stored_by_first)).ToString();
  const std::string last = bodies::Id(n + kMessages - 1).ToString();
  CHECK(rig.Count("SELECT count(*) FROM events h, events l WHERE h.event_id = '" + held +
                  "' AND l.event_id = '" + last + "' AND h.stored_at > l.stored_at") == 1);
}

// The hub's two lanes (care/hub/main.cpp): the alert lane, a consumer of its own that reads alerts only,
// and the main one that reads everything in order and leaves alerts to the alert lane.
TEST_CASE(
    "An alert behind a backlog of observations is stored and receipted by the alert lane first, the main "
    "lane leaves alerts to it, and an alert the main lane passed first is still stored") {
  HubRig rig(Unique("hub-main"), "", ehg::engine::kAlertSubjects);
  const std::string gateway = Unique("gw-lane");
  rig.Enrol(gateway);
  // The lane: its own filtered consumer, on the same database and keys.
  auto options = TestCluster::Get().HubOptions(Unique("hub-alerts"));
  options.consumer.filter_subject = ehg::engine::kAlertSubjects;
  auto lane_engine = std::move(ehg::engine::Engine::Connect(options).value());
  REQUIRE(lane_engine->WaitConnected(10s));
  REQUIRE(lane_engine->EnsureConsumer().has_value());
  SkipHistory(*lane_engine);
  ehg::crypto::KeySet decryption;
  decryption.Add(rig.care_encryption);
  ehg::hub::IngestOptions lane_options;
  lane_options.fetch_wait = 200ms;
  ehg::hub::Ingest lane(lane_options, *lane_engine, *rig.ledger, std::move(decryption), rig.care_commands,
                        rig.clock);

  ehg::test::TestPublisher publisher;
  const std::string base = std::string("ehealth.v1.") + bodies::kTenant + "." + gateway + ".event.";
  const std::uint64_t n = static_cast<std::uint64_t>(::getpid()) * 1000 + 100;
  constexpr int kBacklog = 300;
  for (int i = 0; i < kBacklog; ++i) {
    const auto at = bodies::kT0 + std::chrono::seconds(i);
    REQUIRE(
        publisher
            .Publish(base + "observation",
                     rig.Seal(bodies::Bundle({bodies::ObservationBody(
                         n + static_cast<std::uint64_t>(i), bodies::Reading("spo2", 95, "%", at), gateway)})))
            .has_value());
  }
  const auto publish_alert = [&](std::uint64_t id) {
    REQUIRE(publisher
                .Publish(base + "alert", rig.Seal(bodies::AlertBody(id, ehg::alerts::ChangeKind::kRaised,
                                                                    bodies::SpO2Alert(), gateway)))
                .has_value());
  };
  publish_alert(n + kBacklog);

  // One turn of the lane: the alert is stored and receipted; the backlog has not been touched.
  REQUIRE(lane.Turn().has_value());
  CHECK(lane.counters().events_new == 1);
  CHECK(lane.counters().receipts_sent == 1);
  CHECK(rig.Count("SELECT count(*) FROM alert_events") == 1);
  CHECK(rig.Count("SELECT count(*) FROM observations") == 0);

  // The main lane then takes everything in order and acknowledges the alert unopened: no second row, no
  // second receipt, and no transaction of its own that another lane's insert of the alert could wait for.
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().messages >= kBacklog + 1; }));
  CHECK(rig.ingest->counters().events_new == kBacklog);
  CHECK(rig.ingest->counters().events_duplicate == 0);
  CHECK(rig.ingest->counters().left_to_another_lane == 1);
  CHECK(rig.Count("SELECT count(*) FROM events") == kBacklog + 1);
  CHECK(rig.Count("SELECT count(*) FROM alert_events") == 1);

  // The other order: the main lane passes an alert before any alert lane read it. Its consumer still
  // holds it, so the alert lane stores and receipts it afterwards; nothing depends on which came first.
  publish_alert(n + kBacklog + 1);
  REQUIRE(rig.TurnUntil([&] { return rig.ingest->counters().left_to_another_lane == 2; }));
  CHECK(rig.Count("SELECT count(*) FROM alert_events") == 1);
  REQUIRE(lane.Turn().has_value());
  CHECK(lane.counters().events_new == 2);
  CHECK(lane.counters().receipts_sent == 2);
  CHECK(rig.Count("SELECT count(*) FROM alert_events") == 2);
  CHECK(rig.ingest->counters().events_new == kBacklog);
}

// The whole path with a real gateway: the daemon on simulated devices speaks MQTT 3.1.1 to the engine
// with its client certificate, the hub stores and confirms, and the gateway's outbox empties because
// every event got its receipt, not because a broker acknowledged it.
TEST_CASE(
    "A real gateway on MQTT 3.1.1 through the engine: every reading it stored is in PostgreSQL "
    "once, and every event leaves its outbox by the hub's receipt") {
  HubRig rig(Unique("hub-daemon"));
  const std::string gateway = TestCluster::kGateway;
  rig.Enrol(gateway);
  ehg::test::TempDir keys;
  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options = GatewayOnEngine(rig, keys);

  std::atomic<bool> stop{false};
  std::thread hub([&] {
    while (!stop) {
      if (auto turn = rig.ingest->Turn(); !turn) std::this_thread::sleep_for(100ms);
    }
  });
  const auto database = dir / "data" / "gateway.db";
  const auto outbox_rows = [&] {
    SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    return db.execAndGet("SELECT count(*) FROM outbox").getInt();
  };
  {
    Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
    REQUIRE(daemon.WaitForOutput("msg=\"broker connected\"", 20s));
    std::this_thread::sleep_for(4s);
    daemon.Signal(SIGTERM);
    REQUIRE(daemon.Wait(15s) == 0);
  }
  // What is left goes out with the devices off, and leaves only by its receipt.
  options.devices = false;
  Process drain = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  // Up before it is stopped: when the first run left nothing behind, the outbox is empty at once, and a
  // SIGTERM in the first moments of a start was once not answered within 60 s (CI, under heavy load).
  const bool connected = drain.WaitForOutput("msg=\"broker connected\"", 20s);
  const bool drained = ehg::test::WaitUntil([&] { return outbox_rows() == 0; }, 30s);
  drain.Signal(SIGTERM);
  const auto drain_exit = drain.Wait(60s);
  INFO(drain.Output().substr(drain.Output().size() > 4000 ? drain.Output().size() - 4000 : 0));
  CHECK(drain_exit == 0);
  stop = true;
  hub.join();
  REQUIRE(connected);
  REQUIRE(drained);

  // Every reading the gateway stored is an observation row in PostgreSQL, once.
  const std::set<std::string> stored = ehg::test::StoredReadingKeys(database);
  CHECK(stored.size() > 20);
  std::set<std::string> in_postgres;
  {
    pqxx::connection connection(rig.database);
    pqxx::work work(connection);
    for (const auto& row : work.exec("SELECT identifier FROM observations"))
      CHECK(in_postgres.insert(ehg::test::ObservationKeyOf(row[0].as<std::string>())).second);
    CHECK(work.exec1("SELECT count(*) FROM alerts")[0].as<long>() == 1);
    // Its statuses, not retained on the engine (broker.retain_status off), were taken too.
    const auto status = work.exec1(
        "SELECT state, last_heartbeat IS NOT NULL FROM gateways WHERE gateway_id = " + work.quote(gateway));
    CHECK_FALSE(status[0].is_null());
    CHECK(status[1].as<bool>());
  }
  CHECK(in_postgres == stored);
  // The gateway took the alert's receipt: delivered.
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM alerts WHERE state = 'delivered'").getInt() == 1);
  CHECK(rig.ingest->counters().refused == 0);
}

// ehealth-hub command (care/hub/send_command.cpp): a signed command from the hub reaches the real
// gateway, and the gateway's result comes back into the command's row. Sent while the gateway is away:
// its command subscription is QoS 0 (broker.command_qos, as on the engine), so nothing keeps the command
// for it, and the hub sends it again once the gateway reports itself online (hub::ResendCommands).
TEST_CASE(
    "A command the hub sends reaches the real gateway, also one sent while it was away, and its result "
    "comes back into the ledger") {
  HubRig rig(Unique("hub-command"));
  const std::string gateway = TestCluster::kGateway;
  rig.Enrol(gateway);
  ehg::test::TempDir keys;
  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options = GatewayOnEngine(rig, keys);
  options.devices = false;

  auto prepared = ehg::hub::PrepareCommand({bodies::kTenant, gateway, R"({"type":"ping"})"},
                                           rig.care_commands, rig.clock.Now(), Unique("jti"));
  REQUIRE(prepared.has_value());
  REQUIRE(ehg::hub::SendCommand(*prepared, *rig.ledger, *rig.engine).has_value());
  const auto result = [&] {
    return rig.ledger->LookupCommand(bodies::kTenant, gateway, prepared->command_id).value();
  };
  REQUIRE(result().has_value());  // recorded as sent, no result yet
  CHECK_FALSE(result()->result_status.has_value());

  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(daemon.WaitForOutput("msg=\"broker connected\"", 20s));
  REQUIRE(rig.TurnUntil(
      [&] {
        return rig.Count("SELECT count(*) FROM gateways WHERE state = 'online' AND gateway_id = '" + gateway +
                         "'") == 1;
      },
      20s));
  // Online and subscribed (it subscribes before it publishes its status on the same connection), yet no
  // result: the command sent while it was away went to nobody.
  CHECK_FALSE(rig.TurnUntil([&] { return result()->result_status.has_value(); }, 3s));

  // Sent again (a first wait of 1 s instead of 15 s, so the test is short), and answered once.
  const ehg::ledger::ResendPolicy policy{1s, 60s};
  auto resent = ehg::hub::ResendCommands(*rig.ledger, *rig.engine, rig.clock.Now(), policy);
  REQUIRE(resent.has_value());
  CHECK(*resent == 1);
  const bool answered = rig.TurnUntil([&] { return result()->result_status.has_value(); }, 30s);
  INFO(daemon.Output().substr(daemon.Output().size() > 3000 ? daemon.Output().size() - 3000 : 0));
  REQUIRE(answered);
  CHECK(*result()->result_status == "ok");
  CHECK(result()->type == "ping");
  // Answered: not sent again, however long the gateway stays online.
  CHECK(ehg::hub::ResendCommands(*rig.ledger, *rig.engine, rig.clock.Now() + 1h, policy).value() == 0);
  CHECK(rig.Count("SELECT sends FROM commands WHERE command_id = '" + prepared->command_id + "'") == 2);
  CHECK(daemon.Output().find("msg=\"command refused\"") == std::string::npos);  // taken once, no repeat

  // The console's way: a request in the ledger, signed and sent by the hub's loop, answered the same way
  // (an acknowledgement of an alert the gateway does not hold: answered, refused by the gateway). One
  // the gateway would refuse, and one the console may not ask for (a ping is an operator's), are marked
  // refused and never sent.
  REQUIRE(rig.ledger->RequestCommand(
      {bodies::kTenant, gateway, "console-ack-1",
       R"({"id":"console-ack-1","type":"alert.ack","alert_id":"no-such-alert","by":"kari.nordmann"})",
       "kari.nordmann"},
      rig.clock.Now()));
  REQUIRE(rig.ledger->RequestCommand({bodies::kTenant, gateway, "console-odd-1",
                                      R"({"id":"console-odd-1","type":"self.destruct"})", "kari.nordmann"},
                                     rig.clock.Now()));
  REQUIRE(rig.ledger->RequestCommand({bodies::kTenant, gateway, "console-ping-1",
                                      R"({"id":"console-ping-1","type":"ping"})", "kari.nordmann"},
                                     rig.clock.Now()));
  ehg::core::EventIdGenerator ids(rig.clock);
  auto handled = ehg::hub::SendRequestedCommands(*rig.ledger, *rig.engine, rig.care_commands, rig.clock, ids);
  REQUIRE(handled.has_value());
  CHECK(*handled == 3);
  CHECK(
      ehg::hub::SendRequestedCommands(*rig.ledger, *rig.engine, rig.care_commands, rig.clock, ids).value() ==
      0);
  const auto requested = [&] {
    return rig.ledger->LookupCommand(bodies::kTenant, gateway, "console-ack-1").value();
  };
  REQUIRE(requested().has_value());
  REQUIRE(rig.TurnUntil([&] { return requested()->result_status.has_value(); }, 30s));
  CHECK(*requested()->result_status == "rejected");
  CHECK_FALSE(rig.ledger->LookupCommand(bodies::kTenant, gateway, "console-odd-1").value().has_value());
  CHECK(rig.Count("SELECT count(*) FROM command_requests WHERE command_id = 'console-odd-1' AND refused LIKE "
                  "'%would refuse%'") == 1);
  CHECK_FALSE(rig.ledger->LookupCommand(bodies::kTenant, gateway, "console-ping-1").value().has_value());
  CHECK(
      rig.Count("SELECT count(*) FROM command_requests WHERE command_id = 'console-ping-1' AND refused LIKE "
                "'%may not ask for ping%'") == 1);
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(15s) == 0);
}
