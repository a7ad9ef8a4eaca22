#include "gateway/http/access.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::http::AuthLimiter;
using ehg::http::ClientKey;
using ehg::http::LimiterOptions;
using ehg::http::TokenFromAuthorization;
using ehg::http::TokensEqual;

TEST_CASE("A bearer token and a Basic password are both taken as the token") {
  CHECK(TokenFromAuthorization("Bearer abc123") == "abc123");
  CHECK(TokenFromAuthorization("bearer   abc123  ") == "abc123");
  // "installer:s3cret" in Base64: the browser's login prompt sends this.
  CHECK(TokenFromAuthorization("Basic aW5zdGFsbGVyOnMzY3JldA==") == "s3cret");
  // The password may hold a colon; only the first one separates the user name.
  CHECK(TokenFromAuthorization("Basic dTphOmI=") == "a:b");
}

TEST_CASE("Malformed authorization headers carry no token") {
  CHECK_FALSE(TokenFromAuthorization(""));
  CHECK_FALSE(TokenFromAuthorization("Bearer "));
  CHECK_FALSE(TokenFromAuthorization("Token abc"));
  CHECK_FALSE(TokenFromAuthorization("Basic !!!not-base64!!!"));
  CHECK_FALSE(TokenFromAuthorization("Basic dXNlcm9ubHk="));  // "useronly": no colon
  CHECK_FALSE(TokenFromAuthorization("Basic dXNlcjo="));      // "user:": empty password
}

TEST_CASE("Tokens compare equal only when every byte and the length match") {
  CHECK(TokensEqual("0123456789abcdef", "0123456789abcdef"));
  CHECK_FALSE(TokensEqual("0123456789abcdef", "0123456789abcdeX"));
  CHECK_FALSE(TokensEqual("0123456789abcdef", "0123456789abcde"));
  CHECK_FALSE(TokensEqual("0123456789abcdef", "0123456789abcdef0"));
  CHECK_FALSE(TokensEqual("0123456789abcdef", ""));
  CHECK_FALSE(TokensEqual("", ""));  // no token configured never matches
}

TEST_CASE("A client is locked out after five wrong tokens, for doubling times up to the maximum") {
  AuthLimiter limiter;
  const ehg::core::SteadyTime start{};
  auto now = start + 1h;
  for (int i = 0; i < 4; ++i) {
    limiter.Failed("10.0.0.5", now);
    CHECK_FALSE(limiter.LockedOut("10.0.0.5", now));
  }
  limiter.Failed("10.0.0.5", now);
  CHECK(limiter.LockedOut("10.0.0.5", now) == 2s);
  CHECK_FALSE(limiter.LockedOut("10.0.0.6", now));  // another address is not affected
  now += 2s;
  CHECK_FALSE(limiter.LockedOut("10.0.0.5", now));
  limiter.Failed("10.0.0.5", now);
  CHECK(limiter.LockedOut("10.0.0.5", now) == 4s);
  for (int i = 0; i < 20; ++i)
    limiter.Failed("10.0.0.5", now);
  CHECK(limiter.LockedOut("10.0.0.5", now) == 15min);
}

TEST_CASE("A right token clears the client's failures, an hour of quiet forgets them") {
  AuthLimiter limiter;
  auto now = ehg::core::SteadyTime{} + 1h;
  for (int i = 0; i < 4; ++i)
    limiter.Failed("10.0.0.5", now);
  limiter.Succeeded("10.0.0.5");
  limiter.Failed("10.0.0.5", now);
  CHECK_FALSE(limiter.LockedOut("10.0.0.5", now));

  for (int i = 0; i < 3; ++i)
    limiter.Failed("10.0.0.7", now);
  now += 61min;
  limiter.Failed("10.0.0.7", now);
  limiter.Failed("10.0.0.7", now);
  CHECK_FALSE(limiter.LockedOut("10.0.0.7", now));  // 2 failures counted, not 5
}

TEST_CASE("Many addresses guessing together never lock out an address that has not failed") {
  LimiterOptions options;
  options.global_failures_per_minute = 30;
  AuthLimiter limiter(options);
  auto now = ehg::core::SteadyTime{} + 1h;
  for (int i = 0; i < 29; ++i)
    limiter.Failed("10.0.1." + std::to_string(i), now);
  CHECK_FALSE(limiter.OverCeiling(now));
  CHECK_FALSE(limiter.LockedOut("10.0.1.0", now));  // one failure each: below the per-address limit
  limiter.Failed("10.0.1.200", now);
  CHECK(limiter.OverCeiling(now));
  // The installer's address has not failed: its token is checked, however many others guess.
  for (int i = 0; i < 1000; ++i)
    limiter.Failed("10.0.3." + std::to_string(i % 250) + "." + std::to_string(i), now);
  CHECK_FALSE(limiter.LockedOut("10.0.2.1", now));
  CHECK_FALSE(limiter.LockedOut("192.168.1.20", now + 1s));
}

