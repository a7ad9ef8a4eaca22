#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <signal.h>

#include <random>
#include <thread>

#include "tests/integration/daemon_support.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using ehg::test::Process;

// The durability promise: a reading the daemon reported as accepted is in the database, whatever moment
// the process dies at. The daemon is killed with SIGKILL at random moments (during start-up, migrations,
// busy batches, idle waits), restarted on the same database, 25 times.
TEST_CASE("kill -9 at random moments never loses an accepted reading or damages the database") {
  ehg::test::TempDir dir;
  ehg::test::DaemonConfigOptions options;
  options.log_level = "debug";
  options.oximeter_interval_seconds = 0.005;  // ~600 readings/s: commits are always in flight
  options.cuff_interval_seconds = 0.02;
  const auto config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const auto database = dir / "data" / "gateway.db";

  std::mt19937 random(20261126);
  std::vector<ehg::test::StoredReading> accepted;
  constexpr int kCycles = 25;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    CAPTURE(cycle);
    Process daemon = ehg::test::StartDaemon(config);
    // Odd cycles: die at any moment from exec on; even cycles: once running, at a random point.
    if (cycle % 2 == 0) REQUIRE(daemon.WaitForOutput("gateway running", 10s));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(random)));
    daemon.Signal(SIGKILL);
    REQUIRE(daemon.Wait(10s) == 128 + SIGKILL);
    const auto reported = ehg::test::ReportedReadings(daemon.Lines());
    accepted.insert(accepted.end(), reported.begin(), reported.end());

    if (!std::filesystem::exists(database)) continue;                // killed before the database was created
    SQLite::Database db(database.string(), SQLite::OPEN_READWRITE);  // read-write: recovers the WAL
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
    SQLite::Statement find(db, "SELECT device_id, metric, device_time_ms FROM readings WHERE id = ?");
    std::size_t missing = 0;
    for (const auto& reading : accepted) {
      find.reset();
      find.bind(1, reading.id);
      const bool found = find.executeStep() && find.getColumn(0).getString() == reading.device &&
                         find.getColumn(1).getString() == reading.metric &&
                         find.getColumn(2).getInt64() == reading.device_time_ms;
      missing += found ? 0 : 1;
    }
    CHECK(missing == 0);
  }
  MESSAGE("accepted readings checked after " << kCycles << " kills: " << accepted.size());
  CHECK(accepted.size() > 500);
}
