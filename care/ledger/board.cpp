// The console's board: open alerts by tenant, and the hub's notifications that they changed.
#include <algorithm>

#include "care/ledger/ledger_impl.hpp"
#include "gateway/core/json.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger::detail;

// What a requested command is, for its audit row: its type, and the version of an update or the
// number of rules of a rules change (never the rules' limits: care settings stay out of the log).
std::string CommandSummary(std::string_view body) {
  auto document = core::ParseJson(body);
  if (!document) return "unreadable";
  const core::JsonValue* type = document->Find("type");
  if (type == nullptr || type->type != core::JsonValue::Type::kString) return "no type";
  std::string summary = type->text;
  if (const core::JsonValue* version = document->Find("version");
      version != nullptr && version->type == core::JsonValue::Type::kString)
    summary += " " + version->text;
  if (const core::JsonValue* rules = document->Find("rules");
      rules != nullptr && rules->type == core::JsonValue::Type::kArray)
    summary += " (" + std::to_string(rules->items.size()) + " rules)";
  return summary;
}

WallTime Millis(const pqxx::field& field) {
  return WallTime{std::chrono::milliseconds(field.as<std::int64_t>())};
}

// The actions column: a JSON array PostgreSQL built (json_agg), so well-formed by construction.
void ReadActions(const std::string& text, BoardAlert& alert) {
  auto parsed = core::ParseJson(text);
  if (!parsed || parsed->type != core::JsonValue::Type::kArray) return;
  for (const core::JsonValue& item : parsed->items) {
    const auto text_of = [&](const char* key) {
      const core::JsonValue* value = item.Find(key);
      return value != nullptr && value->type == core::JsonValue::Type::kString ? value->text : std::string();
    };
    const auto time_of = [&](const char* key) -> std::optional<WallTime> {
      const core::JsonValue* value = item.Find(key);
      if (value == nullptr || value->type != core::JsonValue::Type::kNumber) return std::nullopt;
      return WallTime{std::chrono::milliseconds(static_cast<std::int64_t>(value->number))};
    };
    BoardAlert::Action action{text_of("actor"), time_of("at").value_or(WallTime{}), time_of("sent"),
                              text_of("result"), text_of("refused")};
    const std::string kind = text_of("action");
    if (kind == "claim") alert.claim = action;
    if (kind == "acknowledge") alert.acknowledge = action;
    if (kind == "resolve") alert.resolve = action;
  }
}

}  // namespace

Result<std::vector<BoardAlert>> Ledger::BoardAlerts(const std::vector<std::string>& tenants,
                                                    std::size_t limit, std::string_view actor, WallTime now) {
  const bool every_tenant =
      std::find(tenants.begin(), tenants.end(), std::string(accounts::kAllTenants)) != tenants.end();
  return impl_->Run<std::vector<BoardAlert>>("board", [&](pqxx::work& tx) {
    std::vector<BoardAlert> alerts;
    const pqxx::result rows = tx.exec_params(
        "SELECT a.tenant, a.gateway_id, a.alert_id, a.subject, a.rule_id, a.metric, a.device_id, a.severity, "
        "a.priority, a.stage, a.state, a.last_change, (extract(epoch FROM a.raised_at) * 1000)::bigint, "
        "(extract(epoch FROM a.updated_at) * 1000)::bigint, (extract(epoch FROM a.acknowledged_at) * "
        "1000)::bigint, "
        "coalesce(a.acknowledged_by, ''), a.escalation_level, a.occurrences, a.worst_value, "
        "(SELECT coalesce(json_agg(json_build_object('action', x.action, 'actor', x.actor, 'at', "
        "(extract(epoch FROM x.at) * 1000)::bigint, 'sent', (extract(epoch FROM q.sent_at) * 1000)::bigint, "
        "'refused', coalesce(q.refused, ''), 'result', coalesce(c.result_status, ''))), '[]') FROM "
        "alert_actions x "
        "LEFT JOIN command_requests q ON q.tenant = x.tenant AND q.gateway_id = x.gateway_id AND "
        "q.command_id = "
        "x.command_id LEFT JOIN commands c ON c.tenant = x.tenant AND c.gateway_id = x.gateway_id AND "
        "c.command_id = "
        "x.command_id WHERE x.tenant = a.tenant AND x.gateway_id = a.gateway_id AND x.alert_id = "
        "a.alert_id)::text "
        "FROM alerts a WHERE a.stage < 2 AND ($1 OR a.tenant = ANY($2::text[])) ORDER BY a.priority, "
        "a.raised_at, "
        "a.tenant, a.gateway_id, a.alert_id LIMIT $3",
        every_tenant, ArrayLiteral(tenants), static_cast<std::int64_t>(limit));
    for (const auto& row : rows) {
      BoardAlert alert;
      alert.tenant = row[0].as<std::string>();
      alert.gateway = row[1].as<std::string>();
      alert.alert_id = row[2].as<std::string>();
      alert.subject = row[3].as<std::string>();
      alert.rule_id = row[4].as<std::string>();
      alert.metric = row[5].as<std::string>();
      alert.device = row[6].as<std::string>();
      alert.severity = row[7].as<std::string>();
      alert.priority = row[8].as<int>();
      alert.stage = row[9].as<int>();
      alert.state = row[10].as<std::string>();
      alert.last_change = row[11].as<std::string>();
      alert.raised_at = Millis(row[12]);
      alert.updated_at = Millis(row[13]);
      if (!row[14].is_null()) alert.acknowledged_at = Millis(row[14]);
      alert.acknowledged_by = row[15].as<std::string>();
      alert.escalation_level = row[16].as<std::int64_t>();
      alert.occurrences = row[17].as<std::int64_t>();
      alert.worst_value = row[18].as<double>();
      ReadActions(row[19].as<std::string>(), alert);
      alerts.push_back(std::move(alert));
    }
    std::string scope;
    for (const std::string& tenant : tenants)
      scope += (scope.empty() ? "" : ",") + tenant;
    AppendAudit(tx, {now, std::string(actor), "alerts.read", "", "", "",
                     "board of " + scope + ": " + std::to_string(alerts.size()) + " alerts"});
    return alerts;
  });
}

