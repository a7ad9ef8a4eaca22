#include "devices/ble_profiles/byte_reader.hpp"

namespace ehg::devices::ble {

bool ByteReader::U8(std::uint8_t& out) {
  if (remaining() < 1) return false;
  out = bytes_[position_++];
  return true;
}

bool ByteReader::U16(std::uint16_t& out) {
  if (remaining() < 2) return false;
  out = static_cast<std::uint16_t>(bytes_[position_] | (bytes_[position_ + 1] << 8));
  position_ += 2;
  return true;
}

bool ByteReader::S16(std::int16_t& out) {
  std::uint16_t raw = 0;
  if (!U16(raw)) return false;
  out = static_cast<std::int16_t>(raw);
  return true;
}

bool ByteReader::U24(std::uint32_t& out) {
  if (remaining() < 3) return false;
  out = static_cast<std::uint32_t>(bytes_[position_]) |
        static_cast<std::uint32_t>(bytes_[position_ + 1]) << 8 |
        static_cast<std::uint32_t>(bytes_[position_ + 2]) << 16;
  position_ += 3;
  return true;
}

bool ByteReader::U32(std::uint32_t& out) {
  if (remaining() < 4) return false;
  out = static_cast<std::uint32_t>(bytes_[position_]) |
        static_cast<std::uint32_t>(bytes_[position_ + 1]) << 8 |
        static_cast<std::uint32_t>(bytes_[position_ + 2]) << 16 |
        static_cast<std::uint32_t>(bytes_[position_ + 3]) << 24;
  position_ += 4;
  return true;
}

bool ByteReader::Sfloat(MderFloat& out) {
  std::uint16_t raw = 0;
  if (!U16(raw)) return false;
  out = DecodeSfloat(raw);
  return true;
}

bool ByteReader::Float(MderFloat& out) {
  std::uint32_t raw = 0;
  if (!U32(raw)) return false;
  out = DecodeFloat(raw);
  return true;
}

bool ByteReader::DateTime(core::CivilTime& out, bool& known) {
  if (remaining() < 7) return false;
  std::uint16_t year = 0;
  std::uint8_t month = 0, day = 0, hour = 0, minute = 0, second = 0;
  U16(year);
  U8(month);
  U8(day);
  U8(hour);
  U8(minute);
  U8(second);
  out = core::CivilTime{year, month, day, hour, minute, second};
  // Zero fields mean "unknown"; an impossible field makes the whole stamp unusable.
  known = year >= 1582 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 &&
          minute <= 59 && second <= 59;
  return true;
}

}  // namespace ehg::devices::ble
