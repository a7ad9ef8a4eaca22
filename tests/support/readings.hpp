#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "gateway/core/reading.hpp"

namespace ehg::test {

inline constexpr std::int64_t kTestEpochMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

inline core::Reading MakeReading(const std::string& metric, double value, const std::string& unit,
                                 std::int64_t received_ms = kTestEpochMs,
                                 const std::string& device = "device-1") {
  core::Reading reading;
  reading.device_id = device;
  reading.metric = metric;
  reading.value = value;
  reading.unit = unit;
  reading.received_at = core::WallTime{std::chrono::milliseconds{received_ms}};
  return reading;
}

inline core::Reading SpO2(double value, std::int64_t received_ms = kTestEpochMs) {
  return MakeReading("spo2", value, "%", received_ms, "oximeter");
}

}  // namespace ehg::test
