// The console's resident view: a resident's measurements summarised for charts, alerts, devices and the
// rules in force, read in one transaction and audited (docs/console.md, "Resident view").
#include "care/ledger/ledger_impl.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger::detail;

// Milliseconds since the epoch of a timestamptz column, null stays null.
std::string Ms(std::string_view column) {
  return "(extract(epoch FROM " + std::string(column) + ") * 1000)::bigint";
}

}  // namespace

Result<ResidentView> Ledger::ReadResident(const ResidentQuery& query, std::string_view actor, WallTime now) {
  return impl_->Run<ResidentView>("resident view", [&](pqxx::work& tx) {
    ResidentView view;
    const std::string from = Iso(query.from);
    const std::string to = Iso(query.to);
    // One point per metric and bucket: lowest, mean, highest and how many. A waveform (pleth) is no
    // chart for a nurse and would be most of the rows.
    view.series =
        tx.exec_params1(
              "SELECT coalesce(json_agg(json_build_object('metric', metric, 'unit', unit, "
              "'points', points) ORDER BY metric), '[]')::text FROM ("
              "SELECT metric, min(unit) AS unit, json_agg(json_build_array(" +
                  Ms("bucket") +
                  ", low, mean, high, n) ORDER BY bucket) AS points FROM ("
                  "SELECT metric, min(unit) AS unit, date_bin(make_interval(secs => $5), effective, "
                  "$3::timestamptz) AS bucket, min(value) AS low, avg(value) AS mean, max(value) AS "
                  "high, count(*) AS n FROM observations WHERE tenant = $1 AND subject = $2 AND "
                  "effective >= $3::timestamptz AND effective < $4::timestamptz AND metric <> 'pleth' "
                  "GROUP BY metric, bucket) b GROUP BY metric) m",
              query.tenant, query.subject, from, to, static_cast<double>(query.bucket.count()))[0]
            .as<std::string>();
    view.alerts =
        tx.exec_params1(
              "SELECT coalesce(json_agg(json_build_object('gateway', a.gateway_id, 'alert_id', a.alert_id, "
              "'rule_id', a.rule_id, 'metric', a.metric, 'device', a.device_id, 'severity', a.severity, "
              "'stage', a.stage, 'state', a.state, 'raised_at', " +
                  Ms("a.raised_at") + ", 'acknowledged_at', " + Ms("a.acknowledged_at") +
                  ", 'acknowledged_by', a.acknowledged_by, 'resolved_at', " + Ms("a.resolved_at") +
                  ", 'resolved_by', a.resolved_by, 'escalation_level', a.escalation_level, 'occurrences', "
                  "a.occurrences, 'worst_value', a.worst_value, "
                  "'events', (SELECT json_agg(json_build_object('change', e.change, 'at', " +
                  Ms("e.event_time") +
                  ", 'escalation_level', e.body->'escalation_level') ORDER BY e.event_time) FROM "
                  "alert_events "
                  "e WHERE e.tenant = a.tenant AND e.gateway_id = a.gateway_id AND e.alert_id = a.alert_id), "
                  "'evidence', (SELECT e.body->'evidence' FROM alert_events e WHERE e.tenant = a.tenant AND "
                  "e.gateway_id = a.gateway_id AND e.alert_id = a.alert_id ORDER BY e.event_time DESC LIMIT "
                  "1)) ORDER BY a.raised_at DESC), '[]')::text FROM (SELECT * FROM alerts WHERE tenant = $1 "
                  "AND subject = $2 AND raised_at < $4::timestamptz AND (resolved_at IS NULL OR resolved_at "
                  ">= $3::timestamptz) ORDER BY raised_at DESC LIMIT 500) a",
              query.tenant, query.subject, from, to)[0]
            .as<std::string>();
    view.news2 =
        tx.exec_params1("SELECT coalesce(json_agg(json_build_array(" + Ms("e.event_time") +
                            ", (e.body->'news2'->>'total')::numeric, e.body->'news2'->>'risk') ORDER BY "
                            "e.event_time), '[]')::text FROM alerts a JOIN alert_events e ON e.tenant "
                            "= a.tenant AND e.gateway_id = a.gateway_id AND e.alert_id = a.alert_id "
                            "WHERE a.tenant = $1 AND a.subject = $2 AND a.metric = 'news2' AND "
                            "e.event_time >= $3::timestamptz AND e.event_time < $4::timestamptz AND "
                            "jsonb_typeof(e.body->'news2'->'total') = 'number'",
                        query.tenant, query.subject, from, to)[0]
            .as<std::string>();
    // Devices the hub heard of (link events) and devices that only sent readings, with the latest
    // battery level and the latest reading of the last 90 days.
    view.devices =
        tx.exec_params1(
              "WITH heard AS (SELECT gateway_id, device_id, max(effective) AS last_reading FROM observations "
              "WHERE tenant = $1 AND subject = $2 AND effective >= $3::timestamptz - interval '90 days' "
              "GROUP "
              "BY gateway_id, device_id), battery AS (SELECT DISTINCT ON (gateway_id, device_id) gateway_id, "
              "device_id, value, effective FROM observations WHERE tenant = $1 AND subject = $2 AND metric = "
              "'battery' AND effective >= $3::timestamptz - interval '90 days' ORDER BY gateway_id, "
              "device_id, effective DESC), known AS (SELECT gateway_id, device_id FROM devices WHERE tenant "
              "= $1 AND subject = $2 UNION SELECT gateway_id, device_id FROM heard) "
              "SELECT coalesce(json_agg(json_build_object('gateway', k.gateway_id, 'device', k.device_id, "
              "'connected', d.connected, 'detail', d.detail, 'changed_at', " +
                  Ms("d.changed_at") + ", 'battery', b.value, 'battery_at', " + Ms("b.effective") +
                  ", 'last_reading_at', " + Ms("h.last_reading") +
                  ") ORDER BY k.gateway_id, k.device_id), '[]')::text FROM known k LEFT JOIN devices d ON "
                  "d.tenant = $1 AND d.subject = $2 AND d.gateway_id = k.gateway_id AND d.device_id = "
                  "k.device_id "
                  "LEFT JOIN "
                  "heard h ON "
                  "h.gateway_id = k.gateway_id AND h.device_id = k.device_id LEFT JOIN battery b ON "
                  "b.gateway_id "
                  "= k.gateway_id AND b.device_id = k.device_id",
              query.tenant, query.subject, from)[0]
            .as<std::string>();
    const pqxx::result rules = tx.exec_params(
        // A gateway's body is its own: rules that are not a list are none.
        "SELECT CASE WHEN jsonb_typeof(body->'rules') = 'array' THEN body->'rules' ELSE '[]'::jsonb "
        "END::text, " +
            Ms("event_time") +
            " FROM gateway_events WHERE tenant = $1 AND code = 'rules.in_force' AND body->>'subject' = $2 "
            "ORDER BY event_time DESC LIMIT 1",
        query.tenant, query.subject);
    if (!rules.empty()) {
      view.rules = rules[0][0].as<std::string>();
      view.rules_reported_at = WallTime{std::chrono::milliseconds(rules[0][1].as<std::int64_t>())};
    }
    view.known = view.series != "[]" || view.alerts != "[]" || view.devices != "[]" || !rules.empty();
    AppendAudit(tx, {now, std::string(actor), "resident.read", query.tenant, "", query.subject,
                     "resident view " + from + " to " + to});
    return view;
  });
}

}  // namespace ehg::ledger
