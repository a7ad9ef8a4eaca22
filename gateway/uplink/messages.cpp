#include "gateway/uplink/messages.hpp"

#include "gateway/core/json.hpp"
#include "gateway/core/json_writer.hpp"

namespace ehg::uplink {
namespace {

void StatusHead(core::JsonWriter& json, std::string_view state, std::string_view gateway_id,
                std::string_view tenant) {
  json.BeginObject();
  json.Key("schema").String("ehealth-gateway/status/v0");
  json.Key("state").String(state);
  json.Key("gateway").String(gateway_id);
  json.Key("tenant").String(tenant);
}

}  // namespace

std::string OnlineStatusBody(const StatusInfo& info) {
  core::JsonWriter json;
  StatusHead(json, "online", info.gateway_id, info.tenant);
  json.Key("time").String(core::FormatIso8601(info.time));
  json.Key("connected_at").String(core::FormatIso8601(info.connected_at));
  json.Key("version").String(info.version);
  json.Key("uptime_seconds").Integer(info.uptime.count());
  json.Key("heartbeat_interval_seconds").Integer(info.heartbeat_interval.count());
  json.Key("backlog").BeginObject();
  json.Key("events").Unsigned(info.backlog.rows);
  json.Key("bytes").Unsigned(info.backlog.bytes);
  json.Key("alerts").Unsigned(info.backlog.alert_rows);
  json.EndObject();
  json.Key("dropped_observations").Unsigned(info.backlog.dropped_observations_total);
  json.Key("alerts_awaiting_receipt").Unsigned(info.alerts_awaiting_receipt);
  json.Key("events_awaiting_receipt").Unsigned(info.events_awaiting_receipt);
  json.Key("reconnects").Unsigned(info.reconnects);
  json.Key("clock_synchronised").Bool(info.clock_synchronised);
  return std::move(json.EndObject()).Take();
}

std::string OfflineStatusBody(std::string_view gateway_id, std::string_view tenant, std::string_view reason,
                              const core::WallTime* time, core::WallTime connected_at) {
  core::JsonWriter json;
  StatusHead(json, "offline", gateway_id, tenant);
  if (time != nullptr) json.Key("time").String(core::FormatIso8601(*time));
  json.Key("connected_at").String(core::FormatIso8601(connected_at));
  json.Key("reason").String(reason);
  return std::move(json.EndObject()).Take();
}

std::string ObservationBatchBody(std::string_view gateway_id, const std::vector<const std::string*>& bodies) {
  std::size_t size = 128;
  for (const std::string* body : bodies)
    size += body->size() + 1;
  std::string out;
  out.reserve(size);
  out += R"({"schema":"ehealth-gateway/observation-batch/v0","gateway":)";
  out += core::JsonQuote(gateway_id);
  out += R"(,"count":)" + std::to_string(bodies.size()) + R"(,"events":[)";
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    if (i > 0) out += ',';
    out += *bodies[i];
  }
  out += "]}";
  return out;
}

}  // namespace ehg::uplink
