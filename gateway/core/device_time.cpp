#include "gateway/core/device_time.hpp"

namespace ehg::core {

DeviceClockTolerance DefaultClockTolerance(DeviceTiming timing) {
  switch (timing) {
    case DeviceTiming::kStreaming:
      return {std::chrono::minutes{2}, std::chrono::minutes{2}, timing};
    case DeviceTiming::kStoredRecords:
      return {std::chrono::minutes{5}, std::chrono::days{30}, timing};
  }
  return {};
}

std::string_view ToString(DeviceTimeVerdict verdict) {
  switch (verdict) {
    case DeviceTimeVerdict::kNoDeviceTime:
      return "no_device_time";
    case DeviceTimeVerdict::kPlausible:
      return "plausible";
    case DeviceTimeVerdict::kAhead:
      return "ahead";
    case DeviceTimeVerdict::kBehind:
      return "behind";
    case DeviceTimeVerdict::kGatewayUncertain:
      return "gateway_uncertain";
  }
  return "plausible";
}

DeviceTimeVerdict JudgeDeviceTime(Reading& reading, const DeviceClockTolerance& tolerance) {
  reading.device_clock_suspect = false;
  reading.taken_at_unknown = false;
  if (!reading.device_time) return DeviceTimeVerdict::kNoDeviceTime;
  if (reading.time_uncertain) return DeviceTimeVerdict::kGatewayUncertain;
  const WallTime device_time = *reading.device_time;
  DeviceTimeVerdict verdict = DeviceTimeVerdict::kPlausible;
  if (device_time > reading.received_at + tolerance.ahead) {
    verdict = DeviceTimeVerdict::kAhead;
  } else if (device_time < reading.received_at - tolerance.behind) {
    verdict = DeviceTimeVerdict::kBehind;
  }
  reading.device_clock_suspect = verdict != DeviceTimeVerdict::kPlausible;
  reading.taken_at_unknown = reading.device_clock_suspect && tolerance.timing == DeviceTiming::kStoredRecords;
  return verdict;
}

}  // namespace ehg::core
