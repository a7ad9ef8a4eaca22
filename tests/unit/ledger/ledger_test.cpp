// The writer against a real PostgreSQL 15 (tests/support/postgres: one cluster per test process, one
// fresh database per test case).
#include "care/ledger/ledger.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <pqxx/pqxx>
#include <thread>

#include "care/ledger/schema.hpp"
#include "tests/support/postgres/postgres.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/ledger/bodies.hpp"
#include "tests/unit/ledger/ledger_database.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger_test;
using std::chrono::milliseconds;
using test::TestPostgres;

Message Parsed(Kind kind, const std::string& body, const std::string& gateway = kGateway) {
  auto message = ReadMessage(kTenant, gateway, kind, body);
  REQUIRE_MESSAGE(message.has_value(), message.error().message);
  return *message;
}

std::vector<MessageOutcome> Store(Ledger& ledger, const std::vector<Message>& batch) {
  auto stored = ledger.Store(batch);
  REQUIRE_MESSAGE(stored.has_value(), stored.error().message);
  return *stored;
}

std::vector<Outcome> Outcomes(const MessageOutcome& message) {
  std::vector<Outcome> outcomes;
  for (const EventOutcome& event : message.events)
    outcomes.push_back(event.outcome);
  return outcomes;
}

Message SpO2Batch(std::uint64_t first, std::size_t count, core::WallTime at = kT0) {
  std::vector<std::string> bodies;
  for (std::size_t i = 0; i < count; ++i) {
    bodies.push_back(
        ObservationBody(first + i, Reading("spo2", 90 + static_cast<double>(i % 10), "%",
                                           at + milliseconds(1000 * static_cast<std::int64_t>(i)))));
  }
  return Parsed(Kind::kObservation, Bundle(bodies));
}

TEST_CASE("migrations run from an empty database once, and again change nothing") {
  LedgerDatabase db;
  CHECK(db.ledger->SchemaVersion().value() == LatestSchemaVersion());
  CHECK(db.Count("schema_version") == static_cast<long>(Migrations().size()));
  for (const char* table :
       {"gateways", "gateway_keys", "events", "observations", "alerts", "alert_events", "devices",
        "device_events", "gateway_events", "commands", "command_results", "receipts", "audit_log"}) {
    CAPTURE(table);
    CHECK(db.Scalar(std::string("SELECT to_regclass('") + table + "') IS NOT NULL") == "t");
  }
  auto again = db.OpenLedger();
  CHECK(again->SchemaVersion().value() == LatestSchemaVersion());
  CHECK(db.Count("schema_version") == static_cast<long>(Migrations().size()));
}

TEST_CASE("hub instances starting together migrate once") {
  const std::string connection = TestPostgres::Get().FreshDatabase();
  std::vector<std::thread> hubs;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    hubs.emplace_back([&] {
      if (Ledger::Open({connection}).has_value()) ++opened;
    });
  }
  for (std::thread& hub : hubs)
    hub.join();
  CHECK(opened == 4);
  pqxx::connection raw(connection);
  pqxx::work tx(raw);
  CHECK(tx.exec("SELECT count(*) FROM schema_version")[0][0].as<int>() == LatestSchemaVersion());
}

TEST_CASE("a database newer than this build is refused, not touched") {
  LedgerDatabase db;
  TestPostgres::Get().Execute(
      db.connection.substr(db.connection.rfind('=') + 1),
      "INSERT INTO schema_version (version, description) VALUES (999, 'from the future')");
  auto opened = Ledger::Open({db.connection});
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == Errc::kUnsupported);
  CHECK(opened.error().message.find("999") != std::string::npos);
}

