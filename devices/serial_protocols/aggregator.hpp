#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devices/serial_protocols/decoder.hpp"
#include "gateway/core/reading.hpp"

namespace ehg::devices::serial {

struct AggregationOptions {
  // Streaming oximeters send 1-75 frames a second; the pipeline gets one reading per metric per window.
  // Zero: every sample the device sends is a reading, at once (close monitoring; many more rows).
  std::chrono::milliseconds window{1000};
  bool forward_waveform = false;  // every pleth point as a `pleth` reading (high volume)
};

using core::LocalTimeConverter;

// Turns decoded samples into readings. Streaming values are summarised per window: the median of the
// values the device vouched for (an observed value, never an average), with the quality flags of the
// samples that carried them. A window in which the finger was out throughout yields nothing clinical.
// Records (a stored blood pressure, a timestamped line) pass through one by one. Pure.
class Aggregator {
 public:
  Aggregator(std::string device_id, AggregationOptions options, LocalTimeConverter local_to_utc = {});

  // `at` is when the sample arrived (estimated per sample within a read); `time_uncertain` when the
  // gateway clock is not synchronised.
  void Add(const Sample& sample, core::WallTime at, bool time_uncertain, std::vector<core::Reading>& out);
  // Emits the open window once `now` is past its end, or at once with `force` (the port closed).
  void Flush(core::WallTime now, bool force, std::vector<core::Reading>& out);

 private:
  struct Series {
    std::vector<double> values;
    core::QualityFlags flags;
  };

  core::Reading MakeReading(const std::string& metric, double value, core::WallTime at) const;
  void CloseWindow(std::vector<core::Reading>& out);

  std::string device_id_;
  AggregationOptions options_;
  LocalTimeConverter local_to_utc_;
  std::optional<core::WallTime> window_start_;
  core::WallTime window_last_{};
  bool window_time_uncertain_ = false;
  std::map<std::string, Series> window_;
};

}  // namespace ehg::devices::serial
