#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

// IEEE 11073-20601 SFLOAT (16 bit) and FLOAT (32 bit), as the Bluetooth health profiles send them
// (docs/ble.md): mantissa and exponent are both two's complement, and a few whole words are special.
namespace ehg::devices::ble {

struct MderFloat {
  enum class Kind { kNumber, kNaN, kNRes, kPositiveInfinity, kNegativeInfinity, kReserved };
  Kind kind = Kind::kNaN;
  std::int32_t mantissa = 0;
  std::int32_t exponent = 0;

  bool IsNumber() const { return kind == Kind::kNumber; }
  // mantissa x 10^exponent, rounded once (so 0xF0BD is 18.9, not 18.900000000000002).
  double ToDouble() const;
  friend bool operator==(const MderFloat&, const MderFloat&) = default;
};

MderFloat DecodeSfloat(std::uint16_t raw);
MderFloat DecodeFloat(std::uint32_t raw);

// "NaN", "NRes", "+INF", "-INF", "reserved" or "number".
std::string_view KindName(MderFloat::Kind kind);

}  // namespace ehg::devices::ble
