#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

// A latency histogram with fixed bucket bounds that any thread may add to and read without a lock
// (the uplink adds, the status page and /metrics read). Bounds suit network round trips on a home link.
namespace ehg::core {

inline constexpr std::array<double, 12> kLatencyBucketBoundsSeconds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                    0.5,   1,    2.5,   5,    10,  30};

struct HistogramSnapshot {
  // Cumulative: cumulative[i] observations took at most kLatencyBucketBoundsSeconds[i].
  std::array<std::uint64_t, kLatencyBucketBoundsSeconds.size()> cumulative{};
  std::uint64_t count = 0;
  double sum_seconds = 0;
};

class LatencyHistogram {
 public:
  void Observe(std::chrono::microseconds latency);
  HistogramSnapshot Snapshot() const;

 private:
  // Per bucket, not cumulative; the last slot counts what is above the largest bound.
  std::array<std::atomic<std::uint64_t>, kLatencyBucketBoundsSeconds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_microseconds_{0};
};

}  // namespace ehg::core
