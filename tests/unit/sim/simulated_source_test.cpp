#include "devices/sim/simulated_source.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::devices::sim::Profile;
using ehg::devices::sim::SimulatedSource;
using ehg::test::WaitUntil;

namespace {

// A sink that refuses the first `refusals` submissions, like a full pipeline queue.
class RecordingSink final : public ehg::core::ReadingSink {
 public:
  explicit RecordingSink(int refusals = 0) : refusals_left_(refusals) {}

  bool Submit(ehg::core::Reading reading, ehg::core::ReadingDone) override {
    std::lock_guard lock(mutex_);
    if (refusals_left_ > 0) {
      --refusals_left_;
      ++refused_;
      return false;
    }
    readings_.push_back(std::move(reading));
    return true;
  }
  std::vector<ehg::core::Reading> readings() {
    std::lock_guard lock(mutex_);
    return readings_;
  }
  int refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  std::mutex mutex_;
  int refusals_left_;
  int refused_ = 0;
  std::vector<ehg::core::Reading> readings_;
};

}  // namespace

TEST_CASE("Simulated devices measure on their schedules") {
  RecordingSink sink;
  ehg::core::ManualClock clock;
  SimulatedSource source(
      {{"cuff", Profile::kBloodPressure, 20ms, 1, 0, {}}, {"oxi", Profile::kPulseOximeter, 10ms, 2, 0, {}}},
      sink, clock);
  source.Start();
  REQUIRE(WaitUntil([&] { return sink.readings().size() >= 60; }));
  source.Stop();
  std::size_t cuff = 0;
  std::size_t oximeter = 0;
  for (const auto& reading : sink.readings()) {
    cuff += reading.device_id == "cuff" ? 1u : 0u;
    oximeter += reading.device_id == "oxi" ? 1u : 0u;
  }
  CHECK(cuff > 0);
  CHECK(oximeter > 0);
  CHECK(source.generated() == sink.readings().size() + source.unsent());
}

TEST_CASE("Refused readings are offered again in order, none lost") {
  RecordingSink sink(5);
  ehg::core::ManualClock clock;
  SimulatedSource source({{"thermo", Profile::kThermometer, 5ms, 1, 0, {}}}, sink, clock);
  source.Start();
  REQUIRE(WaitUntil([&] { return sink.readings().size() >= 20; }));
  source.Stop();
  CHECK(sink.refused() == 5);
  CHECK(source.generated() == sink.readings().size() + source.unsent());
  const auto readings = sink.readings();
  for (std::size_t i = 1; i < readings.size(); ++i)
    CHECK(readings[i - 1].received_at <= readings[i].received_at);
}

TEST_CASE("Readings are marked time-uncertain while the wall clock is not synchronised") {
  RecordingSink sink;
  ehg::core::ManualClock clock;
  clock.SetSynchronised(false);
  SimulatedSource source({{"scale", Profile::kWeightScale, 5ms, 1, 0, {}}}, sink, clock);
  source.Start();
  REQUIRE(WaitUntil([&] { return !sink.readings().empty(); }));
  source.Stop();
  CHECK(sink.readings().front().time_uncertain);
}

TEST_CASE("A scenario changes the resident's values at its time") {
  RecordingSink sink;
  ehg::core::ManualClock clock;
  // The step comes a second after the start (the source times scenarios on the real steady clock): at
  // 100 ms a CI machine under load once started the source's thread late enough that its first reading
  // already had the stepped value.
  SimulatedSource source({{"oxi", Profile::kPulseOximeter, 2ms, 1, 0, {{1000ms, "spo2", 80}}}}, sink, clock);
  source.Start();
  REQUIRE(WaitUntil([&] {
    const auto readings = sink.readings();
    return std::any_of(readings.begin(), readings.end(),
                       [](const ehg::core::Reading& r) { return r.metric == "spo2" && r.value <= 84; });
  }));
  source.Stop();
  const auto readings = sink.readings();
  CHECK(readings.front().value >= 90);  // before the step: the default physiology
}
