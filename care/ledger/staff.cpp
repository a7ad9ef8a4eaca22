// The console's staff accounts, sessions and sign-in attempts in PostgreSQL (schema version 2).
#include <algorithm>

#include "care/ledger/ledger_impl.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger::detail;

// A text[] column as pqxx hands it over ("{0301,4601}"): municipality numbers and '*' need no quoting.
std::vector<std::string> ParseTenants(const std::string& literal) {
  std::vector<std::string> tenants;
  std::string current;
  for (char c : literal) {
    if (c == '{' || c == '"') continue;
    if (c == ',' || c == '}') {
      if (!current.empty()) tenants.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  return tenants;
}

WallTime ParseTime(const pqxx::field& field) {
  // Read as epoch milliseconds by the queries below, never as text in the server's time zone.
  return WallTime{std::chrono::milliseconds(field.as<std::int64_t>())};
}

constexpr const char* kAccountColumns =
    "a.id, a.username, a.role, a.tenants::text, a.disabled_at IS NOT NULL, a.password_hash, "
    "(extract(epoch FROM a.created_at) * 1000)::bigint, (extract(epoch FROM a.password_changed_at) * "
    "1000)::bigint";

StaffAccount ReadAccount(const pqxx::row& row) {
  StaffAccount account;
  account.account.id = row[0].as<std::int64_t>();
  account.account.username = row[1].as<std::string>();
  account.account.role = accounts::ParseRole(row[2].as<std::string>()).value_or(accounts::Role::kNurse);
  account.account.tenants = ParseTenants(row[3].as<std::string>());
  account.account.disabled = row[4].as<bool>();
  account.password_hash = row[5].as<std::string>();
  account.created_at = ParseTime(row[6]);
  account.password_changed_at = ParseTime(row[7]);
  return account;
}

// Ends every open session of an account, in the caller's transaction.
void EndSessionsOf(pqxx::transaction_base& tx, std::int64_t account_id, std::string_view reason,
                   WallTime now) {
  tx.exec_params(
      "UPDATE staff_sessions SET ended_at = $2::timestamptz, end_reason = $3 WHERE account_id = $1 AND "
      "ended_at "
      "IS NULL",
      account_id, Iso(now), std::string(reason));
}

}  // namespace

std::string_view ToString(SignInOutcome outcome) {
  switch (outcome) {
    case SignInOutcome::kOk:
      return "ok";
    case SignInOutcome::kWrongPassword:
      return "wrong_password";
    case SignInOutcome::kLocked:
      return "locked";
    case SignInOutcome::kDisabled:
      return "disabled";
    case SignInOutcome::kUnknownUser:
      return "unknown_user";
  }
  return "unknown_user";
}

Result<std::int64_t> Ledger::CreateAccount(const NewStaffAccount& account, std::string_view actor,
                                           WallTime now) {
  if (auto name = accounts::CheckUsername(account.username); !name) return tl::unexpected(name.error());
  if (auto tenants = accounts::CheckTenants(account.role, account.tenants); !tenants)
    return tl::unexpected(tenants.error());
  return impl_->Run<std::int64_t>("create account", [&](pqxx::work& tx) {
    const pqxx::result created = tx.exec_params(
        "INSERT INTO staff_accounts (username, role, tenants, password_hash, created_at, "
        "password_changed_at) "
        "VALUES ($1, $2, $3::text[], $4, $5::timestamptz, $5::timestamptz) ON CONFLICT (username) DO NOTHING "
        "RETURNING id",
        account.username, std::string(accounts::ToString(account.role)), ArrayLiteral(account.tenants),
        account.password_hash, Iso(now));
    if (created.empty())
      throw Refusal{Error{Errc::kRejected, "the user name " + account.username + " is taken"}};
    std::string scope;
    for (const std::string& tenant : account.tenants)
      scope += (scope.empty() ? "" : ",") + tenant;
    AppendAudit(tx, {now, std::string(actor), "account.create", "", "", "",
                     account.username + " " + std::string(accounts::ToString(account.role)) + " " + scope});
    return created[0][0].as<std::int64_t>();
  });
}

Result<void> Ledger::SetAccountDisabled(std::string_view username, bool disabled, std::string_view actor,
                                        WallTime now) {
  auto done = impl_->Run<bool>("disable account", [&](pqxx::work& tx) {
    const pqxx::result changed = tx.exec_params(
        "UPDATE staff_accounts SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, $3::timestamptz) "
        "ELSE "
        "NULL END WHERE username = $1 RETURNING id",
        std::string(username), disabled, Iso(now));
    if (changed.empty()) throw Refusal{Error{Errc::kNotFound, "no account " + std::string(username)}};
    if (disabled) EndSessionsOf(tx, changed[0][0].as<std::int64_t>(), "account disabled", now);
    AppendAudit(tx, {now, std::string(actor), disabled ? "account.disable" : "account.enable", "", "", "",
                     std::string(username)});
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<void> Ledger::SetPasswordHash(std::string_view username, std::string_view password_hash,
                                     std::string_view actor, WallTime now) {
  auto done = impl_->Run<bool>("set password", [&](pqxx::work& tx) {
    const pqxx::result changed = tx.exec_params(
        "UPDATE staff_accounts SET password_hash = $2, password_changed_at = $3::timestamptz WHERE username "
        "= $1 "
        "RETURNING id",
        std::string(username), std::string(password_hash), Iso(now));
    if (changed.empty()) throw Refusal{Error{Errc::kNotFound, "no account " + std::string(username)}};
    EndSessionsOf(tx, changed[0][0].as<std::int64_t>(), "password changed", now);
    AppendAudit(tx, {now, std::string(actor), "account.password", "", "", "", std::string(username)});
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<std::optional<StaffAccount>> Ledger::FindAccount(std::string_view username) {
  return impl_->Run<std::optional<StaffAccount>>("find account", [&](pqxx::work& tx) {
    const pqxx::result rows = tx.exec_params(
        std::string("SELECT ") + kAccountColumns + " FROM staff_accounts a WHERE a.username = $1",
        std::string(username));
    if (rows.empty()) return std::optional<StaffAccount>();
    return std::optional<StaffAccount>(ReadAccount(rows[0]));
  });
}

Result<std::vector<StaffAccount>> Ledger::ListAccounts() {
  return impl_->Run<std::vector<StaffAccount>>("list accounts", [&](pqxx::work& tx) {
    std::vector<StaffAccount> found;
    for (const auto& row :
         tx.exec(std::string("SELECT ") + kAccountColumns + " FROM staff_accounts a ORDER BY a.username"))
      found.push_back(ReadAccount(row));
    return found;
  });
}

Result<SignInFailures> Ledger::RecentSignInFailures(std::optional<std::int64_t> account_id,
                                                    std::string_view address, WallTime since) {
  return impl_->Run<SignInFailures>("sign-in failures", [&](pqxx::work& tx) {
    SignInFailures failures;
    if (account_id) {
      for (const auto& row : tx.exec_params(
               "SELECT (extract(epoch FROM at) * 1000)::bigint FROM sign_in_attempts WHERE account_id = $1 "
               "AND "
               "outcome = 'wrong_password' AND at >= $2::timestamptz AND at > coalesce((SELECT max(at) FROM "
               "sign_in_attempts WHERE account_id = $1 AND outcome = 'ok'), '-infinity') ORDER BY at",
               *account_id, Iso(since)))
        failures.account.push_back(ParseTime(row[0]));
    }
    for (const auto& row :
         tx.exec_params("SELECT (extract(epoch FROM at) * 1000)::bigint FROM sign_in_attempts WHERE address "
                        "= $1 AND outcome "
                        "IN ('wrong_password', 'unknown_user') AND at >= $2::timestamptz ORDER BY at",
                        std::string(address), Iso(since)))
      failures.address.push_back(ParseTime(row[0]));
    return failures;
  });
}

Result<void> Ledger::RecordSignIn(std::optional<std::int64_t> account_id, std::string_view username,
                                  std::string_view address, SignInOutcome outcome, WallTime now) {
  auto done = impl_->Run<bool>("record sign-in", [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO sign_in_attempts (at, account_id, address, outcome) VALUES ($1::timestamptz, $2, $3, "
        "$4)",
        Iso(now), account_id, std::string(address), std::string(ToString(outcome)));
    if (account_id)
      AppendAudit(tx, {now, std::string(username),
                       outcome == SignInOutcome::kOk ? "session.sign_in" : "session.sign_in_refused", "", "",
                       "", std::string(ToString(outcome)) + " from " + std::string(address)});
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<void> Ledger::CreateSession(const StaffSession& session) {
  auto done = impl_->Run<bool>("create session", [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO staff_sessions (token_digest, account_id, csrf_token, address, created_at, "
        "last_seen_at) "
        "VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz)",
        session.token_digest, session.account.id, session.csrf_token, session.address,
        Iso(session.created_at));
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<std::optional<StaffSession>> Ledger::TouchSession(std::string_view token_digest, WallTime now,
                                                         const accounts::SessionPolicy& policy) {
  return impl_->Run<std::optional<StaffSession>>("session", [&](pqxx::work& tx) {
    const pqxx::result rows =
        tx.exec_params(std::string("SELECT ") + kAccountColumns +
                           ", s.csrf_token, s.address, (extract(epoch FROM s.created_at) * 1000)::bigint, "
                           "(extract(epoch FROM "
                           "s.last_seen_at) * 1000)::bigint FROM staff_sessions s JOIN staff_accounts a ON "
                           "a.id = s.account_id "
                           "WHERE s.token_digest = $1 AND s.ended_at IS NULL FOR UPDATE OF s",
                       std::string(token_digest));
    if (rows.empty()) return std::optional<StaffSession>();
    StaffSession session;
    session.token_digest = std::string(token_digest);
    session.account = ReadAccount(rows[0]).account;
    session.csrf_token = rows[0][8].as<std::string>();
    session.address = rows[0][9].as<std::string>();
    session.created_at = ParseTime(rows[0][10]);
    session.last_seen_at = ParseTime(rows[0][11]);
    if (session.account.disabled ||
        !accounts::SessionAlive(session.created_at, session.last_seen_at, now, policy)) {
      tx.exec_params(
          "UPDATE staff_sessions SET ended_at = $2::timestamptz, end_reason = $3 WHERE token_digest = $1",
          std::string(token_digest), Iso(now),
          std::string(session.account.disabled ? "account disabled" : "expired"));
      return std::optional<StaffSession>();
    }
    tx.exec_params(
        "UPDATE staff_sessions SET last_seen_at = greatest(last_seen_at, $2::timestamptz) WHERE "
        "token_digest = $1",
        std::string(token_digest), Iso(now));
    session.last_seen_at = std::max(session.last_seen_at, now);
    return std::optional<StaffSession>(std::move(session));
  });
}

Result<void> Ledger::EndSession(std::string_view token_digest, std::string_view reason, WallTime now) {
  auto done = impl_->Run<bool>("end session", [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE staff_sessions SET ended_at = $2::timestamptz, end_reason = $3 WHERE token_digest = $1 AND "
        "ended_at "
        "IS NULL",
        std::string(token_digest), Iso(now), std::string(reason));
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<std::vector<AuditRow>> Ledger::ReadAudit(const AuditQuery& query, std::string_view actor,
                                                WallTime now) {
  const bool every_tenant = std::find(query.tenants.begin(), query.tenants.end(),
                                      std::string(accounts::kAllTenants)) != query.tenants.end();
  return impl_->Run<std::vector<AuditRow>>("audit view", [&](pqxx::work& tx) {
    std::vector<AuditRow> rows;
    // Empty filters match everything; the tenant scope always applies. A municipality's administrator
    // sees her municipality's rows, and the rows without a municipality (sign-ins, account changes)
    // whose actor is staff of hers; not the rest of the region's, and never a row without a
    // municipality that names a resident (another administrator's region-wide search for one).
    const pqxx::result result = tx.exec_params(
        "SELECT id, (extract(epoch FROM at) * 1000)::bigint, actor, action, coalesce(tenant, ''), "
        "coalesce(gateway_id, ''), coalesce(subject, ''), detail FROM audit_log WHERE ($1 OR tenant = "
        "ANY($2::text[]) OR (tenant IS NULL AND subject IS NULL AND actor IN (SELECT username FROM "
        "staff_accounts WHERE tenants && $2::text[]))) AND ($3 = '' OR tenant = $3) AND ($4 = '' OR actor = "
        "$4) AND ($5 = '' OR subject "
        "= $5) AND ($6 = '' OR action = $6) AND ($7::bigint IS NULL OR id < $7::bigint) ORDER BY id DESC "
        "LIMIT $8",
        every_tenant, ArrayLiteral(query.tenants), query.tenant, query.actor, query.subject, query.action,
        query.before_id, static_cast<std::int64_t>(query.limit));
    for (const auto& row : result) {
      AuditRow audit;
      audit.id = row[0].as<std::int64_t>();
      audit.entry.at = WallTime{std::chrono::milliseconds(row[1].as<std::int64_t>())};
      audit.entry.actor = row[2].as<std::string>();
      audit.entry.action = row[3].as<std::string>();
      audit.entry.tenant = row[4].as<std::string>();
      audit.entry.gateway = row[5].as<std::string>();
      audit.entry.subject = row[6].as<std::string>();
      audit.entry.detail = row[7].as<std::string>();
      rows.push_back(std::move(audit));
    }
    std::string filters;
    for (const auto& [name, value] : {std::pair<const char*, const std::string&>{"tenant", query.tenant},
                                      {"actor", query.actor},
                                      {"subject", query.subject},
                                      {"action", query.action}}) {
      if (!value.empty()) filters += std::string(filters.empty() ? "" : ", ") + name + " " + value;
    }
    AppendAudit(tx, {now, std::string(actor), "audit.read", query.tenant, "", query.subject,
                     "audit log" + (filters.empty() ? std::string() : " (" + filters + ")") + ": " +
                         std::to_string(rows.size()) + " rows"});
    return rows;
  });
}

}  // namespace ehg::ledger
