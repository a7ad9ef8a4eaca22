// The console's resident view on a real PostgreSQL 15: a resident's charts, alerts, devices and rules,
// one tenant and one pseudonym at a time, every read audited.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include "tests/unit/ledger/bodies.hpp"
#include "tests/unit/ledger/ledger_database.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger_test;
using Poco::JSON::Array;
using Poco::JSON::Object;
using std::chrono::milliseconds;
using std::chrono::minutes;

Array::Ptr JsonArray(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Array::Ptr>();
}

Message Parsed(const std::string& tenant, const std::string& gateway, Kind kind, const std::string& body) {
  auto message = ReadMessage(tenant, gateway, kind, body);
  REQUIRE_MESSAGE(message.has_value(), message.error().message);
  return *message;
}

// One SpO2 reading a minute for two hours starting at ledger_test::kT0 (values 90..99 over and over), a
// battery level every half hour falling from 80 %, and a blood pressure once: the resident's morning.
std::vector<Message> Morning(const std::string& tenant, const std::string& gateway, std::uint64_t first_id) {
  std::vector<std::string> bodies;
  std::uint64_t n = first_id;
  for (int i = 0; i < 120; ++i) {
    bodies.push_back(
        ObservationBody(n++, Reading("spo2", 90 + i % 10, "%", ledger_test::kT0 + minutes(i)), gateway));
  }
  for (int i = 0; i < 4; ++i) {
    bodies.push_back(ObservationBody(
        n++, Reading("battery", 80 - 5 * i, "%", ledger_test::kT0 + minutes(30 * i)), gateway));
  }
  bodies.push_back(ObservationBody(n++, Reading("pleth", 1200, "1", ledger_test::kT0), gateway));
  std::vector<Message> messages;
  for (std::size_t at = 0; at < bodies.size(); at += 50) {
    const std::vector<std::string> part(
        bodies.begin() + static_cast<std::ptrdiff_t>(at),
        bodies.begin() + static_cast<std::ptrdiff_t>(std::min(at + 50, bodies.size())));
    messages.push_back(Parsed(tenant, gateway, Kind::kObservation, Bundle(part)));
  }
  return messages;
}

alerts::RuleSet Rules() {
  alerts::RuleSet rules;
  alerts::ThresholdRule low;
  low.common.id = "spo2-low";
  low.common.severity = alerts::Severity::kHigh;
  low.metric = "spo2";
  low.below = 92;
  rules.thresholds.push_back(low);
  return rules;
}

