// The whole gateway against a real mosquitto and a receiver playing the care system: broker outages,
// kill -9, a full outbox, receipts and a persistent session. "Nothing lost" is checked against the
// gateway's own database: every stored reading must reach the receiver (or be counted as dropped).
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <random>
#include <set>
#include <sstream>

#include "gateway/core/clock.hpp"
#include "tests/integration/daemon_support.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::test::DaemonConfigOptions;
using ehg::test::DistinctEvents;
using ehg::test::Process;
using ehg::test::ReceivedEvent;
using ehg::test::ReceivedMessage;
using ehg::test::TempDir;
using ehg::test::TestBroker;
using ehg::test::TestReceiver;

namespace {

constexpr const char* kDaemonTopicBase = "ehealth/v1/0301/gw-it-01/";
// Every blood pressure reading keeps the alert open and updates it: a steady stream of alert events.
constexpr const char* kAlwaysAlerting =
    R"([{"id": "systolic-any", "kind": "threshold", "metric": "bp.systolic", "above": 20, "severity": "high"}])";

Poco::JSON::Object::Ptr EventJson(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

DaemonConfigOptions MqttOptions(const TestBroker& broker) {
  DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.oximeter_interval_seconds = 0.1;
  options.cuff_interval_seconds = 0.3;
  options.rules = kAlwaysAlerting;
  options.uplink_json = R"({"observation_batch_window_ms": 200})";
  return options;
}

std::filesystem::path Database(const TempDir& dir) {
  return dir / "data" / "gateway.db";
}

std::int64_t Count(const TempDir& dir, const std::string& sql) {
  SQLite::Database db(Database(dir).string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  return db.execAndGet(sql).getInt64();
}

std::set<std::string> StoredReadings(const TempDir& dir) {
  return ehg::test::StoredReadingKeys(Database(dir));
}

std::vector<ReceivedEvent> EventsOfKind(const std::vector<ReceivedMessage>& messages,
                                        const std::string& kind) {
  std::vector<ReceivedEvent> out;
  for (ReceivedEvent& event : DistinctEvents(messages))
    if (event.topic_kind == kind) out.push_back(std::move(event));
  return out;
}

// The same keys from the FHIR Observations received: each identifier (one per measured value, a blood
// pressure has three) is gateway/device/subject/metric/effective ms.
std::set<std::string> ReceivedObservations(const std::vector<ReceivedMessage>& messages) {
  std::set<std::string> keys;
  for (const ReceivedEvent& event : EventsOfKind(messages, "observation")) {
    auto identifiers = EventJson(event.body)->getArray("identifier");
    for (std::size_t i = 0; i < identifiers->size(); ++i) {
      const auto identifier = identifiers->getObject(static_cast<unsigned>(i));
      if (identifier->getValue<std::string>("system") == "urn:ietf:rfc:3986") continue;  // an event id
      keys.insert(ehg::test::ObservationKeyOf(identifier->getValue<std::string>("value")));
    }
  }
  return keys;
}

std::size_t AlertEventsLogged(const std::string& output) {
  std::size_t count = 0;
  for (const char* change : {"msg=\"alert raised\"", "msg=\"alert updated\"", "msg=\"alert resolved\""}) {
    for (auto at = output.find(change); at != std::string::npos; at = output.find(change, at + 1))
      ++count;
  }
  return count;
}

// True once the result of command `id` arrived with this detail.
std::function<bool(const std::vector<ReceivedMessage>&)> ResultArrived(std::string id, std::string detail) {
  return [id = std::move(id), detail = std::move(detail)](const std::vector<ReceivedMessage>& messages) {
    for (const ReceivedEvent& event : EventsOfKind(messages, "cmd/result")) {
      auto result = EventJson(event.body);
      if (result->getValue<std::string>("command_id") == id)
        return result->getValue<std::string>("detail") == detail;
    }
    return false;
  };
}

// Event ids are UUIDv7, increasing in creation order: first arrivals must keep that order.
bool InCreationOrder(const std::vector<ReceivedEvent>& events) {
  for (std::size_t i = 1; i < events.size(); ++i)
    if (events[i].event_id <= events[i - 1].event_id) return false;
  return true;
}

int StopDaemon(Process& daemon) {
  daemon.Signal(SIGTERM);
  return daemon.Wait(15s).value_or(-1);
}

// Runs the gateway without devices until its outbox is empty (or the timeout), then stops it.
std::string Drain(const TempDir& dir, DaemonConfigOptions options, std::chrono::milliseconds timeout = 30s) {
  options.devices = false;
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  Process daemon = ehg::test::StartDaemon(config);
  // Signals are handled once it runs; a SIGTERM before that would just kill it.
  REQUIRE(daemon.WaitForOutput("gateway running", 10s));
  const bool drained =
      ehg::test::WaitUntil([&] { return Count(dir, "SELECT count(*) FROM outbox") == 0; }, timeout);
  CHECK(StopDaemon(daemon) == 0);
  CHECK(drained);
  return daemon.Output();
}

}  // namespace

TEST_CASE("Broker outage: every event arrives afterwards, alerts first, in order within a priority") {
  TestBroker broker;
  broker.Start();
  TestReceiver receiver(broker, true);
  TempDir dir;
  const auto options = MqttOptions(broker);
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(receiver.WaitFor(
      [](const std::vector<ReceivedMessage>& messages) {
        return EventsOfKind(messages, "alert").size() >= 3;
      },
      15s));

  broker.Stop();
  std::this_thread::sleep_for(3s);  // readings and alerts keep coming into the outbox
  const std::size_t before_restart = receiver.Count();
  broker.Start();
  REQUIRE(receiver.WaitFor(
      [&](const std::vector<ReceivedMessage>& messages) { return messages.size() > before_restart + 10; },
      20s));
  std::this_thread::sleep_for(1s);
  REQUIRE(StopDaemon(daemon) == 0);
  const std::string output = daemon.Output() + Drain(dir, options);
  CHECK(output.find("msg=\"broker connection lost\"") != std::string::npos);

  const auto messages = receiver.Messages();
  const auto stored = StoredReadings(dir);
  const auto received = ReceivedObservations(messages);
  CHECK(stored.size() > 50);
  CHECK(received == stored);
  if (received != stored) {
    std::vector<std::string> missing;
    std::set_difference(stored.begin(), stored.end(), received.begin(), received.end(),
                        std::back_inserter(missing));
    MESSAGE("stored " << stored.size() << ", received " << received.size() << ", missing " << missing.size()
                      << (missing.empty() ? "" : ", first missing " + missing.front()));
  }
  const auto alerts = EventsOfKind(messages, "alert");
  CHECK(alerts.size() == AlertEventsLogged(output));
  CHECK(InCreationOrder(alerts));
  CHECK(InCreationOrder(EventsOfKind(messages, "observation")));
  // After the outage the backlog starts with the alerts that waited in it.
  bool checked_first = false;
  for (const ReceivedEvent& event : DistinctEvents(messages)) {
    if (event.index < before_restart) continue;
    CHECK(event.topic_kind == "alert");
    checked_first = true;
    break;
  }
  CHECK(checked_first);
}

TEST_CASE("kill -9 of the gateway while it publishes, 20 times: nothing is missing at the receiver") {
  TestBroker broker;
  broker.Start();
  TestReceiver receiver(broker, true);
  TempDir dir;
  auto options = MqttOptions(broker);
  options.oximeter_interval_seconds = 0.05;
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  std::mt19937 random(20261126);
  std::string output;
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    Process daemon = ehg::test::StartDaemon(config);
    REQUIRE(daemon.WaitForOutput("gateway running", 10s));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 900)(random)));
    daemon.Signal(SIGKILL);
    REQUIRE(daemon.Wait(10s).has_value());
    output += daemon.Output();
  }
  output += Drain(dir, options);
  CHECK(Count(dir, "SELECT count(*) FROM outbox") == 0);

  const auto messages = receiver.Messages();
  const auto stored = StoredReadings(dir);
  CHECK(stored.size() > 100);
  CHECK(ReceivedObservations(messages) == stored);
  // An alert event committed just before a kill may have no log line; none may be missing.
  const auto alerts = EventsOfKind(messages, "alert");
  CHECK(alerts.size() >= AlertEventsLogged(output));
  // Every alert reached the care system, and so did the resolution of every resolved one. (Repeats
  // that changed nothing are counted in the alert rather than sent, so occurrences may run ahead.)
  SQLite::Database db(Database(dir).string(), SQLite::OPEN_READONLY);
  SQLite::Statement query(db, "SELECT alert_id, state FROM alerts");
  std::map<std::string, std::set<std::string>> changes;
  for (const ReceivedEvent& alert : alerts) {
    auto body = EventJson(alert.body);
    changes[body->getValue<std::string>("alert_id")].insert(body->getValue<std::string>("change"));
  }
  int checked = 0;
  while (query.executeStep()) {
    CAPTURE(query.getColumn(0).getString());
    const auto& received = changes[query.getColumn(0).getString()];
    CHECK(received.count("raised") == 1);
    if (query.getColumn(1).getString() == "resolved") CHECK(received.count("resolved") == 1);
    ++checked;
  }
  CHECK(checked > 0);
}

