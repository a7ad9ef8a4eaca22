#include "care/ledger/ledger.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "care/ledger/ledger_impl.hpp"
#include "care/ledger/schema.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger::detail;

using core::WallTime;

WallTime FromMilliseconds(std::int64_t ms) {
  return WallTime{std::chrono::milliseconds(ms)};
}

// Observation rows as one array per column, for a single INSERT ... SELECT FROM unnest(...).
struct ObservationColumns {
  std::vector<std::string> effective, event_id, metric, subject, device, value, unit, flags, identifier;
  std::vector<std::optional<std::string>> issued;

  void Add(const ObservationRow& row) {
    effective.push_back(Iso(row.effective));
    event_id.push_back(row.event_id.ToString());
    metric.push_back(row.metric);
    subject.push_back(row.subject);
    device.push_back(row.device);
    issued.push_back(NullableTime(row.issued));
    value.push_back(ExactDouble(row.value));
    unit.push_back(row.unit);
    flags.push_back(ArrayLiteral(row.flags));  // each element a text[] literal, cast back per row
    identifier.push_back(row.identifier);
  }
};

// The ids among `ids` stored before for this gateway and kind. Under READ COMMITTED this sees a copy
// another transaction committed while an insert of ours waited for it. Another gateway's (or kind's) id
// is a conflict, not a duplicate: answering it with a receipt would let one gateway silence another's
// event.
std::set<std::string> StoredBefore(pqxx::transaction_base& tx, const Message& message,
                                   const std::string& kind, const std::vector<std::string>& ids) {
  std::set<std::string> duplicates;
  for (const auto& row :
       tx.exec_params("SELECT event_id::text FROM events WHERE event_id = ANY($1::uuid[]) AND tenant = $2 "
                      "AND gateway_id = $3 AND kind = $4",
                      ArrayLiteral(ids), message.tenant, message.gateway, kind))
    duplicates.insert(row[0].as<std::string>());
  return duplicates;
}

// An alert event in one statement: its events row and, only when that row is new, its history row and
// the alert's current state. As three statements it was three round trips an alert, and a turn of the
// alert lane waits on its round trips when the machine is busy (a gateway's catch-up of 160 alerts:
// turns of 32 took 100 to 230 ms from fetch to commit, docs/benchmarks.md section 9).
// Lifecycle order: a later stage always wins (open < acknowledged < resolved), within a stage the later
// updated_at, then the later event id (UUIDv7, ordered within a gateway). An older event that arrives
// after a newer one is kept in alert_events but does not roll the current state back. (Sub-statements of
// one WITH all run: the history and the state are written whatever the final SELECT reads.)
std::vector<EventOutcome> StoreAlert(pqxx::transaction_base& tx, const Message& message) {
  const IngestedEvent& event = message.events.front();
  const AlertRow& alert = *message.alert;
  const std::string id = event.event_id.ToString();
  const std::string kind(ToString(message.kind));
  const pqxx::result inserted = tx.exec_params(
      "WITH new_event AS (INSERT INTO events (event_id, tenant, gateway_id, kind, event_time) VALUES "
      "($22::uuid, $1::text, $2::text, $25::text, $23::timestamptz) ON CONFLICT (event_id) DO NOTHING "
      "RETURNING event_id), "
      "history AS (INSERT INTO alert_events (event_id, tenant, gateway_id, alert_id, change, event_time, "
      "body) SELECT event_id, $1::text, $2::text, $3::text, $11::text, $23::timestamptz, $24::jsonb FROM "
      "new_event), "
      "current_state AS (INSERT INTO alerts AS a (tenant, gateway_id, alert_id, subject, rule_id, metric, "
      "device_id, severity, priority, stage, last_change, state, raised_at, updated_at, acknowledged_at, "
      "acknowledged_by, resolved_at, resolved_by, escalation_level, occurrences, worst_value, last_event_id) "
      "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::smallint, "
      "$10::smallint, $11::text, $12::text, $13::timestamptz, $14::timestamptz, $15::timestamptz, $16::text, "
      "$17::timestamptz, $18::text, $19::bigint, $20::bigint, $21::float8, event_id FROM new_event "
      "ON CONFLICT (tenant, gateway_id, alert_id) DO UPDATE SET subject = EXCLUDED.subject, rule_id = "
      "EXCLUDED.rule_id, metric = EXCLUDED.metric, device_id = EXCLUDED.device_id, severity = "
      "EXCLUDED.severity, priority = EXCLUDED.priority, stage = EXCLUDED.stage, last_change = "
      "EXCLUDED.last_change, state = EXCLUDED.state, raised_at = EXCLUDED.raised_at, updated_at = "
      "EXCLUDED.updated_at, acknowledged_at = EXCLUDED.acknowledged_at, acknowledged_by = "
      "EXCLUDED.acknowledged_by, resolved_at = EXCLUDED.resolved_at, resolved_by = EXCLUDED.resolved_by, "
      "escalation_level = EXCLUDED.escalation_level, occurrences = EXCLUDED.occurrences, worst_value = "
      "EXCLUDED.worst_value, last_event_id = EXCLUDED.last_event_id "
      "WHERE (EXCLUDED.stage, EXCLUDED.updated_at, EXCLUDED.last_event_id) > (a.stage, a.updated_at, "
      "a.last_event_id)) "
      "SELECT event_id::text FROM new_event",
      message.tenant, message.gateway, alert.alert_id, event.subject, alert.rule_id, alert.metric,
      alert.device, alert.severity, alert.priority, alert.stage, alert.change, alert.state,
      Iso(alert.raised_at), Iso(alert.updated_at), NullableTime(alert.acknowledged_at),
      Nullable(alert.acknowledged_by), NullableTime(alert.resolved_at), Nullable(alert.resolved_by),
      alert.escalation_level, alert.occurrences, alert.worst_value, id, Iso(event.time), message.body, kind);
  if (!inserted.empty()) return {{event.event_id, Outcome::kNew}};
  return {{event.event_id,
           StoredBefore(tx, message, kind, {id}).contains(id) ? Outcome::kDuplicate : Outcome::kConflict}};
}

