#include "devices/ble_profiles/ieee11073.hpp"

#include <array>

namespace ehg::devices::ble {
namespace {

// Powers of ten up to 10^22 are exact doubles, so one multiplication or division rounds once.
double ScaleByPowerOfTen(double mantissa, std::int32_t exponent) {
  static constexpr std::array<double, 23> kPowers{1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  double value = mantissa;
  std::int32_t remaining = exponent < 0 ? -exponent : exponent;
  while (remaining > 0) {
    const std::int32_t step = remaining > 22 ? 22 : remaining;
    value = exponent < 0 ? value / kPowers[static_cast<std::size_t>(step)]
                         : value * kPowers[static_cast<std::size_t>(step)];
    remaining -= step;
  }
  return value;
}

}  // namespace

double MderFloat::ToDouble() const {
  return ScaleByPowerOfTen(static_cast<double>(mantissa), exponent);
}

MderFloat DecodeSfloat(std::uint16_t raw) {
  switch (raw) {
    case 0x07FF:
      return {MderFloat::Kind::kNaN, 0, 0};
    case 0x0800:
      return {MderFloat::Kind::kNRes, 0, 0};
    case 0x07FE:
      return {MderFloat::Kind::kPositiveInfinity, 0, 0};
    case 0x0802:
      return {MderFloat::Kind::kNegativeInfinity, 0, 0};
    case 0x0801:
      return {MderFloat::Kind::kReserved, 0, 0};
    default:
      break;
  }
  std::int32_t mantissa = raw & 0x0FFF;
  if (mantissa >= 0x0800) mantissa -= 0x1000;
  std::int32_t exponent = raw >> 12;
  if (exponent >= 0x8) exponent -= 0x10;
  return {MderFloat::Kind::kNumber, mantissa, exponent};
}

MderFloat DecodeFloat(std::uint32_t raw) {
  switch (raw) {
    case 0x007FFFFF:
      return {MderFloat::Kind::kNaN, 0, 0};
    case 0x00800000:
      return {MderFloat::Kind::kNRes, 0, 0};
    case 0x007FFFFE:
      return {MderFloat::Kind::kPositiveInfinity, 0, 0};
    case 0x00800002:
      return {MderFloat::Kind::kNegativeInfinity, 0, 0};
    case 0x00800001:
      return {MderFloat::Kind::kReserved, 0, 0};
    default:
      break;
  }
  std::int32_t mantissa = static_cast<std::int32_t>(raw & 0x00FFFFFFu);
  if (mantissa >= 0x800000) mantissa -= 0x1000000;
  const auto exponent =
      static_cast<std::int32_t>(static_cast<std::int8_t>(static_cast<std::uint8_t>(raw >> 24)));
  return {MderFloat::Kind::kNumber, mantissa, exponent};
}

std::string_view KindName(MderFloat::Kind kind) {
  switch (kind) {
    case MderFloat::Kind::kNumber:
      return "number";
    case MderFloat::Kind::kNaN:
      return "NaN";
    case MderFloat::Kind::kNRes:
      return "NRes";
    case MderFloat::Kind::kPositiveInfinity:
      return "+INF";
    case MderFloat::Kind::kNegativeInfinity:
      return "-INF";
    case MderFloat::Kind::kReserved:
      return "reserved";
  }
  return "?";
}

}  // namespace ehg::devices::ble
