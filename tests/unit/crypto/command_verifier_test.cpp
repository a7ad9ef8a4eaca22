#include "gateway/crypto/command_verifier.hpp"

#include <doctest/doctest.h>

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
  CommandPolicy policy{"gw-7", 60s, 24h};
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

std::string Claims(std::string_view aud, std::int64_t exp, std::string_view extra = "") {
  return "{\"aud\":" + std::string(aud) + ",\"exp\":" + std::to_string(exp) + ",\"jti\":\"j-1\"" +
         std::string(extra) + ",\"command\":{\"id\":\"c-1\",\"type\":\"ping\"}}";
}

constexpr std::int64_t kNowSeconds = 1'795'000'000;

}  // namespace

TEST_CASE("A signed command for this gateway, in time, is accepted with its jti and expiry") {
  Fixture f;
  auto signed_command =
      ehg::crypto::SignCommand(f.care, "gw-7", R"({"id":"c-9","type":"ping"})", "jti-9", kNow, 300s);
  REQUIRE(signed_command.has_value());
  auto verified = f.Verify(*signed_command);
  REQUIRE(verified.has_value());
  CHECK(verified->jti == "jti-9");
  CHECK(verified->remember_until == kNow + 300s + 60s);  // exp plus the skew allowance
  CHECK(verified->signer == f.care.id());
  REQUIRE(verified->command.Find("id") != nullptr);
  CHECK(verified->command.Find("id")->text == "c-9");
  // aud may be an array that names this gateway among others.
  CHECK(f.Verify(f.Signed(Claims(R"(["gw-1","gw-7"])", kNowSeconds + 60))).has_value());
}

TEST_CASE("Commands are refused when expired, early, for another gateway, or without the claims") {
  Fixture f;
  CHECK(f.Reason(f.Signed(Claims("\"gw-8\"", kNowSeconds + 60))) == Refusal::kWrongAudience);
  CHECK(f.Reason(f.Signed(Claims(R"(["gw-1"])", kNowSeconds + 60))) == Refusal::kWrongAudience);
  CHECK(f.Reason(f.Signed(R"({"exp":1795000060,"jti":"j","command":{}})")) == Refusal::kWrongAudience);
  // The skew allowance: 59 s after exp still passes, 60 s does not.
  CHECK(f.Verify(f.Signed(Claims("\"gw-7\"", kNowSeconds - 59))).has_value());
  CHECK(f.Reason(f.Signed(Claims("\"gw-7\"", kNowSeconds - 60))) == Refusal::kExpired);
  CHECK(f.Verify(f.Signed(Claims("\"gw-7\"", kNowSeconds + 600, ",\"iat\":1795000060"))).has_value());
  CHECK(f.Reason(f.Signed(Claims("\"gw-7\"", kNowSeconds + 600, ",\"iat\":1795000061"))) ==
        Refusal::kNotYetValid);
  CHECK(f.Reason(f.Signed(Claims("\"gw-7\"", kNowSeconds + 600, ",\"nbf\":1795000100"))) ==
        Refusal::kNotYetValid);
  // exp far ahead would make the replay window unbounded.
  CHECK(f.Reason(f.Signed(Claims("\"gw-7\"", kNowSeconds + 25 * 3600))) == Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"gw-7","jti":"j","command":{}})")) == Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"gw-7","exp":"soon","jti":"j","command":{}})")) == Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"gw-7","exp":1795000060,"command":{}})")) == Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"gw-7","exp":1795000060,"jti":"","command":{}})")) ==
        Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"({"aud":"gw-7","exp":1795000060,"jti":"j","command":"ping"})")) ==
        Refusal::kMalformed);
  CHECK(f.Reason(f.Signed(R"(["aud","gw-7"])")) == Refusal::kMalformed);
  // A plain JSON command is not a JWS at all.
  CHECK(f.Reason(R"({"id":"c-1","type":"ping"})") == Refusal::kMalformed);
}