TEST_CASE("Outbox full while offline: every alert is delivered later and dropped observations are reported") {
  TestBroker broker;  // not started yet: the gateway begins offline
  TempDir dir;
  auto options = MqttOptions(broker);
  options.oximeter_interval_seconds = 0.02;
  options.outbox_budget_bytes = 70'000;  // just above the smallest budget the config allows
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(daemon.WaitForOutput("outbox full: oldest observations dropped", 20s));
  std::this_thread::sleep_for(1s);
  broker.Start();
  TestReceiver receiver(broker, true);
  // The birth message reports the drops.
  REQUIRE(receiver.WaitFor(
      [](const std::vector<ReceivedMessage>& messages) {
        for (const auto& message : messages) {
          if (message.topic != std::string(kDaemonTopicBase) + "status") continue;
          auto status = EventJson(message.payload);
          if (status->getValue<std::string>("state") == "online" &&
              status->getValue<int>("dropped_observations") > 0)
            return true;
        }
        return false;
      },
      20s));
  std::this_thread::sleep_for(1s);
  REQUIRE(StopDaemon(daemon) == 0);
  const std::string output = daemon.Output() + Drain(dir, options);

  const auto messages = receiver.Messages();
  CHECK(EventsOfKind(messages, "alert").size() == AlertEventsLogged(output));
  const auto dropped = Count(dir, "SELECT value FROM counters WHERE name = 'outbox.dropped_observations'");
  CHECK(dropped > 0);
  const auto received = ReceivedObservations(messages);
  const auto stored = StoredReadings(dir);
  CHECK(received.size() + static_cast<std::size_t>(dropped) == stored.size());
  for (const std::string& key : received)
    CHECK(stored.count(key) == 1);
}

