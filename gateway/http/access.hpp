#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/address.hpp"
#include "gateway/core/clock.hpp"

// Who may read the status page when it is reachable from beyond the gateway itself: a per-device token
// (generated at install), checked in constant time, with failed attempts rate-limited per client address
// and tightened overall. Pure: the server asks and tells, the clock is passed in.
namespace ehg::http {

// The token from an Authorization header: "Bearer <token>", or Basic with the token as the password
// (what a phone's browser sends after its login prompt). nullopt for anything else.
std::optional<std::string> TokenFromAuthorization(std::string_view header);

// `text` without the spaces and tabs around it (HTTP's optional whitespace, RFC 9110 section 5.6.3).
std::string_view TrimOptionalWhitespace(std::string_view text);

// The client a connection limit or a lockout applies to, from the peer's address as text. IPv4 (and
// IPv4-mapped IPv6, what a dual-stack listener sees) as the dotted quad; IPv6 as its /64 prefix
// ("2001:db8:1:2::/64"): one IPv6 host may use any of the 2^64 addresses of its network (SLAAC privacy
// addresses, or simply by choice), so keying on the full address would give every host unlimited
// fresh limits and lockouts. Hosts sharing a /64 share one, as hosts behind one NAT share an IPv4
// address. Anything that is not an address is its own key.
std::string ClientKey(std::string_view address);

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
bool TokensEqual(std::string_view expected, std::string_view presented);

struct LimiterOptions {
  int free_failures = 5;  // per client address, before lockouts start
  std::chrono::seconds first_lockout{2};
  std::chrono::seconds max_lockout{15 * 60};
  std::chrono::seconds forget_after{60 * 60};  // a quiet client starts again
  // Over all clients (many source addresses): after this many failures in a minute, for the next minute
  // every wrong token locks its address at once (no free failures). It never locks anyone out by itself:
  // an address that has not failed always has its token checked, so guessers with many addresses cannot
  // lock the installer out; they can only lock out their own addresses.
  int global_failures_per_minute = 30;
  std::size_t max_clients = 1024;  // tracked addresses; the least recently failed are forgotten
};

class AuthLimiter {
 public:
  explicit AuthLimiter(LimiterOptions options = {}) : options_(options) {}

  // How long the client must wait before a token is even checked; nullopt: check it. Only the client's
  // own failures count here, never those of other addresses.
  std::optional<std::chrono::seconds> LockedOut(const std::string& client, core::SteadyTime now) const;
  // True while the overall ceiling is exceeded.
  bool OverCeiling(core::SteadyTime now) const { return now < ceiling_until_; }
  void Failed(const std::string& client, core::SteadyTime now);
  void Succeeded(const std::string& client);

 private:
  struct Client {
    int failures = 0;
    core::SteadyTime last_failure{};
    core::SteadyTime locked_until{};
  };
  LimiterOptions options_;
  std::map<std::string, Client> clients_;
  core::SteadyTime global_window_start_{};
  int global_failures_ = 0;
  core::SteadyTime ceiling_until_{};
};

}  // namespace ehg::http