TEST_CASE("the same event stored twice is one row: in one batch, in two transactions") {
  LedgerDatabase db;
  const Message batch = SpO2Batch(1, 3);
  const auto first = Store(*db.ledger, {batch, batch});
  REQUIRE(first.size() == 2);
  CHECK(Outcomes(first[0]) == std::vector{Outcome::kNew, Outcome::kNew, Outcome::kNew});
  CHECK(Outcomes(first[1]) == std::vector{Outcome::kDuplicate, Outcome::kDuplicate, Outcome::kDuplicate});
  const auto second = Store(*db.ledger, {batch});
  CHECK(Outcomes(second[0]) == std::vector{Outcome::kDuplicate, Outcome::kDuplicate, Outcome::kDuplicate});
  CHECK(second[0].events[2].event_id == Id(3));
  CHECK(db.Count("events") == 3);
  CHECK(db.Count("observations") == 3);

  // A batch that overlaps: the new entries are stored, the known ones reported.
  const auto overlap = Store(*db.ledger, {SpO2Batch(3, 2)});
  CHECK(Outcomes(overlap[0]) == std::vector{Outcome::kDuplicate, Outcome::kNew});
  CHECK(db.Count("observations") == 4);

  const Message alert = Parsed(Kind::kAlert, AlertBody(10, alerts::ChangeKind::kRaised, SpO2Alert()));
  CHECK(Outcomes(Store(*db.ledger, {alert})[0]) == std::vector{Outcome::kNew});
  CHECK(Outcomes(Store(*db.ledger, {alert})[0]) == std::vector{Outcome::kDuplicate});
  CHECK(db.Count("alert_events") == 1);
  // An alert twice in one batch (one statement each): one history row, one current state.
  const Message again = Parsed(Kind::kAlert, AlertBody(11, alerts::ChangeKind::kRaised, SpO2Alert()));
  const auto twice = Store(*db.ledger, {again, again});
  REQUIRE(twice.size() == 2);
  CHECK(Outcomes(twice[0]) == std::vector{Outcome::kNew});
  CHECK(Outcomes(twice[1]) == std::vector{Outcome::kDuplicate});
  CHECK(db.Count("alert_events") == 2);
  CHECK(db.Count("alerts") == 1);
}

TEST_CASE(
    "the same event from two connections at once: one stores it, the other waits and reports a duplicate") {
  LedgerDatabase db;
  const Message batch = SpO2Batch(1, 2);
  for (const bool other_commits : {true, false}) {
    CAPTURE(other_commits);
    // Another hub's transaction has inserted the first event id and not committed yet.
    pqxx::connection other(db.connection);
    pqxx::work other_tx(other);
    other_tx.exec("INSERT INTO events (event_id, tenant, gateway_id, kind, event_time) VALUES ('" +
                  Id(1).ToString() + "', '0301', 'demo-gw-01', 'observation', now())");
    std::optional<Result<std::vector<MessageOutcome>>> result;
    std::thread hub([&] { result = db.ledger->Store({batch}); });
    // The writer waits on the unique index until the other transaction ends.
    const bool waited = test::WaitUntil(
        [&] {
          return db.Scalar(
                     "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
                     "current_database()") == "1";
        },
        std::chrono::seconds(10));
    CHECK(waited);
    if (other_commits) {
      other_tx.commit();
    } else {
      other_tx.abort();
    }
    hub.join();
    REQUIRE(result->has_value());
    CHECK(Outcomes((**result)[0]) ==
          std::vector{other_commits ? Outcome::kDuplicate : Outcome::kNew, Outcome::kNew});
    // Stored once: the other "hub" wrote only the event id, so the rows are ours or nobody's.
    CHECK(db.Count("events WHERE event_id = '" + Id(1).ToString() + "'") == 1);
    db.Execute("DELETE FROM observations; DELETE FROM events");
  }
}

