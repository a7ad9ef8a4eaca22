// The console's fleet view: every gateway of the tenants with what its latest signed status said and
// the latest update outcome it reported (docs/console.md, "Fleet view").
#include <algorithm>

#include "care/ledger/ledger_impl.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger::detail;

std::optional<WallTime> OptionalMillis(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return WallTime{std::chrono::milliseconds(field.as<std::int64_t>())};
}

std::int64_t Count(const pqxx::field& field) {
  return field.is_null() ? 0 : field.as<std::int64_t>();
}

}  // namespace

Result<std::vector<FleetGateway>> Ledger::FleetGateways(const std::vector<std::string>& tenants,
                                                        std::size_t limit) {
  const bool every_tenant =
      std::find(tenants.begin(), tenants.end(), std::string(accounts::kAllTenants)) != tenants.end();
  return impl_->Run<std::vector<FleetGateway>>("fleet", [&](pqxx::work& tx) {
    std::vector<FleetGateway> fleet;
    const pqxx::result rows = tx.exec_params(
        "SELECT g.tenant, g.gateway_id, g.status, coalesce(g.state, ''), coalesce(g.state_reason, ''), "
        "coalesce(g.software_version, ''), (extract(epoch FROM g.last_heartbeat) * 1000)::bigint, "
        "(extract(epoch FROM g.status_time) * 1000)::bigint, g.heartbeat_interval_seconds, g.backlog_events, "
        "g.backlog_alerts, g.alerts_awaiting_receipt, g.dropped_observations, g.clock_synchronised, "
        "coalesce(u.code, ''), (extract(epoch FROM u.event_time) * 1000)::bigint FROM gateways g LEFT JOIN "
        "LATERAL (SELECT code, event_time FROM gateway_events e WHERE e.tenant = g.tenant AND e.gateway_id = "
        "g.gateway_id AND e.code LIKE 'update.%' ORDER BY e.event_time DESC LIMIT 1) u ON true WHERE $1 OR "
        "g.tenant = ANY($2::text[]) ORDER BY g.tenant, g.gateway_id LIMIT $3",
        every_tenant, ArrayLiteral(tenants), static_cast<std::int64_t>(limit));
    for (const auto& row : rows) {
      FleetGateway gateway;
      gateway.tenant = row[0].as<std::string>();
      gateway.gateway = row[1].as<std::string>();
      gateway.status = row[2].as<std::string>();
      gateway.state = row[3].as<std::string>();
      gateway.state_reason = row[4].as<std::string>();
      gateway.software_version = row[5].as<std::string>();
      gateway.last_heartbeat = OptionalMillis(row[6]);
      gateway.status_time = OptionalMillis(row[7]);
      gateway.heartbeat_interval_seconds = Count(row[8]);
      gateway.backlog_events = Count(row[9]);
      gateway.backlog_alerts = Count(row[10]);
      gateway.alerts_awaiting_receipt = Count(row[11]);
      gateway.dropped_observations = Count(row[12]);
      if (!row[13].is_null()) gateway.clock_synchronised = row[13].as<bool>();
      gateway.last_update = row[14].as<std::string>();
      gateway.last_update_at = OptionalMillis(row[15]);
      fleet.push_back(std::move(gateway));
    }
    return fleet;
  });
}

}  // namespace ehg::ledger
