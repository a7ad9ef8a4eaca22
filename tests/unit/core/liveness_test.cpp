#include "gateway/core/liveness.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::core::StalledThreads;
using ehg::core::SteadyTime;

TEST_CASE("Threads that turned within the limit are alive, the limit itself included") {
  const SteadyTime now{100s};
  CHECK(StalledThreads(now, {{"pipeline", now - 500ms}, {"uplink", now - 10s}}, 10s).empty());
  CHECK(StalledThreads(now, {}, 10s).empty());
}

TEST_CASE("A thread silent for longer than the limit is named, each one, in order") {
  const SteadyTime now{100s};
  CHECK(StalledThreads(now, {{"pipeline", now - 10001ms}, {"uplink", now - 1s}}, 10s) ==
        std::vector<std::string>{"pipeline"});
  CHECK(StalledThreads(now, {{"pipeline", now - 11s}, {"uplink", now - 60s}}, 10s) ==
        std::vector<std::string>{"pipeline", "uplink"});
}

TEST_CASE(
    "A thread that never turned (heartbeat at the clock's epoch) is stalled once the limit has passed") {
  CHECK(StalledThreads(SteadyTime{30s}, {{"uplink", SteadyTime{}}}, 10s) ==
        std::vector<std::string>{"uplink"});
}

TEST_CASE("A heartbeat after now is not taken for a stall") {
  CHECK(StalledThreads(SteadyTime{5s}, {{"pipeline", SteadyTime{6s}}}, 1s).empty());
}
