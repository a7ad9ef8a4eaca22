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

namespace {

using ehg::core::DeviceLink;
using ehg::core::JudgeLink;
using ehg::core::LinkShown;

// A cuff that measured once a day: it delivered at the clock's start and hung up.
DeviceLink CuffThatHungUp(const ehg::core::ManualClock& clock) {
  DeviceLink cuff;
  cuff.hangs_up_after_measuring = true;
  cuff.last_heard = clock.Now();
  cuff.expected_interval = 26h;
  return cuff;
}

}  // namespace

TEST_CASE("A cuff that hung up is idle until its expected interval has passed, then missing") {
  ehg::core::ManualClock clock;
  const DeviceLink cuff = CuffThatHungUp(clock);
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kIdle);
  clock.Advance(1h);
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kIdle);
  clock.Advance(25h);  // 26 h: the interval itself is still normal
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kIdle);
  clock.Advance(1ms);
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kMissing);
  DeviceLink measured_again = cuff;
  measured_again.last_heard = clock.Now();
  CHECK(JudgeLink(measured_again, clock.Now()) == LinkShown::kIdle);
}

TEST_CASE("A device never heard from is missing from the start, and connected is connected") {
  ehg::core::ManualClock clock;
  DeviceLink cuff = CuffThatHungUp(clock);
  cuff.last_heard.reset();
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kMissing);
  cuff.connected = true;
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kConnected);
}

TEST_CASE("A streaming device that is not connected is missing however recently it was heard") {
  ehg::core::ManualClock clock;
  DeviceLink oximeter = CuffThatHungUp(clock);
  oximeter.hangs_up_after_measuring = false;
  CHECK(JudgeLink(oximeter, clock.Now()) == LinkShown::kMissing);
  oximeter.connected = true;
  CHECK(JudgeLink(oximeter, clock.Now()) == LinkShown::kConnected);
}

TEST_CASE("A link error that needs someone makes a recently heard cuff missing, not idle") {
  ehg::core::ManualClock clock;
  DeviceLink cuff = CuffThatHungUp(clock);
  clock.Advance(5min);
  cuff.error_needs_action = true;  // pairing lost, adapter off
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kMissing);
}

TEST_CASE("Without an expected interval a cuff that was heard stays idle, and a clock set back is recent") {
  ehg::core::ManualClock clock;
  DeviceLink cuff = CuffThatHungUp(clock);
  cuff.expected_interval = 0s;
  clock.Advance(24h * 400);
  CHECK(JudgeLink(cuff, clock.Now()) == LinkShown::kIdle);
  DeviceLink ahead = CuffThatHungUp(clock);
  clock.SetWall(clock.Now() - 48h);  // the wall clock set back: the contact now lies in the future
  CHECK(JudgeLink(ahead, clock.Now()) == LinkShown::kIdle);
}
