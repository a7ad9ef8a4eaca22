#include "gateway/core/address.hpp"

#include <doctest/doctest.h>

using ehg::core::IsLoopbackHost;
using ehg::core::ParseHostPort;

TEST_CASE("Only loopback addresses count as loopback") {
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("127.1.2.3"));
  CHECK(IsLoopbackHost("::1"));
  CHECK(IsLoopbackHost("localhost"));
  CHECK_FALSE(IsLoopbackHost("0.0.0.0"));
  CHECK_FALSE(IsLoopbackHost("::"));
  CHECK_FALSE(IsLoopbackHost("192.168.1.20"));
  CHECK_FALSE(IsLoopbackHost("127.0.0.1.example.org"));
  CHECK_FALSE(IsLoopbackHost("127.0.0"));
  CHECK_FALSE(IsLoopbackHost("127..0.1"));
  CHECK_FALSE(IsLoopbackHost("127.0.0.1234"));
  CHECK_FALSE(IsLoopbackHost("gateway.local"));
}

TEST_CASE("Listening addresses are host:port with IPv6 in brackets") {
  const auto ipv4 = ParseHostPort("127.0.0.1:8780");
  REQUIRE(ipv4);
  CHECK(ipv4->host == "127.0.0.1");
  CHECK(ipv4->port == 8780);
  const auto ipv6 = ParseHostPort("[::]:8443");
  REQUIRE(ipv6);
  CHECK(ipv6->host == "::");
  CHECK(ipv6->port == 8443);
  CHECK(ParseHostPort("gateway.local:1")->host == "gateway.local");
  CHECK_FALSE(ParseHostPort("127.0.0.1"));
  CHECK_FALSE(ParseHostPort(":8780"));
  CHECK_FALSE(ParseHostPort("127.0.0.1:0"));
  CHECK_FALSE(ParseHostPort("127.0.0.1:65536"));
  CHECK_FALSE(ParseHostPort("127.0.0.1:80x"));
  CHECK_FALSE(ParseHostPort("::1:8780"));  // ambiguous without brackets
  CHECK_FALSE(ParseHostPort("[]:8780"));
  CHECK_FALSE(ParseHostPort("host name:8780"));
}