TEST_CASE("the resident view: charts in buckets, alerts with their events, devices, NEWS2 and rules") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Store(Morning("0301", kGateway, 1)));
  // The same pseudonym in another municipality (another region's gateway) is another resident.
  REQUIRE(db.ledger->Store(Morning("4601", "gw-far", 1000)));
  REQUIRE(db.ledger->Store(
      {Parsed("0301", kGateway, Kind::kDevice, DeviceBody(2000, false, ledger_test::kT0 + minutes(50)))}));

  alerts::Alert alert = SpO2Alert(alerts::Severity::kHigh);
  alert.raised_at = ledger_test::kT0 + minutes(10);
  alert.updated_at = alert.raised_at;
  REQUIRE(db.ledger->Store(
      {Parsed("0301", kGateway, Kind::kAlert, AlertBody(2001, alerts::ChangeKind::kRaised, alert))}));
  alert.state = alerts::AlertState::kResolved;
  alert.resolved_at = ledger_test::kT0 + minutes(20);
  alert.resolved_by = "condition_cleared";
  alert.updated_at = *alert.resolved_at;
  REQUIRE(db.ledger->Store(
      {Parsed("0301", kGateway, Kind::kAlert, AlertBody(2002, alerts::ChangeKind::kResolved, alert))}));

  alerts::Alert score = SpO2Alert(alerts::Severity::kHigh);
  score.alert_id = "news2-alert";
  score.rule_id = "news2";
  score.metric = "news2";
  score.raised_at = ledger_test::kT0 + minutes(30);
  score.updated_at = score.raised_at;
  score.worst_value = 6;
  score.news2 = alerts::News2Score{6, alerts::News2Risk::kMedium, alerts::SpO2Scale::kScale1, true, {}};
  REQUIRE(db.ledger->Store(
      {Parsed("0301", kGateway, Kind::kAlert, AlertBody(2003, alerts::ChangeKind::kRaised, score))}));

  const auto rules = pipeline::RulesInForceBody(Context(), Id(2004), ledger_test::kT0 + minutes(1), Rules());
  REQUIRE(db.ledger->Store({Parsed("0301", kGateway, Kind::kGateway, rules)}));

  ResidentQuery query{"0301", kResident, ledger_test::kT0, ledger_test::kT0 + std::chrono::hours(24),
                      std::chrono::seconds(600)};
  auto view = db.ledger->ReadResident(query, "kari.nordmann", ledger_test::kT0 + std::chrono::hours(3));
  REQUIRE_MESSAGE(view.has_value(), view.error().message);
  CHECK(view->known);

  // Charts: spo2 and battery (no waveform), ten-minute buckets from the range's start.
  const auto series = JsonArray(view->series);
  REQUIRE(series->size() == 2);
  CHECK(series->getObject(0)->getValue<std::string>("metric") == "battery");
  const auto spo2 = series->getObject(1);
  CHECK(spo2->getValue<std::string>("metric") == "spo2");
  CHECK(spo2->getValue<std::string>("unit") == "%");
  const auto points = spo2->getArray("points");
  REQUIRE(points->size() == 12);
  const auto first = points->getArray(0);
  CHECK(first->getElement<std::int64_t>(0) == ledger_test::kT0.time_since_epoch().count());
  CHECK(first->getElement<double>(1) == 90);    // lowest of 90..99
  CHECK(first->getElement<double>(2) == 94.5);  // mean
  CHECK(first->getElement<double>(3) == 99);    // highest
  CHECK(first->getElement<int>(4) == 10);       // readings in the bucket

  // Alerts: newest first, each with its events and evidence.
  const auto timeline = JsonArray(view->alerts);
  REQUIRE(timeline->size() == 2);
  CHECK(timeline->getObject(0)->getValue<std::string>("alert_id") == "news2-alert");
  const auto resolved = timeline->getObject(1);
  CHECK(resolved->getValue<std::string>("rule_id") == "spo2-low");
  CHECK(resolved->getValue<int>("stage") == 2);
  CHECK(resolved->getValue<std::string>("resolved_by") == "condition_cleared");
  const auto events = resolved->getArray("events");
  REQUIRE(events->size() == 2);
  CHECK(events->getObject(0)->getValue<std::string>("change") == "raised");
  CHECK(events->getObject(1)->getValue<std::string>("change") == "resolved");
  CHECK(resolved->getArray("evidence")->size() == 1);

  const auto news2 = JsonArray(view->news2);
  REQUIRE(news2->size() == 1);
  CHECK(news2->getArray(0)->getElement<int>(1) == 6);
  CHECK(news2->getArray(0)->getElement<std::string>(2) == "medium");

  // Devices: the oximeter with its link state and the latest battery level.
  const auto devices = JsonArray(view->devices);
  REQUIRE(devices->size() == 1);
  const auto oximeter = devices->getObject(0);
  CHECK(oximeter->getValue<std::string>("device") == "oximeter");
  CHECK_FALSE(oximeter->getValue<bool>("connected"));
  CHECK(oximeter->getValue<double>("battery") == 65);
  CHECK(oximeter->getValue<std::int64_t>("last_reading_at") ==
        (ledger_test::kT0 + minutes(119)).time_since_epoch().count());

  const auto in_force = JsonArray(view->rules);
  REQUIRE(in_force->size() == 1);
  CHECK(in_force->getObject(0)->getValue<double>("below") == 92);
  CHECK(view->rules_reported_at == ledger_test::kT0 + minutes(1));

  // Read by whom, which resident, when.
  CHECK(db.Scalar(
            "SELECT actor || ' ' || action || ' ' || tenant || ' ' || subject FROM audit_log WHERE action "
            "= 'resident.read'") == "kari.nordmann resident.read 0301 " + std::string(kResident));
}

