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

TEST_CASE("Listening addresses refuse non-ASCII names, bracketed names and garbage after the port") {
  CHECK(ParseHostPort("gateway_1.local:8780")->host == "gateway_1.local");
  CHECK(ParseHostPort("[::ffff:127.0.0.1]:8780")->host == "::ffff:127.0.0.1");
  CHECK_FALSE(ParseHostPort("br\xC3\xB8ker.no:8780"));  // "brøker" in UTF-8
  CHECK_FALSE(ParseHostPort("[localhost]:8780"));       // brackets hold an IPv6 literal only
  CHECK_FALSE(ParseHostPort("[::1]8780"));
  CHECK_FALSE(ParseHostPort("[::1:8780"));
  CHECK_FALSE(ParseHostPort("127.0.0.1:8780 "));
  CHECK_FALSE(ParseHostPort("127.0.0.1:+8780"));
  CHECK_FALSE(ParseHostPort("127.0.0.1:-1"));
  CHECK_FALSE(ParseHostPort("127.0.0.1:"));
}

namespace {

using ehg::Errc;
using ehg::core::BrokerScheme;
using ehg::core::BrokerUri;
using ehg::core::MissingPort;
using ehg::core::ParseBrokerUri;

Errc BrokerUriError(std::string_view text, MissingPort missing_port = MissingPort::kRefused) {
  const auto parsed = ParseBrokerUri(text, missing_port);
  REQUIRE_FALSE(parsed.has_value());
  return parsed.error().code;
}

}  // namespace

TEST_CASE("Broker URIs are split into scheme, host and port once, for the config and the uplink") {
  struct Vector {
    const char* uri;
    BrokerScheme scheme;
    const char* scheme_name;
    const char* host;
    std::uint16_t port;
    bool tls;
  };
  for (const Vector& vector : {
           Vector{"ssl://mqtt.example.no:8883", BrokerScheme::kSsl, "ssl", "mqtt.example.no", 8883, true},
           Vector{"mqtts://127.0.0.1:18883", BrokerScheme::kMqtts, "mqtts", "127.0.0.1", 18883, true},
           Vector{"tcp://localhost:1883", BrokerScheme::kTcp, "tcp", "localhost", 1883, false},
           Vector{"mqtt://broker_1:1", BrokerScheme::kMqtt, "mqtt", "broker_1", 1, false},
           Vector{"ssl://[::1]:8883", BrokerScheme::kSsl, "ssl", "::1", 8883, true},
           Vector{"ssl://[2001:db8::7]:65535", BrokerScheme::kSsl, "ssl", "2001:db8::7", 65535, true},
       }) {
    CAPTURE(vector.uri);
    const auto uri = ParseBrokerUri(vector.uri);
    REQUIRE(uri.has_value());
    CHECK(uri->scheme == vector.scheme);
    CHECK(uri->host == vector.host);
    CHECK(uri->port == vector.port);
    CHECK(uri->tls() == vector.tls);
    CHECK(uri->scheme_name() == vector.scheme_name);
  }
}

TEST_CASE("A broker URI without a port is refused, or given the scheme's default port when asked") {
  CHECK(BrokerUriError("ssl://mqtt.example.no") == Errc::kParse);
  CHECK(BrokerUriError("ssl://[::1]") == Errc::kParse);
  const auto tls = ParseBrokerUri("ssl://broker", MissingPort::kSchemeDefault);
  REQUIRE(tls.has_value());
  CHECK(tls->port == 8883);
  CHECK(ParseBrokerUri("mqtts://[::1]", MissingPort::kSchemeDefault)->port == 8883);
  CHECK(ParseBrokerUri("tcp://localhost", MissingPort::kSchemeDefault)->port == 1883);
  CHECK(ParseBrokerUri("mqtt://localhost", MissingPort::kSchemeDefault)->port == 1883);
  // A colon promises a port: "host:" is not "host".
  CHECK(BrokerUriError("ssl://broker:", MissingPort::kSchemeDefault) == Errc::kParse);
}

TEST_CASE("Malformed broker URIs are parse errors, whatever their scheme") {
  for (const char* bad : {
           "broker:8883",                  // no scheme
           "mqtt.example.no",              //
           "ssl:/broker:8883",             //
           "ssl://:8883",                  // empty host
           "ssl://",                       //
           "ssl://[]:8883",                //
           "ssl://host:0",                 // port out of range
           "ssl://host:65536",             //
           "ssl://host:70000",             //
           "ssl://host:8x",                // trailing garbage
           "ssl://host:8883/",             //
           "ssl://host:8883/path",         //
           "ssl://host:8883 ",             //
           "ssl://host:8883:1",            //
           "ssl://[::1]:8883x",            //
           "ssl://[::1",                   // unclosed bracket
           "ssl://::1:8883",               // IPv6 without brackets
           "ssl://[broker]:8883",          // a name in brackets
           "ssl://user@host:8883",         // no user info
           "ssl://host/x:8883",            //
           "ssl://br\xC3\xB8ker.no:8883",  // non-ASCII ("brøker"): not resolvable as written
           "ssl://host\xFF:8883",          //
           "ssl://ho st:8883",             //
           "http://host",                  // unknown scheme, but malformed first
       }) {
    CAPTURE(bad);
    CHECK(BrokerUriError(bad) == Errc::kParse);
  }
}

TEST_CASE("A well-formed broker URI with another scheme is unsupported, not malformed") {
  for (const char* other :
       {"http://host:80", "ws://host:80", "SSL://host:8883", "://host:8883", "wss://[::1]:443"}) {
    CAPTURE(other);
    CHECK(BrokerUriError(other) == Errc::kUnsupported);
  }
  CHECK(BrokerUriError("ws://host", MissingPort::kSchemeDefault) == Errc::kUnsupported);
}