std::vector<EventOutcome> StoreMessage(pqxx::transaction_base& tx, const Message& message) {
  // An alert body is one event (ReadMessage); its rows are written only with it.
  if (message.alert && message.events.size() == 1) return StoreAlert(tx, message);
  std::vector<EventOutcome> outcomes;
  outcomes.reserve(message.events.size());
  const std::string kind(ToString(message.kind));
  // One statement for the message's events and one for its observations (a Bundle carries up to a
  // hundred): a statement per row made a busy hub a round trip per reading.
  std::vector<std::string> ids;
  std::vector<std::string> times;
  ids.reserve(message.events.size());
  times.reserve(message.events.size());
  for (const IngestedEvent& event : message.events) {
    ids.push_back(event.event_id.ToString());
    times.push_back(Iso(event.time));
  }
  std::set<std::string> inserted;
  for (const auto& row : tx.exec_params(
           "INSERT INTO events (event_id, tenant, gateway_id, kind, event_time) SELECT e.id, $3, $4, $5, "
           "e.at "
           "FROM unnest($1::uuid[], $2::timestamptz[]) AS e(id, at) ON CONFLICT (event_id) DO NOTHING "
           "RETURNING event_id::text",
           ArrayLiteral(ids), ArrayLiteral(times), message.tenant, message.gateway, kind))
    inserted.insert(row[0].as<std::string>());
  const std::set<std::string> duplicates =
      inserted.size() < ids.size() ? StoredBefore(tx, message, kind, ids) : std::set<std::string>{};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Outcome outcome = inserted.contains(ids[i])     ? Outcome::kNew
                            : duplicates.contains(ids[i]) ? Outcome::kDuplicate
                                                          : Outcome::kConflict;
    outcomes.push_back({message.events[i].event_id, outcome});
  }
  const auto is_new = [&](const core::EventId& id) { return inserted.contains(id.ToString()); };

  ObservationColumns columns;
  for (const ObservationRow& row : message.observations)
    if (is_new(row.event_id)) columns.Add(row);
  if (!columns.event_id.empty())
    tx.exec_params(
        "INSERT INTO observations (effective, event_id, metric, tenant, gateway_id, subject, device_id, "
        "issued, value, unit, flags, identifier) SELECT o.effective, o.event_id, o.metric, $11, $12, "
        "o.subject, o.device_id, o.issued, o.value, o.unit, o.flags::text[], o.identifier FROM "
        "unnest($1::timestamptz[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], "
        "$7::float8[], $8::text[], $9::text[], $10::text[]) AS o(effective, event_id, metric, subject, "
        "device_id, issued, value, unit, flags, identifier)",
        ArrayLiteral(columns.effective), ArrayLiteral(columns.event_id), ArrayLiteral(columns.metric),
        ArrayLiteral(columns.subject), ArrayLiteral(columns.device), ArrayLiteral(columns.issued),
        ArrayLiteral(columns.value), ArrayLiteral(columns.unit), ArrayLiteral(columns.flags),
        ArrayLiteral(columns.identifier), message.tenant, message.gateway);
  if (message.events.size() != 1 || !is_new(message.events.front().event_id)) return outcomes;
  const IngestedEvent& event = message.events.front();
  const std::string& id = ids.front();

  if (message.device) {
    tx.exec_params(
        "INSERT INTO device_events (event_id, tenant, gateway_id, device_id, event_time, body) VALUES "
        "($1::uuid, "
        "$2, $3, $4, $5::timestamptz, $6::jsonb)",
        id, message.tenant, message.gateway, message.device->device, Iso(event.time), message.body);
    tx.exec_params(
        "INSERT INTO devices AS d (tenant, gateway_id, device_id, subject, connected, detail, changed_at, "
        "last_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::uuid) "
        "ON CONFLICT (tenant, gateway_id, device_id) DO UPDATE SET subject = EXCLUDED.subject, connected = "
        "EXCLUDED.connected, detail = EXCLUDED.detail, changed_at = EXCLUDED.changed_at, last_event_id = "
        "EXCLUDED.last_event_id WHERE (EXCLUDED.changed_at, EXCLUDED.last_event_id) > (d.changed_at, "
        "d.last_event_id)",
        message.tenant, message.gateway, message.device->device, event.subject, message.device->connected,
        message.device->detail, Iso(event.time), id);
  }
  if (message.gateway_event) {
    tx.exec_params(
        "INSERT INTO gateway_events (event_id, tenant, gateway_id, code, severity, event_time, body) VALUES "
        "($1::uuid, $2, $3, $4, $5, $6::timestamptz, $7::jsonb)",
        id, message.tenant, message.gateway, message.gateway_event->code, message.gateway_event->severity,
        Iso(event.time), message.body);
  }
  if (message.command_result) {
    const CommandResultRow& result = *message.command_result;
    tx.exec_params(
        "INSERT INTO command_results (event_id, tenant, gateway_id, command_id, type, status, event_time, "
        "body) "
        "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::timestamptz, $8::jsonb)",
        id, message.tenant, message.gateway, result.command_id, result.type, result.status, Iso(event.time),
        message.body);
    if (!result.command_id.empty())
      tx.exec_params(
          "UPDATE commands SET result_status = $4, result_detail = $5, result_event_id = $6::uuid, result_at "
          "= "
          "$7::timestamptz WHERE tenant = $1 AND gateway_id = $2 AND command_id = $3 AND (result_at IS NULL "
          "OR "
          "result_at <= $7::timestamptz)",
          message.tenant, message.gateway, result.command_id, result.status, result.detail, id,
          Iso(event.time));
  }
  return outcomes;
}

