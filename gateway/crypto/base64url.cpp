#include "gateway/crypto/base64url.hpp"

#include <array>

namespace ehg::crypto {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int, 256> MakeDecodeTable() {
  std::array<int, 256> table{};
  for (int& entry : table)
    entry = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return table;
}
constexpr std::array<int, 256> kDecodeTable = MakeDecodeTable();

}  // namespace

std::string Base64UrlEncode(std::span<const std::uint8_t> bytes) {
  // Sized once and written through a pointer: every event body is encoded twice (ciphertext, then the
  // signed JWE), so this is on the uplink's hot path.
  std::string out((bytes.size() * 4 + 2) / 3, '\0');
  char* next = out.data();
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group =
        (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    *next++ = kAlphabet[(group >> 18) & 63];
    *next++ = kAlphabet[(group >> 12) & 63];
    *next++ = kAlphabet[(group >> 6) & 63];
    *next++ = kAlphabet[group & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t group = std::uint32_t{bytes[i]} << 16;
    *next++ = kAlphabet[(group >> 18) & 63];
    *next++ = kAlphabet[(group >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t group = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    *next++ = kAlphabet[(group >> 18) & 63];
    *next++ = kAlphabet[(group >> 12) & 63];
    *next++ = kAlphabet[(group >> 6) & 63];
  }
  return out;
}

std::string Base64UrlEncode(std::string_view text) {
  return Base64UrlEncode(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

std::optional<std::vector<std::uint8_t>> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = kDecodeTable[static_cast<unsigned char>(c)];
    if (value < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xff));
    }
  }
  // The bits left over must be zero: otherwise two encodings would decode to the same bytes.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace ehg::crypto
