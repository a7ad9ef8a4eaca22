#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

// A throw-away PostgreSQL 15 cluster for tests: a fresh cluster in a temp directory (initdb, made once
// per machine and user and copied for each process), the server on a free
// loopback port with its unix socket inside that directory, started once per test process (Get()) and
// stopped when the process ends. Runs as the current user, or as the `postgres` system user when root
// (PostgreSQL refuses to run as root; CI runs as root). Settings for tests only: fsync and synchronous
// commit off (docs/hub-database.md says what production needs).
namespace ehg::test {

class TestPostgres {
 public:
  // The process's cluster, made and started on first use.
  static TestPostgres& Get();
  explicit TestPostgres(const std::filesystem::path& binaries = "/usr/lib/postgresql/15/bin");
  ~TestPostgres();
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  // A libpq connection string over TCP on loopback, as the superuser `postgres`.
  std::string Connection(std::string_view database = "postgres") const;
  // A new, empty database for one test case; its connection string. The first is initdb's own
  // `postgres` database, the next ones are made with CREATE DATABASE from template0.
  std::string FreshDatabase();
  // Runs SQL as the superuser in `database`; throws std::runtime_error with the server's message.
  void Execute(std::string_view database, std::string_view sql) const;

  void Start();    // returns once the server accepts connections
  void Stop();     // fast shutdown: open connections are ended, nothing committed is lost
  void Restart();  // Stop + Start on the same port and data
  bool running() const { return server_.has_value(); }
  int port() const { return port_; }
  std::string Log() const;

  // How long making the cluster (initdb, or a copy of the one made by an earlier process) and the first
  // start took: the fixture's cost per test process.
  double initdb_seconds() const { return initdb_seconds_; }
  double start_seconds() const { return start_seconds_; }

 private:
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;

  std::filesystem::path binaries_;
  TempDir directory_;
  int port_ = 0;
  int databases_ = 0;
  std::optional<Process> server_;
  std::string previous_logs_;
  double initdb_seconds_ = 0;
  double start_seconds_ = 0;
};

}  // namespace ehg::test
