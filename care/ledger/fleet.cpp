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

namespace {

// The fleet view's columns for the gateways `where` selects ($1.. as the caller binds them).
std::string FleetQuery(std::string_view where) {
  return "SELECT g.tenant, g.gateway_id, g.status, coalesce(g.state, ''), coalesce(g.state_reason, ''), "
         "coalesce(g.software_version, ''), (extract(epoch FROM g.last_heartbeat) * 1000)::bigint, "
         "(extract(epoch FROM g.status_time) * 1000)::bigint, g.heartbeat_interval_seconds, "
         "g.backlog_events, "
         "g.backlog_alerts, g.alerts_awaiting_receipt, g.dropped_observations, g.clock_synchronised, "
         "coalesce(u.code, ''), (extract(epoch FROM u.event_time) * 1000)::bigint, coalesce(r.version, ''), "
         "(extract(epoch FROM r.requested_at) * 1000)::bigint, CASE WHEN r.command_id IS NULL THEN '' WHEN "
         "r.refused IS NOT NULL THEN 'refused' WHEN c.result_status IS NOT NULL THEN c.result_status WHEN "
         "r.sent_at IS NOT NULL THEN 'sent' ELSE 'requested' END, "
         "(extract(epoch FROM s.requested_at) * 1000)::bigint, CASE WHEN s.command_id IS NULL THEN '' WHEN "
         "s.refused IS NOT NULL THEN 'refused' WHEN sc.result_status IS NOT NULL THEN sc.result_status WHEN "
         "s.sent_at IS NOT NULL THEN 'sent' ELSE 'requested' END, coalesce(s.refused, sc.result_detail, '') "
         "FROM gateways g LEFT JOIN LATERAL (SELECT "
         "code, event_time FROM gateway_events e WHERE e.tenant = g.tenant AND e.gateway_id = g.gateway_id "
         "AND "
         "e.code LIKE 'update.%' ORDER BY e.event_time DESC LIMIT 1) u ON true LEFT JOIN LATERAL (SELECT "
         "command_id, body::jsonb->>'version' AS version, requested_at, sent_at, refused FROM "
         "command_requests q "
         "WHERE q.tenant = g.tenant AND q.gateway_id = g.gateway_id AND body::jsonb->>'type' = "
         "'update.request' "
         "ORDER BY requested_at DESC LIMIT 1) r ON true LEFT JOIN commands c ON c.tenant = g.tenant AND "
         "c.gateway_id = g.gateway_id AND c.command_id = r.command_id "
         "LEFT JOIN LATERAL (SELECT command_id, requested_at, sent_at, refused FROM command_requests q "
         "WHERE q.tenant = g.tenant AND q.gateway_id = g.gateway_id AND body::jsonb->>'type' = 'rules.apply' "
         "ORDER BY requested_at DESC LIMIT 1) s ON true LEFT JOIN commands sc ON sc.tenant = g.tenant AND "
         "sc.gateway_id = g.gateway_id AND sc.command_id = s.command_id WHERE " +
         std::string(where);
}

FleetGateway ReadFleetRow(const pqxx::row& row) {
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
  gateway.update_requested_version = row[16].as<std::string>();
  gateway.update_requested_at = OptionalMillis(row[17]);
  gateway.update_request_state = row[18].as<std::string>();
  gateway.rules_requested_at = OptionalMillis(row[19]);
  gateway.rules_request_state = row[20].as<std::string>();
  gateway.rules_request_detail = row[21].as<std::string>();
  return gateway;
}

}  // namespace

Result<std::vector<FleetGateway>> Ledger::FleetGateways(const std::vector<std::string>& tenants,
                                                        std::size_t limit) {
  const bool every_tenant =
      std::find(tenants.begin(), tenants.end(), std::string(accounts::kAllTenants)) != tenants.end();
  return impl_->Run<std::vector<FleetGateway>>("fleet", [&](pqxx::work& tx) {
    std::vector<FleetGateway> fleet;
    for (const auto& row : tx.exec_params(
             FleetQuery("$1 OR g.tenant = ANY($2::text[]) ORDER BY g.tenant, g.gateway_id LIMIT $3"),
             every_tenant, ArrayLiteral(tenants), static_cast<std::int64_t>(limit)))
      fleet.push_back(ReadFleetRow(row));
    return fleet;
  });
}

Result<std::optional<FleetGateway>> Ledger::FindGateway(std::string_view tenant, std::string_view gateway) {
  return impl_->Run<std::optional<FleetGateway>>(
      "gateway", [&](pqxx::work& tx) -> std::optional<FleetGateway> {
        const pqxx::result rows = tx.exec_params(FleetQuery("g.tenant = $1 AND g.gateway_id = $2"),
                                                 std::string(tenant), std::string(gateway));
        if (rows.empty()) return std::nullopt;
        return ReadFleetRow(rows[0]);
      });
}

}  // namespace ehg::ledger
