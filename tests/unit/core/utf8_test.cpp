#include "gateway/core/utf8.hpp"

#include <doctest/doctest.h>

#include <string>

using ehg::core::FirstInvalidUtf8;
using ehg::core::IsValidUtf8;
using ehg::core::ValidUtf8;

TEST_CASE("Valid UTF-8 of every length passes, up to U+10FFFF") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ASCII, with a tab\t"));
  CHECK(IsValidUtf8("Bjørn, Ålesund, Tromsø"));  // 2 bytes
  CHECK(IsValidUtf8("\xE2\x82\xAC 12"));         // U+20AC, 3 bytes
  CHECK(IsValidUtf8("\xEF\xBF\xBD"));            // U+FFFD
  CHECK(IsValidUtf8("\xF0\x9F\x98\x80"));        // U+1F600, 4 bytes
  CHECK(IsValidUtf8("\xF4\x8F\xBF\xBF"));        // U+10FFFF, the last code point
  CHECK(IsValidUtf8("\xED\x9F\xBF"));            // U+D7FF, just below the surrogates
  CHECK(IsValidUtf8(std::string("nul \0 inside", 12)));
}

TEST_CASE("What RFC 3629 forbids is found, with its offset") {
  CHECK(FirstInvalidUtf8("Bj\xF8rn") == 2);          // Latin-1
  CHECK(FirstInvalidUtf8("ab\xC0\xAF") == 2);        // overlong '/'
  CHECK(FirstInvalidUtf8("\xC1\xBF") == 0);          // overlong, lead C1
  CHECK(FirstInvalidUtf8("\xE0\x80\xAF") == 0);      // overlong 3-byte form
  CHECK(FirstInvalidUtf8("\xF0\x80\x80\xAF") == 0);  // overlong 4-byte form
  CHECK(FirstInvalidUtf8("x\xED\xA0\x80") == 1);     // U+D800, a UTF-16 surrogate
  CHECK(FirstInvalidUtf8("\xED\xBF\xBF") == 0);      // U+DFFF
  CHECK(FirstInvalidUtf8("\xF4\x90\x80\x80") == 0);  // U+110000
  CHECK(FirstInvalidUtf8("\xF5\x80\x80\x80") == 0);  // lead byte beyond U+10FFFF
  CHECK(FirstInvalidUtf8("\xFF") == 0);
  CHECK(FirstInvalidUtf8("\x80") == 0);          // a lone continuation byte
  CHECK(FirstInvalidUtf8("ok\xE2\x82") == 2);    // truncated at the end
  CHECK(FirstInvalidUtf8("\xE2\x28\xA1") == 0);  // continuation missing in the middle
  CHECK(FirstInvalidUtf8("\xF0\x9F\x98") == 0);  // 4-byte form cut short
}

TEST_CASE("Repair replaces each bad byte with U+FFFD and keeps every valid character") {
  CHECK(ValidUtf8("Bjørn") == "Bjørn");
  CHECK(ValidUtf8("Bj\xF8rn") == "Bj\xEF\xBF\xBDrn");
  CHECK(ValidUtf8("\xC0\xAF/") == "\xEF\xBF\xBD\xEF\xBF\xBD/");
  CHECK(ValidUtf8("\xE2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(ValidUtf8("a\xF0\x9F\x98\x80\xFF") == "a\xF0\x9F\x98\x80\xEF\xBF\xBD");
  // Whatever goes in, what comes out is valid: every single byte and every pair of bytes.
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    CHECK(IsValidUtf8(ValidUtf8(one)));
    for (int b = 0x80; b < 256; b += 7) {
      std::string two = one + static_cast<char>(b);
      CHECK(IsValidUtf8(ValidUtf8(two)));
    }
  }
}

TEST_CASE("Code points of every length decode, and terminal controls are named") {
  const auto decode = [](std::string_view text) {
    return ehg::core::CodePointAt(text, 0, ehg::core::ValidUtf8SequenceAt(text, 0));
  };
  CHECK(decode("A") == 0x41);
  CHECK(decode("\xC3\xB8") == 0xF8);
  CHECK(decode("\xE2\x80\xAE") == 0x202E);
  CHECK(decode("\xF0\x9F\x98\x80") == 0x1F600);
  CHECK(decode("\xF4\x8F\xBF\xBF") == 0x10FFFF);
  for (const std::uint32_t control : {0x00u, 0x1Bu, 0x7Fu, 0x9Bu, 0x200Eu, 0x202Eu, 0x2066u, 0x2029u})
    CHECK(ehg::core::ActsOnTerminal(control));
  for (const std::uint32_t plain : {0x20u, 0x41u, 0xA0u, 0xF8u, 0x20ACu, 0x2030u, 0x1F600u})
    CHECK_FALSE(ehg::core::ActsOnTerminal(plain));
}
