#include "gateway/uplink/messages.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSONString.h>

#include <sstream>

namespace ehg::uplink {
namespace {

std::string Stringify(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

Poco::JSON::Object StatusHead(std::string_view state, std::string_view gateway_id, std::string_view tenant) {
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  object.set("schema", "ehealth-gateway/status/v0");
  object.set("state", std::string(state));
  object.set("gateway", std::string(gateway_id));
  object.set("tenant", std::string(tenant));
  return object;
}

}  // namespace

std::string OnlineStatusBody(const StatusInfo& info) {
  Poco::JSON::Object object = StatusHead("online", info.gateway_id, info.tenant);
  object.set("time", core::FormatIso8601(info.time));
  object.set("connected_at", core::FormatIso8601(info.connected_at));
  object.set("version", info.version);
  object.set("uptime_seconds", static_cast<std::int64_t>(info.uptime.count()));
  object.set("heartbeat_interval_seconds", static_cast<std::int64_t>(info.heartbeat_interval.count()));
  Poco::JSON::Object::Ptr backlog = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  backlog->set("events", info.backlog.rows);
  backlog->set("bytes", info.backlog.bytes);
  backlog->set("alerts", info.backlog.alert_rows);
  object.set("backlog", backlog);
  object.set("dropped_observations", info.backlog.dropped_observations_total);
  object.set("alerts_awaiting_receipt", info.alerts_awaiting_receipt);
  object.set("events_awaiting_receipt", info.events_awaiting_receipt);
  object.set("reconnects", info.reconnects);
  object.set("clock_synchronised", info.clock_synchronised);
  return Stringify(object);
}

std::string OfflineStatusBody(std::string_view gateway_id, std::string_view tenant, std::string_view reason,
                              const core::WallTime* time, core::WallTime connected_at) {
  Poco::JSON::Object object = StatusHead("offline", gateway_id, tenant);
  if (time != nullptr) object.set("time", core::FormatIso8601(*time));
  object.set("connected_at", core::FormatIso8601(connected_at));
  object.set("reason", std::string(reason));
  return Stringify(object);
}

std::string ObservationBatchBody(std::string_view gateway_id, const std::vector<const std::string*>& bodies) {
  std::size_t size = 128;
  for (const std::string* body : bodies)
    size += body->size() + 1;
  std::string out;
  out.reserve(size);
  out += R"({"schema":"ehealth-gateway/observation-batch/v0","gateway":)";
  out += Poco::toJSON(std::string(gateway_id));
  out += R"(,"count":)" + std::to_string(bodies.size()) + R"(,"events":[)";
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    if (i > 0) out += ',';
    out += *bodies[i];
  }
  out += "]}";
  return out;
}

}  // namespace ehg::uplink
