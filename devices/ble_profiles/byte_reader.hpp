#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "devices/ble_profiles/ieee11073.hpp"
#include "gateway/core/clock.hpp"

namespace ehg::devices::ble {

// Reads little-endian fields from a characteristic value, never past its end. Each read returns false
// when the value is too short; the caller names the field in its error.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t remaining() const { return bytes_.size() - position_; }
  std::size_t position() const { return position_; }

  bool U8(std::uint8_t& out);
  bool U16(std::uint16_t& out);
  bool S16(std::int16_t& out);
  bool U24(std::uint32_t& out);
  bool U32(std::uint32_t& out);
  bool Sfloat(MderFloat& out);
  bool Float(MderFloat& out);
  // A 7-byte Bluetooth Date Time (the 0x2A08 layout). Sets `known` false when a field is 0
  // (unknown) or impossible.
  bool DateTime(core::CivilTime& out, bool& known);

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
};

}  // namespace ehg::devices::ble
