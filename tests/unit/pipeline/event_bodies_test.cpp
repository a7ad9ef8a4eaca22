#include "gateway/pipeline/event_bodies.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::core::WallTime;
using Poco::JSON::Object;

namespace {
Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}
const ehg::pipeline::EventContext kContext{"gw-1", "r-0001"};
}  // namespace

TEST_CASE("An observation body names gateway, pseudonym, device, metric, value, unit, times and flags") {
  ehg::core::ManualClock clock;
  ehg::core::EventIdGenerator ids(clock);
  const auto id = ids.Next();
  ehg::core::Reading reading;
  reading.device_id = "oximeter";
  reading.metric = "spo2";
  reading.value = 94;
  reading.unit = "%";
  reading.device_time = WallTime{1'767'225'600'000ms};
  reading.received_at = WallTime{1'767'225'600'250ms};
  reading.flags.Set(ehg::core::QualityFlag::kLowPerfusion);
  reading.sequence = 7;
  const auto body = Parse(ehg::pipeline::ObservationBody(kContext, id, reading));
  CHECK(body->getValue<std::string>("schema") == "ehealth-gateway/observation/v0");
  CHECK(body->getValue<std::string>("event_id") == id.ToString());
  CHECK(body->getValue<std::string>("gateway") == "gw-1");
  CHECK(body->getValue<std::string>("subject") == "r-0001");
  CHECK(body->getValue<std::string>("device") == "oximeter");
  CHECK(body->getValue<std::string>("metric") == "spo2");
  CHECK(body->getValue<double>("value") == 94);
  CHECK(body->getValue<std::string>("unit") == "%");
  CHECK(body->getValue<std::string>("effective") == "2026-01-01T00:00:00.000Z");
  CHECK(body->getValue<std::string>("received") == "2026-01-01T00:00:00.250Z");
  CHECK_FALSE(body->getValue<bool>("time_uncertain"));
  CHECK(body->getArray("flags")->getElement<std::string>(0) == "low_perfusion");
  CHECK(body->getValue<int>("sequence") == 7);
  CHECK_FALSE(body->has("device_clock_suspect"));
  // With an implausible device clock the effective time is the receive time, and the claim is kept.
  reading.device_time = WallTime{1'767'225'600'000ms} + std::chrono::days{365};
  reading.device_clock_suspect = true;
  const auto suspect = Parse(ehg::pipeline::ObservationBody(kContext, id, reading));
  CHECK(suspect->getValue<std::string>("effective") == "2026-01-01T00:00:00.250Z");
  CHECK(suspect->getValue<std::string>("device_time") == "2027-01-01T00:00:00.000Z");
  CHECK(suspect->getValue<bool>("device_clock_suspect"));
}

TEST_CASE("An observation body escapes what it quotes and keeps exact values") {
  ehg::core::SystemClock clock(true);
  ehg::core::EventIdGenerator ids(clock);
  ehg::core::Reading reading;
  reading.device_id = "bench \"cuff\" \\ 2\n";
  reading.metric = "body_temperature";
  reading.value = 36.85;
  reading.unit = "Cel";
  reading.received_at = WallTime{1'767'225'600'250ms};
  reading.time_uncertain = true;
  const auto body = Parse(ehg::pipeline::ObservationBody(kContext, ids.Next(), reading));
  CHECK(body->getValue<std::string>("device") == reading.device_id);
  CHECK(body->getValue<double>("value") == 36.85);
  CHECK(body->getValue<std::string>("effective") == "2026-01-01T00:00:00.250Z");  // no device time
  CHECK(body->getValue<bool>("time_uncertain"));
  CHECK(body->getArray("flags")->size() == 0);
  CHECK_FALSE(body->has("sequence"));
}