TEST_CASE(
    "two hubs storing the same batches concurrently: every event once, each reported new exactly once") {
  LedgerDatabase db;
  auto second = db.OpenLedger();
  std::vector<Message> batches;
  for (std::uint64_t i = 0; i < 20; ++i)
    batches.push_back(SpO2Batch(1 + i * 5, 5, kT0 + milliseconds(static_cast<std::int64_t>(i) * 60'000)));
  std::atomic<int> news{0};
  std::atomic<int> failures{0};
  const auto run = [&](Ledger& ledger) {
    for (const Message& batch : batches) {
      auto stored = ledger.Store({batch});
      if (!stored) {
        ++failures;  // a deadlock between the two is allowed: the hub naks and JetStream redelivers
        continue;
      }
      for (const EventOutcome& event : (*stored)[0].events)
        news += event.outcome == Outcome::kNew ? 1 : 0;
    }
  };
  std::thread a([&] { run(*db.ledger); });
  std::thread b([&] { run(*second); });
  a.join();
  b.join();
  CHECK(failures == 0);
  CHECK(news == 100);
  CHECK(db.Count("events") == 100);
  CHECK(db.Count("observations") == 100);
}

TEST_CASE("an event id another gateway already used is a conflict: nothing written, no receipt") {
  LedgerDatabase db;
  const Message ours = Parsed(Kind::kDevice, DeviceBody(5, true, kT0));
  Message theirs = ours;
  theirs.gateway = "gw-other";
  CHECK(Outcomes(Store(*db.ledger, {ours})[0]) == std::vector{Outcome::kNew});
  CHECK(Outcomes(Store(*db.ledger, {theirs})[0]) == std::vector{Outcome::kConflict});
  CHECK(db.Count("device_events") == 1);
  CHECK(db.Count("devices WHERE gateway_id = 'gw-other'") == 0);
  // The same for an alert: neither a history row nor a current state for the other gateway.
  const Message our_alert = Parsed(Kind::kAlert, AlertBody(12, alerts::ChangeKind::kRaised, SpO2Alert()));
  Message their_alert = our_alert;
  their_alert.gateway = "gw-other";
  CHECK(Outcomes(Store(*db.ledger, {our_alert})[0]) == std::vector{Outcome::kNew});
  CHECK(Outcomes(Store(*db.ledger, {their_alert})[0]) == std::vector{Outcome::kConflict});
  CHECK(db.Count("alert_events") == 1);
  CHECK(db.Count("alerts WHERE gateway_id = 'gw-other'") == 0);
  CHECK(db.Count("alerts") == 1);
}

TEST_CASE("a message the database refuses is rolled back alone, the rest of the batch is stored") {
  LedgerDatabase db;
  Message bad = SpO2Batch(10, 2);
  bad.tenant = "x301";  // ReadMessage never makes this; the tables' checks are the last guard
  const auto outcomes = Store(*db.ledger, {SpO2Batch(1, 2), bad, SpO2Batch(20, 1)});
  REQUIRE(outcomes.size() == 3);
  CHECK_FALSE(outcomes[0].refused);
  CHECK(Outcomes(outcomes[0]) == std::vector{Outcome::kNew, Outcome::kNew});
  REQUIRE(outcomes[1].refused);
  CHECK(outcomes[1].refused->code == Errc::kRejected);
  CHECK(outcomes[1].refused->message.find("23514") != std::string::npos);  // check_violation
  // The server's DETAIL quotes the failing row; the error (which the hub logs) leaves it out.
  CHECK(outcomes[1].refused->message.find(kResident) == std::string::npos);
  CHECK(outcomes[1].refused->message.find("Failing row") == std::string::npos);
  CHECK(outcomes[1].events.empty());
  CHECK(Outcomes(outcomes[2]) == std::vector{Outcome::kNew});
  CHECK(db.Count("events") == 3);
  CHECK(db.Count("observations") == 3);
  CHECK(db.Count("events WHERE event_id = '" + Id(10).ToString() + "'") == 0);
}

TEST_CASE("alert lifecycle: events arriving out of order never roll the state back") {
  LedgerDatabase db;
  alerts::Alert alert = SpO2Alert();
  const Message raised = Parsed(Kind::kAlert, AlertBody(1, alerts::ChangeKind::kRaised, alert));
  alert.updated_at = kT0 + milliseconds(900'000);
  alert.escalation_level = 1;
  const Message escalated = Parsed(Kind::kAlert, AlertBody(2, alerts::ChangeKind::kEscalated, alert));
  alert.updated_at = kT0 + milliseconds(1'000'000);
  alert.acknowledged_at = alert.updated_at;
  alert.acknowledged_by = "nurse-0417";
  alert.state = alerts::AlertState::kAcknowledged;
  const Message acknowledged = Parsed(Kind::kAlert, AlertBody(3, alerts::ChangeKind::kAcknowledged, alert));
  alert.updated_at = kT0 + milliseconds(2'000'000);
  alert.resolved_at = alert.updated_at;
  alert.resolved_by = "nurse-0417";
  alert.state = alerts::AlertState::kResolved;
  const Message resolved = Parsed(Kind::kAlert, AlertBody(4, alerts::ChangeKind::kResolved, alert));
  const auto current = [&] {
    return db.Scalar(
        "SELECT last_change || ' ' || stage || ' ' || escalation_level || ' ' || coalesce(acknowledged_by, "
        "'-') FROM alerts");
  };

  Store(*db.ledger, {escalated});
  CHECK(current() == "escalated 0 1 -");
  Store(*db.ledger, {raised});  // older, same stage: kept as an event, not as the state
  CHECK(current() == "escalated 0 1 -");
  Store(*db.ledger, {resolved});
  CHECK(current() == "resolved 2 1 nurse-0417");
  Store(*db.ledger, {acknowledged});  // an earlier stage
  CHECK(current() == "resolved 2 1 nurse-0417");
  CHECK(db.Count("alert_events") == 4);
  CHECK(db.Count("alerts") == 1);
  CHECK(db.Scalar("SELECT last_event_id FROM alerts") == Id(4).ToString());

  // The same alert id from another gateway is another alert: one gateway cannot close another's.
  const Message other =
      Parsed(Kind::kAlert, AlertBody(5, alerts::ChangeKind::kRaised, SpO2Alert(), "gw-other"), "gw-other");
  Store(*db.ledger, {other});
  CHECK(db.Count("alerts") == 2);
  CHECK(db.Scalar("SELECT last_change FROM alerts WHERE gateway_id = 'demo-gw-01'") == "resolved");

  // Open alerts by tenant, priority and age: the partial index serves it.
  TestPostgres::Get().Execute(db.connection.substr(db.connection.rfind('=') + 1), "ANALYZE alerts");
  pqxx::connection raw(db.connection);
  pqxx::work tx(raw);
  tx.exec("SET enable_seqscan = off");
  std::string plan;
  for (const auto& row : tx.exec(
           "EXPLAIN SELECT * FROM alerts WHERE tenant = '0301' AND stage < 2 ORDER BY priority, raised_at"))
    plan += row[0].as<std::string>() + "\n";
  CAPTURE(plan);
  CHECK(plan.find("alerts_open") != std::string::npos);
}

TEST_CASE("a device's state follows its latest event, whatever order they arrive in") {
  LedgerDatabase db;
  Store(*db.ledger, {Parsed(Kind::kDevice, DeviceBody(2, false, kT0 + milliseconds(5000)))});
  Store(*db.ledger, {Parsed(Kind::kDevice, DeviceBody(1, true, kT0))});
  CHECK(db.Scalar("SELECT connected::text || ' ' || detail FROM devices") == "false port closed");
  CHECK(db.Count("device_events") == 2);
}

TEST_CASE("a resident's observations of one metric in a time range come from the index and are audited") {
  LedgerDatabase db;
  CHECK(db.ledger
            ->EnsurePartitions(kT0 - milliseconds(40LL * 86'400'000), kT0 + milliseconds(40LL * 86'400'000))
            .value() == 4);  // October to January
  Store(*db.ledger, {SpO2Batch(1, 50)});
  auto rows = db.ledger->QueryObservations(
      {"nurse-0417", kTenant, kResident, "spo2", kT0 + milliseconds(10'000), kT0 + milliseconds(20'000)},
      kT0 + milliseconds(3'600'000));
  REQUIRE(rows.has_value());
  REQUIRE(rows->size() == 10);
  CHECK(rows->front().event_id == Id(11));
  CHECK(rows->front().effective == kT0 + milliseconds(10'000));
  CHECK(rows->front().value == 90);
  CHECK(rows->front().unit == "%");
  CHECK(rows->front().issued == kT0 + milliseconds(10'008));
  CHECK(db.Scalar("SELECT actor || ' ' || action || ' ' || subject FROM audit_log") ==
        "nurse-0417 observations.read demo-resident-7f3a");

  // Many residents, many months: the plan reads one partition through the resident index.
  TestPostgres::Get().Execute(db.connection.substr(db.connection.rfind('=') + 1),
                              "INSERT INTO observations (effective, event_id, metric, tenant, gateway_id, "
                              "subject, device_id, value, unit) "
                              "SELECT timestamptz '2026-10-05' + g * interval '97 seconds', "
                              "gen_random_uuid(), (ARRAY['spo2','pulse_rate'])[1 + g % 2], "
                              "'0301', 'demo-gw-01', 'resident-' || (g % 200), 'oximeter', 95, '%' FROM "
                              "generate_series(1, 60000) g; ANALYZE observations");
  pqxx::connection raw(db.connection);
  pqxx::work tx(raw);
  std::string plan;
  for (const auto& row :
       tx.exec("EXPLAIN SELECT * FROM observations WHERE tenant = '0301' AND subject = 'resident-7' AND "
               "metric = 'spo2' "
               "AND effective >= '2026-11-02' AND effective < '2026-11-09' ORDER BY effective"))
    plan += row[0].as<std::string>() + "\n";
  CAPTURE(plan);
  CHECK(plan.find("Index") != std::string::npos);
  CHECK(plan.find("Seq Scan") == std::string::npos);
  CHECK(plan.find("observations_y2026m11") != std::string::npos);
  CHECK(plan.find("observations_y2026m10") == std::string::npos);  // pruned
  CHECK(plan.find("observations_default") == std::string::npos);
}

TEST_CASE("a Bundle's rows go in as one statement each and come back exactly, odd text and all") {
  LedgerDatabase db;
  Message message = SpO2Batch(1, 4);
  REQUIRE(message.observations.size() == 4);
  // What the columns of one many-row insert must carry through unchanged: quotes, backslashes, commas,
  // braces, the word NULL, no issued time, and values whose shortest decimal text is long.
  const std::vector<double> values{0.1 + 0.2, 1e-300, 123456.78901234567, -0.0};
  for (std::size_t i = 0; i < 4; ++i) {
    ObservationRow& row = message.observations[i];
    row.value = values[i];
    row.identifier = i == 0 ? "x\"y{z},\\w" : "NULL";
    row.device = i == 1 ? "dev\\1 \"cuff\"" : "oximeter";
    row.flags = i == 2 ? std::vector<std::string>{"a\"b", "c,d", "NULL", "{e}"} : std::vector<std::string>{};
    row.issued.reset();
  }
  const auto outcomes = Store(*db.ledger, {message});
  CHECK(Outcomes(outcomes.at(0)) == std::vector<Outcome>(4, Outcome::kNew));
  pqxx::connection raw(db.connection);
  pqxx::work tx(raw);
  const pqxx::result rows = tx.exec(
      "SELECT event_id::text, value, identifier, device_id, flags, issued IS NULL, tenant, gateway_id FROM "
      "observations ORDER BY effective");
  REQUIRE(rows.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(rows[i][0].as<std::string>() == message.observations[i].event_id.ToString());
    CHECK(rows[i][1].as<double>() == values[i]);
    CHECK(rows[i][2].as<std::string>() == message.observations[i].identifier);
    CHECK(rows[i][3].as<std::string>() == message.observations[i].device);
    CHECK(rows[i][5].as<bool>());
    CHECK(rows[i][6].as<std::string>() == kTenant);
    CHECK(rows[i][7].as<std::string>() == kGateway);
  }
  CHECK_FALSE(rows[2][2].is_null());  // the text "NULL" is text, not a missing value
  CHECK(std::signbit(rows[3][1].as<double>()));
  CHECK(
      tx.exec("SELECT flags = ARRAY['a\"b', 'c,d', 'NULL', '{e}'] AND flags[3] IS NOT NULL FROM observations "
              "ORDER BY effective OFFSET 2 LIMIT 1")[0][0]
          .as<bool>());
  CHECK(tx.exec("SELECT count(*) FROM observations WHERE flags = '{}'")[0][0].as<int>() == 3);
  tx.commit();

  // The same Bundle again, and one that repeats two of its events beside two new ones.
  CHECK(Outcomes(Store(*db.ledger, {message}).at(0)) == std::vector<Outcome>(4, Outcome::kDuplicate));
  Message overlapping = SpO2Batch(3, 4);
  CHECK(Outcomes(Store(*db.ledger, {overlapping}).at(0)) ==
        std::vector<Outcome>{Outcome::kDuplicate, Outcome::kDuplicate, Outcome::kNew, Outcome::kNew});
  CHECK(db.Count("observations") == 6);
  CHECK(db.Count("events") == 6);
}

TEST_CASE("rows of a month without a partition wait in the default partition and move when it is made") {
  LedgerDatabase db;
  Store(*db.ledger, {SpO2Batch(1, 3)});
  CHECK(db.Count("observations_default") == 3);
  CHECK(db.ledger->EnsurePartitions(kT0, kT0).value() == 1);
  CHECK(db.Count("observations_default") == 0);
  CHECK(db.Count("observations_y2026m11") == 3);
  CHECK(db.Count("observations") == 3);
  CHECK(db.ledger->EnsurePartitions(kT0, kT0).value() == 0);  // there already
  // A later copy of a moved event is still a duplicate: the events table holds the key.
  CHECK(Outcomes(Store(*db.ledger, {SpO2Batch(1, 3)})[0]) ==
        std::vector{Outcome::kDuplicate, Outcome::kDuplicate, Outcome::kDuplicate});
}

TEST_CASE("PostgreSQL restarted between two Store calls: the next call reconnects, nothing is doubled") {
  LedgerDatabase db;
  TestPostgres& postgres = TestPostgres::Get();
  Store(*db.ledger, {SpO2Batch(1, 2)});

  postgres.Restart();  // the ledger's connection is dead and it does not know yet
  const auto after_restart = Store(*db.ledger, {SpO2Batch(2, 2)});
  CHECK(Outcomes(after_restart[0]) == std::vector{Outcome::kDuplicate, Outcome::kNew});

  postgres.Stop();
  auto while_down = db.ledger->Store({SpO2Batch(4, 1)});
  REQUIRE_FALSE(while_down.has_value());
  CHECK(while_down.error().code == Errc::kUnavailable);
  postgres.Start();
  CHECK(Outcomes(Store(*db.ledger, {SpO2Batch(4, 1)})[0]) == std::vector{Outcome::kNew});
  CHECK(db.Count("events") == 4);
  CHECK(db.Count("observations") == 4);
}

TEST_CASE("a connection the server ended (pg_terminate_backend) is replaced within the same call") {
  LedgerDatabase db;
  Store(*db.ledger, {SpO2Batch(1, 1)});
  // An operator (or a failover) ends every session of the hub: the next call notices and connects again.
  db.Execute(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
      "pg_backend_pid()");
  CHECK(Outcomes(Store(*db.ledger, {SpO2Batch(1, 2)})[0]) == std::vector{Outcome::kDuplicate, Outcome::kNew});
  CHECK(db.Count("observations") == 2);
}

TEST_CASE("enrolment: a rotated key stays accepted for the grace period, a revoked gateway for nothing") {
  LedgerDatabase db;
  const core::WallTime t = kT0;
  const GatewayKey first{"kid-1", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"...\",\"y\":\"...\"}"};
  const GatewayKey second{"kid-2", "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n"};
  CHECK(db.ledger->LookupKeys(kTenant, kGateway, t).error().code == Errc::kNotFound);
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, first, "ab12"}, "operator-1", t));
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, first, "ab12"}, "operator-1", t));  // again: nothing changes
  CHECK(db.ledger->Enrol({kTenant, kGateway, second, "cd34"}, "operator-1", t).error().code ==
        Errc::kRejected);
  auto keys = db.ledger->LookupKeys(kTenant, kGateway, t);
  REQUIRE(keys);
  REQUIRE(keys->size() == 1);
  CHECK(keys->front().key_id == "kid-1");
  // The same gateway id in another municipality is another gateway.
  CHECK(db.ledger->LookupKeys("0302", kGateway, t).error().code == Errc::kNotFound);

  REQUIRE(db.ledger->RotateKey(kTenant, kGateway, second, "cd34", "hub", t + milliseconds(1000)));
  keys = db.ledger->LookupKeys(kTenant, kGateway, t + milliseconds(2000));
  REQUIRE(keys->size() == 2);
  CHECK(keys->at(0).key_id == "kid-2");  // the current key first
  CHECK(keys->at(1).key_id == "kid-1");
  const core::WallTime grace_ends = t + milliseconds(1000) + std::chrono::hours(24 * 14);
  CHECK(db.ledger->LookupKeys(kTenant, kGateway, grace_ends - milliseconds(1))->size() == 2);
  keys = db.ledger->LookupKeys(kTenant, kGateway, grace_ends);
  REQUIRE(keys->size() == 1);
  CHECK(keys->front().key_id == "kid-2");
  CHECK(db.ledger->RotateKey(kTenant, kGateway, first, "ab12", "hub", t).error().code ==
        Errc::kRejected);  // no going back
  CHECK(db.Scalar("SELECT key_id || ' ' || cert_fingerprint FROM gateways") == "kid-2 cd34");

  REQUIRE(db.ledger->Revoke(kTenant, kGateway, "operator-2", t + milliseconds(3000)));
  CHECK(db.ledger->LookupKeys(kTenant, kGateway, t + milliseconds(3000)).error().code == Errc::kRejected);
  CHECK(db.ledger->RotateKey(kTenant, kGateway, {"kid-3", "k"}, "ef56", "hub", t).error().code ==
        Errc::kRejected);
  CHECK(db.Scalar("SELECT string_agg(actor || ':' || action, ',' ORDER BY id) FROM audit_log") ==
        "operator-1:gateway.enrol,hub:gateway.rotate_key,operator-2:gateway.revoke");

  // Enrolled again with a new key (a new SD card): only the new key counts, the old ones stay refused.
  const GatewayKey third{"kid-3", "k3"};
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, third, "ef56"}, "operator-1", t + milliseconds(4000)));
  keys = db.ledger->LookupKeys(kTenant, kGateway, t + milliseconds(4000));
  REQUIRE(keys->size() == 1);
  CHECK(keys->front().key_id == "kid-3");
}

