#include "gateway/http/status.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
using ehg::http::Attention;
using ehg::http::Level;
using ehg::http::StatusSnapshot;

namespace {

const ehg::core::WallTime kNow =
    ehg::core::WallTime(std::chrono::sys_days{std::chrono::year{2026} / 11 / 27}) + 10h;

// A healthy gateway that has run for an hour, with one device that delivered an unusual value.
StatusSnapshot Healthy() {
  StatusSnapshot status;
  status.gateway_id = "gw-test-01";
  status.tenant = "0301";
  status.version = "0.1.0";
  status.now = kNow;
  status.uptime = 1h;
  status.clock_synchronised = true;
  status.uplink.state = "connected";
  status.uplink.connected_since = kNow - 50min;
  status.uplink.last_publish = kNow - 3s;
  ehg::http::DeviceView thermometer;
  thermometer.id = "thermometer";
  thermometer.transport = "ble";
  thermometer.type = "thermometer";
  thermometer.connection = "idle";  // it hung up after measuring, as it should
  thermometer.last_reading = kNow - 10min;
  thermometer.last_seen = kNow - 5min;
  thermometer.battery_percent = 80;
  thermometer.rssi_dbm = -61;
  thermometer.expected_interval = 26h;
  thermometer.readings_by_metric = {{"body_temperature", 3}, {"battery", 1}};
  thermometer.last_values = {{"body_temperature", 38.37, "Cel", kNow - 10min}};
  status.devices.push_back(thermometer);
  ehg::http::AlertView fever{"fever",     "medium",
                             "delivered", kNow - 10min,
                             kNow - 9min, R"({"worst_value":38.37,"metric":"body_temperature"})"};
  status.open_alerts.push_back(fever);
  return status;
}

// What the components would have counted, as the registry hands it to the renderers.
ehg::core::telemetry::Snapshot Counted(
    const std::vector<std::pair<ehg::core::telemetry::Family, std::vector<std::string>>>& series,
    std::uint64_t each) {
  ehg::core::telemetry::Registry registry;
  for (const auto& [family, labels] : series)
    registry.AddCounter(family, labels).Add(each);
  return registry.Collect();
}

const ehg::core::telemetry::Family kStoreFailures{"ehg_store_failures_total", "Failed batches.", {}};
const ehg::core::telemetry::Family kTimeJudged{"ehg_readings_time_judged_total", "Judged.", {"judgement"}};

std::set<std::string> Codes(const std::vector<Attention>& attention) {
  std::set<std::string> codes;
  for (const Attention& item : attention)
    codes.insert(item.code);
  return codes;
}

// The pure renderers leave values out unless the snapshot says they may be shown; the daemon also
// leaves them out of the snapshot. Both halves are tested: here the renderers.
StatusSnapshot HidingValues(StatusSnapshot status) {
  status.values_shown = false;
  return status;
}

}  // namespace

TEST_CASE("A healthy gateway needs no attention") {
  const auto attention = NeedsAttention(Healthy());
  CHECK(attention.empty());
  CHECK(WorstLevel(attention) == Level::kOk);
}

TEST_CASE("An uplink that is down is a warning while starting and critical after two minutes") {
  StatusSnapshot status = Healthy();
  status.uplink.state = "connecting";
  status.uplink.last_error = "TLS: certificate expired";
  status.uptime = 30s;
  auto attention = NeedsAttention(status);
  REQUIRE(attention.size() == 1);
  CHECK(attention[0].code == "uplink_down");
  CHECK(attention[0].level == Level::kWarning);
  CHECK(attention[0].message.find("certificate expired") != std::string::npos);
  status.uptime = 3min;
  CHECK(WorstLevel(NeedsAttention(status)) == Level::kCritical);
}

TEST_CASE("An unacknowledged critical alert is critical, a high one a warning, an acknowledged one nothing") {
  StatusSnapshot status = Healthy();
  status.open_alerts.push_back({"emergency-button", "critical", "delivered", kNow - 2min, kNow - 2min, ""});
  CHECK(WorstLevel(NeedsAttention(status)) == Level::kCritical);
  status.open_alerts.back().severity = "high";
  CHECK(WorstLevel(NeedsAttention(status)) == Level::kWarning);
  status.open_alerts.back().state = "acknowledged";
  CHECK(NeedsAttention(status).empty());
}