TEST_CASE("An alert survives the trip through its stored form unchanged") {
  ehg::alerts::Alert alert;
  alert.alert_id = "a-1";
  alert.rule_id = "spo2-low";
  alert.metric = "spo2";
  alert.severity = ehg::alerts::Severity::kCritical;
  alert.state = ehg::alerts::AlertState::kAcknowledged;
  alert.raised_at = WallTime{1'000ms};
  alert.updated_at = WallTime{2'000ms};
  alert.occurrences = 4;
  alert.worst_value = 84.5;
  alert.evidence = {{"oximeter", "spo2", 86, "%", WallTime{900ms}},
                    {"oximeter", "spo2", 84.5, "%", WallTime{1'900ms}}};
  const auto restored = ehg::pipeline::AlertFromJson(ehg::pipeline::AlertToJson(alert));
  REQUIRE(restored.has_value());
  CHECK(*restored == alert);
}

TEST_CASE("A damaged stored alert is an error, not a crash") {
  for (const char* json : {"", "{", "[]", R"({"alert_id": 1})", R"({"alert_id":"a","rule_id":"r","metric":"m",
        "severity":"severe","state":"raised","raised_ms":0,"updated_ms":0,"occurrences":1,"worst_value":1,
        "evidence":[]})",
                           R"({"alert_id":"a","rule_id":"r","metric":"m","severity":"high","state":"raised",
        "raised_ms":0,"updated_ms":0,"occurrences":1,"worst_value":1,"evidence":[1]})"}) {
    CAPTURE(json);
    const auto restored = ehg::pipeline::AlertFromJson(json);
    REQUIRE_FALSE(restored.has_value());
    CHECK(restored.error().code == ehg::Errc::kParse);
  }
}

TEST_CASE("An alert body carries change, rule, severity, state, worst value and evidence") {
  ehg::core::ManualClock clock;
  ehg::core::EventIdGenerator ids(clock);
  ehg::alerts::Alert alert;
  alert.alert_id = "a-1";
  alert.rule_id = "spo2-low";
  alert.metric = "spo2";
  alert.severity = ehg::alerts::Severity::kHigh;
  alert.worst_value = 87;
  alert.evidence = {{"oximeter", "spo2", 87, "%", WallTime{0ms}}};
  const auto body =
      Parse(ehg::pipeline::AlertBody(kContext, ids.Next(), ehg::alerts::ChangeKind::kRaised, alert));
  CHECK(body->getValue<std::string>("schema") == "ehealth-gateway/alert/v0");
  CHECK(body->getValue<std::string>("change") == "raised");
  CHECK(body->getValue<std::string>("rule_id") == "spo2-low");
  CHECK(body->getValue<std::string>("severity") == "high");
  CHECK(body->getValue<std::string>("state") == "raised");
  CHECK(body->getValue<double>("worst_value") == 87);
  CHECK(body->getArray("evidence")->size() == 1);
}

TEST_CASE("Each piece of an alert's evidence names the FHIR Observation it was sent as") {
  ehg::core::ManualClock clock;
  ehg::core::EventIdGenerator ids(clock);
  ehg::alerts::Alert alert;
  alert.alert_id = "a-1";
  alert.rule_id = "bp-high";
  alert.metric = "bp.systolic";
  alert.evidence = {{"cuff", "bp.systolic", 182, "mm[Hg]", WallTime{1'795'678'200'000ms}},
                    {"cuff", "bp.systolic", 185, "mm[Hg]", WallTime{1'795'678'260'000ms}}};
  const auto body =
      Parse(ehg::pipeline::AlertBody(kContext, ids.Next(), ehg::alerts::ChangeKind::kRaised, alert));
  const auto evidence = body->getArray("evidence");
  REQUIRE(evidence->size() == 2);
  for (unsigned i = 0; i < 2; ++i) {
    const auto reference = evidence->getObject(i)->getObject("observation");
    REQUIRE(reference);
    CHECK(reference->getValue<std::string>("type") == "Observation");
    CHECK(reference->getObject("identifier")->getValue<std::string>("system") ==
          "urn:ehealth-gateway:observation");
  }
  // The same identifier the FHIR Observation of that reading carries (gateway/fhir, tests/unit/fhir).
  CHECK(evidence->getObject(0)
            ->getObject("observation")
            ->getObject("identifier")
            ->getValue<std::string>("value") == "gw-1/cuff/r-0001/bp.systolic/1795678200000");
  CHECK(evidence->getObject(1)
            ->getObject("observation")
            ->getObject("identifier")
            ->getValue<std::string>("value") == "gw-1/cuff/r-0001/bp.systolic/1795678260000");
  // The stored form of the alert keeps no references: they are derived when an event is written.
  const std::string stored = ehg::pipeline::AlertToJson(alert);
  CHECK(stored.find("observation") == std::string::npos);
}

TEST_CASE("rules.in_force lists every rule with its kind, severity and limits in the metric's unit") {
  ehg::core::ManualClock clock;
  ehg::core::EventIdGenerator ids(clock);
  ehg::alerts::RuleSet rules;
  ehg::alerts::ThresholdRule low;
  low.common.id = "spo2-low";
  low.common.severity = ehg::alerts::Severity::kHigh;
  low.metric = "spo2";
  low.below = 90.5;
  low.persistence.for_duration = 120s;
  rules.thresholds.push_back(low);
  ehg::alerts::TrendRule gain;
  gain.common.id = "weight-gain";
  gain.metric = "body_weight";
  gain.rise = 2;
  gain.window = 72h;
  rules.trends.push_back(gain);
  ehg::alerts::MissedRule daily;
  daily.common.id = "bp-daily";
  daily.metric = "bp.systolic";
  daily.daily_from = ehg::alerts::TimeOfDay{7 * 60};
  daily.daily_by = ehg::alerts::TimeOfDay{10 * 60 + 30};
  rules.missed.push_back(daily);
  ehg::alerts::News2Rule news2;
  news2.common.id = "news2";
  news2.min_risk = ehg::alerts::News2Risk::kMedium;
  news2.spo2_scale = ehg::alerts::SpO2Scale::kScale2;
  rules.news2.push_back(news2);
  ehg::alerts::DeviceRule battery;
  battery.common.id = "battery";
  battery.condition = ehg::alerts::DeviceCondition::kBatteryLow;
  battery.battery_below = 15;
  rules.devices.push_back(battery);
  ehg::alerts::GatewayRule clock_rule;
  clock_rule.common.id = "clock";
  clock_rule.condition = ehg::alerts::GatewayCondition::kClockUnsynchronised;
  rules.gateway.push_back(clock_rule);

  const auto id = ids.Next();
  const auto body =
      Parse(ehg::pipeline::RulesInForceBody(kContext, id, WallTime{1'767'225'600'000ms}, rules));
  CHECK(body->getValue<std::string>("schema") == "ehealth-gateway/gateway-event/v0");
  CHECK(body->getValue<std::string>("event_id") == id.ToString());
  CHECK(body->getValue<std::string>("subject") == "r-0001");
  CHECK(body->getValue<std::string>("code") == "rules.in_force");
  CHECK(body->getValue<std::string>("severity") == "info");
  CHECK(body->getValue<std::string>("detail") == "6 rules");
  const auto list = body->getArray("rules");
  REQUIRE(list->size() == 6);
  const auto first = list->getObject(0);
  CHECK(first->getValue<std::string>("id") == "spo2-low");
  CHECK(first->getValue<std::string>("kind") == "threshold");
  CHECK(first->getValue<std::string>("severity") == "high");
  CHECK(first->getValue<std::string>("metric") == "spo2");
  CHECK(first->getValue<double>("below") == 90.5);
  CHECK_FALSE(first->has("above"));  // a limit the rule does not have is absent, not 0
  CHECK(first->getValue<int>("for_seconds") == 120);
  const auto trend = list->getObject(1);
  CHECK(trend->getValue<std::string>("kind") == "trend");
  CHECK(trend->getValue<double>("rise") == 2);
  CHECK_FALSE(trend->has("fall"));
  CHECK(trend->getValue<int>("window_seconds") == 72 * 3600);
  const auto missed = list->getObject(2);
  CHECK(missed->getValue<std::string>("daily_from") == "07:00");
  CHECK(missed->getValue<std::string>("daily_by") == "10:30");
  const auto score = list->getObject(3);
  CHECK(score->getValue<std::string>("kind") == "news2");
  CHECK(score->getValue<std::string>("min_risk") == "medium");
  CHECK(score->getValue<int>("spo2_scale") == 2);
  const auto device = list->getObject(4);
  CHECK(device->getValue<std::string>("kind") == "battery_low");
  CHECK(device->getValue<double>("battery_below") == 15);
  CHECK(list->getObject(5)->getValue<std::string>("kind") == "clock");
}