TEST_CASE("one lookup answers for a turn's gateways each: keys in order, not enrolled, revoked") {
  LedgerDatabase db;
  const core::WallTime t = kT0;
  REQUIRE(db.ledger->Enrol({kTenant, "gw-a", {"kid-a1", "ka1"}, "aa"}, "operator-1", t));
  REQUIRE(db.ledger->RotateKey(kTenant, "gw-a", {"kid-a2", "ka2"}, "ab", "hub", t + milliseconds(1000)));
  REQUIRE(db.ledger->Enrol({kTenant, "gw-b", {"kid-b1", "kb1"}, "bb"}, "operator-1", t));
  REQUIRE(db.ledger->Revoke(kTenant, "gw-b", "operator-2", t + milliseconds(1000)));
  REQUIRE(db.ledger->Enrol({"4601", "gw-a", {"kid-c1", "kc1"}, "cc"}, "operator-1", t));

  const std::vector<GatewayRef> turn{
      {kTenant, "gw-a"}, {kTenant, "gw-b"}, {kTenant, "gw-c"}, {"4601", "gw-a"}, {"0302", "gw-a"}};
  auto found = db.ledger->LookupKeys(turn, t + milliseconds(2000));
  REQUIRE(found);
  REQUIRE(found->size() == 5);
  const auto& a = found->at({kTenant, "gw-a"});
  REQUIRE(a);
  REQUIRE(a->size() == 2);
  CHECK(a->at(0).key_id == "kid-a2");  // the current key first
  CHECK(a->at(1).key_id == "kid-a1");
  CHECK(found->at({kTenant, "gw-b"}).error().code == Errc::kRejected);
  CHECK(found->at({kTenant, "gw-c"}).error().code == Errc::kNotFound);
  REQUIRE(found->at({"4601", "gw-a"}));
  CHECK(found->at({"4601", "gw-a"})->size() == 1);
  CHECK(found->at({"4601", "gw-a"})->front().key_id == "kid-c1");  // same id, other municipality
  CHECK(found->at({"0302", "gw-a"}).error().code == Errc::kNotFound);
  CHECK(db.ledger->LookupKeys(std::vector<GatewayRef>{}, t)->empty());
}

