// The pure half of the ledger: what rows a verified body gives, and that any other bytes give an error
// saying why, never a crash or a half-read message.
#include "care/ledger/rows.hpp"

#include <doctest/doctest.h>

#include "tests/unit/ledger/bodies.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger_test;
using std::chrono::milliseconds;

Message Read(Kind kind, const std::string& body, const std::string& gateway = kGateway) {
  auto message = ReadMessage(kTenant, gateway, kind, body);
  REQUIRE_MESSAGE(message.has_value(), message.error().message);
  return *message;
}

Error Refused(Kind kind, const std::string& body, const std::string& gateway = kGateway) {
  auto message = ReadMessage(kTenant, gateway, kind, body);
  REQUIRE(!message.has_value());
  return message.error();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

TEST_CASE(
    "an observation Bundle gives one row per entry with the entry's event id, resident, metric and times") {
  const auto spo2 = Reading("spo2", 94, "%", kT0);
  const auto pulse = Reading("pulse_rate", 72, "/min", kT0 + milliseconds(1000));
  const Message message =
      Read(Kind::kObservation, Bundle({ObservationBody(1, spo2), ObservationBody(2, pulse)}));
  CHECK(message.tenant == kTenant);
  CHECK(message.gateway == kGateway);
  REQUIRE(message.events.size() == 2);
  CHECK(message.events[0].event_id == Id(1));
  CHECK(message.events[0].kind == Kind::kObservation);
  CHECK(message.events[0].time == kT0);
  CHECK(message.events[0].subject == kResident);
  CHECK(message.events[1].event_id == Id(2));
  REQUIRE(message.observations.size() == 2);
  const ObservationRow& row = message.observations[0];
  CHECK(row.event_id == Id(1));
  CHECK(row.subject == kResident);
  CHECK(row.device == "oximeter");
  CHECK(row.metric == "spo2");
  CHECK(row.value == 94);
  CHECK(row.unit == "%");
  CHECK(row.effective == kT0);
  CHECK(row.issued == kT0 + milliseconds(8));
  CHECK(row.flags.empty());
  CHECK(row.identifier == "demo-gw-01/oximeter/demo-resident-7f3a/spo2/1795705875642");
  CHECK(message.observations[1].metric == "pulse_rate");
  CHECK(message.observations[1].value == 72);
  CHECK(message.body.empty());  // observations are kept as rows, not as bodies
}

TEST_CASE(
    "a blood pressure entry gives one row per component under the entry's event id, and every part's id") {
  const Message message =
      Read(Kind::kObservation, Bundle({ObservationBody(1, Reading("bp.systolic", 142, "mm[Hg]", kT0, "cuff")),
                                       ObservationBody(2, Reading("bp.diastolic", 91, "mm[Hg]", kT0, "cuff")),
                                       ObservationBody(3, Reading("bp.mean", 108, "mm[Hg]", kT0, "cuff"))}));
  // The entry's fullUrl names the first part; its identifiers of system urn:ietf:rfc:3986 the others,
  // each an event of its own in the gateway's outbox that the receipt must name.
  REQUIRE(message.events.size() == 3);
  CHECK(message.events[0].event_id == Id(1));
  CHECK(message.events[1].event_id == Id(2));
  CHECK(message.events[2].event_id == Id(3));
  REQUIRE(message.observations.size() == 3);
  for (const ObservationRow& row : message.observations) {
    CHECK(row.event_id == Id(1));
    CHECK(row.unit == "mm[Hg]");
    CHECK(row.identifier == "demo-gw-01/cuff/demo-resident-7f3a/" + row.metric + "/1795705875642");
  }
  CHECK(message.observations[0].metric == "bp.systolic");
  CHECK(message.observations[0].value == 142);
  CHECK(message.observations[1].metric == "bp.diastolic");
  CHECK(message.observations[1].value == 91);
  CHECK(message.observations[2].metric == "bp.mean");
}

TEST_CASE("values come back in the catalogue's unit whatever value type FHIR carried them in") {
  auto height = Reading("body_height", 1.75, "m", kT0, "scale");
  auto oxygen = Reading("supplemental_oxygen", 1, "1", kT0 + milliseconds(1), "manual");
  auto consciousness = Reading("consciousness", 2, "1", kT0 + milliseconds(2), "manual");
  auto fall = Reading("fall", 3, "1", kT0 + milliseconds(3), "sensor");
  const Message message =
      Read(Kind::kObservation, Bundle({ObservationBody(1, height), ObservationBody(2, oxygen),
                                       ObservationBody(3, consciousness), ObservationBody(4, fall)}));
  REQUIRE(message.observations.size() == 4);
  CHECK(message.observations[0].metric == "body_height");
  CHECK(message.observations[0].value == doctest::Approx(1.75));  // sent as 175 cm
  CHECK(message.observations[0].unit == "m");
  CHECK(message.observations[1].value == 1);  // valueBoolean true
  CHECK(message.observations[2].value == 2);  // ACVPU "V"
  CHECK(message.observations[3].value == 3);  // valueInteger
}

TEST_CASE("quality flags, an uncertain time and a suspect device clock become flags") {
  auto reading = Reading("spo2", 91, "%", kT0);
  reading.flags.Set(core::QualityFlag::kMotionArtefact).Set(core::QualityFlag::kLowPerfusion);
  reading.time_uncertain = true;
  reading.device_clock_suspect = true;
  const Message message = Read(Kind::kObservation, Bundle({ObservationBody(1, reading)}));
  REQUIRE(message.observations.size() == 1);
  CHECK(message.observations[0].flags == std::vector<std::string>{"device_clock_suspect", "low_perfusion",
                                                                  "motion_artefact", "time_uncertain"});
  CHECK(message.observations[0].effective == reading.received_at);  // the receive time, not the device's
}

TEST_CASE("every kind of event gives its event id, time and rows") {
  SUBCASE("alert") {
    alerts::Alert alert = SpO2Alert(alerts::Severity::kCritical);
    alert.updated_at = kT0 + milliseconds(5000);
    alert.escalation_level = 2;
    alert.occurrences = 3;
    const Message message = Read(Kind::kAlert, AlertBody(7, alerts::ChangeKind::kEscalated, alert));
    REQUIRE(message.events.size() == 1);
    CHECK(message.events[0].event_id == Id(7));
    CHECK(message.events[0].time == kT0 + milliseconds(5000));
    CHECK(message.events[0].subject == kResident);
    REQUIRE(message.alert);
    CHECK(message.alert->alert_id == alert.alert_id);
    CHECK(message.alert->change == "escalated");
    CHECK(message.alert->stage == 0);
    CHECK(message.alert->priority == 0);
    CHECK(message.alert->severity == "critical");
    CHECK(message.alert->rule_id == "spo2-low");
    CHECK(message.alert->escalation_level == 2);
    CHECK(message.alert->occurrences == 3);
    CHECK(message.alert->worst_value == 86);
    CHECK(message.body.find("\"evidence\"") != std::string::npos);  // kept whole, evidence and all
  }
  SUBCASE("an acknowledged and a resolved alert are later stages") {
    alerts::Alert alert = SpO2Alert();
    alert.acknowledged_at = kT0 + milliseconds(60'000);
    alert.acknowledged_by = "nurse-0417";
    alert.state = alerts::AlertState::kAcknowledged;
    const Message acknowledged = Read(Kind::kAlert, AlertBody(8, alerts::ChangeKind::kAcknowledged, alert));
    CHECK(acknowledged.alert->stage == 1);
    CHECK(acknowledged.alert->priority == 1);
    CHECK(acknowledged.alert->acknowledged_by == "nurse-0417");
    CHECK(acknowledged.alert->acknowledged_at == kT0 + milliseconds(60'000));
    alert.resolved_at = kT0 + milliseconds(120'000);
    alert.resolved_by = "condition_cleared";
    alert.state = alerts::AlertState::kResolved;
    CHECK(Read(Kind::kAlert, AlertBody(9, alerts::ChangeKind::kResolved, alert)).alert->stage == 2);
  }
  SUBCASE("device") {
    const Message message = Read(Kind::kDevice, DeviceBody(3, false, kT0));
    REQUIRE(message.device);
    CHECK(message.device->device == "oximeter");
    CHECK_FALSE(message.device->connected);
    CHECK(message.device->detail == "port closed");
    CHECK(message.events.at(0).time == kT0);
  }
  SUBCASE("gateway") {
    const Message message = Read(Kind::kGateway, GatewayBody(4));
    REQUIRE(message.gateway_event);
    CHECK(message.gateway_event->code == "update.installed");
    CHECK(message.gateway_event->severity == "info");
  }
  SUBCASE("command result, with and without a command id") {
    const Message message = Read(Kind::kCommandResult, CommandResult(5, "c-8812"));
    REQUIRE(message.command_result);
    CHECK(message.command_result->command_id == "c-8812");
    CHECK(message.command_result->status == "ok");
    CHECK(message.events.at(0).subject.empty());
    // A command refused before its id could be read is answered with a null id: still stored.
    CHECK(Read(Kind::kCommandResult, CommandResult(6, "", false)).command_result->command_id.empty());
  }
}

TEST_CASE("a body naming another gateway than its topic is refused") {
  CHECK(Refused(Kind::kAlert, AlertBody(1, alerts::ChangeKind::kRaised, SpO2Alert(), "gw-other")).code ==
        Errc::kRejected);
  CHECK(Refused(Kind::kDevice, DeviceBody(1, true, kT0), "gw-other").code == Errc::kRejected);
  const std::string bundle = Bundle({ObservationBody(1, Reading("spo2", 94, "%", kT0), "gw-other")});
  const Error error = Refused(Kind::kObservation, bundle);
  CHECK(error.code == Errc::kRejected);
  CHECK(error.message.find("another gateway") != std::string::npos);
}

TEST_CASE("a Bundle with one bad entry is refused whole, the entry named") {
  const std::string bundle = Bundle({ObservationBody(1, Reading("spo2", 94, "%", kT0)),
                                     ObservationBody(2, Reading("spo2", 95, "%", kT0 + milliseconds(1)))});
  REQUIRE(Read(Kind::kObservation, bundle).observations.size() == 2);
  // The gateway's mapping leaves out a body it cannot read, so the bad entry is made on the wire.
  std::string broken = bundle;
  const std::string metric = "\"text\":\"spo2\"";
  broken.replace(broken.rfind(metric), metric.size(), "\"text\":\"spo3\"");
  const Error error = Refused(Kind::kObservation, broken);
  CHECK(error.code == Errc::kParse);
  CHECK(error.message.find("entry 1") != std::string::npos);
  CHECK(error.message.find("metric") != std::string::npos);
  // Two entries with one event id: the second would pass for a duplicate of the first.
  const std::string twice = Bundle({ObservationBody(1, Reading("spo2", 94, "%", kT0)),
                                    ObservationBody(1, Reading("spo2", 95, "%", kT0 + milliseconds(1)))});
  CHECK(Refused(Kind::kObservation, twice).message.find("share an event id") != std::string::npos);
}

TEST_CASE("hostile or broken bodies are refused with a reason") {
  const std::string spo2 = Bundle({ObservationBody(1, Reading("spo2", 94, "%", kT0))});
  const std::string alert = AlertBody(1, alerts::ChangeKind::kRaised, SpO2Alert());
  struct Case {
    Kind kind;
    std::string body;
    std::string says;
  };
  const std::vector<Case> cases{
      {Kind::kAlert, "", "not JSON"},
      {Kind::kAlert, "[1,2]", "not a JSON object"},
      {Kind::kAlert, "{\"schema\":\"x\"}", "not an ehealth-gateway/alert/v0"},
      {Kind::kDevice, alert, "device-event/v0"},  // an alert body on the device topic
      {Kind::kObservation, alert, "Bundle"},
      {Kind::kAlert, Replace(alert, "\"change\":\"raised\"", "\"change\":\"reopened\""),
       "unknown alert change"},
      {Kind::kAlert, Replace(alert, "\"severity\":\"high\"", "\"severity\":\"apocalyptic\""), "severity"},
      {Kind::kAlert, Replace(alert, "\"spo2-low\"", "\"spo2\\u0000low\""), "NUL"},
      {Kind::kAlert, Replace(alert, "\"occurrences\":1", "\"occurrences\":1e999999"), "out of range"},
      {Kind::kAlert, Replace(alert, "\"occurrences\":1", "\"occurrences\":1 /* one */"), "comment"},
      {Kind::kAlert,
       Replace(alert, "\"rule_id\":\"spo2-low\"", "\"rule_id\":\"spo2/low \\\" // not a comment\""), ""},
      {Kind::kAlert,
       Replace(alert, "\"rule_id\":\"spo2-low\"", "\"rule_id\":\"" + std::string(200, 'r') + "\""),
       "rule_id"},
      {Kind::kAlert, Replace(alert, "\"worst_value\":86", "\"worst_value\":\"86\""), "worst_value"},
      {Kind::kAlert, Replace(alert, "\"occurrences\":1", "\"occurrences\":-1"), "occurrences"},
      {Kind::kAlert, Replace(alert, "\"updated_at\":\"2026", "\"updated_at\":\"yesterday 2026"),
       "updated_at"},
      {Kind::kAlert, Replace(alert, "01a21869-2cbf", "not-a-uuid-2cbf"),
       ""},  // the alert id is any printable id
      {Kind::kAlert, Replace(alert, Id(1).ToString(), "00000000-0000-0000-0000-000000000000"), "not a UUID"},
      {Kind::kObservation, Replace(spo2, "urn:uuid:", "urn:oid:"), "fullUrl"},
      {Kind::kObservation, Replace(spo2, "\"value\":94", "\"value\":140"), "out of the accepted range"},
      {Kind::kObservation, Replace(spo2, "\"code\":\"%\"", "\"code\":\"1\""), "unit"},
      {Kind::kObservation, Replace(spo2, "urn:ehealth-gateway:pseudonym", "urn:national-id"), "pseudonym"},
      {Kind::kObservation, Replace(spo2, "\"resourceType\":\"Observation\"", "\"resourceType\":\"Patient\""),
       "not an Observation"},
      {Kind::kObservation, "{\"resourceType\":\"Bundle\",\"type\":\"batch\"}", "without entries"},
      {Kind::kObservation, "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[]}", "batch"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body.substr(0, 120));
    auto message = ReadMessage(kTenant, kGateway, c.kind, c.body);
    if (c.says.empty()) {
      CHECK(message.has_value());
      continue;
    }
    REQUIRE_FALSE(message.has_value());
    CHECK_MESSAGE(message.error().message.find(c.says) != std::string::npos, message.error().message);
  }
}

TEST_CASE("sizes are bounded: the body, the entries of a Bundle") {
  CHECK(Refused(Kind::kAlert, std::string(kMaxBodyBytes + 1, ' ')).message.find("larger than") !=
        std::string::npos);
  std::vector<std::string> bodies;
  for (std::uint64_t i = 0; i <= kMaxBundleEntries; ++i)
    bodies.push_back(
        ObservationBody(i + 1, Reading("spo2", 94, "%", kT0 + milliseconds(static_cast<std::int64_t>(i)))));
  CHECK(Refused(Kind::kObservation, Bundle(bodies)).message.find("more than 1000 entries") !=
        std::string::npos);
  bodies.pop_back();
  CHECK(Read(Kind::kObservation, Bundle(bodies)).observations.size() == kMaxBundleEntries);
}

TEST_CASE("every prefix and every single-byte change of real bodies gives rows or an error, never a crash") {
  const std::vector<std::pair<Kind, std::string>> bodies{
      {Kind::kObservation, Bundle({ObservationBody(1, Reading("bp.systolic", 142, "mm[Hg]", kT0, "cuff")),
                                   ObservationBody(2, Reading("bp.diastolic", 91, "mm[Hg]", kT0, "cuff")),
                                   ObservationBody(3, Reading("spo2", 94, "%", kT0))})},
      {Kind::kAlert, AlertBody(1, alerts::ChangeKind::kRaised, SpO2Alert())},
      {Kind::kDevice, DeviceBody(1, true, kT0)},
      {Kind::kCommandResult, CommandResult(1, "c-1")},
  };
  std::size_t read = 0;
  std::size_t refused = 0;
  for (const auto& [kind, body] : bodies) {
    for (std::size_t length = 0; length < body.size(); ++length) {
      auto message = ReadMessage(kTenant, kGateway, kind, std::string_view(body).substr(0, length));
      CHECK_FALSE(message.has_value());  // a cut body is never valid JSON
    }
    for (std::size_t at = 0; at < body.size(); ++at) {
      for (const char byte : {'\0', '"', '}', '9', 'x', '\xff'}) {
        std::string changed = body;
        changed[at] = byte;
        auto message = ReadMessage(kTenant, kGateway, kind, changed);
        if (message) {
          ++read;
          // Whatever was read is whole: every row belongs to an event of the message.
          for (const ObservationRow& row : message->observations) {
            CHECK(std::any_of(message->events.begin(), message->events.end(),
                              [&](const IngestedEvent& event) { return event.event_id == row.event_id; }));
          }
        } else {
          ++refused;
          CHECK_FALSE(message.error().message.empty());
        }
      }
    }
  }
  CHECK(read > 0);
  CHECK(refused > 0);
}

TEST_CASE("topics and subjects name tenant, gateway and kind") {
  auto alert = ParseTopic("ehealth/v1/0301/demo-gw-01/event/alert");
  REQUIRE(alert);
  CHECK(alert->tenant == "0301");
  CHECK(alert->gateway == "demo-gw-01");
  CHECK(alert->kind == Kind::kAlert);
  CHECK_FALSE(alert->status);
  auto subject = ParseTopic("ehealth.v1.0301.gw_2.event.observation");
  REQUIRE(subject);
  CHECK(subject->gateway == "gw_2");
  CHECK(subject->kind == Kind::kObservation);
  CHECK(ParseTopic("ehealth.v1.0301.gw_2.cmd.result")->kind == Kind::kCommandResult);
  CHECK(ParseTopic("ehealth/v1/0301/gw/status")->status);
  for (const char* bad :
       {"ehealth/v1/0301/gw/cmd", "ehealth/v1/301/gw/event/alert", "ehealth/v1/0301/g w/event/alert",
        "ehealth/v1/0301/gw/event/command_result", "ehealth/v1/0301/gw/event/alert/x",
        "ehealth/v2/0301/gw/event/alert", "ehealth/v1/0301//event/alert", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseTopic(bad).has_value());
  }
}

TEST_CASE("a verified status gives the gateway's heartbeat, version, backlog and clock") {
  const std::string online =
      R"({"schema":"ehealth-gateway/status/v0","state":"online","gateway":"demo-gw-01","tenant":"0301",)"
      R"("time":"2026-11-26T15:38:01.663Z","connected_at":"2026-11-26T14:38:01.102Z","version":"0.1.0",)"
      R"("uptime_seconds":3600,"heartbeat_interval_seconds":60,"backlog":{"events":12,"bytes":4830,"alerts":1},)"
      R"("dropped_observations":0,"alerts_awaiting_receipt":1,"reconnects":2,"clock_synchronised":true})";
  auto status = ReadStatus(kTenant, kGateway, online);
  REQUIRE(status);
  CHECK(status->state == "online");
  CHECK(status->time == core::ParseIso8601("2026-11-26T15:38:01.663Z"));
  CHECK(status->connected_at == core::ParseIso8601("2026-11-26T14:38:01.102Z"));
  CHECK(status->version == "0.1.0");
  CHECK(status->heartbeat_interval_seconds == 60);
  CHECK(status->backlog_events == 12);
  CHECK(status->backlog_bytes == 4830);
  CHECK(status->backlog_alerts == 1);
  CHECK(status->alerts_awaiting_receipt == 1);
  CHECK(status->dropped_observations == 0);
  CHECK(status->clock_synchronised == true);

  auto will = ReadStatus(
      kTenant, kGateway,
      R"({"schema":"ehealth-gateway/status/v0","state":"offline","gateway":"demo-gw-01","tenant":"0301",)"
      R"("connected_at":"2026-11-26T14:38:01.102Z","reason":"connection lost"})");
  REQUIRE(will);
  CHECK_FALSE(will->time);
  CHECK(will->reason == "connection lost");
  CHECK_FALSE(will->backlog_events);

  CHECK(ReadStatus("0302", kGateway, online).error().code == Errc::kRejected);
  CHECK(ReadStatus(kTenant, "gw-other", online).error().code == Errc::kRejected);
  CHECK_FALSE(ReadStatus(kTenant, kGateway, Replace(online, "\"events\":12", "\"events\":1.5")));
  CHECK_FALSE(ReadStatus(kTenant, kGateway, Replace(online, "\"time\":\"2026-11-26T15:38:01.663Z\",", "")));
  CHECK_FALSE(ReadStatus(kTenant, kGateway, Replace(online, "true}", "\"yes\"}")));
  for (std::size_t length = 0; length < online.size(); ++length)
    CHECK_FALSE(ReadStatus(kTenant, kGateway, std::string_view(online).substr(0, length)));
}

}  // namespace
}  // namespace ehg::ledger
