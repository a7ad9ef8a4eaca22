#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "devices/ble_profiles/profiles.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::fuzz {

// A characteristic value comes from any device in radio range that a resident pairs: any bytes must
// parse or be refused with an error, never crash, and what parses must be a finite value of a known
// metric.
inline void FuzzCharacteristic(std::uint16_t uuid16, const std::uint8_t* data, std::size_t size) {
  const devices::ble::CharacteristicParser parser = devices::ble::FindParser(uuid16);
  if (parser == nullptr) std::abort();
  auto measurement = parser(std::span<const std::uint8_t>(data, size));
  if (!measurement) {
    if (measurement.error().message.empty()) std::abort();
    return;
  }
  for (const devices::ble::ProfileValue& value : measurement->values) {
    if (!std::isfinite(value.value)) std::abort();
    if (value.metric != "cuff_pressure" && core::FindMetric(value.metric) == nullptr) std::abort();
  }
  if (measurement->device_local_time) {
    const core::CivilTime& time = *measurement->device_local_time;
    if (time.month < 1 || time.month > 12 || time.day < 1 || time.day > 31 || time.hour > 23 ||
        time.minute > 59 || time.second > 59)
      std::abort();
  }
}

}  // namespace ehg::fuzz