TEST_CASE("the audit log is append-only: neither the owner nor the hub role can change it") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Append({kT0, "nurse-0417", "alert.ack", kTenant, kGateway, kResident, "spo2-low"}));
  CHECK(db.ledger->Append({kT0, "", "x", "", "", "", ""}).error().code == Errc::kInvalidArgument);
  const std::string database = db.connection.substr(db.connection.rfind('=') + 1);
  for (const char* change :
       {"UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"}) {
    CAPTURE(change);
    CHECK_THROWS_WITH(TestPostgres::Get().Execute(database, change), doctest::Contains("append-only"));
  }
  auto grants = HubGrants("ehg_hub_" + database);
  REQUIRE(grants);
  CHECK_FALSE(HubGrants("hub; DROP TABLE x"));
  TestPostgres::Get().Execute(database, "CREATE ROLE ehg_hub_" + database + " NOLOGIN; " + *grants);
  const std::string as_hub = "SET ROLE ehg_hub_" + database + "; ";
  TestPostgres::Get().Execute(
      database, as_hub + "INSERT INTO audit_log (at, actor, action) VALUES (now(), 'hub', 'x')");
  TestPostgres::Get().Execute(database, as_hub + "SELECT count(*) FROM observations");
  for (const char* change :
       {"UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"}) {
    CAPTURE(change);
    CHECK_THROWS_WITH(TestPostgres::Get().Execute(database, as_hub + change),
                      doctest::Contains("permission denied"));
  }
  CHECK(db.Count("audit_log") == 2);
  CHECK(db.Scalar("SELECT actor FROM audit_log ORDER BY id LIMIT 1") == "nurse-0417");

  // The hub connects as that role: it opens the current schema, stores and audits.
  TestPostgres::Get().Execute(database, "ALTER ROLE ehg_hub_" + database + " LOGIN");
  auto as_role = Ledger::Open({TestPostgres::Get().Connection(database) + " user=ehg_hub_" + database});
  REQUIRE_MESSAGE(as_role.has_value(), as_role.error().message);
  CHECK(Outcomes(Store(**as_role, {SpO2Batch(1, 2)})[0]) == std::vector{Outcome::kNew, Outcome::kNew});
  REQUIRE((*as_role)->Append({kT0, "hub", "alert.receipt", kTenant, kGateway, "", ""}));
  CHECK(db.Count("audit_log") == 3);
}

