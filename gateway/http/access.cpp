#include "gateway/http/access.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace ehg::http {
namespace {

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

// RFC 4648 base64 with padding, strict: nullopt for any other character, a bad length or bad padding.
std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  const auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int padding = last ? (text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0) : 0;
    unsigned group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const int value = j >= 4 - static_cast<std::size_t>(padding) ? 0 : sextet(text[i + j]);
      if (value < 0) return std::nullopt;
      group = (group << 6) | static_cast<unsigned>(value);
    }
    decoded += static_cast<char>((group >> 16) & 0xFF);
    if (padding < 2) decoded += static_cast<char>((group >> 8) & 0xFF);
    if (padding < 1) decoded += static_cast<char>(group & 0xFF);
  }
  return decoded;
}

}  // namespace

std::string_view TrimOptionalWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

std::optional<std::string> TokenFromAuthorization(std::string_view header) {
  header = TrimOptionalWhitespace(header);
  if (StartsWithIgnoringCase(header, "Bearer ")) {
    const std::string_view token = TrimOptionalWhitespace(header.substr(7));
    if (token.empty()) return std::nullopt;
    return std::string(token);
  }
  if (StartsWithIgnoringCase(header, "Basic ")) {
    const std::optional<std::string> decoded = Base64Decode(TrimOptionalWhitespace(header.substr(6)));
    if (!decoded) return std::nullopt;
    const std::string& credentials = *decoded;
    const std::size_t colon = credentials.find(':');
    if (colon == std::string::npos || colon + 1 == credentials.size()) return std::nullopt;
    return credentials.substr(colon + 1);
  }
  return std::nullopt;
}

std::string ClientKey(std::string_view address) {
  const std::string text(address);
  std::array<char, INET6_ADDRSTRLEN> canonical{};
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    ::inet_ntop(AF_INET, &v4, canonical.data(), canonical.size());
    return canonical.data();
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return text;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    ::inet_ntop(AF_INET, &v6.s6_addr[12], canonical.data(), canonical.size());
    return canonical.data();
  }
  std::fill(std::begin(v6.s6_addr) + 8, std::end(v6.s6_addr), std::uint8_t{0});
  ::inet_ntop(AF_INET6, &v6, canonical.data(), canonical.size());
  return std::string(canonical.data()) + "/64";
}

bool TokensEqual(std::string_view expected, std::string_view presented) {
  // Runs over the expected token's length whatever was presented; the length difference is folded in.
  unsigned difference = expected.size() == presented.size() ? 0U : 1U;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char theirs = i < presented.size() ? presented[i] : '\0';
    difference |=
        static_cast<unsigned>(static_cast<unsigned char>(expected[i]) ^ static_cast<unsigned char>(theirs));
  }
  return difference == 0 && !expected.empty();
}

std::optional<std::chrono::seconds> AuthLimiter::LockedOut(const std::string& client,
                                                           core::SteadyTime now) const {
  const auto found = clients_.find(client);
  if (found == clients_.end() || found->second.locked_until <= now) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(found->second.locked_until - now);
}

void AuthLimiter::Failed(const std::string& client, core::SteadyTime now) {
  if (now - global_window_start_ >= std::chrono::minutes(1)) {
    global_window_start_ = now;
    global_failures_ = 0;
  }
  if (++global_failures_ >= options_.global_failures_per_minute)
    ceiling_until_ = now + std::chrono::minutes(1);

  if (clients_.find(client) == clients_.end() && clients_.size() >= options_.max_clients) {
    const auto oldest = std::min_element(clients_.begin(), clients_.end(), [](const auto& a, const auto& b) {
      return a.second.last_failure < b.second.last_failure;
    });
    clients_.erase(oldest);
  }
  Client& entry = clients_[client];
  if (entry.failures > 0 && now - entry.last_failure >= options_.forget_after) entry = Client{};
  ++entry.failures;
  entry.last_failure = now;
  // The free_failures-th failure starts the lockouts; over the ceiling the first one does.
  const int lockout_from = OverCeiling(now) ? 1 : options_.free_failures;
  const int over = entry.failures - lockout_from;
  if (over < 0) return;
  // Doubles with every further failure: 2 s, 4 s, 8 s, ... up to the maximum.
  auto lockout = options_.first_lockout;
  for (int i = 0; i < over && lockout < options_.max_lockout; ++i)
    lockout *= 2;
  entry.locked_until = now + std::min(lockout, options_.max_lockout);
}

void AuthLimiter::Succeeded(const std::string& client) {
  clients_.erase(client);
}

}  // namespace ehg::http