TEST_CASE("Silent devices, low batteries, an unsynchronised clock, drops and recent errors need attention") {
  StatusSnapshot status = Healthy();
  status.devices[0].last_reading = kNow - 27h;
  status.devices[0].battery_percent = 12;
  status.clock_synchronised = false;
  status.telemetry = Counted({{ehg::core::telemetry::DroppedFamily(), {"outbox_budget"}}}, 4);
  status.recent_problems.push_back(
      {kNow - 2min, "error", "level=error msg=\"batch not stored\"", kNow - 2min, 1});
  status.recent_problems.push_back({kNow - 1h, "error", "level=error msg=\"old\"", kNow - 1h, 1});
  const auto attention = NeedsAttention(status);
  CHECK(Codes(attention) == std::set<std::string>{"device_silent", "battery_low", "clock_unsynchronised",
                                                  "data_dropped", "recent_errors"});
  CHECK(WorstLevel(attention) == Level::kWarning);
  for (const Attention& item : attention) {
    if (item.code == "recent_errors") CHECK(item.message.starts_with("1 errors"));
  }
}

TEST_CASE("A device that never delivered is silent only once its interval has passed since the start") {
  StatusSnapshot status = Healthy();
  status.devices[0].last_reading.reset();
  status.devices[0].expected_interval = 2h;
  CHECK(NeedsAttention(status).empty());
  status.uptime = 3h;
  CHECK(Codes(NeedsAttention(status)) == std::set<std::string>{"device_silent"});
}

TEST_CASE("A serial device that is not connected needs attention after the start grace") {
  StatusSnapshot status = Healthy();
  status.devices[0].transport = "serial";
  status.devices[0].connection = "disconnected";
  CHECK(Codes(NeedsAttention(status)) == std::set<std::string>{"device_disconnected"});
  status.uptime = 30s;
  CHECK(NeedsAttention(status).empty());
}

TEST_CASE("Failed store transactions are critical") {
  StatusSnapshot status = Healthy();
  status.telemetry = Counted({{kStoreFailures, {}}}, 1);
  CHECK(WorstLevel(NeedsAttention(status)) == Level::kCritical);
}

TEST_CASE("The status document carries what the page shows, and values only when allowed") {
  StatusSnapshot status = Healthy();
  status.values_shown = true;
  const auto shown = Poco::JSON::Parser().parse(StatusJson(status)).extract<Poco::JSON::Object::Ptr>();
  CHECK(shown->getValue<std::string>("schema") == "ehealth-gateway/status/v1");
  CHECK(shown->getValue<std::string>("level") == "ok");
  CHECK(shown->getObject("gateway")->getValue<std::string>("id") == "gw-test-01");
  CHECK(shown->getObject("gateway")->getValue<int>("uptime_seconds") == 3600);
  CHECK(shown->getObject("uplink")->getValue<std::string>("last_publish") == "2026-11-27T09:59:57.000Z");
  const auto device = shown->getArray("devices")->getObject(0);
  CHECK(device->getValue<int>("readings") == 4);
  CHECK(device->getValue<int>("rssi_dbm") == -61);
  CHECK(device->getArray("last_values")->getObject(0)->getValue<double>("value") == doctest::Approx(38.37));
  CHECK(shown->getArray("open_alerts")->getObject(0)->getValue<int>("age_seconds") == 600);
  CHECK(shown->getArray("open_alerts")->getObject(0)->has("detail"));

  const auto hidden =
      Poco::JSON::Parser().parse(StatusJson(HidingValues(status))).extract<Poco::JSON::Object::Ptr>();
  CHECK_FALSE(hidden->getArray("devices")->getObject(0)->has("last_values"));
  CHECK_FALSE(hidden->getArray("open_alerts")->getObject(0)->has("detail"));
}