TEST_CASE("An alert without a receipt is sent again on schedule until the receipt comes") {
  TestBroker broker;
  broker.Start();
  TestReceiver receiver(broker, false);
  TempDir dir;
  auto options = MqttOptions(broker);
  // The oximeter measures once at start (the cuff only after 6 minutes): one alert, raised once.
  options.oximeter_interval_seconds = 3600;
  options.cuff_interval_seconds = 3600;
  options.rules =
      R"([{"id": "spo2-any", "kind": "threshold", "metric": "spo2", "above": 30, "severity": "high"}])";
  options.uplink_json = R"({"receipt_resend_seconds": 5})";
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(receiver.WaitFor(
      [](const std::vector<ReceivedMessage>& messages) { return !EventsOfKind(messages, "alert").empty(); },
      15s));
  const std::string event_id = EventsOfKind(receiver.Messages(), "alert").front().event_id;
  const auto first_seen = std::chrono::steady_clock::now();
  REQUIRE(receiver.WaitFor(
      [&](const std::vector<ReceivedMessage>& messages) {
        return ehg::test::CopiesOf(messages, event_id) >= 2;
      },
      10s));
  const auto resent_after = std::chrono::steady_clock::now() - first_seen;
  CHECK(resent_after >= 4s);
  CHECK(resent_after <= 7s);

  receiver.Publish(std::string(kDaemonTopicBase) + "cmd",
                   R"({"id":"receipt-1","type":"alert.receipt","event_id":")" + event_id + "\"}");
  REQUIRE(ehg::test::WaitUntil(
      [&] { return Count(dir, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == 0; }, 10s));
  const std::size_t copies = ehg::test::CopiesOf(receiver.Messages(), event_id);
  std::this_thread::sleep_for(7s);
  CHECK(ehg::test::CopiesOf(receiver.Messages(), event_id) == copies);
  REQUIRE(StopDaemon(daemon) == 0);
  CHECK(Count(dir, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == 0);
}

TEST_CASE(
    "A command sent while the gateway is offline arrives when it reconnects, and kill -9 leaves the will") {
  TestBroker broker;
  broker.Start();
  TestReceiver receiver(broker, false);
  TempDir dir;
  auto options = MqttOptions(broker);
  options.devices = false;
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const auto status_is = [](const std::string& state, const std::string& reason) {
    return [=](const std::vector<ReceivedMessage>& messages) {
      for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->topic != std::string(kDaemonTopicBase) + "status") continue;
        auto status = EventJson(it->payload);
        return status->getValue<std::string>("state") == state &&
               (reason.empty() || status->getValue<std::string>("reason") == reason);
      }
      return false;
    };
  };
  {
    Process daemon = ehg::test::StartDaemon(config);
    REQUIRE(receiver.WaitFor(status_is("online", ""), 15s));
    REQUIRE(StopDaemon(daemon) == 0);
    REQUIRE(receiver.WaitFor(status_is("offline", "shutdown"), 5s));
  }
  receiver.Publish(std::string(kDaemonTopicBase) + "cmd", R"({"id":"while-offline","type":"ping"})");
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(receiver.WaitFor(ResultArrived("while-offline", "pong"), 15s));
  daemon.Signal(SIGKILL);
  REQUIRE(daemon.Wait(5s).has_value());
  CHECK(receiver.WaitFor(status_is("offline", "connection lost"), 10s));
}

