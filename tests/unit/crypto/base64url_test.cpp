#include "gateway/crypto/base64url.hpp"

#include <doctest/doctest.h>

#include <random>

using ehg::crypto::Base64UrlDecode;
using ehg::crypto::Base64UrlEncode;

TEST_CASE("Base64url encodes the RFC 4648 vectors without padding") {
  CHECK(Base64UrlEncode(std::string_view("")) == "");
  CHECK(Base64UrlEncode(std::string_view("f")) == "Zg");
  CHECK(Base64UrlEncode(std::string_view("fo")) == "Zm8");
  CHECK(Base64UrlEncode(std::string_view("foo")) == "Zm9v");
  CHECK(Base64UrlEncode(std::string_view("foob")) == "Zm9vYg");
  CHECK(Base64UrlEncode(std::string_view("fooba")) == "Zm9vYmE");
  CHECK(Base64UrlEncode(std::string_view("foobar")) == "Zm9vYmFy");
  // The URL-safe alphabet: 0xfb 0xff becomes "-_8", where standard base64 would write "+/8=".
  const std::uint8_t high[] = {0xfb, 0xff};
  CHECK(Base64UrlEncode(high) == "-_8");
  // RFC 7515 section 3.3: the example header, byte for byte.
  CHECK(Base64UrlEncode(std::string_view("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}")) ==
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9");
}

TEST_CASE("Base64url decodes what it encodes, for every length and byte") {
  std::mt19937 random(7);
  for (std::size_t length = 0; length < 200; ++length) {
    std::vector<std::uint8_t> bytes(length);
    for (auto& byte : bytes)
      byte = static_cast<std::uint8_t>(random());
    const auto decoded = Base64UrlDecode(Base64UrlEncode(bytes));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
  }
}

TEST_CASE("Base64url refuses padding, other alphabets and non-canonical endings") {
  CHECK_FALSE(Base64UrlDecode("Zg==").has_value());
  CHECK_FALSE(Base64UrlDecode("+/8").has_value());
  CHECK_FALSE(Base64UrlDecode("Zm9v YmFy").has_value());
  CHECK_FALSE(Base64UrlDecode("Z").has_value());  // 6 bits cannot be a byte
  // "Zh" decodes to "f" with non-zero unused bits: a second spelling of "Zg", refused.
  CHECK(Base64UrlDecode("Zg").has_value());
  CHECK_FALSE(Base64UrlDecode("Zh").has_value());
  CHECK_FALSE(Base64UrlDecode("Zm9=").has_value());
}

TEST_CASE("Base64url refuses a character outside its alphabet at any position, in a group or the tail") {
  // Seven characters: one group of four and a tail of three, which together decode to five bytes.
  const std::string valid = Base64UrlEncode(std::string_view("hello"));
  REQUIRE(valid.size() == 7);
  REQUIRE(Base64UrlDecode(valid).has_value());
  for (const char bad : {'=', '+', '/', ' ', '\0', '\x80', '\xff'}) {
    for (std::size_t at = 0; at < valid.size(); ++at) {
      std::string text = valid;
      text[at] = bad;
      CAPTURE(at);
      CAPTURE(static_cast<int>(static_cast<unsigned char>(bad)));
      CHECK_FALSE(Base64UrlDecode(text).has_value());
    }
  }
  // A tail of three characters carries two bytes and two unused bits, which must be zero.
  CHECK(Base64UrlDecode("Zm8") == std::vector<std::uint8_t>{'f', 'o'});
  CHECK_FALSE(Base64UrlDecode("Zm9").has_value());
  CHECK_FALSE(Base64UrlDecode("Zm-").has_value());
}
