#pragma once
// A fresh database of the test PostgreSQL with an open Ledger, and queries of our own beside it.

#include <doctest/doctest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "care/ledger/ledger.hpp"
#include "tests/support/postgres/postgres.hpp"

namespace ehg::ledger {

struct LedgerDatabase {
  std::string connection = test::TestPostgres::Get().FreshDatabase();
  std::unique_ptr<Ledger> ledger = OpenLedger();

  std::unique_ptr<Ledger> OpenLedger(LedgerOptions options = {}) const {
    options.connection = connection;
    auto opened = Ledger::Open(options);
    REQUIRE_MESSAGE(opened.has_value(), opened.error().message);
    return std::move(*opened);
  }

  // One value of a query of our own (a second connection, as an operator would look).
  std::string Scalar(const std::string& sql) const {
    pqxx::connection raw(connection);
    pqxx::work tx(raw);
    const pqxx::result result = tx.exec(sql);
    return result.empty() || result[0][0].is_null() ? std::string("NULL") : result[0][0].as<std::string>();
  }
  void Execute(const std::string& sql) const {
    pqxx::connection raw(connection);
    pqxx::work tx(raw);
    tx.exec(sql);
    tx.commit();
  }
  long Count(const std::string& table_and_condition) const {
    return std::stol(Scalar("SELECT count(*) FROM " + table_and_condition));
  }
};

}  // namespace ehg::ledger
