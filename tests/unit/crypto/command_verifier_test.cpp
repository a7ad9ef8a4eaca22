#include "gateway/crypto/command_verifier.hpp"

#include <doctest/doctest.h>

#include "care/command_signing.hpp"
#include "gateway/core/utf8.hpp"
#include "gateway/crypto/base64url.hpp"

using ehg::core::WallTime;
using ehg::crypto::CommandPolicy;
using ehg::crypto::EcKey;
using ehg::crypto::KeySet;
using ehg::crypto::Refusal;
using namespace std::chrono_literals;

namespace {

const WallTime kNow{std::chrono::milliseconds{1'795'000'000'000}};

struct Fixture {
  EcKey care = *EcKey::Generate();
  KeySet keys;
  CommandPolicy policy{"gw-7", "0301", 60s, 24h};
  Fixture() { keys.Add(*EcKey::FromPem(care.PublicPem())); }

  std::string Signed(std::string_view claims) { return *ehg::crypto::SignCompactJws(care, claims); }
  ehg::crypto::Checked<ehg::crypto::VerifiedCommand> Verify(const std::string& jws, WallTime now = kNow) {
    return ehg::crypto::VerifyCommand(jws, keys, policy, now);
  }
  Refusal Reason(const std::string& jws, WallTime now = kNow) {
    auto verified = Verify(jws, now);
    REQUIRE_FALSE(verified.has_value());
    return verified.error().reason;
  }
};

std::string Claims(std::string_view aud, std::int64_t exp, std::string_view extra = ",\"iat\":1795000000") {
  return "{\"aud\":" + std::string(aud) + ",\"exp\":" + std::to_string(exp) + ",\"jti\":\"j-1\"" +
         std::string(extra) + ",\"command\":{\"id\":\"c-1\",\"type\":\"ping\"}}";
}

constexpr std::int64_t kNowSeconds = 1'795'000'000;

}  // namespace

TEST_CASE("A signed command for this gateway, in time, is accepted with its jti and expiry") {
  Fixture f;
  auto signed_command =
      ehg::care::SignCommand(f.care, "0301", "gw-7", R"({"id":"c-9","type":"ping"})", "jti-9", kNow, 300s);
  REQUIRE(signed_command.has_value());
  auto verified = f.Verify(*signed_command);
  REQUIRE(verified.has_value());
  CHECK(verified->jti == "jti-9");
  CHECK(verified->remember_until == kNow + 300s + 60s);  // exp plus the skew allowance
  CHECK(verified->signer == f.care.id());
  CHECK(verified->issued_at == kNow);
  REQUIRE(verified->command.Find("id") != nullptr);
  CHECK(verified->command.Find("id")->text == "c-9");
  // aud may be an array that names this gateway among others.
  CHECK(f.Verify(f.Signed(Claims(R"(["0301/gw-1","0301/gw-7"])", kNowSeconds + 60))).has_value());
}

TEST_CASE("Commands are refused when expired, early, for another gateway, or without the claims") {
  Fixture f;
  CHECK(f.Reason(f.Signed(Claims("\"0301/gw-8\"", kNowSeconds + 60))) == Refusal::kWrongAudience);
  CHECK(f.Reason(f.Signed(Claims(R"(["0301/gw-1"])", kNowSeconds + 60))) == Refusal::kWrongAudience);
  CHECK(f.Reason(f.Signed(R"({"exp":1795000060,"jti":"j","command":{}})")) == Refusal::kWrongAudience);
  // The skew allowance: 59 s after exp still passes, 60 s does not.
  CHECK(f.Verify(f.Signed(Claims("\"0301/gw-7\"", kNowSeconds - 59))).has_value());
  CHECK(f.Reason(f.Signed(Claims("\"0301/gw-7\"", kNowSeconds - 60))) == Refusal::kExpired);
  CHECK(f.Verify(f.Signed(Claims("\"0301/gw-7\"", kNowSeconds + 600, ",\"iat\":1795000060"))).has_value());
  CHECK(f.Reason(f.Signed(Claims("\"0301/gw-7\"", kNowSeconds + 600, ""))) == Refusal::kMalformed);  // no iat
  CHECK(f.Reason(f.Signed(Claims("\"0301/gw-7\"", kNowSeconds + 600, ",\"iat\":1795000061"))) ==
        Refusal::kNotYetValid);
  CHECK(f.Reason(f.Signed(Claims("\"0301/gw-7\"", kNowSeconds + 600,
                                 ",\"iat\":1795000000,\"nbf\":1795000100"))) == Refusal::kNotYetValid);
  // exp far ahead would make the replay window unbounded.
  CHECK(f.Reason(f.Signed(Claims("\"0301/gw-7\"", kNowSeconds + 25 * 3600))) == Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"0301/gw-7","iat":1795000000,"jti":"j","command":{}})")) ==
        Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"0301/gw-7","iat":1795000000,"exp":"soon","jti":"j","command":{}})")) ==
        Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"0301/gw-7","iat":1795000000,"exp":1795000060,"command":{}})")) ==
        Refusal::kMalformed);
  CHECK(
      f.Reason(f.Signed(R"({"aud":"0301/gw-7","iat":1795000000,"exp":1795000060,"jti":"","command":{}})")) ==
      Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(
            R"({"aud":"0301/gw-7","iat":1795000000,"exp":1795000060,"jti":"j","command":"ping"})")) ==
        Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"(["aud","gw-7"])")) == Refusal::kMalformed);
  // A plain JSON command is not a JWS at all.
  CHECK(f.Reason(R"({"id":"c-1","type":"ping"})") == Refusal::kMalformed);
}

