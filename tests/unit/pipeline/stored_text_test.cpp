#include <doctest/doctest.h>

#include <limits>

#include "gateway/core/json.hpp"
#include "gateway/pipeline/event_bodies.hpp"

// The text the event bodies and the stored state are written as, and reading stored state back. The
// literals are what the Poco::JSON based writer of earlier versions wrote for the same values: the
// alerts and rule_states tables of an upgraded gateway hold text like them, and the care system and the
// rules.reported setting (compared as text) expect the bodies unchanged.
using namespace std::chrono_literals;
using ehg::core::WallTime;
namespace alerts = ehg::alerts;
namespace pipeline = ehg::pipeline;

namespace {

const pipeline::EventContext kGatewayContext{"gw-1/a", "r-0001"};

ehg::core::EventId FixedId() {
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<std::uint8_t>(i * 17);
  return ehg::core::EventId(bytes);
}

// Every field of an alert set, the optional ones too.
alerts::Alert RichAlert() {
  alerts::Alert alert;
  alert.alert_id = "01a21869-2cbf-7002-a8c2-54cc69c2497f";
  alert.rule_id = "news2";
  alert.device_id = "oximeter";
  alert.metric = "news2";
  alert.severity = alerts::Severity::kCritical;
  alert.state = alerts::AlertState::kResolved;
  alert.raised_at = WallTime{1'795'705'875'642ms};
  alert.updated_at = WallTime{1'795'705'975'000ms};
  alert.occurrences = 7;
  alert.suppressed_repeats = 3;
  alert.worst_value = 98.0;
  alert.evidence = {{"oximeter", "spo2", 91, "%", WallTime{1'795'705'875'000ms}},
                    {"thermometer", "body_temperature", 38.45, "Cel", WallTime{1'795'705'876'001ms}}};
  alert.reference_value = 36.85;
  alerts::News2Score score;
  score.total = 7;
  score.risk = alerts::News2Risk::kHigh;
  score.scale = alerts::SpO2Scale::kScale2;
  score.partial = true;
  score.components = {{alerts::News2Parameter::kSpO2, 91, 2},
                      {alerts::News2Parameter::kTemperature, 38.5, 1},
                      {alerts::News2Parameter::kRespirationRate, 25, 3}};
  alert.news2 = score;
  alert.escalation = alerts::Escalation{600s, 4};
  alert.escalation_level = 2;
  alert.next_escalation_at = WallTime{1'795'706'475'642ms};
  alert.last_published_at = WallTime{1'795'705'975'001ms};
  alert.delivered_at = WallTime{1'795'705'876'000ms};
  alert.acknowledged_at = WallTime{1'795'705'900'000ms};
  alert.acknowledged_by = "nurse-17";
  alert.resolved_at = WallTime{1'795'705'975'000ms};
  alert.resolved_by = "condition_cleared";
  alert.resolution_note = "Sensor repositioned";
  alert.event_ids = {"01a21869-2cbf-7002-a8c2-54cc69c24980", "01a21869-2cbf-7002-a8c2-54cc69c24981"};
  return alert;
}

alerts::RuleState RichRuleState() {
  alerts::RuleState state;
  state.pending_since = WallTime{1'795'705'875'642ms};
  state.last_breach = WallTime{1'795'705'875'700ms};
  state.pending_evidence = {{"oximeter", "spo2", 88.5, "%", WallTime{1'795'705'875'642ms}}};
  state.clear_since = WallTime{1'795'705'876'000ms};
  state.rearm_required = true;
  state.last_deadline = WallTime{1'795'700'000'000ms};
  state.watch_since = WallTime{1'795'600'000'000ms};
  state.last_event = WallTime{1'795'705'000'000ms};
  // An open span ends at the latest time there is: 2^63 - 1 ms, beyond what a double holds exactly.
  state.alerted = {{WallTime{1'795'705'800'000ms}, WallTime{1'795'705'900'000ms}},
                   {WallTime{1'795'705'950'000ms}, WallTime::max()}};
  return state;
}

alerts::RuleSet SomeRules() {
  alerts::RuleSet rules;
  alerts::ThresholdRule threshold;
  threshold.common.id = "spo2/low";
  threshold.common.severity = alerts::Severity::kHigh;
  threshold.metric = "spo2";
  threshold.above = 140;
  threshold.below = 90.5;
  threshold.persistence.for_duration = 120s;
  rules.thresholds.push_back(threshold);
  alerts::ThresholdRule steps;
  steps.common.id = "steps";
  steps.metric = "steps";
  steps.below = 500;
  rules.thresholds.push_back(steps);
  alerts::TrendRule trend;
  trend.common.id = "weight-gain";
  trend.metric = "body_weight";
  trend.rise = 2;
  trend.fall = 1.5;
  rules.trends.push_back(trend);
  alerts::BaselineRule baseline;
  baseline.common.id = "hr-baseline";
  baseline.metric = "heart_rate";
  baseline.above_by = 20;
  baseline.below_by = 0.25;
  rules.baselines.push_back(baseline);
  alerts::MissedRule daily;
  daily.common.id = "bp-daily";
  daily.metric = "bp.systolic";
  daily.daily_from = alerts::TimeOfDay{7 * 60};
  daily.daily_by = alerts::TimeOfDay{10 * 60 + 30};
  rules.missed.push_back(daily);
  alerts::MissedRule within;
  within.common.id = "weight-within";
  within.metric = "body_weight";
  within.within = 86400s;
  rules.missed.push_back(within);
  alerts::InactivityRule quiet;
  quiet.common.id = "quiet";
  rules.inactivity.push_back(quiet);
  alerts::EventRule fall;
  fall.common.id = "fall";
  fall.common.severity = alerts::Severity::kCritical;
  fall.metric = "fall";
  rules.events.push_back(fall);
  alerts::News2Rule news2;
  news2.common.id = "news2";
  news2.min_risk = alerts::News2Risk::kMedium;
  news2.spo2_scale = alerts::SpO2Scale::kScale2;
  rules.news2.push_back(news2);
  alerts::DeviceRule battery;
  battery.common.id = "battery";
  battery.condition = alerts::DeviceCondition::kBatteryLow;
  battery.battery_below = 15;
  rules.devices.push_back(battery);
  alerts::DeviceRule silent;
  silent.common.id = "silent";
  silent.condition = alerts::DeviceCondition::kSilent;
  rules.devices.push_back(silent);
  alerts::GatewayRule clock;
  clock.common.id = "clock";
  clock.condition = alerts::GatewayCondition::kClockUnsynchronised;
  rules.gateway.push_back(clock);
  alerts::GatewayRule storage;
  storage.common.id = "storage";
  rules.gateway.push_back(storage);
  return rules;
}

const std::string kStoredAlert =
    R"json({"alert_id":"01a21869-2cbf-7002-a8c2-54cc69c2497f","rule_id":"news2","device":"oximeter")json"
    R"json(,"metric":"news2","severity":"critical","state":"resolved","raised_ms":1795705875642)json"
    R"json(,"updated_ms":1795705975000,"occurrences":7,"suppressed_repeats":3,"worst_value":98)json"
    R"json(,"reference_value":36.85,"news2":{"total":7,"risk":"high","spo2_scale":2,"partial":true)json"
    R"json(,"components":[{"parameter":"spo2","value":91,"score":2},{"parameter":"temperature")json"
    R"json(,"value":38.5,"score":1},{"parameter":"respiration_rate","value":25,"score":3}]})json"
    R"json(,"escalation_level":2,"delivered_ms":1795705876000,"acknowledged_ms":1795705900000)json"
    R"json(,"acknowledged_by":"nurse-17","resolved_ms":1795705975000)json"
    R"json(,"resolved_by":"condition_cleared","resolution_note":"Sensor repositioned")json"
    R"json(,"evidence":[{"device":"oximeter","metric":"spo2","value":91,"unit":"%")json"
    R"json(,"time_ms":1795705875000},{"device":"thermometer","metric":"body_temperature")json"
    R"json(,"value":38.45,"unit":"Cel","time_ms":1795705876001}],"escalation":{"after_seconds":600)json"
    R"json(,"max_level":4},"next_escalation_ms":1795706475642,"last_published_ms":1795705975001)json"
    R"json(,"event_ids":["01a21869-2cbf-7002-a8c2-54cc69c24980")json"
    R"json(,"01a21869-2cbf-7002-a8c2-54cc69c24981"]})json";

const std::string kAlertBody =
    R"json({"schema":"ehealth-gateway/alert/v0","event_id":"00112233-4455-6677-8899-aabbccddeeff")json"
    R"json(,"gateway":"gw-1/a","subject":"r-0001","change":"raised")json"
    R"json(,"alert_id":"01a21869-2cbf-7002-a8c2-54cc69c2497f","rule_id":"news2","device":"oximeter")json"
    R"json(,"metric":"news2","severity":"critical","state":"resolved")json"
    R"json(,"raised_at":"2026-11-26T15:11:15.642Z","updated_at":"2026-11-26T15:12:55.000Z")json"
    R"json(,"occurrences":7,"suppressed_repeats":3,"worst_value":98,"reference_value":36.85)json"
    R"json(,"news2":{"total":7,"risk":"high","spo2_scale":2,"partial":true)json"
    R"json(,"components":[{"parameter":"spo2","value":91,"score":2},{"parameter":"temperature")json"
    R"json(,"value":38.5,"score":1},{"parameter":"respiration_rate","value":25,"score":3}]})json"
    R"json(,"escalation_level":2,"delivered_at":"2026-11-26T15:11:16.000Z")json"
    R"json(,"acknowledged_at":"2026-11-26T15:11:40.000Z","acknowledged_by":"nurse-17")json"
    R"json(,"resolved_at":"2026-11-26T15:12:55.000Z","resolved_by":"condition_cleared")json"
    R"json(,"resolution_note":"Sensor repositioned","evidence":[{"device":"oximeter","metric":"spo2")json"
    R"json(,"value":91,"unit":"%","time":"2026-11-26T15:11:15.000Z")json"
    R"json(,"observation":{"type":"Observation")json"
    R"json(,"identifier":{"system":"urn:ehealth-gateway:observation")json"
    R"json(,"value":"gw-1/a/oximeter/r-0001/spo2/1795705875000"}}},{"device":"thermometer")json"
    R"json(,"metric":"body_temperature","value":38.45,"unit":"Cel","time":"2026-11-26T15:11:16.001Z")json"
    R"json(,"observation":{"type":"Observation")json"
    R"json(,"identifier":{"system":"urn:ehealth-gateway:observation")json"
    R"json(,"value":"gw-1/a/thermometer/r-0001/body_temperature/1795705876001"}}}]})json";

const std::string kStoredRuleState =
    R"json({"pending_since_ms":1795705875642,"last_breach_ms":1795705875700)json"
    R"json(,"pending_evidence":[{"device":"oximeter","metric":"spo2","value":88.5,"unit":"%")json"
    R"json(,"time_ms":1795705875642}],"clear_since_ms":1795705876000,"rearm_required":true)json"
    R"json(,"last_deadline_ms":1795700000000,"watch_since_ms":1795600000000)json"
    R"json(,"last_event_ms":1795705000000,"alerted_ms":[[1795705800000,1795705900000],[1795705950000)json"
    R"json(,9223372036854775807]]})json";

const std::string kRulesSummary =
    R"json([{"id":"spo2/low","kind":"threshold","severity":"high","metric":"spo2","above":140)json"
    R"json(,"below":90.5,"for_seconds":120},{"id":"steps","kind":"threshold","severity":"medium")json"
    R"json(,"metric":"steps","below":500,"for_seconds":0},{"id":"weight-gain","kind":"trend")json"
    R"json(,"severity":"medium","metric":"body_weight","rise":2,"fall":1.5,"window_seconds":259200})json"
    R"json(,{"id":"hr-baseline","kind":"baseline","severity":"medium","metric":"heart_rate")json"
    R"json(,"above_by":20,"below_by":0.25,"window_seconds":604800},{"id":"bp-daily","kind":"missed")json"
    R"json(,"severity":"medium","metric":"bp.systolic","daily_from":"07:00","daily_by":"10:30"})json"
    R"json(,{"id":"weight-within","kind":"missed","severity":"medium","metric":"body_weight")json"
    R"json(,"within_seconds":86400},{"id":"quiet","kind":"inactivity","severity":"medium")json"
    R"json(,"metrics":["motion","door"],"quiet_seconds":14400},{"id":"fall","kind":"event")json"
    R"json(,"severity":"critical","metric":"fall"},{"id":"news2","kind":"news2","severity":"medium")json"
    R"json(,"metric":"news2","min_risk":"medium","spo2_scale":2},{"id":"battery","kind":"battery_low")json"
    R"json(,"severity":"medium","battery_below":15},{"id":"silent","kind":"device_silent")json"
    R"json(,"severity":"medium"},{"id":"clock","kind":"clock","severity":"medium"},{"id":"storage")json"
    R"json(,"kind":"storage","severity":"medium"}])json";

// A Poco-written alert with what its writer did to unusual text and numbers: \u001F in capitals, \b and
// \f, fixed notation for small and large values, 0 for -0, and Poco's exponent form.
const std::string kStoredOddAlert =
    R"json({"alert_id":"a/b \"q\" \\ \u0001\u001F \b\f\t\r\n é","rule_id":"spo2-low","metric":"spo2")json"
    R"json(,"severity":"high","state":"raised","raised_ms":-5,"updated_ms":0,"occurrences":4294967295)json"
    R"json(,"suppressed_repeats":0,"worst_value":0.0000001,"reference_value":0,"escalation_level":0)json"
    R"json(,"evidence":[{"device":"d/1","metric":"m","value":0.0001,"unit":"u","time_ms":-5})json"
    R"json(,{"device":"d","metric":"m","value":100000,"unit":"u","time_ms":0})json"
    R"json(,{"device":"d","metric":"m","value":0.00001,"unit":"u","time_ms":1})json"
    R"json(,{"device":"d","metric":"m","value":1.7976931348623157e+308,"unit":"u","time_ms":1})json"
    R"json(,{"device":"d","metric":"m","value":1e+21,"unit":"u","time_ms":1}])json"
    R"json(,"escalation":{"after_seconds":-1,"max_level":0},"event_ids":[]})json";

