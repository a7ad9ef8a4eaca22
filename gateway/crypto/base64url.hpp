#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Base64url without padding (RFC 7515 section 2), as every JOSE part is written.
namespace ehg::crypto {

std::string Base64UrlEncode(std::span<const std::uint8_t> bytes);
std::string Base64UrlEncode(std::string_view text);

// Strict: refuses padding, characters outside the alphabet, an impossible length and non-zero unused
// bits, so every byte string has exactly one accepted encoding (a signature cannot be varied).
std::optional<std::vector<std::uint8_t>> Base64UrlDecode(std::string_view text);

}  // namespace ehg::crypto