TEST_CASE("MQTT 3.1.1 end to end: an alert reaches the care system and its receipt is applied") {
  TestBroker broker;
  broker.Start();
  TestReceiver receiver(broker, true);  // answers each alert with its receipt
  TempDir dir;
  auto options = MqttOptions(broker);
  options.broker_protocol = "3.1.1";
  options.oximeter_interval_seconds = 3600;  // one reading at start: one alert
  options.cuff_interval_seconds = 3600;
  options.rules =
      R"([{"id": "spo2-any", "kind": "threshold", "metric": "spo2", "above": 30, "severity": "high"}])";
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(receiver.WaitFor(
      [](const std::vector<ReceivedMessage>& messages) { return !EventsOfKind(messages, "alert").empty(); },
      15s));
  // The receipt is applied: the alert is delivered and gone from the outbox.
  CHECK(ehg::test::WaitUntil(
      [&] { return Count(dir, "SELECT count(*) FROM alerts WHERE state = 'delivered'") == 1; }, 10s));
  CHECK(ehg::test::WaitUntil(
      [&] { return Count(dir, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == 0; }, 10s));
  // mosquitto's own account of the connection: p2 (its number for MQTT 3.1.1), clean session off.
  const std::string log = broker.Log();
  CAPTURE(log);
  CHECK(log.find(" as ehg-0301-gw-it-01 (p2, c0, ") != std::string::npos);
  CHECK(log.find(" as ehg-0301-gw-it-01 (p5") == std::string::npos);
  REQUIRE(StopDaemon(daemon) == 0);
}

TEST_CASE("Care staff close an alert from the care system: receipt, acknowledge with who, resolve") {
  TestBroker broker;
  broker.Start();
  TestReceiver receiver(broker, false);
  TempDir dir;
  auto options = MqttOptions(broker);
  options.oximeter_interval_seconds = 3600;  // one reading at start: one alert
  options.cuff_interval_seconds = 3600;
  options.rules =
      R"([{"id": "spo2-any", "kind": "threshold", "metric": "spo2", "above": 30, "severity": "high",
           "escalation": {"after_minutes": 15}}])";
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(receiver.WaitFor(
      [](const std::vector<ReceivedMessage>& messages) { return !EventsOfKind(messages, "alert").empty(); },
      15s));
  const auto raised = EventsOfKind(receiver.Messages(), "alert").front();
  const std::string alert_id = EventJson(raised.body)->getValue<std::string>("alert_id");
  const std::string cmd = std::string(kDaemonTopicBase) + "cmd";

  receiver.Publish(cmd, R"({"id":"r-1","type":"event.receipt","event_ids":[")" + raised.event_id + "\"]}");
  REQUIRE(ehg::test::WaitUntil(
      [&] { return Count(dir, "SELECT count(*) FROM alerts WHERE state = 'delivered'") == 1; }, 10s));

  receiver.Publish(cmd,
                   R"({"id":"a-1","type":"alert.ack","alert_id":")" + alert_id + R"(","by":"nurse-17"})");
  REQUIRE(receiver.WaitFor(ResultArrived("a-1", "acknowledged"), 10s));
  const auto changed_to = [&](const std::string& change) {
    return [&, change](const std::vector<ReceivedMessage>& messages) {
      for (const ReceivedEvent& event : EventsOfKind(messages, "alert")) {
        auto body = EventJson(event.body);
        if (body->getValue<std::string>("change") == change) return true;
      }
      return false;
    };
  };
  REQUIRE(receiver.WaitFor(changed_to("acknowledged"), 10s));
  for (const ReceivedEvent& event : EventsOfKind(receiver.Messages(), "alert")) {
    auto body = EventJson(event.body);
    if (body->getValue<std::string>("change") != "acknowledged") continue;
    CHECK(body->getValue<std::string>("alert_id") == alert_id);
    CHECK(body->getValue<std::string>("acknowledged_by") == "nurse-17");
    CHECK(body->getValue<std::string>("state") == "acknowledged");
  }

  receiver.Publish(cmd, R"({"id":"x-1","type":"alert.resolve","alert_id":")" + alert_id +
                            R"(","by":"nurse-17","note":"visited"})");
  REQUIRE(receiver.WaitFor(ResultArrived("x-1", "resolved"), 10s));
  REQUIRE(receiver.WaitFor(changed_to("resolved"), 10s));
  receiver.Publish(cmd,
                   R"({"id":"x-2","type":"alert.resolve","alert_id":")" + alert_id + R"(","by":"nurse-17"})");
  REQUIRE(receiver.WaitFor(ResultArrived("x-2", "no open alert with this id (unknown or already resolved)"),
                           10s));
  REQUIRE(StopDaemon(daemon) == 0);
  CHECK(Count(dir, "SELECT count(*) FROM alerts WHERE is_open = 1") == 0);
  CHECK(Count(dir,
              "SELECT count(*) FROM alerts WHERE state = 'resolved' AND "
              "json_extract(detail, '$.resolved_by') = 'nurse-17'") == 1);
}
