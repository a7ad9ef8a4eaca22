// The console's board: open alerts by tenant, and the hub's notifications that they changed.
#include <algorithm>

#include "care/ledger/ledger_impl.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger::detail;

WallTime Millis(const pqxx::field& field) {
  return WallTime{std::chrono::milliseconds(field.as<std::int64_t>())};
}

}  // namespace

Result<std::vector<BoardAlert>> Ledger::BoardAlerts(const std::vector<std::string>& tenants,
                                                    std::size_t limit, std::string_view actor, WallTime now) {
  const bool every_tenant =
      std::find(tenants.begin(), tenants.end(), std::string(accounts::kAllTenants)) != tenants.end();
  return impl_->Run<std::vector<BoardAlert>>("board", [&](pqxx::work& tx) {
    std::vector<BoardAlert> alerts;
    const pqxx::result rows = tx.exec_params(
        "SELECT tenant, gateway_id, alert_id, subject, rule_id, metric, device_id, severity, priority, "
        "stage, state, "
        "last_change, (extract(epoch FROM raised_at) * 1000)::bigint, (extract(epoch FROM updated_at) * "
        "1000)::bigint, "
        "(extract(epoch FROM acknowledged_at) * 1000)::bigint, coalesce(acknowledged_by, ''), "
        "escalation_level, "
        "occurrences, worst_value FROM alerts WHERE stage < 2 AND ($1 OR tenant = ANY($2::text[])) ORDER BY "
        "priority, "
        "raised_at, tenant, gateway_id, alert_id LIMIT $3",
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

}  // namespace ehg::ledger
