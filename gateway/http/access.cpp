#include "gateway/http/access.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <sstream>

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

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<std::string> TokenFromAuthorization(std::string_view header) {
  header = Trim(header);
  if (StartsWithIgnoringCase(header, "Bearer ")) {
    const std::string_view token = Trim(header.substr(7));
    if (token.empty()) return std::nullopt;
    return std::string(token);
  }
  if (StartsWithIgnoringCase(header, "Basic ")) {
    std::string credentials;
    try {
      std::istringstream encoded{std::string(Trim(header.substr(6)))};
      Poco::Base64Decoder decoder(encoded);
      credentials.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
    } catch (const Poco::Exception&) {
      return std::nullopt;
    }
    const std::size_t colon = credentials.find(':');
    if (colon == std::string::npos || colon + 1 == credentials.size()) return std::nullopt;
    return credentials.substr(colon + 1);
  }
  return std::nullopt;
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
  core::SteadyTime until = global_locked_until_;
  if (const auto found = clients_.find(client); found != clients_.end())
    until = std::max(until, found->second.locked_until);
  if (until <= now) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(until - now);
}

void AuthLimiter::Failed(const std::string& client, core::SteadyTime now) {
  if (now - global_window_start_ >= std::chrono::minutes(1)) {
    global_window_start_ = now;
    global_failures_ = 0;
  }
  if (++global_failures_ >= options_.global_failures_per_minute)
    global_locked_until_ = now + std::chrono::minutes(1);

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
  const int over = entry.failures - options_.free_failures;
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
