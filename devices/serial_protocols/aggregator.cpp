#include "devices/serial_protocols/aggregator.hpp"

#include <algorithm>

#include "gateway/core/vital_signs.hpp"

namespace ehg::devices::serial {

Aggregator::Aggregator(std::string device_id, AggregationOptions options, LocalTimeConverter local_to_utc)
    : device_id_(std::move(device_id)), options_(options), local_to_utc_(std::move(local_to_utc)) {}

core::Reading Aggregator::MakeReading(const std::string& metric, double value, core::WallTime at) const {
  core::Reading reading;
  reading.device_id = device_id_;
  reading.metric = metric;
  reading.value = value;
  if (const core::MetricInfo* info = core::FindMetric(metric)) reading.unit = std::string(info->unit);
  reading.received_at = at;
  return reading;
}

void Aggregator::Add(const Sample& sample, core::WallTime at, bool time_uncertain,
                     std::vector<core::Reading>& out) {
  if (options_.forward_waveform && sample.pleth) {
    core::Reading reading = MakeReading("pleth", *sample.pleth, at);
    reading.time_uncertain = time_uncertain;
    out.push_back(std::move(reading));
  }
  if (sample.IsRecord()) {
    std::optional<core::WallTime> device_time = sample.device_time;
    if (!device_time && sample.device_local_time && local_to_utc_) {
      device_time = local_to_utc_(*sample.device_local_time);
    }
    for (const DecodedValue& value : sample.values) {
      core::Reading reading = MakeReading(value.metric, value.value, at);
      reading.device_time = device_time;
      reading.time_uncertain = time_uncertain;
      reading.flags = sample.flags;
      reading.sequence = sample.sequence;
      out.push_back(std::move(reading));
    }
    return;
  }
  Flush(at, false, out);
  if (sample.values.empty()) return;
  if (!window_start_) window_start_ = at;
  window_last_ = at;
  window_time_uncertain_ = window_time_uncertain_ || time_uncertain;
  for (const DecodedValue& value : sample.values) {
    Series& series = window_[value.metric];
    series.values.push_back(value.value);
    series.flags = core::QualityFlags(series.flags.bits() | sample.flags.bits());
  }
  if (options_.window == std::chrono::milliseconds::zero()) CloseWindow(out);
}

void Aggregator::Flush(core::WallTime now, bool force, std::vector<core::Reading>& out) {
  if (!window_start_) return;
  if (force || now >= *window_start_ + options_.window) CloseWindow(out);
}

void Aggregator::CloseWindow(std::vector<core::Reading>& out) {
  for (auto& [metric, series] : window_) {
    // The lower median: a value the device actually reported.
    auto middle = series.values.begin() + static_cast<std::ptrdiff_t>((series.values.size() - 1) / 2);
    std::nth_element(series.values.begin(), middle, series.values.end());
    core::Reading reading = MakeReading(metric, *middle, window_last_);
    reading.flags = series.flags;
    reading.time_uncertain = window_time_uncertain_;
    out.push_back(std::move(reading));
  }
  window_.clear();
  window_start_.reset();
  window_time_uncertain_ = false;
}

}  // namespace ehg::devices::serial
