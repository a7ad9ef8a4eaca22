#include "devices/ble_profiles/ieee11073.hpp"

#include <doctest/doctest.h>

using ehg::devices::ble::DecodeFloat;
using ehg::devices::ble::DecodeSfloat;
using ehg::devices::ble::MderFloat;
using Kind = ehg::devices::ble::MderFloat::Kind;

TEST_CASE("SFLOAT worked examples decode with two's complement mantissa and exponent") {
  struct Vector {
    std::uint16_t raw;
    std::int32_t mantissa;
    std::int32_t exponent;
    double value;
  };
  const Vector vectors[] = {
      {0x0080, 128, 0, 128},    {0xF0B0, 176, -1, 17.6},   {0xF0BD, 189, -1, 18.9},
      {0xF00A, 10, -1, 1.0},    {0xFFF6, -10, -1, -1.0},   {0x0FFF, -1, 0, -1},
      {0xE1F4, 500, -2, 5.00},  {0x2001, 1, 2, 100},       {0xB05B, 91, -5, 0.00091},
      {0xC037, 55, -4, 0.0055}, {0xF7FF, 2047, -1, 204.7}, {0x7800, -2048, 7, -2048e7},
      {0x8001, 1, -8, 1e-8},
  };
  for (const Vector& vector : vectors) {
    CAPTURE(vector.raw);
    const MderFloat decoded = DecodeSfloat(vector.raw);
    CHECK(decoded.kind == Kind::kNumber);
    CHECK(decoded.mantissa == vector.mantissa);
    CHECK(decoded.exponent == vector.exponent);
    // Exact: rounded once, so 18.9 is the double nearest 18.9.
    CHECK(decoded.ToDouble() == vector.value);
  }
}

TEST_CASE("SFLOAT special values are whole-word matches") {
  CHECK(DecodeSfloat(0x07FF).kind == Kind::kNaN);
  CHECK(DecodeSfloat(0x0800).kind == Kind::kNRes);
  CHECK(DecodeSfloat(0x07FE).kind == Kind::kPositiveInfinity);
  CHECK(DecodeSfloat(0x0802).kind == Kind::kNegativeInfinity);
  CHECK(DecodeSfloat(0x0801).kind == Kind::kReserved);
  // Same mantissa with another exponent is an ordinary number.
  CHECK(DecodeSfloat(0xF7FF).IsNumber());
  CHECK(DecodeSfloat(0x17FE).IsNumber());
  CHECK(DecodeSfloat(0x1800).IsNumber());
  CHECK(DecodeSfloat(0x1800).ToDouble() == -20480);
}

TEST_CASE("SFLOAT every raw word decodes to a special value or a finite number in range") {
  int specials = 0;
  for (std::uint32_t raw = 0; raw <= 0xFFFF; ++raw) {
    const MderFloat decoded = DecodeSfloat(static_cast<std::uint16_t>(raw));
    if (!decoded.IsNumber()) {
      ++specials;
      continue;
    }
    REQUIRE(decoded.mantissa >= -2048);
    REQUIRE(decoded.mantissa <= 2047);
    REQUIRE(decoded.exponent >= -8);
    REQUIRE(decoded.exponent <= 7);
  }
  CHECK(specials == 5);
}

TEST_CASE("FLOAT worked examples and special values") {
  CHECK(DecodeFloat(0xFE000EB0).ToDouble() == 37.60);
  CHECK(DecodeFloat(0xFF0003DA).ToDouble() == 98.6);
  CHECK(DecodeFloat(0xFFFFFE8E).ToDouble() == -37.0);
  CHECK(DecodeFloat(0xFFFFFE8E).mantissa == -370);
  CHECK(DecodeFloat(0x80000001).exponent == -128);
  CHECK(DecodeFloat(0x80000001).ToDouble() == doctest::Approx(1e-128));
  CHECK(DecodeFloat(0x7F000001).ToDouble() == doctest::Approx(1e127));
  CHECK(DecodeFloat(0x007FFFFF).kind == Kind::kNaN);
  CHECK(DecodeFloat(0x00800000).kind == Kind::kNRes);
  CHECK(DecodeFloat(0x007FFFFE).kind == Kind::kPositiveInfinity);
  CHECK(DecodeFloat(0x00800002).kind == Kind::kNegativeInfinity);
  CHECK(DecodeFloat(0x00800001).kind == Kind::kReserved);
  CHECK(DecodeFloat(0xFF7FFFFF).IsNumber());
  CHECK(DecodeFloat(0xFF7FFFFF).ToDouble() == 838860.7);
}