TEST_CASE("the resident view: a range, another municipality and an unknown pseudonym show nothing else") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Store(Morning("0301", kGateway, 1)));
  // The last hour only: the first hour's buckets are not in it.
  ResidentQuery last_hour{"0301", kResident, ledger_test::kT0 + minutes(60), ledger_test::kT0 + minutes(120),
                          std::chrono::seconds(600)};
  auto view = db.ledger->ReadResident(last_hour, "kari", ledger_test::kT0);
  REQUIRE(view);
  const auto series = JsonArray(view->series);
  REQUIRE(series->size() == 2);
  CHECK(series->getObject(1)->getArray("points")->size() == 6);

  ResidentQuery elsewhere{"4601", kResident, ledger_test::kT0, ledger_test::kT0 + std::chrono::hours(24),
                          std::chrono::seconds(600)};
  auto other = db.ledger->ReadResident(elsewhere, "kari", ledger_test::kT0);
  REQUIRE(other);
  CHECK_FALSE(other->known);
  CHECK(other->series == "[]");
  CHECK(other->devices == "[]");
  CHECK(other->rules == "[]");

  // A pseudonym with quotes and backslashes is a value, never SQL or JSON.
  ResidentQuery odd{"0301", "x' OR '1'='1\\\"", ledger_test::kT0, ledger_test::kT0 + std::chrono::hours(24),
                    std::chrono::seconds(600)};
  auto none = db.ledger->ReadResident(odd, "kari", ledger_test::kT0);
  REQUIRE(none);
  CHECK_FALSE(none->known);
  // Every one of the three reads is audited, also those that found nothing.
  CHECK(db.Count("audit_log WHERE action = 'resident.read'") == 3);
}

TEST_CASE("the resident view: what a gateway reported oddly is shown as nothing, never a failed view") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Store(Morning("0301", kGateway, 1)));
  // A rules report whose "rules" is not a list, and a NEWS2 total with a fraction.
  std::string odd = pipeline::RulesInForceBody(Context(), Id(3000), ledger_test::kT0, Rules());
  const auto at = odd.find("\"rules\":[");
  REQUIRE(at != std::string::npos);
  odd = odd.substr(0, at) + "\"rules\":\"all of them\"}";
  REQUIRE(db.ledger->Store({Parsed("0301", kGateway, Kind::kGateway, odd)}));
  alerts::Alert score = SpO2Alert(alerts::Severity::kHigh);
  score.alert_id = "news2-odd";
  score.metric = "news2";
  score.news2 = alerts::News2Score{6, alerts::News2Risk::kMedium, alerts::SpO2Scale::kScale1, false, {}};
  std::string body = AlertBody(3001, alerts::ChangeKind::kRaised, score);
  const auto total = body.find("\"total\":6");
  REQUIRE(total != std::string::npos);
  body.replace(total, std::string_view("\"total\":6").size(), "\"total\":6.5");
  REQUIRE(db.ledger->Store({Parsed("0301", kGateway, Kind::kAlert, body)}));

  ResidentQuery query{"0301", kResident, ledger_test::kT0, ledger_test::kT0 + std::chrono::hours(24),
                      std::chrono::seconds(600)};
  auto view = db.ledger->ReadResident(query, "kari", ledger_test::kT0);
  REQUIRE_MESSAGE(view.has_value(), view.error().message);
  CHECK(view->rules == "[]");
  CHECK(view->news2.find("6.5") != std::string::npos);
  CHECK(JsonArray(view->series)->size() == 2);
}

}  // namespace
}  // namespace ehg::ledger