// "observations_y2026m11" and the month's bounds.
struct Month {
  std::string name;
  std::string from;
  std::string to;
};

Month MonthOf(std::chrono::year_month month) {
  const auto next = month + std::chrono::months(1);
  char name[32];
  char from[32];
  char to[32];
  std::snprintf(name, sizeof name, "observations_y%04dm%02u", static_cast<int>(month.year()),
                static_cast<unsigned>(month.month()));
  std::snprintf(from, sizeof from, "%04d-%02u-01T00:00:00Z", static_cast<int>(month.year()),
                static_cast<unsigned>(month.month()));
  std::snprintf(to, sizeof to, "%04d-%02u-01T00:00:00Z", static_cast<int>(next.year()),
                static_cast<unsigned>(next.month()));
  return {name, from, to};
}

}  // namespace

namespace detail {

void AppendAudit(pqxx::transaction_base& tx, const AuditEntry& entry) {
  tx.exec_params(
      "INSERT INTO audit_log (at, actor, action, tenant, gateway_id, subject, detail) VALUES "
      "($1::timestamptz, "
      "$2, $3, $4, $5, $6, $7)",
      Iso(entry.at), entry.actor, entry.action, Nullable(entry.tenant), Nullable(entry.gateway),
      Nullable(entry.subject), entry.detail);
}

}  // namespace detail

std::string_view ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kNew:
      return "new";
    case Outcome::kDuplicate:
      return "duplicate";
    case Outcome::kConflict:
      return "conflict";
  }
  return "unknown";
}

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::Open(LedgerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto migrated = impl->Migrate(); !migrated)
    return tl::unexpected(migrated.error().WithContext("ledger"));
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Result<std::vector<MessageOutcome>> Ledger::Store(const std::vector<Message>& batch) {
  return impl_->Run<std::vector<MessageOutcome>>("store", [&](pqxx::work& tx) {
    std::vector<MessageOutcome> outcomes;
    outcomes.reserve(batch.size());
    // First the whole batch under one savepoint: two to four statements a message. A savepoint per message
    // cost two more round trips each, and round trips are what a turn waits on when the machine is busy
    // (measured: an alert lane turn of 8 alerts took a second while a gateway's catch-up was stored).
    bool stored = false;
    if (batch.size() > 1) {
      tx.exec("SAVEPOINT batch");
      try {
        for (const Message& message : batch) {
          MessageOutcome outcome;
          outcome.events = StoreMessage(tx, message);
          outcomes.push_back(std::move(outcome));
        }
        tx.exec("RELEASE SAVEPOINT batch");
        stored = true;
      } catch (const pqxx::sql_error& error) {
        if (!Permanent(error.sqlstate())) throw;
        tx.exec("ROLLBACK TO SAVEPOINT batch");
        outcomes.clear();
      }
    }
    // Refused (or a message alone): each message under a savepoint of its own. One the database refuses
    // (its data, never the connection) is rolled back alone and reported; the others commit. The hub acks
    // what was stored, terminates what was refused, and so never acks anything not stored.
    for (std::size_t i = 0; !stored && i < batch.size(); ++i) {
      const Message& message = batch[i];
      MessageOutcome outcome;
      tx.exec("SAVEPOINT message");
      try {
        outcome.events = StoreMessage(tx, message);
        tx.exec("RELEASE SAVEPOINT message");
      } catch (const pqxx::sql_error& error) {
        if (!Permanent(error.sqlstate())) throw;
        tx.exec("ROLLBACK TO SAVEPOINT message");
        outcome.events.clear();
        outcome.refused =
            Error{Errc::kRejected, "the database refused the message from " + message.tenant + "/" +
                                       message.gateway + ": " + error.sqlstate() + " " + Primary(error)};
      }
      outcomes.push_back(std::move(outcome));
    }
    // The console's boards of each municipality with a new alert re-read their alerts: one notification
    // per tenant and transaction, delivered at commit (the payload names the tenant only, never a
    // resident).
    std::set<std::string> tenants_with_new_alerts;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const MessageOutcome& outcome = outcomes[i];
      if (batch[i].alert && !outcome.refused && outcome.events.size() == 1 &&
          outcome.events.front().outcome == Outcome::kNew)
        tenants_with_new_alerts.insert(batch[i].tenant);
    }
    for (const std::string& tenant : tenants_with_new_alerts)
      tx.exec_params("SELECT pg_notify($1, $2)", std::string(kAlertChannel), tenant);
    return outcomes;
  });
}