namespace detail {

// Collects the payloads of one channel's notifications while the connection is read.
class Collector final : public pqxx::notification_receiver {
 public:
  Collector(pqxx::connection_base& connection, const std::string& channel, std::vector<std::string>& into)
      : pqxx::notification_receiver(connection, channel), into_(into) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override { into_.push_back(payload); }

 private:
  std::vector<std::string>& into_;
};

}  // namespace detail

struct AlertChanges::Impl {
  std::string connection_string;
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<Collector> collector;
  std::vector<std::string> received;
};

AlertChanges::AlertChanges(std::string connection) : impl_(std::make_unique<Impl>()) {
  impl_->connection_string = std::move(connection);
}
AlertChanges::~AlertChanges() {
  impl_->collector.reset();  // before its connection
}

Result<std::vector<std::string>> AlertChanges::Wait(std::chrono::milliseconds timeout) {
  try {
    if (!impl_->connection) {
      impl_->collector.reset();
      impl_->connection = std::make_unique<pqxx::connection>(impl_->connection_string);
      impl_->collector =
          std::make_unique<Collector>(*impl_->connection, std::string(kAlertChannel), impl_->received);
      impl_->connection->get_notifs();  // issues the LISTEN
      return std::vector<std::string>{std::string(accounts::kAllTenants)};
    }
    if (impl_->received.empty()) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout - seconds);
      impl_->connection->await_notification(static_cast<long>(seconds.count()),
                                            static_cast<long>(micros.count()));
    }
    std::vector<std::string> tenants;
    tenants.swap(impl_->received);
    std::sort(tenants.begin(), tenants.end());
    tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
    return tenants;
  } catch (const std::exception& error) {
    impl_->collector.reset();
    impl_->connection.reset();
    impl_->received.clear();
    return Fail(Errc::kUnavailable, "alert changes: " + Primary(error));
  }
}

std::string_view ToString(AlertActionKind kind) {
  switch (kind) {
    case AlertActionKind::kClaim:
      return "claim";
    case AlertActionKind::kAcknowledge:
      return "acknowledge";
    case AlertActionKind::kResolve:
      return "resolve";
  }
  return "claim";
}

namespace {

void InsertCommandRequest(pqxx::transaction_base& tx, const CommandRequest& request, WallTime now) {
  tx.exec_params(
      "INSERT INTO command_requests (tenant, gateway_id, command_id, body, requested_by, requested_at) "
      "VALUES ($1, "
      "$2, $3, $4, $5, $6::timestamptz) ON CONFLICT (tenant, gateway_id, command_id) DO NOTHING",
      request.tenant, request.gateway, request.command_id, request.body, request.requested_by, Iso(now));
  tx.exec_params("SELECT pg_notify($1, $2)", std::string(kCommandChannel), request.tenant);
}

}  // namespace