TEST_CASE("A command for the same gateway id in another municipality is refused") {
  Fixture f;
  // Municipality 0302 also has a "gw-7"; one regional care system signs for both with one key.
  auto for_other =
      ehg::care::SignCommand(f.care, "0302", "gw-7", R"({"id":"c-1","type":"ping"})", "j-o", kNow, 300s);
  REQUIRE(for_other.has_value());
  CHECK(f.Reason(*for_other) == Refusal::kWrongAudience);
  // The old form, the gateway id alone, names no municipality.
  CHECK(f.Reason(f.Signed(Claims("\"gw-7\"", kNowSeconds + 60))) == Refusal::kWrongAudience);
  CHECK(f.Reason(f.Signed(Claims(R"(["gw-7","0302/gw-7"])", kNowSeconds + 60))) == Refusal::kWrongAudience);
  // Near misses of the right audience.
  for (const char* aud :
       {"\"0301/gw-7/\"", "\"0301//gw-7\"", "\"/0301/gw-7\"", "\"0301/GW-7\"", "\" 0301/gw-7\"",
        "\"0301\\u002fgw-7x\"", "\"0301\"", "{\"0301\":\"gw-7\"}", "null", "[]", "[[\"0301/gw-7\"]]"}) {
    CAPTURE(aud);
    CHECK(f.Reason(f.Signed(Claims(aud, kNowSeconds + 60))) == Refusal::kWrongAudience);
  }
  // An escaped slash is the same string: JSON says so.
  CHECK(f.Verify(f.Signed(Claims("\"0301\\u002fgw-7\"", kNowSeconds + 60))).has_value());
  // A verifier without a configured tenant accepts nothing.
  f.policy.tenant.clear();
  CHECK(f.Reason(f.Signed(Claims("\"/gw-7\"", kNowSeconds + 60))) == Refusal::kWrongAudience);
}

TEST_CASE("Signed bytes that are not UTF-8 are refused and the refusal names no raw byte") {
  Fixture f;
  // A signed alert.resolve whose note is Latin-1: the gateway would otherwise put it in a signed event
  // the care system cannot parse, and send that event for ever.
  const std::string latin1 =
      "{\"aud\":\"0301/gw-7\",\"iat\":1795000000,\"exp\":1795000060,\"jti\":\"j-l\","
      "\"command\":{\"id\":\"c-1\",\"type\":\"alert.resolve\",\"alert_id\":\"a\","
      "\"note\":\"Bes\xF8k utf\xF8rt\"}}";
  auto verified = f.Verify(f.Signed(latin1));
  REQUIRE_FALSE(verified.has_value());
  CHECK(verified.error().reason == Refusal::kMalformed);
  CHECK(verified.error().message.find("invalid UTF-8") != std::string::npos);
  CHECK(ehg::core::IsValidUtf8(verified.error().message));
  // An unsigned message whose header names a key id with such bytes: refused, message valid UTF-8.
  for (const std::string& header :
       {std::string("{\"alg\":\"ES256\",\"kid\":\"k\xE9y\"}"),
        std::string("{\"alg\":\"ES256\",\"kid\":\"") + std::string(63, 'k') + "\xC3\xA9\"}"}) {
    const std::string jws = ehg::crypto::Base64UrlEncode(std::string_view(header)) + "." +
                            ehg::crypto::Base64UrlEncode(std::string_view("{}")) + ".AAAA";
    auto refused = f.Verify(jws);
    REQUIRE_FALSE(refused.has_value());
    CHECK(ehg::core::IsValidUtf8(refused.error().message));
  }
}
