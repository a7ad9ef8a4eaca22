#include "gateway/core/histogram.hpp"

namespace ehg::core {

void LatencyHistogram::Observe(std::chrono::microseconds latency) {
  const auto micros = latency.count() < 0 ? 0 : latency.count();
  const double seconds = static_cast<double>(micros) / 1e6;
  std::size_t bucket = 0;
  while (bucket < kLatencyBucketBoundsSeconds.size() && seconds > kLatencyBucketBoundsSeconds[bucket])
    ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_microseconds_.fetch_add(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
}

HistogramSnapshot LatencyHistogram::Snapshot() const {
  HistogramSnapshot snapshot;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < kLatencyBucketBoundsSeconds.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative[i] = running;
  }
  snapshot.count = running + buckets_.back().load(std::memory_order_relaxed);
  snapshot.sum_seconds = static_cast<double>(sum_microseconds_.load(std::memory_order_relaxed)) / 1e6;
  return snapshot;
}

}  // namespace ehg::core