TEST_CASE("With values hidden, no rendering carries the measured value") {
  const StatusSnapshot status = Healthy();
  StatusSnapshot shown = status;
  shown.values_shown = true;
  // The positive control: the same check finds the value when it may be shown.
  CHECK(StatusJson(shown).find("38.37") != std::string::npos);
  CHECK(StatusPageHtml(shown, 10s).find("38.37") != std::string::npos);
  const StatusSnapshot hidden = HidingValues(status);
  CHECK(StatusJson(hidden).find("38.37") == std::string::npos);
  CHECK(StatusPageHtml(hidden, 10s).find("38.37") == std::string::npos);
  CHECK(MetricsText(hidden).find("38.37") == std::string::npos);
  CHECK(MetricsText(shown).find("38.37") == std::string::npos);  // metrics never carry values
}

TEST_CASE("The page escapes what it shows and loads nothing from elsewhere") {
  StatusSnapshot status = Healthy();
  status.devices[0].last_error = "<script>alert(1)</script> & \"quoted\"";
  const std::string html = StatusPageHtml(status, 15s);
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;") != std::string::npos);
  CHECK(html.find("<meta http-equiv=\"refresh\" content=\"15\">") != std::string::npos);
  CHECK(html.find("name=\"viewport\"") != std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("data-device=\"thermometer\"") != std::string::npos);
  CHECK(html.find("data-rule=\"fever\"") != std::string::npos);
  CHECK(html.find("All good") != std::string::npos);
}

TEST_CASE("Metrics: every sample belongs to a family announced with HELP and TYPE, labels escaped") {
  StatusSnapshot status = Healthy();
  status.version = "0.1.0 \"beta\"\\x";
  status.alert_changes[{"critical", "raised"}] = 2;
  status.uplink.publish_latency.cumulative = {1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
  status.uplink.publish_latency.count = 4;
  status.uplink.publish_latency.sum_seconds = 40.02;
  ehg::core::telemetry::Registry registry;
  registry.AddCounter(kTimeJudged, {"device_clock_suspect"}).Add(3);
  registry.AddCounter(kTimeJudged, {"late"}).Add(5);
  registry.AddCounter({"ehg_test_escaped_total", "Label values escaped.", {"what"}}, {"a \"b\"\\c\nd"})
      .Add(1);
  status.telemetry = registry.Collect();
  const std::string text = MetricsText(status);
  std::set<std::string> typed;
  std::istringstream lines(text);
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$)");
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.starts_with("# HELP ")) continue;
    std::smatch match;
    REQUIRE_MESSAGE(std::regex_match(line, match, sample), line);
    std::string family = match[1];
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (family.ends_with(suffix) && typed.count(family.substr(0, family.size() - suffix.size())) != 0)
        family = family.substr(0, family.size() - suffix.size());
    }
    CHECK_MESSAGE(typed.count(family) == 1, line);
  }
  CHECK(text.find(R"(version="0.1.0 \"beta\"\\x")") != std::string::npos);
  CHECK(text.find(R"(ehg_alerts_raised_total{severity="critical"} 2)") != std::string::npos);
  CHECK(text.find(R"(ehg_alerts_raised_total{severity="high"} 0)") != std::string::npos);
  CHECK(text.find(R"(ehg_readings_total{device="thermometer",metric="body_temperature"} 3)") !=
        std::string::npos);
  CHECK(text.find(R"(ehg_publish_latency_seconds_bucket{le="0.005"} 1)") != std::string::npos);
  CHECK(text.find(R"(ehg_publish_latency_seconds_bucket{le="+Inf"} 4)") != std::string::npos);
  CHECK(text.find("ehg_publish_latency_seconds_count 4") != std::string::npos);
  CHECK(text.find("ehg_device_battery_ratio{device=\"thermometer\"} 0.8") != std::string::npos);
  CHECK(text.find(R"(ehg_readings_time_judged_total{judgement="device_clock_suspect"} 3)") !=
        std::string::npos);
  CHECK(text.find(R"(ehg_readings_time_judged_total{judgement="late"} 5)") != std::string::npos);
  CHECK(text.find(R"(ehg_test_escaped_total{what="a \"b\"\\c\nd"} 1)") != std::string::npos);
  CHECK(text.find(
            "# HELP ehg_test_escaped_total Label values escaped.\n# TYPE ehg_test_escaped_total counter\n") !=
        std::string::npos);
}

