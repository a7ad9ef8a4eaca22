#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/ble_profiles/profiles.hpp"

namespace ble_test {

// "1E 8A 00" -> bytes.
inline std::vector<std::uint8_t> Hex(std::string_view text) {
  std::vector<std::uint8_t> bytes;
  std::string digits;
  for (char c : text) {
    if (c == ' ') continue;
    digits.push_back(c);
    if (digits.size() == 2) {
      bytes.push_back(static_cast<std::uint8_t>(std::stoul(digits, nullptr, 16)));
      digits.clear();
    }
  }
  return bytes;
}

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
