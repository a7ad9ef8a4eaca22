#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/serial_protocols/decoder.hpp"
#include "tests/support/hex.hpp"

namespace serial_test {

using ehg::test::Hex;

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
inline std::vector<ehg::devices::serial::Sample> WithValues(
    std::vector<ehg::devices::serial::Sample> samples) {
  std::erase_if(samples, [](const auto& sample) { return sample.values.empty(); });
  return samples;
}

}  // namespace serial_test
