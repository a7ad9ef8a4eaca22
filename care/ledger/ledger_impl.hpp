#pragma once
// Inside care/ledger only: the Ledger's state, shared by the files that implement it (ledger.cpp: the
// hub's events and gateways; staff.cpp: the console's accounts and sessions).

#include "care/ledger/ledger.hpp"
#include "care/ledger/schema.hpp"
#include "care/ledger/transactor.hpp"

namespace ehg::ledger {
namespace detail {

// One row of the append-only audit log, in the caller's transaction.
void AppendAudit(pqxx::transaction_base& tx, const AuditEntry& entry);
// A command the hub sent (Ledger::RecordCommand), in the caller's transaction.
void RecordCommandIn(pqxx::transaction_base& tx, const SentCommand& command);

}  // namespace detail

struct Ledger::Impl : detail::Transactor {
  explicit Impl(LedgerOptions ledger_options)
      : Transactor(ledger_options.connection), options(std::move(ledger_options)) {}
  LedgerOptions options;

  Result<int> Migrate() {
    return Run<int>("migrate", [&](pqxx::work& tx) {
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
      // Created only when missing: the hub's own role may not create tables, and opens a current schema.
      if (tx.exec("SELECT to_regclass('schema_version') IS NULL")[0][0].as<bool>()) {
        tx.exec(
            "CREATE TABLE schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at "
            "timestamptz NOT NULL DEFAULT now())");
      }
      const int current = tx.exec("SELECT coalesce(max(version), 0) FROM schema_version")[0][0].as<int>();
      if (current > LatestSchemaVersion()) {
        throw detail::Refusal{Error{
            Errc::kUnsupported, "the hub database has schema version " + std::to_string(current) +
                                    ", newer than this build's " + std::to_string(LatestSchemaVersion())}};
      }
      int applied = 0;
      for (const Migration& migration : Migrations()) {
        if (migration.version <= current) continue;
        tx.exec(std::string(migration.sql));
        tx.exec_params("INSERT INTO schema_version (version, description) VALUES ($1, $2)", migration.version,
                       std::string(migration.description));
        ++applied;
      }
      return applied;
    });
  }
};

}  // namespace ehg::ledger
