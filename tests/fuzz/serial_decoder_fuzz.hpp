// The checks every serial decoder's fuzz target makes on arbitrary bytes: no crash or out-of-bounds
// read (ASan), the same samples however the bytes are split, a bounded buffer, no clinical value in a
// frame the device marked finger-out/searching/sensor error, no impossible values, and the aggregator
// turns the samples into readings that the catalogue accepts or rejects cleanly.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "devices/serial_protocols/aggregator.hpp"
#include "devices/serial_protocols/decoder.hpp"

namespace ehg::fuzz {

inline void Check(bool condition) {
  if (!condition) __builtin_trap();
}

inline void FuzzSerialDecoder(std::string_view protocol, const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  auto whole = devices::serial::MakeDecoder(protocol);
  std::vector<devices::serial::Sample> samples;
  whole->Feed(bytes, samples);
  Check(whole->stats().bytes == size);
  Check(whole->buffered() <= 256);

  // Split in three at points taken from the input itself.
  const std::size_t first = size == 0 ? 0 : data[0] % (size + 1);
  const std::size_t second = size < 2 ? size : first + (data[size - 1] % (size - first + 1));
  auto split = devices::serial::MakeDecoder(protocol);
  std::vector<devices::serial::Sample> split_samples;
  split->Feed(bytes.first(first), split_samples);
  split->Feed(bytes.subspan(first, second - first), split_samples);
  split->Feed(bytes.subspan(second), split_samples);
  Check(split_samples == samples);
  Check(split->stats() == whole->stats());

  using core::QualityFlag;
  for (const devices::serial::Sample& sample : samples) {
    const bool unusable = sample.flags.Has(QualityFlag::kFingerOut) ||
                          sample.flags.Has(QualityFlag::kSearching) ||
                          sample.flags.Has(QualityFlag::kSensorError);
    Check(!unusable || sample.values.empty());
    for (const devices::serial::DecodedValue& value : sample.values) {
      Check(std::isfinite(value.value));
      if (value.metric == "spo2" && protocol != "ascii") Check(value.value >= 1 && value.value <= 100);
    }
  }

  devices::serial::Aggregator aggregator("fuzz", {std::chrono::milliseconds(1000), true},
                                         [](const devices::serial::CivilTime&) { return std::nullopt; });
  std::vector<core::Reading> readings;
  core::WallTime at{std::chrono::milliseconds(1'774'000'000'000)};
  for (const devices::serial::Sample& sample : samples) {
    at += std::chrono::milliseconds(13);
    aggregator.Add(sample, at, false, readings);
  }
  aggregator.Flush(at, true, readings);
  for (const core::Reading& reading : readings) {
    Check(!reading.metric.empty());
    Check(!reading.unit.empty());
    [[maybe_unused]] const auto valid = core::ValidateReading(reading);
  }
}

}  // namespace ehg::fuzz
