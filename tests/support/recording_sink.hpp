#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/core/reading_sink.hpp"

namespace ehg::test {

// Stands in for the pipeline in driver tests: takes every reading and status change and remembers it.
class RecordingSink final : public core::ReadingSink, public core::DeviceStatusSink {
 public:
  bool Submit(core::Reading reading, core::ReadingDone) override {
    std::lock_guard lock(mutex_);
    readings_.push_back(std::move(reading));
    return true;
  }
  bool ReportDeviceStatus(core::DeviceStatusChange change) override {
    std::lock_guard lock(mutex_);
    statuses_.push_back(std::move(change));
    return true;
  }
  // Readings of a metric (all when empty), optionally of one device only.
  std::vector<core::Reading> readings(std::string_view metric = {}, std::string_view device = {}) {
    std::lock_guard lock(mutex_);
    std::vector<core::Reading> selected;
    for (const core::Reading& reading : readings_) {
      if ((metric.empty() || reading.metric == metric) && (device.empty() || reading.device_id == device))
        selected.push_back(reading);
    }
    return selected;
  }
  // Status changes, optionally of one device only.
  std::vector<core::DeviceStatusChange> statuses(std::string_view device = {}) {
    std::lock_guard lock(mutex_);
    std::vector<core::DeviceStatusChange> selected;
    for (const core::DeviceStatusChange& status : statuses_) {
      if (device.empty() || status.device_id == device) selected.push_back(status);
    }
    return selected;
  }
  std::size_t disconnects(std::string_view device) {
    std::size_t count = 0;
    for (const auto& status : statuses(device))
      count += status.connected ? 0 : 1;
    return count;
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    readings_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<core::Reading> readings_;
  std::vector<core::DeviceStatusChange> statuses_;
};

}  // namespace ehg::test
