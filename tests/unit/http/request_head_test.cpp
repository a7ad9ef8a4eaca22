#include "gateway/http/request_head.hpp"

#include <doctest/doctest.h>

#include <string>

using ehg::http::HeadLimits;
using ehg::http::HeadOutcome;
using ehg::http::ParseRequestHead;
using ehg::http::Refusal;

namespace {

// The status a head is refused with, 0 when it is taken, -1 when more bytes are needed.
int Verdict(const std::string& received, const HeadLimits& limits = {}) {
  const auto verdict = ParseRequestHead(received, limits);
  if (verdict.outcome == HeadOutcome::kIncomplete) return -1;
  if (verdict.outcome == HeadOutcome::kComplete) return 0;
  return verdict.status;
}

}  // namespace

TEST_CASE("A browser's request head is taken, with its fields by lower-case name") {
  const auto verdict = ParseRequestHead(
      "GET /api/status?x=1 HTTP/1.1\r\nHost: 192.168.1.20:8443\r\nAuthorization:  Bearer abc \r\n"
      "Accept: */*\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(verdict.outcome == HeadOutcome::kComplete);
  CHECK(verdict.head.method == "GET");
  CHECK(verdict.head.target == "/api/status?x=1");
  CHECK(verdict.head.version == "HTTP/1.1");
  CHECK(verdict.head.Field("authorization") == "Bearer abc");
  CHECK(verdict.head.Field("host") == "192.168.1.20:8443");
  CHECK_FALSE(verdict.head.Field("cookie"));
  // Bare line feeds, HTTP/1.0 without Host, and HEAD.
  CHECK(Verdict("HEAD / HTTP/1.0\n\n") == 0);
}

TEST_CASE("A head is incomplete until its blank line, whatever part has arrived") {
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n";
  for (std::size_t size = 0; size < head.size(); ++size) {
    INFO(size);
    CHECK(Verdict(head.substr(0, size)) == -1);
  }
  CHECK(Verdict(head) == 0);
}

TEST_CASE("Anything announcing a body is refused from the head alone") {
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n") == 413);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0000000000000000000001\r\n\r\n") == 413);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n") == 413);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n") == 0);
  CHECK(Verdict("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n") == 413);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: identity\r\n\r\n") == 413);
  CHECK(ParseRequestHead("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n").refusal == Refusal::kBody);
}

TEST_CASE("Shapes that smuggle requests past other parsers are refused") {
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n") == 400);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n") == 400);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n") == 400);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n") == 400);  // space before colon
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n") == 400);       // folded
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n") == 400);           // bare CR
  CHECK(Verdict(std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\0c\r\n\r\n", 37)) == 400);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\n: no name\r\n\r\n") == 400);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n") == 400);
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n") ==
        400);
  CHECK(Verdict("GET / HTTP/1.1\r\n\r\n") == 400);                        // 1.1 without Host
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);  // two hosts
  // Obs-text in a value is opaque, not refused.
  CHECK(Verdict("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: caf\xc3\xa9\r\n\r\n") == 0);
}

TEST_CASE("Request lines that are not HTTP/1.x origin-form are refused") {
  CHECK(Verdict("GET  / HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
  CHECK(Verdict("GET / HTTP/1.1 \r\nHost: x\r\n\r\n") == 400);
  CHECK(Verdict("GET /\r\n\r\n") == 400);  // HTTP/0.9
  CHECK(Verdict("GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
  CHECK(Verdict("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
  CHECK(Verdict("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == 505);
  CHECK(Verdict("GET / HTTP/2.0\r\nHost: x\r\n\r\n") == 505);
  CHECK(Verdict("GET / HTTPS/1.1\r\nHost: x\r\n\r\n") == 400);
  CHECK(Verdict("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n") == 400);  // raw UTF-8 in the target
  // Other methods pass the parser: the server answers them 405.
  CHECK(Verdict("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
}

TEST_CASE("Junk is refused as soon as its first bytes arrive") {
  CHECK(Verdict("\x16\x03\x01\x02\x00\x01") == 400);  // a TLS ClientHello on the plain port
  CHECK(Verdict(std::string(1, '\0')) == 400);
  CHECK(Verdict("G\x7f") == 400);
  CHECK(Verdict(std::string(21, 'A')) == 400);  // no method is that long
  CHECK(Verdict("GET /\x01") == 400);
  CHECK(Verdict("GET") == -1);
  CHECK(Verdict("GET /a") == -1);
}

TEST_CASE("Heads are bounded: the target, the field count and the whole size") {
  HeadLimits limits;
  limits.max_head_bytes = 1024;
  limits.max_target_bytes = 256;
  limits.max_fields = 8;
  CHECK(Verdict("GET /" + std::string(255, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", limits) == 0);
  CHECK(Verdict("GET /" + std::string(256, 'a'), limits) == 414);  // known before the line ends
  CHECK(ParseRequestHead("GET /" + std::string(256, 'a'), limits).refusal == Refusal::kHeadTooLarge);

  std::string fields = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 7; ++i)
    fields += "X: y\r\n";
  CHECK(Verdict(fields + "\r\n", limits) == 0);
  CHECK(Verdict(fields + "X: y\r\n", limits) == 431);  // the ninth field, before the head ends

  const std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(1024, 'b');
  CHECK(Verdict(big.substr(0, 1024), limits) == -1);  // exactly at the limit: may still end
  CHECK(Verdict(big.substr(0, 1025), limits) == 431);
  // A complete head one byte over the limit, and one just within.
  const std::string prefix = "GET / HTTP/1.1\r\nHost: x\r\nX: ";
  const std::string within = prefix + std::string(1024 - prefix.size() - 4, 'c') + "\r\n\r\n";
  REQUIRE(within.size() == 1024);
  CHECK(Verdict(within, limits) == 0);
  CHECK(Verdict(prefix + std::string(1024 - prefix.size() - 3, 'c') + "\r\n\r\n", limits) == 431);
}