TEST_CASE("Every family the components declared is in /metrics once, and in /api/status' telemetry") {
  StatusSnapshot status = Healthy();
  ehg::core::telemetry::Registry registry;
  registry.AddCounter(ehg::core::telemetry::DroppedFamily(), {"queue_full"}).Add(6);
  registry.AddCounter(ehg::core::telemetry::DroppedFamily(), {"store_full"}).Add(2);
  registry.AddCounter({"ehg_uplink_connects_total", "Connects.", {}}).Add(3);
  registry.AddGauge({"ehg_test_open", "Open now.", {}}).Set(1.5);
  status.telemetry = registry.Collect();

  const std::string text = MetricsText(status);
  CHECK(text.find("ehg_dropped_total{reason=\"queue_full\"} 6\n") != std::string::npos);
  CHECK(text.find("# TYPE ehg_test_open gauge\nehg_test_open 1.5\n") != std::string::npos);
  for (const std::string family : {"ehg_dropped_total", "ehg_uplink_connects_total", "ehg_test_open"}) {
    const std::string type_line = "# TYPE " + family + " ";
    const auto first = text.find(type_line);
    CHECK_MESSAGE(first != std::string::npos, family);
    CHECK_MESSAGE(text.find(type_line, first + 1) == std::string::npos, family);  // announced once
  }

  // The structured sections read the same series: one declaration, several views.
  const auto json = Poco::JSON::Parser().parse(StatusJson(status)).extract<Poco::JSON::Object::Ptr>();
  CHECK(json->getObject("drops")->getValue<int>("readings_queue_full") == 6);
  CHECK(json->getObject("drops")->getValue<int>("readings_store_full") == 2);
  CHECK(json->getObject("drops")->getValue<int>("observations_over_budget") == 0);
  CHECK(json->getObject("uplink")->getValue<int>("connects") == 3);
  const auto telemetry = json->getArray("telemetry");
  REQUIRE(telemetry->size() == 4);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < telemetry->size(); ++i) {
    const auto entry = telemetry->getObject(static_cast<unsigned>(i));
    std::string key = entry->getValue<std::string>("name");
    if (entry->getObject("labels")->has("reason"))
      key += "/" + entry->getObject("labels")->getValue<std::string>("reason");
    seen.insert(key + "=" + entry->get("value").toString());
  }
  CHECK(seen == std::set<std::string>{"ehg_dropped_total/queue_full=6", "ehg_dropped_total/store_full=2",
                                      "ehg_uplink_connects_total=3", "ehg_test_open=1.5"});
  CHECK(Codes(NeedsAttention(status)).count("store_full") == 1);
  CHECK(Codes(NeedsAttention(status)).count("data_dropped") == 1);
}

TEST_CASE("Durations read the way people say them") {
  using ehg::http::HumanDuration;
  CHECK(HumanDuration(0s) == "0 s");
  CHECK(HumanDuration(-5s) == "0 s");
  CHECK(HumanDuration(59s) == "59 s");
  CHECK(HumanDuration(60s) == "1 min");
  CHECK(HumanDuration(2h) == "2 h");
  CHECK(HumanDuration(2h + 5min + 10s) == "2 h 5 min");
  CHECK(HumanDuration(24h * 4 + 3h) == "4 d 3 h");
}

