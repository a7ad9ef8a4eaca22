#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/serial/decoder.hpp"

namespace serial_test {

// "85 35 08 48 61" -> bytes.
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

inline std::vector<ehg::devices::serial::Sample> Decode(std::string_view protocol,
                                                        const std::vector<std::uint8_t>& bytes) {
  auto decoder = ehg::devices::serial::MakeDecoder(protocol);
  std::vector<ehg::devices::serial::Sample> samples;
  decoder->Feed(bytes, samples);
  return samples;
}

inline std::optional<double> ValueOf(const ehg::devices::serial::Sample& sample, std::string_view metric) {
  for (const auto& value : sample.values) {
    if (value.metric == metric) return value.value;
  }
  return std::nullopt;
}

// Samples that carry clinical values (the waveform-only frames left out).
inline std::vector<ehg::devices::serial::Sample> WithValues(std::vector<ehg::devices::serial::Sample> samples) {
  std::erase_if(samples, [](const auto& sample) { return sample.values.empty(); });
  return samples;
}

}  // namespace serial_test