TEST_CASE("a verified status updates the gateway's heartbeat, version and backlog, an older one does not") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k"}, "ab12"}, "operator-1", kT0));
  StatusRow status;
  status.tenant = kTenant;
  status.gateway = kGateway;
  status.state = "online";
  status.time = kT0 + milliseconds(60'000);
  status.connected_at = kT0;
  status.version = "0.1.0";
  status.heartbeat_interval_seconds = 60;
  status.backlog_events = 12;
  status.backlog_bytes = 4830;
  status.backlog_alerts = 1;
  status.clock_synchronised = true;
  CHECK(db.ledger->ApplyStatus(status).value());
  CHECK(db.Scalar("SELECT state || ' ' || software_version || ' ' || backlog_events || ' ' || "
                  "clock_synchronised || ' ' || "
                  "(last_heartbeat = '2026-11-26T15:12:15.642Z') FROM gateways") ==
        "online 0.1.0 12 true true");
  StatusRow older = status;
  older.time = kT0 + milliseconds(30'000);
  older.backlog_events = 99;
  CHECK_FALSE(db.ledger->ApplyStatus(older).value());
  CHECK(db.Scalar("SELECT backlog_events FROM gateways") == "12");

  StatusRow will;
  will.tenant = kTenant;
  will.gateway = kGateway;
  will.state = "offline";
  will.reason = "connection lost";
  will.connected_at = kT0 - milliseconds(1);  // an earlier connection's will
  CHECK_FALSE(db.ledger->ApplyStatus(will).value());
  will.connected_at = kT0;
  CHECK(db.ledger->ApplyStatus(will).value());
  CHECK(db.Scalar("SELECT state || ' ' || state_reason || ' ' || backlog_events FROM gateways") ==
        "offline connection lost 12");
  StatusRow stranger = status;
  stranger.gateway = "gw-never-enrolled";
  CHECK_FALSE(db.ledger->ApplyStatus(stranger).value());

  // A turn's statuses in one transaction, applied in order, each with its own answer.
  StatusRow newer = status;
  newer.time = kT0 + milliseconds(120'000);
  newer.connected_at = kT0 + milliseconds(100'000);
  newer.backlog_events = 3;
  StatusRow late = newer;
  late.time = kT0 + milliseconds(90'000);
  late.backlog_events = 77;
  CHECK(db.ledger->ApplyStatuses({newer, late, stranger}).value() == std::vector<bool>{true, false, false});
  CHECK(db.Scalar("SELECT state || ' ' || backlog_events FROM gateways") == "online 3");
}

TEST_CASE("commands sent, their results and receipts are kept") {
  LedgerDatabase db;
  REQUIRE(db.ledger->RecordCommand({kTenant, kGateway, "c-8812", "ping", R"({"id":"c-8812","type":"ping"})",
                                    kT0, kT0 + milliseconds(3'600'000), "signed-c-8812"}));
  auto command = db.ledger->LookupCommand(kTenant, kGateway, "c-8812");
  REQUIRE(command);
  REQUIRE(*command);
  CHECK((*command)->type == "ping");
  CHECK_FALSE((*command)->result_status);
  Store(*db.ledger, {Parsed(Kind::kCommandResult, CommandResult(1, "c-8812"))});
  command = db.ledger->LookupCommand(kTenant, kGateway, "c-8812");
  CHECK((*command)->result_status == "ok");
  CHECK((*command)->result_detail == "pong");
  CHECK_FALSE(db.ledger->LookupCommand(kTenant, kGateway, "c-unknown").value());
  // A result for a command this hub did not send (another hub's, or an old one) is kept all the same.
  CHECK(Outcomes(Store(*db.ledger, {Parsed(Kind::kCommandResult, CommandResult(2, "c-elsewhere"))})[0]) ==
        std::vector{Outcome::kNew});
  CHECK(db.Count("command_results") == 2);

  REQUIRE(db.ledger->RecordReceipt({kTenant, kGateway, "receipt-1", {Id(1), Id(2)}, kT0}));
  CHECK(db.Scalar("SELECT array_length(event_ids, 1) FROM receipts") == "2");
  Store(*db.ledger, {Parsed(Kind::kGateway, GatewayBody(3))});
  CHECK(db.Scalar("SELECT code FROM gateway_events") == "update.installed");
}

}  // namespace
}  // namespace ehg::ledger
