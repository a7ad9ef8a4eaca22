#include "gateway/uplink/messages.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include "gateway/transport/paho_transport.hpp"
#include "gateway/wire/topics.hpp"

using namespace std::chrono_literals;

namespace {
Poco::JSON::Object::Ptr MessageJson(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}
}  // namespace

TEST_CASE("Topics follow ehealth/v1/TENANT/GATEWAY/...") {
  const ehg::wire::Topics topics("0301", "gw-1");
  CHECK(topics.status == "ehealth/v1/0301/gw-1/status");
  CHECK(topics.command == "ehealth/v1/0301/gw-1/cmd");
  CHECK(topics.command_result == "ehealth/v1/0301/gw-1/cmd/result");
  CHECK(topics.Event(ehg::core::EventKind::kAlert) == "ehealth/v1/0301/gw-1/event/alert");
  CHECK(topics.Event(ehg::core::EventKind::kObservation) == "ehealth/v1/0301/gw-1/event/observation");
  CHECK(topics.Event(ehg::core::EventKind::kDevice) == "ehealth/v1/0301/gw-1/event/device");
  CHECK(topics.Event(ehg::core::EventKind::kCommandResult) == topics.command_result);
}

TEST_CASE("The online status carries version, uptime, backlog, drops and the heartbeat interval") {
  ehg::uplink::StatusInfo info;
  info.gateway_id = "gw-1";
  info.tenant = "0301";
  info.version = "1.2.3";
  info.time = ehg::core::WallTime{1'767'225'600'000ms};
  info.uptime = 3600s;
  info.heartbeat_interval = 30s;
  info.backlog = {120, 48'000, 2, 17};
  info.alerts_awaiting_receipt = 1;
  info.events_awaiting_receipt = 3;
  info.reconnects = 4;
  info.clock_synchronised = false;
  auto status = MessageJson(ehg::uplink::OnlineStatusBody(info));
  CHECK(status->getValue<std::string>("state") == "online");
  CHECK(status->getValue<std::string>("version") == "1.2.3");
  CHECK(status->getValue<int>("uptime_seconds") == 3600);
  CHECK(status->getValue<int>("heartbeat_interval_seconds") == 30);
  CHECK(status->getObject("backlog")->getValue<int>("events") == 120);
  CHECK(status->getObject("backlog")->getValue<int>("bytes") == 48'000);
  CHECK(status->getObject("backlog")->getValue<int>("alerts") == 2);
  CHECK(status->getValue<int>("dropped_observations") == 17);
  CHECK(status->getValue<int>("alerts_awaiting_receipt") == 1);
  CHECK(status->getValue<int>("events_awaiting_receipt") == 3);
  CHECK(status->getValue<int>("reconnects") == 4);
  CHECK_FALSE(status->getValue<bool>("clock_synchronised"));

  info.connected_at = ehg::core::WallTime{1'767'225'000'000ms};
  CHECK(MessageJson(ehg::uplink::OnlineStatusBody(info))->getValue<std::string>("connected_at") ==
        "2025-12-31T23:50:00.000Z");

  auto will = MessageJson(
      ehg::uplink::OfflineStatusBody("gw-1", "0301", "connection lost", nullptr, info.connected_at));
  CHECK(will->getValue<std::string>("state") == "offline");
  CHECK_FALSE(will->has("time"));  // signed when the connection is made, sent by the broker later
  CHECK(will->getValue<std::string>("connected_at") == "2025-12-31T23:50:00.000Z");
}

TEST_CASE("An observation batch is valid JSON holding every body in order") {
  const std::string first = R"({"event_id":"a","value":1})";
  const std::string second = R"({"event_id":"b","note":"\"quoted\" \u00e6"})";
  auto batch = MessageJson(ehg::uplink::ObservationBatchBody("gw-\"1", {&first, &second}));
  CHECK(batch->getValue<std::string>("schema") == "ehealth-gateway/observation-batch/v0");
  CHECK(batch->getValue<std::string>("gateway") == "gw-\"1");
  CHECK(batch->getValue<int>("count") == 2);
  auto events = batch->getArray("events");
  REQUIRE(events->size() == 2);
  CHECK(events->getObject(0)->getValue<std::string>("event_id") == "a");
  CHECK(events->getObject(1)->getValue<std::string>("note") == "\"quoted\" \xc3\xa6");
}

TEST_CASE("paho's keepalive is half the configured one, so a dead link shows within 1.5 x") {
  CHECK(ehg::transport::PahoKeepalive(30s) == 15s);
  CHECK(ehg::transport::PahoKeepalive(5s) == 2s);
  CHECK(ehg::transport::PahoKeepalive(1s) == 1s);
  for (int configured = 5; configured <= 3600; configured += 7) {
    CAPTURE(configured);
    CHECK(2 * ehg::transport::PahoKeepalive(std::chrono::seconds(configured)).count() + 2 <=
          configured * 3 / 2 + 1);
  }
}