Result<AlertActionOutcome> Ledger::RecordAlertAction(const AlertAction& action, WallTime now) {
  const std::string kind(ToString(action.kind));
  if (action.kind != AlertActionKind::kClaim && (action.command_id.empty() || action.command_body.empty()))
    return Fail(Errc::kInvalidArgument, kind + " needs the command for the gateway");
  return impl_->Run<AlertActionOutcome>("alert action", [&](pqxx::work& tx) {
    // Not locked (the console's role may only read alerts, and FOR UPDATE needs more): two workers are
    // ordered by alert_actions' key below. An alert the gateway resolves at this very moment may still
    // get the action; the gateway then answers "already resolved", and the board shows that answer.
    const pqxx::result alert = tx.exec_params(
        "SELECT stage, subject FROM alerts WHERE tenant = $1 AND gateway_id = $2 AND alert_id = $3",
        action.tenant, action.gateway, action.alert_id);
    // A claim or an acknowledgement of an acknowledged alert, or anything on a resolved one, has nothing
    // left to do.
    const int stage_limit = action.kind == AlertActionKind::kResolve ? 2 : 1;
    if (alert.empty() || alert[0][0].as<int>() >= stage_limit)
      throw Refusal{Error{Errc::kNotFound, "no open alert " + action.alert_id + " of " + action.tenant + "/" +
                                               action.gateway + " to " + kind}};
    const pqxx::result inserted = tx.exec_params(
        "INSERT INTO alert_actions (tenant, gateway_id, alert_id, action, actor, at, note, command_id) "
        "VALUES ($1, "
        "$2, $3, $4, $5, $6::timestamptz, $7, $8) ON CONFLICT DO NOTHING RETURNING 1",
        action.tenant, action.gateway, action.alert_id, kind, action.actor, Iso(now), action.note,
        action.command_id.empty() ? std::optional<std::string>()
                                  : std::optional<std::string>(action.command_id));
    if (inserted.empty()) {
      const pqxx::result first = tx.exec_params(
          "SELECT actor FROM alert_actions WHERE tenant = $1 AND gateway_id = $2 AND alert_id = $3 AND "
          "action = $4",
          action.tenant, action.gateway, action.alert_id, kind);
      return AlertActionOutcome{false, first.empty() ? std::string() : first[0][0].as<std::string>()};
    }
    if (action.kind != AlertActionKind::kClaim)
      InsertCommandRequest(
          tx, {action.tenant, action.gateway, action.command_id, action.command_body, action.actor}, now);
    AppendAudit(tx, {now, action.actor, "alert." + kind, action.tenant, action.gateway,
                     alert[0][1].as<std::string>(), "alert " + action.alert_id});
    tx.exec_params("SELECT pg_notify($1, $2)", std::string(kAlertChannel), action.tenant);
    return AlertActionOutcome{true, action.actor};
  });
}

Result<void> Ledger::RequestCommand(const CommandRequest& request, WallTime now) {
  auto done = impl_->Run<bool>("request command", [&](pqxx::work& tx) {
    InsertCommandRequest(tx, request, now);
    AppendAudit(tx, {now, request.requested_by, "command.request", request.tenant, request.gateway, "",
                     "command " + request.command_id + ", " + CommandSummary(request.body)});
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<int> Ledger::SendRequestedCommands(
    int limit, const std::function<Result<SentCommand>(const CommandRequest&)>& send, WallTime now) {
  return impl_->Run<int>("send requested commands", [&](pqxx::work& tx) {
    int handled = 0;
    for (const auto& row :
         tx.exec_params("SELECT tenant, gateway_id, command_id, body, requested_by FROM command_requests "
                        "WHERE sent_at IS NULL "
                        "AND refused IS NULL ORDER BY requested_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                        limit)) {
      const CommandRequest request{row[0].as<std::string>(), row[1].as<std::string>(),
                                   row[2].as<std::string>(), row[3].as<std::string>(),
                                   row[4].as<std::string>()};
      auto sent = send(request);
      if (!sent && sent.error().code != Errc::kRejected) break;  // the engine away: later, in order
      if (!sent) {
        tx.exec_params(
            "UPDATE command_requests SET refused = $4 WHERE tenant = $1 AND gateway_id = $2 AND command_id = "
            "$3",
            request.tenant, request.gateway, request.command_id, sent.error().message.substr(0, 500));
      } else {
        RecordCommandIn(tx, *sent);
        tx.exec_params(
            "UPDATE command_requests SET sent_at = $4::timestamptz WHERE tenant = $1 AND gateway_id = $2 AND "
            "command_id = $3",
            request.tenant, request.gateway, request.command_id, Iso(now));
      }
      tx.exec_params("SELECT pg_notify($1, $2)", std::string(kAlertChannel), request.tenant);
      ++handled;
    }
    return handled;
  });
}

}  // namespace ehg::ledger
