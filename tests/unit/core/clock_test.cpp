#include "gateway/core/clock.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::core::FormatIso8601;
using ehg::core::ManualClock;
using ehg::core::WallTime;

TEST_CASE("ManualClock moves wall and steady time together, and only when told") {
  ManualClock clock(WallTime{1'000ms});
  const auto steady_start = clock.SteadyNow();
  CHECK(clock.Now() == WallTime{1'000ms});
  clock.Advance(250ms);
  CHECK(clock.Now() == WallTime{1'250ms});
  CHECK(clock.SteadyNow() - steady_start == 250ms);
}

TEST_CASE("A wall-clock jump leaves steady time alone") {
  ManualClock clock(WallTime{1'000ms});
  const auto steady_start = clock.SteadyNow();
  clock.SetWall(WallTime{0ms});
  CHECK(clock.Now() == WallTime{0ms});
  CHECK(clock.SteadyNow() == steady_start);
}

TEST_CASE("ManualClock reports synchronisation as set") {
  ManualClock clock;
  CHECK(clock.WallClockSynchronised());
  clock.SetSynchronised(false);
  CHECK_FALSE(clock.WallClockSynchronised());
}

TEST_CASE("ISO 8601 formatting is UTC with milliseconds") {
  CHECK(FormatIso8601(WallTime{0ms}) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatIso8601(WallTime{1'767'225'600'123ms}) == "2026-01-01T00:00:00.123Z");
  // 2024-02-29 (leap day) 23:59:59.999
  CHECK(FormatIso8601(WallTime{1'709'251'199'999ms}) == "2024-02-29T23:59:59.999Z");
}

TEST_CASE("SystemClock can be told to trust an unsynchronised wall clock") {
  ehg::core::SystemClock trusting(true);
  CHECK(trusting.WallClockSynchronised());
  const auto before = std::chrono::system_clock::now();
  const auto now = trusting.Now();
  CHECK(std::chrono::abs(now - std::chrono::time_point_cast<std::chrono::milliseconds>(before)) < 5s);
}
