#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "gateway/core/reading.hpp"
#include "gateway/core/result.hpp"

namespace ehg::core {

// Told once per submitted reading, on the pipeline thread, after its fate is durable: the stored row id
// once the transaction holding it has committed, or why it was not stored. Must not block.
using ReadingDone = std::function<void(const Reading& reading, const Result<std::int64_t>& stored)>;

// Where drivers hand readings over. Thread-safe.
class ReadingSink {
 public:
  virtual ~ReadingSink() = default;
  // False when the sink cannot take the reading now (queue full, or stopping); the refusal is counted
  // by the sink and `done` is not called. A driver keeps what it must not lose (an alarm) and retries.
  [[nodiscard]] virtual bool Submit(Reading reading, ReadingDone done = {}) = 0;
};

// A change of a device's link as its driver sees it: the port opened, the device went away.
struct DeviceStatusChange {
  std::string device_id;
  bool connected = false;
  std::string detail;  // for the technician, e.g. "port opened" or "port closed: read failed (EIO)"
  WallTime at{};
};

// Where drivers report link changes; each becomes a device event for the care system. Thread-safe.
class DeviceStatusSink {
 public:
  virtual ~DeviceStatusSink() = default;
  // False when it cannot be taken now; the driver keeps the change and offers it again.
  [[nodiscard]] virtual bool ReportDeviceStatus(DeviceStatusChange change) = 0;
};

}  // namespace ehg::core