TEST_CASE("Over the ceiling the first wrong token locks its address, for a minute after the last wave") {
  LimiterOptions options;
  options.global_failures_per_minute = 30;
  AuthLimiter limiter(options);
  auto now = ehg::core::SteadyTime{} + 1h;
  for (int i = 0; i < 30; ++i)
    limiter.Failed("10.0.1." + std::to_string(i), now);
  REQUIRE(limiter.OverCeiling(now));
  CHECK(limiter.LockedOut("10.0.1.29", now) == 2s);  // the failure that crossed the ceiling
  CHECK_FALSE(limiter.LockedOut("10.0.1.28", now));  // failed before it: one free failure spent
  limiter.Failed("10.0.1.28", now);
  CHECK(limiter.LockedOut("10.0.1.28", now) == 4s);  // its second failure, doubling from there
  limiter.Failed("10.0.9.9", now + 10s);
  CHECK(limiter.LockedOut("10.0.9.9", now + 10s) == 2s);
  // A quiet minute: back to five free failures per address.
  now += 2min;
  CHECK_FALSE(limiter.OverCeiling(now));
  limiter.Failed("10.0.8.8", now);
  CHECK_FALSE(limiter.LockedOut("10.0.8.8", now));
}

TEST_CASE("The limiter tracks a bounded number of addresses") {
  LimiterOptions options;
  options.max_clients = 3;
  options.global_failures_per_minute = 1000;
  AuthLimiter limiter(options);
  auto now = ehg::core::SteadyTime{} + 1h;
  for (int i = 0; i < 5; ++i)
    limiter.Failed("a", now);
  REQUIRE(limiter.LockedOut("a", now));
  now += 1s;
  limiter.Failed("b", now);
  limiter.Failed("c", now);
  limiter.Failed("d", now);  // "a" failed least recently: forgotten
  CHECK_FALSE(limiter.LockedOut("a", now));
}

TEST_CASE("A client is its IPv4 address, or its IPv6 /64") {
  CHECK(ClientKey("192.168.1.20") == "192.168.1.20");
  CHECK(ClientKey("::ffff:192.168.1.20") == "192.168.1.20");  // IPv4 through a dual-stack listener
  CHECK(ClientKey("::FFFF:c0a8:114") == "192.168.1.20");
  CHECK(ClientKey("2001:db8:1:2::1") == "2001:db8:1:2::/64");
  CHECK(ClientKey("2001:0db8:0001:0002:a1b2:c3d4:e5f6:0708") == "2001:db8:1:2::/64");
  CHECK(ClientKey("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64");
  CHECK(ClientKey("2001:db8:1:3::1") == "2001:db8:1:3::/64");
  CHECK(ClientKey("fe80::1c2d:3e4f:5a6b:7c8d") == "fe80::/64");
  CHECK(ClientKey("::1") == "::/64");
  // A /64 key is never an IPv4 key, nor the key of an address written like one.
  CHECK(ClientKey("2001:db8:1:2::/64") == "2001:db8:1:2::/64");  // not an address: its own key
  CHECK(ClientKey("") == "");
}

TEST_CASE("Wrong tokens from fresh addresses of one IPv6 /64 lock the whole /64 out") {
  LimiterOptions options;
  options.global_failures_per_minute = 1000;
  AuthLimiter limiter(options);
  const auto now = ehg::core::SteadyTime{} + 1h;
  // A guesser taking a new address of its network for every guess (what SLAAC privacy addresses allow).
  for (int i = 1; i <= 20; ++i)
    limiter.Failed(ClientKey("2001:db8:1:2:" + std::to_string(i) + "::" + std::to_string(i)), now);
  CHECK(limiter.LockedOut(ClientKey("2001:db8:1:2:abcd::1"), now));
  CHECK(limiter.LockedOut(ClientKey("2001:db8:1:2:abcd::1"), now) > 60s);  // 20 failures, not 1
  // Its neighbour network and IPv4 clients are not touched.
  CHECK_FALSE(limiter.LockedOut(ClientKey("2001:db8:1:3::1"), now));
  CHECK_FALSE(limiter.LockedOut(ClientKey("::ffff:192.168.1.20"), now));
}

TEST_CASE("Basic credentials are strict base64 with padding") {
  CHECK(TokenFromAuthorization("Basic dTpw") == "p");          // "u:p", no padding needed
  CHECK(TokenFromAuthorization("Basic dTpwcA==") == "pp");     // "u:pp", two padding characters
  CHECK(TokenFromAuthorization("Basic dTpwcHA=") == "ppp");    // "u:ppp", one
  CHECK_FALSE(TokenFromAuthorization("Basic dTpwcA"));         // padding missing
  CHECK_FALSE(TokenFromAuthorization("Basic dTpw cA=="));      // a space inside
  CHECK_FALSE(TokenFromAuthorization("Basic dT=wcA=="));       // padding in the middle
  CHECK_FALSE(TokenFromAuthorization("Basic a W5zdGFsbGVy"));  // what the fuzzer found leaking before
}