TEST_CASE("The page's refusals reach /api/status and /metrics, every reason by name") {
  StatusSnapshot status = Healthy();
  status.page_refusals[static_cast<std::size_t>(ehg::http::Refusal::kWrongToken)] = 7;
  status.page_refusals[static_cast<std::size_t>(ehg::http::Refusal::kLockedOut)] = 2;
  status.page_refusals[static_cast<std::size_t>(ehg::http::Refusal::kHeaderTimeout)] = 40;
  const auto json =
      Poco::JSON::Parser().parse(ehg::http::StatusJson(status)).extract<Poco::JSON::Object::Ptr>();
  const auto refusals = json->getObject("status_page")->getObject("refusals");
  CHECK(refusals->size() == ehg::http::kRefusalKinds);
  CHECK(refusals->getValue<int>("wrong_token") == 7);
  CHECK(refusals->getValue<int>("header_timeout") == 40);
  CHECK(refusals->getValue<int>("tls_handshake") == 0);

  const std::string metrics = ehg::http::MetricsText(status);
  CHECK(metrics.find("ehg_http_auth_refusals_total 9\n") != std::string::npos);  // wrong token + locked out
  CHECK(metrics.find("ehg_http_refusals_total{reason=\"header_timeout\"} 40\n") != std::string::npos);
  for (std::size_t kind = 0; kind < ehg::http::kRefusalKinds; ++kind) {
    const std::string_view name = ehg::http::ToString(static_cast<ehg::http::Refusal>(kind));
    CHECK(name != "unknown");
    CHECK(metrics.find("ehg_http_refusals_total{reason=\"" + std::string(name) + "\"}") != std::string::npos);
  }
}

TEST_CASE("A cuff idle between measurements has a neutral badge, a missing device a red one") {
  CHECK(ehg::http::ConnectionName(ehg::core::LinkShown::kConnected) == "connected");
  CHECK(ehg::http::ConnectionName(ehg::core::LinkShown::kIdle) == "idle");
  CHECK(ehg::http::ConnectionName(ehg::core::LinkShown::kMissing) == "disconnected");

  StatusSnapshot status = Healthy();
  const std::string idle = StatusPageHtml(status, 10s);
  CHECK(idle.find("<span class=\"badge idle\">idle between measurements</span>") != std::string::npos);
  CHECK(idle.find("badge disconnected") == std::string::npos);
  CHECK(idle.find("All good") != std::string::npos);
  // The idle badge is not painted red: its rule is the neutral grey, the red one is another class's.
  CHECK(idle.find(".badge.idle{background:#607080}") != std::string::npos);
  CHECK(idle.find(".badge.disconnected{background:#c62828}") != std::string::npos);

  status.devices[0].connection = "disconnected";
  const std::string missing = StatusPageHtml(status, 10s);
  CHECK(missing.find("<span class=\"badge disconnected\">disconnected</span>") != std::string::npos);
  CHECK(missing.find("idle between measurements") == std::string::npos);
}

TEST_CASE("A device's error is a sentence, its D-Bus name the technical detail beside it") {
  StatusSnapshot status = Healthy();
  status.devices[0].last_error = "The device did not answer: it is asleep, switched off or out of range.";
  status.devices[0].last_error_detail = "org.bluez.Error.Failed: le-connection-abort-by-local";
  const auto json =
      Poco::JSON::Parser().parse(StatusJson(status)).extract<Poco::JSON::Object::Ptr>()->getArray("devices");
  CHECK(json->getObject(0)->getValue<std::string>("connection") == "idle");
  CHECK(json->getObject(0)->getValue<std::string>("last_error").starts_with("The device did not answer"));
  CHECK(json->getObject(0)->getValue<std::string>("last_error_detail") ==
        "org.bluez.Error.Failed: le-connection-abort-by-local");

  const std::string html = StatusPageHtml(status, 10s);
  const auto headline = html.find("<dt>Last error</dt><dd>The device did not answer");
  const auto detail = html.find("<details><summary>technical detail</summary><code>org.bluez.Error.Failed");
  CHECK(headline != std::string::npos);
  CHECK(detail != std::string::npos);
  CHECK(headline < detail);  // the sentence first; the name folded away after it

  status.devices[0].last_error_detail.clear();
  CHECK(StatusPageHtml(status, 10s).find("technical detail") == std::string::npos);
  CHECK(Poco::JSON::Parser()
            .parse(StatusJson(status))
            .extract<Poco::JSON::Object::Ptr>()
            ->getArray("devices")
            ->getObject(0)
            ->getValue<std::string>("last_error_detail")
            .empty());
}