Result<void> Ledger::Enrol(const Enrolment& enrolment, std::string_view actor, WallTime now) {
  if (!ValidTenant(enrolment.tenant) || !ValidGateway(enrolment.gateway))
    return Fail(Errc::kInvalidArgument, "enrol: tenant or gateway id is not valid");
  if (enrolment.key.key_id.empty() || enrolment.key.public_key.empty())
    return Fail(Errc::kInvalidArgument, "enrol: a key id and a public key are needed");
  auto done = impl_->Run<bool>("enrol", [&](pqxx::work& tx) {
    const pqxx::result existing =
        tx.exec_params("SELECT status, key_id FROM gateways WHERE tenant = $1 AND gateway_id = $2 FOR UPDATE",
                       enrolment.tenant, enrolment.gateway);
    if (!existing.empty()) {
      const std::string status = existing[0][0].as<std::string>();
      if (status == "enrolled" && existing[0][1].as<std::string>() == enrolment.key.key_id) return true;
      if (status == "enrolled") {
        throw Refusal{
            Error{Errc::kRejected, "enrol: " + enrolment.tenant + "/" + enrolment.gateway +
                                       " is enrolled with another key: rotate it or revoke it first"}};
      }
      // A revoked gateway enrolled again (a new SD card, a new key): its old keys stay refused.
      tx.exec_params(
          "UPDATE gateways SET status = 'enrolled', key_id = $3, public_key = $4, cert_fingerprint = $5, "
          "enrolled_at = $6::timestamptz, revoked_at = NULL WHERE tenant = $1 AND gateway_id = $2",
          enrolment.tenant, enrolment.gateway, enrolment.key.key_id, enrolment.key.public_key,
          enrolment.cert_fingerprint, Iso(now));
    } else {
      tx.exec_params(
          "INSERT INTO gateways (tenant, gateway_id, status, key_id, public_key, cert_fingerprint, "
          "enrolled_at) "
          "VALUES ($1, $2, 'enrolled', $3, $4, $5, $6::timestamptz)",
          enrolment.tenant, enrolment.gateway, enrolment.key.key_id, enrolment.key.public_key,
          enrolment.cert_fingerprint, Iso(now));
    }
    const pqxx::result key = tx.exec_params(
        "INSERT INTO gateway_keys (tenant, gateway_id, key_id, public_key, cert_fingerprint, added_at) "
        "VALUES ($1, "
        "$2, $3, $4, $5, $6::timestamptz) ON CONFLICT DO NOTHING RETURNING 1",
        enrolment.tenant, enrolment.gateway, enrolment.key.key_id, enrolment.key.public_key,
        enrolment.cert_fingerprint, Iso(now));
    if (key.empty())
      throw Refusal{Error{Errc::kRejected, "enrol: that key was this gateway's before: use a new one"}};
    AppendAudit(tx, {now, std::string(actor), "gateway.enrol", enrolment.tenant, enrolment.gateway, "",
                     "key " + enrolment.key.key_id + ", certificate " + enrolment.cert_fingerprint});
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<bool> Ledger::EnrolNew(const Enrolment& enrolment, std::string_view actor, WallTime now) {
  if (!ValidTenant(enrolment.tenant) || !ValidGateway(enrolment.gateway))
    return Fail(Errc::kInvalidArgument, "enrol: tenant or gateway id is not valid");
  if (enrolment.key.key_id.empty() || enrolment.key.public_key.empty())
    return Fail(Errc::kInvalidArgument, "enrol: a key id and a public key are needed");
  // As enrol_new_gateway checks them (it writes them into the audit row).
  const bool key_id_ok = enrolment.key.key_id.size() <= 128 &&
                         std::all_of(enrolment.key.key_id.begin(), enrolment.key.key_id.end(),
                                     [](char c) { return c > 0x20 && c < 0x7f; });
  const bool fingerprint_ok =
      enrolment.cert_fingerprint.empty() ||
      (enrolment.cert_fingerprint.size() == 64 &&
       std::all_of(enrolment.cert_fingerprint.begin(), enrolment.cert_fingerprint.end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  if (!key_id_ok || !fingerprint_ok || enrolment.key.public_key.size() > 4096)
    return Fail(Errc::kInvalidArgument,
                "enrol: the key id is 1-128 visible characters, the fingerprint 64 lower-case hex digits");
  auto outcome = impl_->Run<std::string>("enrol a new gateway", [&](pqxx::work& tx) {
    return tx
        .exec_params1("SELECT enrol_new_gateway($1, $2, $3, $4, $5, $6, $7::timestamptz)", enrolment.tenant,
                      enrolment.gateway, enrolment.key.key_id, enrolment.key.public_key,
                      enrolment.cert_fingerprint, std::string(actor), Iso(now))[0]
        .as<std::string>();
  });
  if (!outcome) return tl::unexpected(outcome.error());
  if (*outcome == "known")
    return Fail(Errc::kRejected, "enrol: " + enrolment.tenant + "/" + enrolment.gateway +
                                     " is enrolled with another key or was revoked");
  return *outcome == "enrolled";
}

Result<void> Ledger::RotateKey(std::string_view tenant, std::string_view gateway, const GatewayKey& key,
                               std::string_view cert_fingerprint, std::string_view actor, WallTime now) {
  if (key.key_id.empty() || key.public_key.empty())
    return Fail(Errc::kInvalidArgument, "rotate: a key id and a public key are needed");
  const WallTime until =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(impl_->options.key_grace);
  auto done = impl_->Run<bool>("rotate", [&](pqxx::work& tx) {
    const std::string t(tenant);
    const std::string g(gateway);
    const pqxx::result current = tx.exec_params(
        "SELECT status, key_id FROM gateways WHERE tenant = $1 AND gateway_id = $2 FOR UPDATE", t, g);
    if (current.empty()) throw Refusal{Error{Errc::kNotFound, "rotate: " + t + "/" + g + " is not enrolled"}};
    if (current[0][0].as<std::string>() != "enrolled")
      throw Refusal{Error{Errc::kRejected, "rotate: " + t + "/" + g + " is revoked"}};
    const std::string old_key = current[0][1].as<std::string>();
    tx.exec_params(
        "UPDATE gateway_keys SET retired_at = $3::timestamptz, accepted_until = $4::timestamptz WHERE tenant "
        "= $1 "
        "AND gateway_id = $2 AND retired_at IS NULL",
        t, g, Iso(now), Iso(until));
    const pqxx::result added = tx.exec_params(
        "INSERT INTO gateway_keys (tenant, gateway_id, key_id, public_key, cert_fingerprint, added_at) "
        "VALUES ($1, "
        "$2, $3, $4, $5, $6::timestamptz) ON CONFLICT DO NOTHING RETURNING 1",
        t, g, key.key_id, key.public_key, std::string(cert_fingerprint), Iso(now));
    if (added.empty())
      throw Refusal{Error{Errc::kRejected, "rotate: that key was this gateway's before: use a new one"}};
    tx.exec_params(
        "UPDATE gateways SET key_id = $3, public_key = $4, cert_fingerprint = $5 WHERE tenant = $1 AND "
        "gateway_id = $2",
        t, g, key.key_id, key.public_key, std::string(cert_fingerprint));
    AppendAudit(tx, {now, std::string(actor), "gateway.rotate_key", t, g, "",
                     "key " + old_key + " -> " + key.key_id + ", old key accepted until " + Iso(until)});
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<void> Ledger::Revoke(std::string_view tenant, std::string_view gateway, std::string_view actor,
                            WallTime now) {
  auto done = impl_->Run<bool>("revoke", [&](pqxx::work& tx) {
    const std::string t(tenant);
    const std::string g(gateway);
    const pqxx::result changed = tx.exec_params(
        "UPDATE gateways SET status = 'revoked', revoked_at = $3::timestamptz WHERE tenant = $1 AND "
        "gateway_id = $2",
        t, g, Iso(now));
    if (changed.affected_rows() == 0)
      throw Refusal{Error{Errc::kNotFound, "revoke: " + t + "/" + g + " is not enrolled"}};
    tx.exec_params(
        "UPDATE gateway_keys SET retired_at = coalesce(retired_at, $3::timestamptz), accepted_until = "
        "LEAST(coalesce(accepted_until, $3::timestamptz), $3::timestamptz) WHERE tenant = $1 AND gateway_id "
        "= $2",
        t, g, Iso(now));
    AppendAudit(tx, {now, std::string(actor), "gateway.revoke", t, g, "", ""});
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<std::vector<GatewayKey>> Ledger::LookupKeys(std::string_view tenant, std::string_view gateway,
                                                   WallTime now) {
  const GatewayRef ref{std::string(tenant), std::string(gateway)};
  auto found = LookupKeys(std::vector<GatewayRef>{ref}, now);
  if (!found) return tl::unexpected(found.error());
  return std::move(found->at(ref));
}

Result<std::map<GatewayRef, Result<std::vector<GatewayKey>>>> Ledger::LookupKeys(
    const std::vector<GatewayRef>& gateways, WallTime now) {
  using Found = std::map<GatewayRef, Result<std::vector<GatewayKey>>>;
  return impl_->Run<Found>("lookup keys", [&](pqxx::work& tx) {
    std::vector<std::string> tenants;
    std::vector<std::string> ids;
    for (const GatewayRef& ref : gateways) {
      tenants.push_back(ref.tenant);
      ids.push_back(ref.gateway);
    }
    std::map<GatewayRef, std::string> status;
    std::map<GatewayRef, std::vector<GatewayKey>> keys;
    // One statement for a turn's gateways: the current key first, then rotated ones still in their grace.
    for (const auto& row : tx.exec_params(
             "SELECT g.tenant, g.gateway_id, g.status, k.key_id, k.public_key FROM unnest($1::text[], "
             "$2::text[]) AS w(tenant, gateway_id) JOIN gateways g USING (tenant, gateway_id) LEFT JOIN "
             "gateway_keys k ON k.tenant = g.tenant AND k.gateway_id = g.gateway_id AND (k.retired_at IS "
             "NULL OR k.accepted_until > $3::timestamptz) ORDER BY g.tenant, g.gateway_id, k.retired_at "
             "DESC NULLS FIRST",
             ArrayLiteral(tenants), ArrayLiteral(ids), Iso(now))) {
      GatewayRef ref{row[0].as<std::string>(), row[1].as<std::string>()};
      status[ref] = row[2].as<std::string>();
      if (!row[3].is_null()) keys[ref].push_back({row[3].as<std::string>(), row[4].as<std::string>()});
    }
    Found found;
    for (const GatewayRef& ref : gateways) {
      const std::string name = ref.tenant + "/" + ref.gateway;
      const auto known = status.find(ref);
      if (known == status.end())
        found.insert_or_assign(ref, Fail(Errc::kNotFound, name + " is not enrolled"));
      else if (known->second != "enrolled")
        found.insert_or_assign(ref, Fail(Errc::kRejected, name + " is revoked"));
      else
        found.insert_or_assign(ref, std::move(keys[ref]));
    }
    return found;
  });
}

namespace {

bool ApplyStatusIn(pqxx::transaction_base& tx, const StatusRow& status) {
  if (!status.time) {
    // A last will: ends the connection it names, unless a newer connection has reported since.
    return tx.exec_params(
                 "UPDATE gateways SET state = 'offline', state_reason = $3 WHERE tenant = $1 AND "
                 "gateway_id = $2 "
                 "AND (connected_at IS NULL OR connected_at <= $4::timestamptz)",
                 status.tenant, status.gateway, status.reason, Iso(status.connected_at))
               .affected_rows() > 0;
  }
  const bool online = status.state == "online";
  const bool applied =
      tx.exec_params(
            "UPDATE gateways SET state = $3, state_reason = $4, status_time = $5::timestamptz, "
            "last_heartbeat = CASE WHEN $3 = 'online' THEN $5::timestamptz ELSE last_heartbeat END, "
            "status_received_at = CASE WHEN $3 = 'online' THEN coalesce($16::timestamptz, "
            "status_received_at) ELSE status_received_at END, "
            "connected_at = $6::timestamptz, software_version = coalesce($7, software_version), "
            "heartbeat_interval_seconds = coalesce($8, heartbeat_interval_seconds), "
            "backlog_events = coalesce($9, backlog_events), backlog_bytes = coalesce($10, "
            "backlog_bytes), "
            "backlog_alerts = coalesce($11, backlog_alerts), "
            "alerts_awaiting_receipt = coalesce($12, alerts_awaiting_receipt), "
            "dropped_observations = coalesce($13, dropped_observations), "
            "clock_synchronised = coalesce($14, clock_synchronised) "
            "WHERE tenant = $1 AND gateway_id = $2 AND (status_time IS NULL OR status_time < "
            "$5::timestamptz "
            "OR (status_time = $5::timestamptz AND NOT $15))",
            status.tenant, status.gateway, status.state, Nullable(status.reason), Iso(*status.time),
            Iso(status.connected_at), Nullable(status.version), status.heartbeat_interval_seconds,
            status.backlog_events, status.backlog_bytes, status.backlog_alerts,
            status.alerts_awaiting_receipt, status.dropped_observations, status.clock_synchronised, online,
            NullableTime(status.received_at))
          .affected_rows() > 0;
  // Not newer than the one kept (its clock went back, or a copy): still a sign of life for the commands
  // waiting for it, by the hub's clock. Only then: the update above wrote it otherwise.
  if (!applied && online && status.received_at)
    tx.exec_params(
        "UPDATE gateways SET status_received_at = $3::timestamptz WHERE tenant = $1 AND gateway_id = $2 AND "
        "state = 'online' AND (status_received_at IS NULL OR status_received_at < $3::timestamptz)",
        status.tenant, status.gateway, Iso(*status.received_at));
  return applied;
}

}  // namespace

Result<bool> Ledger::ApplyStatus(const StatusRow& status) {
  return impl_->Run<bool>("status", [&](pqxx::work& tx) { return ApplyStatusIn(tx, status); });
}

Result<std::vector<bool>> Ledger::ApplyStatuses(const std::vector<StatusRow>& statuses) {
  return impl_->Run<std::vector<bool>>("statuses", [&](pqxx::work& tx) {
    std::vector<bool> applied;
    applied.reserve(statuses.size());
    for (const StatusRow& status : statuses)
      applied.push_back(ApplyStatusIn(tx, status));
    return applied;
  });
}

Result<void> Ledger::Append(const AuditEntry& entry) {
  if (entry.actor.empty() || entry.action.empty())
    return Fail(Errc::kInvalidArgument, "audit: actor and action are needed");
  auto done = impl_->Run<bool>("audit", [&](pqxx::work& tx) {
    AppendAudit(tx, entry);
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

namespace detail {

void RecordCommandIn(pqxx::transaction_base& tx, const SentCommand& command) {
  tx.exec_params(
      "INSERT INTO commands (tenant, gateway_id, command_id, type, body, sent_at, expires_at, jws, "
      "last_sent_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz, $7::timestamptz, $8, "
      "$6::timestamptz) "
      "ON CONFLICT (tenant, gateway_id, command_id) DO UPDATE SET sent_at = EXCLUDED.sent_at, "
      "expires_at = EXCLUDED.expires_at, jws = EXCLUDED.jws, last_sent_at = EXCLUDED.last_sent_at, sends = 1",
      command.tenant, command.gateway, command.command_id, command.type, command.body, Iso(command.sent_at),
      Iso(command.expires_at), Nullable(command.jws));
}

}  // namespace detail

Result<void> Ledger::RecordCommand(const SentCommand& command) {
  auto done = impl_->Run<bool>("record command", [&](pqxx::work& tx) {
    detail::RecordCommandIn(tx, command);
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<int> Ledger::ResendCommands(int limit, const ResendPolicy& policy,
                                   const std::function<Result<void>(const CommandToResend&)>& send,
                                   WallTime now) {
  return impl_->Run<int>("resend commands", [&](pqxx::work& tx) {
    int sent = 0;
    // The wait doubles with each send; the exponent is capped so that power() stays a finite number.
    for (const auto& row : tx.exec_params(
             "SELECT c.tenant, c.gateway_id, c.command_id, c.jws, c.sends FROM commands c "
             "JOIN gateways g ON g.tenant = c.tenant AND g.gateway_id = c.gateway_id "
             "WHERE c.result_status IS NULL AND c.jws IS NOT NULL AND c.expires_at > $1::timestamptz "
             "AND g.state = 'online' AND g.status_received_at > c.last_sent_at "
             "AND c.last_sent_at <= $1::timestamptz - make_interval(secs => least($2 * power(2, "
             "least(c.sends, 40) - 1), $3)) "
             "ORDER BY c.last_sent_at LIMIT $4 FOR UPDATE OF c SKIP LOCKED",
             Iso(now), static_cast<double>(policy.first_wait.count()),
             static_cast<double>(policy.longest_wait.count()), limit)) {
      const CommandToResend command{row[0].as<std::string>(), row[1].as<std::string>(),
                                    row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<int>()};
      if (!send(command)) break;  // the engine away: the rest next time
      tx.exec_params(
          "UPDATE commands SET last_sent_at = $4::timestamptz, sends = sends + 1 WHERE tenant = $1 AND "
          "gateway_id = $2 AND command_id = $3",
          command.tenant, command.gateway, command.command_id, Iso(now));
      ++sent;
    }
    return sent;
  });
}

Result<void> Ledger::RecordReceipt(const SentReceipt& receipt) {
  std::vector<std::string> ids;
  for (const core::EventId& id : receipt.event_ids)
    ids.push_back(id.ToString());
  auto done = impl_->Run<bool>("record receipt", [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO receipts (tenant, gateway_id, command_id, event_ids, sent_at) VALUES ($1, $2, $3, "
        "$4::uuid[], "
        "$5::timestamptz) ON CONFLICT DO NOTHING",
        receipt.tenant, receipt.gateway, receipt.command_id, ArrayLiteral(ids), Iso(receipt.sent_at));
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<std::optional<CommandState>> Ledger::LookupCommand(std::string_view tenant, std::string_view gateway,
                                                          std::string_view command_id) {
  return impl_->Run<std::optional<CommandState>>("lookup command", [&](pqxx::work& tx) {
    const pqxx::result row = tx.exec_params(
        "SELECT type, result_status, result_detail FROM commands WHERE tenant = $1 AND gateway_id = $2 AND "
        "command_id = $3",
        std::string(tenant), std::string(gateway), std::string(command_id));
    if (row.empty()) return std::optional<CommandState>();
    CommandState state;
    state.type = row[0][0].as<std::string>();
    if (!row[0][1].is_null()) state.result_status = row[0][1].as<std::string>();
    if (!row[0][2].is_null()) state.result_detail = row[0][2].as<std::string>();
    return std::optional<CommandState>(state);
  });
}

Result<std::vector<ObservationRow>> Ledger::QueryObservations(const ObservationQuery& query, WallTime now) {
  if (query.actor.empty())
    return Fail(Errc::kInvalidArgument, "observations: who reads them must be named (audit)");
  return impl_->Run<std::vector<ObservationRow>>("observations", [&](pqxx::work& tx) {
    std::vector<ObservationRow> rows;
    for (const auto& row :
         tx.exec_params("SELECT event_id::text, subject, device_id, metric, (extract(epoch FROM effective) * "
                        "1000)::bigint, "
                        "(extract(epoch FROM issued) * 1000)::bigint, value, unit, array_to_string(flags, "
                        "','), identifier "
                        "FROM observations WHERE tenant = $1 AND subject = $2 AND metric = $3 AND effective "
                        ">= $4::timestamptz "
                        "AND effective < $5::timestamptz ORDER BY effective, event_id",
                        query.tenant, query.subject, query.metric, Iso(query.from), Iso(query.to))) {
      ObservationRow out;
      out.event_id = core::EventId::Parse(row[0].as<std::string>()).value_or(core::EventId());
      out.subject = row[1].as<std::string>();
      out.device = row[2].as<std::string>();
      out.metric = row[3].as<std::string>();
      out.effective = FromMilliseconds(row[4].as<std::int64_t>());
      if (!row[5].is_null()) out.issued = FromMilliseconds(row[5].as<std::int64_t>());
      out.value = row[6].as<double>();
      out.unit = row[7].as<std::string>();
      const std::string flags = row[8].as<std::string>();
      for (std::size_t start = 0; !flags.empty() && start <= flags.size();) {
        const std::size_t comma = std::min(flags.find(',', start), flags.size());
        out.flags.push_back(flags.substr(start, comma - start));
        start = comma + 1;
      }
      out.identifier = row[9].as<std::string>();
      rows.push_back(std::move(out));
    }
    AppendAudit(tx, {now, query.actor, "observations.read", query.tenant, "", query.subject,
                     query.metric + " from " + Iso(query.from) + " to " + Iso(query.to) + ": " +
                         std::to_string(rows.size()) + " rows"});
    return rows;
  });
}

Result<int> Ledger::EnsurePartitions(WallTime from, WallTime to) {
  using namespace std::chrono;
  const auto first = year_month_day(floor<days>(from));
  const auto last = year_month_day(floor<days>(to));
  int created = 0;
  for (year_month month = first.year() / first.month(); month <= last.year() / last.month();
       month += months(1)) {
    const Month bounds = MonthOf(month);
    // One transaction per month, under the migration lock: two hubs never create the same partition,
    // and rows of the month that waited in the default partition move in the same transaction.
    auto made = impl_->Run<bool>("partition", [&](pqxx::work& tx) {
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
      if (!tx.exec_params("SELECT to_regclass($1) IS NULL", bounds.name)[0][0].as<bool>()) return false;
      tx.exec("CREATE TEMPORARY TABLE moving (LIKE observations) ON COMMIT DROP");
      tx.exec_params(
          "WITH moved AS (DELETE FROM observations_default WHERE effective >= $1::timestamptz AND effective "
          "< "
          "$2::timestamptz RETURNING *) INSERT INTO moving SELECT * FROM moved",
          bounds.from, bounds.to);
      tx.exec("CREATE TABLE " + tx.quote_name(bounds.name) + " PARTITION OF observations FOR VALUES FROM ('" +
              bounds.from + "') TO ('" + bounds.to + "')");
      tx.exec("INSERT INTO observations SELECT * FROM moving");
      return true;
    });
    if (!made) return tl::unexpected(made.error());
    if (*made) ++created;
  }
  return created;
}

Result<int> Ledger::SchemaVersion() {
  return impl_->Run<int>("schema version", [&](pqxx::work& tx) {
    return tx.exec("SELECT coalesce(max(version), 0) FROM schema_version")[0][0].as<int>();
  });
}

namespace {

bool PlainRoleName(std::string_view role) {
  return !role.empty() && role.size() <= 63 && !(role[0] >= '0' && role[0] <= '9') &&
         std::all_of(role.begin(), role.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

Result<std::string> ConsoleGrants(std::string_view role) {
  if (!PlainRoleName(role))
    return Fail(Errc::kInvalidArgument, "a role name is lower-case letters, digits and _");
  const std::string r(role);
  return "GRANT USAGE ON SCHEMA public TO " + r +
         ";\n"
         "GRANT SELECT ON schema_version, gateways, alerts, alert_events, observations, devices, "
         "gateway_events, "
         "commands, staff_accounts TO " +
         r +
         ";\n"
         "GRANT SELECT, INSERT ON audit_log, sign_in_attempts, alert_actions, command_requests TO " +
         r +
         ";\n"
         "GRANT SELECT, INSERT, UPDATE ON staff_sessions TO " +
         r +
         ";\n"
         "GRANT EXECUTE ON FUNCTION enrol_new_gateway(text, text, text, text, text, text, timestamptz) TO " +
         r + ";\n";
}

Result<std::string> HubGrants(std::string_view role) {
  if (!PlainRoleName(role))
    return Fail(Errc::kInvalidArgument, "a hub role name is lower-case letters, digits and _");
  const std::string r(role);
  return "GRANT USAGE ON SCHEMA public TO " + r +
         ";\n"
         "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " +
         r +
         ";\n"
         "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM " +
         r +
         ";\n"
         "GRANT SELECT, INSERT ON audit_log TO " +
         r +
         ";\n"
         "REVOKE INSERT, UPDATE, DELETE ON schema_version FROM " +
         r +
         ";\n"
         "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO " +
         r + ";\n";
}

}  // namespace ehg::ledger
