#include "gateway/core/histogram.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("The latency histogram counts each observation in the first bucket that holds it, cumulatively") {
  ehg::core::LatencyHistogram histogram;
  histogram.Observe(3ms);   // <= 0.005
  histogram.Observe(5ms);   // <= 0.005 (bounds are inclusive)
  histogram.Observe(70ms);  // <= 0.1
  histogram.Observe(45s);   // above every bound
  histogram.Observe(-1ms);  // a clock step backwards counts as zero
  const auto snapshot = histogram.Snapshot();
  CHECK(snapshot.cumulative[0] == 3);
  CHECK(snapshot.cumulative[3] == 3);  // <= 0.05
  CHECK(snapshot.cumulative[4] == 4);  // <= 0.1
  CHECK(snapshot.cumulative.back() == 4);
  CHECK(snapshot.count == 5);
  CHECK(snapshot.sum_seconds == doctest::Approx(45.078));
}

TEST_CASE("Observations from several threads are all counted") {
  ehg::core::LatencyHistogram histogram;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&histogram] {
      for (int i = 0; i < 10'000; ++i)
        histogram.Observe(std::chrono::microseconds(i));
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  CHECK(histogram.Snapshot().count == 40'000);
}
