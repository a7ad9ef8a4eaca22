#include "tests/support/postgres/postgres.hpp"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "tests/support/made_once.hpp"
#include "tests/support/ports.hpp"

namespace ehg::test {
namespace {

// As root, the server runs as the postgres user, which must own its directories.
void HandToServerUser(const std::filesystem::path& directory) {
  if (::geteuid() != 0) return;
  const passwd* user = ::getpwnam("postgres");
  if (user == nullptr)
    throw std::runtime_error("postgres fixture: running as root, but there is no postgres user");
  if (::chown(directory.c_str(), user->pw_uid, user->pw_gid) != 0)
    throw std::runtime_error("postgres fixture: cannot hand " + directory.string() + " to the postgres user");
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TestPostgres& TestPostgres::Get() {
  static TestPostgres cluster;
  return cluster;
}

std::vector<std::string> TestPostgres::AsServerUser(std::vector<std::string> argv) const {
  if (::geteuid() != 0) return argv;
  // setpriv executes the program in its own place (no process in between), so the server is our child
  // and Stop's signal reaches the postmaster itself.
  std::vector<std::string> wrapped{"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                   "--init-groups", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

TestPostgres::TestPostgres(const std::filesystem::path& binaries)
    : binaries_(binaries), port_(UnusedLoopbackPort()) {
  HandToServerUser(directory_.path());
  const auto start = std::chrono::steady_clock::now();
  // initdb costs 1-3 s of CPU: made once for every test process (MadeOnce), each copies it (about 0.1 s).
  const std::string version = RunCommand({(binaries_ / "initdb").string(), "--version"}).output;
  const std::filesystem::path cache =
      MadeOnce("postgres-initdb", version, [&](const std::filesystem::path& into) {
        HandToServerUser(into);
        const CommandResult initdb = RunCommand(
            AsServerUser({(binaries_ / "initdb").string(), "-D", (into / "data").string(), "-A", "trust",
                          "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions",
                          // 1 MiB WAL segments instead of 16: less to copy into every test process.
                          "--wal-segsize=1"}),
            std::chrono::seconds(120));
        if (initdb.exit_code != 0)
          throw std::runtime_error("postgres fixture: initdb failed: " + initdb.output);
      });
  const CommandResult copied = RunCommand(
      {"/bin/cp", "-a", (cache / "data").string(), (directory_ / "data").string()}, std::chrono::seconds(60));
  if (copied.exit_code != 0)
    throw std::runtime_error("postgres fixture: cannot copy the cluster: " + copied.output);
  initdb_seconds_ = SecondsSince(start);
  const auto started = std::chrono::steady_clock::now();
  Start();
  start_seconds_ = SecondsSince(started);
}

TestPostgres::~TestPostgres() {
  if (!server_) return;
  // Immediate shutdown: the cluster is thrown away with its directory, so no checkpoint is worth writing.
  server_->Signal(SIGQUIT);
  if (!server_->Wait(std::chrono::seconds(10))) server_->Signal(SIGKILL);
  server_.reset();
}

void TestPostgres::Start() {
  if (server_) return;
  server_.emplace(Process::Start(AsServerUser(
      {(binaries_ / "postgres").string(), "-D", (directory_ / "data").string(), "-p", std::to_string(port_),
       "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + directory_.path().string(),
       // For tests only: a crash of the test machine may lose the throw-away cluster, nothing else.
       "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
       "max_connections=40", "-c", "shared_buffers=16MB", "-c", "log_min_messages=warning", "-c",
       "log_min_error_statement=panic"})));
  const std::string probe = Connection() + " connect_timeout=1";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(probe.c_str()) != PQPING_OK) {
    if (std::chrono::steady_clock::now() > deadline || server_->Wait(std::chrono::milliseconds(0))) {
      const std::string log = server_->Output();
      server_.reset();
      throw std::runtime_error("postgres fixture: the server did not start: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void TestPostgres::Stop() {
  if (!server_) return;
  server_->Signal(SIGINT);  // fast shutdown: ends sessions, writes a checkpoint
  if (!server_->Wait(std::chrono::seconds(30))) {
    server_->Signal(SIGQUIT);
    (void)server_->Wait(std::chrono::seconds(10));
  }
  previous_logs_ += server_->Output();
  server_.reset();
}

void TestPostgres::Restart() {
  Stop();
  Start();
}

std::string TestPostgres::Connection(std::string_view database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + std::string(database);
}

void TestPostgres::Execute(std::string_view database, std::string_view sql) const {
  PGconn* connection = PQconnectdb(Connection(database).c_str());
  if (PQstatus(connection) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(connection);
    PQfinish(connection);
    throw std::runtime_error("postgres fixture: cannot connect: " + message);
  }
  PGresult* result = PQexec(connection, std::string(sql).c_str());
  const ExecStatusType status = PQresultStatus(result);
  const std::string message = PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(connection);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error("postgres fixture: " + message);
}

std::string TestPostgres::FreshDatabase() {
  // ctest runs each test case in a process of its own: the first case takes the empty database initdb
  // made, and only later ones pay for CREATE DATABASE (0.1-0.6 s each).
  if (databases_++ == 0) return Connection("postgres");
  const std::string name = "test_" + std::to_string(databases_);
  Execute("postgres", "CREATE DATABASE " + name + " TEMPLATE template0");
  return Connection(name);
}

std::string TestPostgres::Log() const {
  return previous_logs_ + (server_ ? server_->Output() : "");
}

}  // namespace ehg::test
