#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/ble_profiles/profiles.hpp"
#include "tests/support/hex.hpp"

namespace ble_test {

using ehg::test::Hex;

inline std::optional<double> ValueOf(const ehg::devices::ble::Measurement& measurement,
                                     std::string_view metric) {
  for (const auto& value : measurement.values) {
    if (value.metric == metric) return value.value;
  }
  return std::nullopt;
}

inline bool HasDetail(const ehg::devices::ble::Measurement& measurement, std::string_view key,
                      std::string_view value) {
  for (const auto& [k, v] : measurement.details) {
    if (k == key && v == value) return true;
  }
  return false;
}

}  // namespace ble_test
