#include "gateway/app/supervisor.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;

TEST_CASE("The main loop turns at a quarter of the watchdog interval, at most every second") {
  CHECK(ehg::app::MainLoopTurn(std::nullopt) == 1s);
  CHECK(ehg::app::MainLoopTurn(std::chrono::microseconds(30s)) == 1s);
  CHECK(ehg::app::MainLoopTurn(std::chrono::microseconds(2s)) == 500ms);
}

TEST_CASE("The watchdog is fed while both threads turn, stops for a stalled one, logs once, and resumes") {
  ehg::core::ManualClock clock;
  ehg::app::WatchdogGuard guard(std::chrono::microseconds(30s));  // systemd's WatchdogSec=30
  CHECK(guard.limit() == 15s);
  auto pipeline = clock.SteadyNow();
  auto uplink = clock.SteadyNow();
  const auto decide = [&] {
    return guard.Decide(clock.SteadyNow(), {{"pipeline", pipeline}, {"uplink", uplink}});
  };

  for (int second = 0; second < 20; ++second) {  // both turn every second
    clock.Advance(1s);
    pipeline = uplink = clock.SteadyNow();
    const auto turn = decide();
    CHECK(turn.ping);
    CHECK(turn.log_stalled.empty());
  }
  // The uplink hangs; the pipeline keeps turning. Up to the limit it is not yet stalled.
  const auto hung_at = clock.SteadyNow();
  clock.Advance(15s);
  pipeline = clock.SteadyNow();
  CHECK(decide().ping);
  clock.Advance(1s);
  pipeline = clock.SteadyNow();
  auto stalled = decide();
  CHECK_FALSE(stalled.ping);
  CHECK(stalled.log_stalled == "uplink");
  for (int second = 0; second < 5; ++second) {  // no pings, and no second log line for the same stall
    clock.Advance(1s);
    pipeline = clock.SteadyNow();
    const auto turn = decide();
    CHECK_FALSE(turn.ping);
    CHECK(turn.log_stalled.empty());
  }
  CHECK(uplink == hung_at);
  // It turns again: pings resume, and a later stall of both is logged again, both named.
  uplink = pipeline = clock.SteadyNow();
  CHECK(decide().ping);
  clock.Advance(16s);
  stalled = decide();
  CHECK_FALSE(stalled.ping);
  CHECK(stalled.log_stalled == "pipeline,uplink");
}

TEST_CASE("A short watchdog interval still allows 5 s before a thread counts as stalled") {
  ehg::app::WatchdogGuard guard(std::chrono::microseconds(4s));
  CHECK(guard.limit() == 5s);
}