// The text with one piece replaced; the piece must be there.
std::string With(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

struct Damage {
  std::string json;
  std::string names;      // what the error message must say: the field's place and what is wrong
  std::string not_named;  // the stored value, which the message must not repeat (health data)
};

}  // namespace

TEST_CASE("An alert and a rule state are stored as the Poco-based writer stored them") {
  CHECK(pipeline::AlertToJson(RichAlert()) == kStoredAlert);
  CHECK(pipeline::RuleStateToJson(RichRuleState()) == kStoredRuleState);
  CHECK(pipeline::RuleStateToJson(alerts::RuleState{}) == "{}");
}

TEST_CASE("Alert bodies and the rules summary keep their text, key order and the evidence references") {
  CHECK(pipeline::AlertBody(kGatewayContext, FixedId(), alerts::ChangeKind::kRaised, RichAlert()) ==
        kAlertBody);
  // Compared as text with the summary last reported (kRulesReportedSetting): a change would resend it.
  CHECK(pipeline::RulesSummary(SomeRules()) == kRulesSummary);
  CHECK(pipeline::RulesSummary(alerts::RuleSet{}) == "[]");
}

TEST_CASE("An alert and a rule state stored by an earlier version read back with every field") {
  const auto alert = pipeline::AlertFromJson(kStoredAlert);
  REQUIRE(alert.has_value());
  CHECK(*alert == RichAlert());
  const auto state = pipeline::RuleStateFromJson(kStoredRuleState);
  REQUIRE(state.has_value());
  CHECK(*state == RichRuleState());
  CHECK(state->alerted[1].last == WallTime::max());  // exact, not through a double

  // Older versions left out what was empty or not yet known: absent means empty, zero or none.
  const auto old = pipeline::AlertFromJson(
      R"({"alert_id":"a-1","rule_id":"spo2-low","metric":"spo2","severity":"high","state":"raised",)"
      R"("raised_ms":1000,"updated_ms":2000,"occurrences":1,"worst_value":88})");
  REQUIRE(old.has_value());
  CHECK(old->device_id.empty());
  CHECK(old->suppressed_repeats == 0);
  CHECK(old->escalation_level == 0);
  CHECK(old->evidence.empty());
  CHECK_FALSE(old->news2.has_value());
  CHECK_FALSE(old->escalation.has_value());
  CHECK(old->event_ids.empty());
  CHECK(old->raised_at == WallTime{1'000ms});
  CHECK(old->worst_value == 88);
  const auto empty_state = pipeline::RuleStateFromJson("{}");
  REQUIRE(empty_state.has_value());
  CHECK(empty_state->empty());
}

TEST_CASE("Unusual text and numbers as the Poco-based writer escaped and formatted them read back exactly") {
  const auto alert = pipeline::AlertFromJson(kStoredOddAlert);
  REQUIRE(alert.has_value());
  CHECK(alert->alert_id == "a/b \"q\" \\ \x01\x1f \b\f\t\r\n é");
  CHECK(alert->raised_at == WallTime{-5ms});
  CHECK(alert->occurrences == std::numeric_limits<std::uint32_t>::max());
  CHECK(alert->worst_value == 1e-7);
  CHECK(alert->reference_value == 0.0);
  REQUIRE(alert->evidence.size() == 5);
  CHECK(alert->evidence[0].value == 0.0001);
  CHECK(alert->evidence[1].value == 100000);
  CHECK(alert->evidence[2].value == 0.00001);
  CHECK(alert->evidence[3].value == std::numeric_limits<double>::max());
  CHECK(alert->evidence[4].value == 1e21);
  REQUIRE(alert->escalation.has_value());
  CHECK(alert->escalation->after == -1s);
  // Written again, the same values come back (the text may differ: 1e-07 where Poco wrote 0.0000001).
  const auto again = pipeline::AlertFromJson(pipeline::AlertToJson(*alert));
  REQUIRE(again.has_value());
  CHECK(*again == *alert);
}

TEST_CASE("An alert survives its stored form with every field, however unusual its text and numbers") {
  alerts::Alert unusual = RichAlert();
  unusual.alert_id = "a/b \"q\" \\ \x01\x1f\x7f \b\f\t\r\n é ✓ 😀";
  unusual.acknowledged_by = "Zoë/ward 3";
  unusual.resolution_note = "line1\nline2 <tag> & 'x'";
  unusual.occurrences = std::numeric_limits<std::uint32_t>::max();
  unusual.suppressed_repeats = std::numeric_limits<std::uint32_t>::max();
  unusual.escalation_level = std::numeric_limits<std::uint32_t>::max();
  unusual.worst_value = 0.1 + 0.2;
  unusual.reference_value = std::numeric_limits<double>::denorm_min();
  unusual.evidence = {{"d/1", "m", -273.15, "u", WallTime{-5ms}},
                      {"d", "m", std::numeric_limits<double>::max(), "u", WallTime::min()},
                      {"d", "m", 1e-7, "u", WallTime::max()}};
  unusual.escalation = alerts::Escalation{std::chrono::seconds{std::numeric_limits<std::int64_t>::min()},
                                          std::numeric_limits<std::uint32_t>::max()};
  for (const alerts::Alert& alert : {RichAlert(), unusual, alerts::Alert{}}) {
    CAPTURE(alert.alert_id);
    const auto restored = pipeline::AlertFromJson(pipeline::AlertToJson(alert));
    REQUIRE(restored.has_value());
    CHECK(*restored == alert);
  }
  alerts::RuleState state = RichRuleState();
  state.alerted.push_back({WallTime::min(), WallTime{-1ms}});
  for (const alerts::RuleState& each : {state, alerts::RuleState{}}) {
    const auto restored = pipeline::RuleStateFromJson(pipeline::RuleStateToJson(each));
    REQUIRE(restored.has_value());
    CHECK(*restored == each);
  }
}

TEST_CASE("A value JSON cannot carry is written as null, and such a stored alert is an error") {
  alerts::Alert alert = RichAlert();
  alert.worst_value = std::numeric_limits<double>::quiet_NaN();
  alert.reference_value = std::numeric_limits<double>::infinity();
  alert.evidence[0].value = -std::numeric_limits<double>::infinity();
  // Poco wrote nan and inf, which no JSON reader takes.
  const auto body = ehg::core::ParseJson(
      pipeline::AlertBody(kGatewayContext, FixedId(), alerts::ChangeKind::kRaised, alert));
  REQUIRE(body.has_value());
  CHECK(body->Find("worst_value")->type == ehg::core::JsonValue::Type::kNull);
  CHECK(body->Find("reference_value")->type == ehg::core::JsonValue::Type::kNull);
  CHECK(body->Find("evidence")->items[0].Find("value")->type == ehg::core::JsonValue::Type::kNull);
  const auto restored = pipeline::AlertFromJson(pipeline::AlertToJson(alert));
  REQUIRE_FALSE(restored.has_value());
  CHECK(restored.error().code == ehg::Errc::kParse);
  CHECK(restored.error().message == "stored alert: worst_value is not a number");
}

// Stored alert texts damaged one field at a time, with what the error must name and must not quote.
static std::vector<Damage> DamagedStoredAlerts() {
  return {
      {With(kStoredAlert, R"("alert_id":"01a21869-2cbf-7002-a8c2-54cc69c2497f")", R"("alert_id":17)"),
       "stored alert: alert_id is not a string", "17"},
      {With(kStoredAlert, R"("metric":"news2",)", ""), "stored alert: metric is missing", ""},
      {With(kStoredAlert, R"("severity":"critical")", R"("severity":"dire")"),
       "stored alert: severity is unknown", "dire"},
      {With(kStoredAlert, R"("occurrences":7)", R"("occurrences":7.25)"),
       "stored alert: occurrences is not a whole number", "7.25"},
      {With(kStoredAlert, R"("occurrences":7)", R"("occurrences":7e0)"),
       "stored alert: occurrences is not a whole number", "7e0"},
      {With(kStoredAlert, R"("occurrences":7)", R"("occurrences":4294967296)"),
       "stored alert: occurrences is out of range", "4294967296"},
      {With(kStoredAlert, R"("escalation_level":2)", R"("escalation_level":-2)"),
       "stored alert: escalation_level is out of range", "-2"},
      {With(kStoredAlert, R"("raised_ms":1795705875642)", R"("raised_ms":9223372036854775808)"),
       "stored alert: raised_ms is out of range", "9223372036854775808"},
      {With(kStoredAlert, R"("raised_ms":1795705875642)", R"("raised_ms":"1795705875642")"),
       "stored alert: raised_ms is not a number", "1795705875642"},
      {With(kStoredAlert, R"("delivered_ms":1795705876000)", R"("delivered_ms":1795705876000.5)"),
       "stored alert: delivered_ms is not a whole number", "1795705876000.5"},
      {With(kStoredAlert, R"("worst_value":98)", R"("worst_value":true)"),
       "stored alert: worst_value is not a number", ""},
      {With(kStoredAlert, R"("acknowledged_by":"nurse-17")", R"("acknowledged_by":["nurse-17"])"),
       "stored alert: acknowledged_by is not a string", "nurse-17"},
      {With(kStoredAlert, R"("time_ms":1795705876001)", R"("time":1795705876001)"),
       "stored alert: evidence[1].time_ms is missing", ""},
      {With(kStoredAlert, R"("evidence":[)", R"("evidence":[3,)"),
       "stored alert: evidence[0] is not an object", ""},
      {With(kStoredAlert, R"("value":38.45)", R"("value":"38.45")"),
       "stored alert: evidence[1].value is not a number", "38.45"},
      {With(kStoredAlert, R"("parameter":"temperature")", R"("parameter":"mood")"),
       "stored alert: news2.components[1].parameter is unknown", "mood"},
      {With(kStoredAlert, R"("score":2})", R"("score":2.5})"),
       "stored alert: news2.components[0].score is not a whole number", "2.5"},
      {With(kStoredAlert, R"("partial":true)", R"("partial":"yes")"),
       "stored alert: news2.partial is not true or false", "yes"},
      {With(kStoredAlert, R"("risk":"high")", R"("risk":"grave")"), "stored alert: news2.risk is unknown",
       "grave"},
      {With(kStoredAlert, R"("escalation":{"after_seconds":600,"max_level":4})", R"("escalation":600)"),
       "stored alert: escalation is not an object", ""},
      {With(kStoredAlert, R"("max_level":4)", R"("max_level":-4)"),
       "stored alert: escalation.max_level is out of range", "-4"},
      {With(kStoredAlert, R"("event_ids":[")", R"("event_ids":[42,")"),
       "stored alert: event_ids[0] is not a string", "42"},
      {With(kStoredAlert, R"("event_ids":[)", R"("event_ids":{"ids":[)") + "}",
       "stored alert: event_ids is not an array", ""},
      // Not JSON at all: reported by its place, as the parser's own message may quote a value.
      {With(kStoredAlert, "Sensor repositioned", "Sensor \xff repositioned"),
       "stored alert is not valid JSON (line 1, column", "Sensor"},
      {With(kStoredAlert, R"("worst_value":98)", R"("worst_value":1e999)"), "stored alert is not valid JSON",
       "1e999"},
      {With(kStoredAlert, R"("metric":"news2",)", R"("metric":"news2","metric":"news2",)"),
       "stored alert is not valid JSON", ""},
      {"", "stored alert is not valid JSON", ""},
      {"[]", "stored alert is not an object", ""},
      {"null", "stored alert is not an object", ""},
      {R"("text")", "stored alert is not an object", "text"},
  };
}

TEST_CASE("A damaged stored alert is an error naming the field, never a crash, an exception or its value") {
  const std::vector<Damage> damages = DamagedStoredAlerts();
  for (const Damage& damage : damages) {
    CAPTURE(damage.json);
    const auto restored = pipeline::AlertFromJson(damage.json);
    REQUIRE_FALSE(restored.has_value());
    CHECK(restored.error().code == ehg::Errc::kParse);
    CHECK(restored.error().message.starts_with(damage.names));
    if (!damage.not_named.empty())
      CHECK(restored.error().message.find(damage.not_named) == std::string::npos);
  }
}

TEST_CASE("A stored alert or rule state cut short anywhere is an error") {
  for (std::size_t size = 0; size < kStoredAlert.size(); ++size) {
    CAPTURE(size);
    const auto restored = pipeline::AlertFromJson(kStoredAlert.substr(0, size));
    REQUIRE_FALSE(restored.has_value());
    CHECK(restored.error().code == ehg::Errc::kParse);
  }
  for (std::size_t size = 0; size < kStoredRuleState.size(); ++size) {
    CAPTURE(size);
    const auto restored = pipeline::RuleStateFromJson(kStoredRuleState.substr(0, size));
    REQUIRE_FALSE(restored.has_value());
    CHECK(restored.error().code == ehg::Errc::kParse);
  }
}

TEST_CASE(
    "A damaged stored rule state is an error naming the field, never a crash, an exception or its value") {
  const std::vector<Damage> damages = {
      {With(kStoredRuleState, R"("rearm_required":true)", R"("rearm_required":1)"),
       "stored rule state: rearm_required is not true or false", ""},
      {With(kStoredRuleState, R"("pending_since_ms":1795705875642)", R"("pending_since_ms":1795705875642.0)"),
       "stored rule state: pending_since_ms is not a whole number", "1795705875642"},
      {With(kStoredRuleState, R"("value":88.5)", R"("value":"88.5")"),
       "stored rule state: pending_evidence[0].value is not a number", "88.5"},
      {With(kStoredRuleState, R"("device":"oximeter",)", ""),
       "stored rule state: pending_evidence[0].device is missing", ""},
      {With(kStoredRuleState, "[1795705800000,1795705900000]", "[1795705800000]"),
       "stored rule state: alerted_ms[0] is not a pair of times", "1795705800000"},
      {With(kStoredRuleState, "[1795705800000,1795705900000]", "[1795705800000,1795705900000,1]"),
       "stored rule state: alerted_ms[0] is not a pair of times", "1795705800000"},
      {With(kStoredRuleState, "9223372036854775807", "9223372036854775807.5"),
       "stored rule state: alerted_ms[1][1] is not a whole number", "9223372036854775807"},
      {With(kStoredRuleState, "9223372036854775807", "9223372036854775808"),
       "stored rule state: alerted_ms[1][1] is out of range", "9223372036854775808"},
      {With(kStoredRuleState, R"("alerted_ms":[[)", R"("alerted_ms":[5,[)"),
       "stored rule state: alerted_ms[0] is not a pair of times", ""},
      {With(kStoredRuleState, "spo2", "sp\xc3o2"), "stored rule state is not valid JSON", "sp"},
      {"{", "stored rule state is not valid JSON", ""},
      {"[]", "stored rule state is not an object", ""},
  };
  for (const Damage& damage : damages) {
    CAPTURE(damage.json);
    const auto restored = pipeline::RuleStateFromJson(damage.json);
    REQUIRE_FALSE(restored.has_value());
    CHECK(restored.error().code == ehg::Errc::kParse);
    CHECK(restored.error().message.starts_with(damage.names));
    if (!damage.not_named.empty())
      CHECK(restored.error().message.find(damage.not_named) == std::string::npos);
  }
}
