#include "gateway/crypto/jose.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "gateway/crypto/base64url.hpp"
#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/envelope.hpp"
#include "tests/fuzz/jose_fuzz_keys.hpp"

using ehg::crypto::Base64UrlDecode;
using ehg::crypto::Base64UrlEncode;
using ehg::crypto::EcKey;
using ehg::crypto::KeySet;
using ehg::crypto::Refusal;

namespace {

std::vector<std::string> Split(const std::string& compact) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t dot; (dot = compact.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(compact.substr(start, dot - start));
  }
  parts.push_back(compact.substr(start));
  return parts;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i)
    out += (i ? "." : "") + parts[i];
  return out;
}

std::string DecodeText(const std::string& part) {
  auto bytes = Base64UrlDecode(part);
  REQUIRE(bytes.has_value());
  return std::string(bytes->begin(), bytes->end());
}

// Flips one bit of the decoded part and encodes it again.
std::string FlipBit(const std::string& part, std::size_t byte = 0) {
  auto bytes = *Base64UrlDecode(part);
  bytes.at(byte) ^= 0x01;
  return Base64UrlEncode(bytes);
}

struct Keys {
  EcKey a = *EcKey::Generate();
  EcKey b = *EcKey::Generate();
  KeySet Only(const EcKey& key) const {
    KeySet set;
    set.Add(key);
    return set;
  }
};

Refusal ReasonOfJws(const std::string& jws, const KeySet& keys) {
  auto verified = ehg::crypto::VerifyCompactJws(jws, keys);
  REQUIRE_FALSE(verified.has_value());
  return verified.error().reason;
}

Refusal ReasonOfJwe(const std::string& jwe, const KeySet& keys) {
  auto decrypted = ehg::crypto::DecryptCompactJwe(jwe, keys);
  REQUIRE_FALSE(decrypted.has_value());
  return decrypted.error().reason;
}

}  // namespace

TEST_CASE("Concat KDF reproduces the ECDH-ES example of RFC 7518 appendix C") {
  // Alice's ephemeral key and Bob's key from the appendix; Z is their ECDH shared secret.
  auto alice = EcKey::FromJwkText(
      R"({"kty":"EC","crv":"P-256","x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",)"
      R"("y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps","d":"0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"})");
  REQUIRE(alice.has_value());
  const std::vector<std::uint8_t> z = {158, 86,  217, 29,  129, 113, 53,  211, 114, 131, 66,
                                       131, 191, 132, 38,  156, 251, 49,  110, 163, 218, 128,
                                       106, 72,  246, 218, 167, 121, 140, 254, 144, 196};
  const std::string_view apu = "Alice";
  const std::string_view apv = "Bob";
  const auto key = ehg::crypto::ConcatKdf(
      z, "A128GCM", std::span(reinterpret_cast<const std::uint8_t*>(apu.data()), apu.size()),
      std::span(reinterpret_cast<const std::uint8_t*>(apv.data()), apv.size()), 128);
  CHECK(Base64UrlEncode(key) == "VqqN6vgjbSBcIijNcacQGg");
}

TEST_CASE("An ES256 JWS verifies with its key and names it") {
  Keys keys;
  auto jws = ehg::crypto::SignCompactJws(keys.a, R"({"hello":"care"})");
  REQUIRE(jws.has_value());
  const auto parts = Split(*jws);
  REQUIRE(parts.size() == 3);
  CHECK(DecodeText(parts[0]) == R"({"alg":"ES256","kid":")" + keys.a.id() + "\"}");
  CHECK(Base64UrlDecode(parts[2])->size() == 64);
  auto verified = ehg::crypto::VerifyCompactJws(*jws, keys.Only(keys.a));
  REQUIRE(verified.has_value());
  CHECK(verified->payload == R"({"hello":"care"})");
  CHECK(verified->kid == keys.a.id());
  // ECDSA signatures are randomised: two signatures differ and both verify.
  auto second = ehg::crypto::SignCompactJws(keys.a, R"({"hello":"care"})");
  CHECK(Split(*second)[2] != parts[2]);
  CHECK(ehg::crypto::VerifyCompactJws(*second, keys.Only(keys.a)).has_value());
}

TEST_CASE("A JWS is refused when unsigned, tampered, signed by another key or with another algorithm") {
  Keys keys;
  const KeySet trusted = keys.Only(keys.a);
  const auto parts = Split(*ehg::crypto::SignCompactJws(keys.a, R"({"n":1})"));
  const std::string kid = keys.a.id();

  CHECK(ReasonOfJws(
            Join({Base64UrlEncode(std::string_view(R"({"alg":"none","kid":")" + kid + "\"}")), parts[1], ""}),
            trusted) == Refusal::kUnsigned);
  CHECK(ReasonOfJws(Join({parts[0], parts[1], ""}), trusted) == Refusal::kUnsigned);
  CHECK(ReasonOfJws(Join({Base64UrlEncode(std::string_view(R"({"alg":"HS256","kid":")" + kid + "\"}")),
                          parts[1], parts[2]}),
                    trusted) == Refusal::kAlgorithm);
  CHECK(ReasonOfJws(Join({parts[0], Base64UrlEncode(std::string_view(R"({"n":2})")), parts[2]}), trusted) ==
        Refusal::kBadSignature);
  CHECK(ReasonOfJws(Join({parts[0], parts[1], FlipBit(parts[2], 40)}), trusted) == Refusal::kBadSignature);
  // Signed by key b, but claiming to be key a.
  EcKey impostor = *EcKey::FromJwkText(
      keys.b.Jwk(true).replace(keys.b.Jwk(true).find(keys.b.id()), keys.b.id().size(), kid));
  CHECK(ReasonOfJws(*ehg::crypto::SignCompactJws(impostor, R"({"n":1})"), trusted) == Refusal::kBadSignature);
  CHECK(ReasonOfJws(*ehg::crypto::SignCompactJws(keys.b, R"({"n":1})"), trusted) == Refusal::kUnknownKey);
  CHECK(ReasonOfJws(Join({Base64UrlEncode(std::string_view(R"({"alg":"ES256"})")), parts[1], parts[2]}),
                    trusted) == Refusal::kUnknownKey);
  // Headers we do not accept, and broken shapes.
  CHECK(ReasonOfJws(
            Join({Base64UrlEncode(std::string_view(R"({"alg":"ES256","kid":")" + kid + R"(","alg":"none"})")),
                  parts[1], parts[2]}),
            trusted) == Refusal::kMalformed);
  CHECK(ReasonOfJws(Join({Base64UrlEncode(std::string_view(R"({"alg":"ES256","kid":")" + kid +
                                                           R"(","crit":["exp"],"exp":1})")),
                          parts[1], parts[2]}),
                    trusted) == Refusal::kMalformed);
  CHECK(ReasonOfJws(Join({parts[0], parts[1]}), trusted) == Refusal::kMalformed);
  CHECK(ReasonOfJws(Join({parts[0] + "=", parts[1], parts[2]}), trusted) == Refusal::kMalformed);
  CHECK(ReasonOfJws("", trusted) == Refusal::kMalformed);
}

TEST_CASE("A JWE decrypts only with the recipient's private key and refuses any change") {
  Keys keys;
  auto jwe = ehg::crypto::EncryptCompactJwe(keys.a, "the plaintext", "JOSE");
  REQUIRE(jwe.has_value());
  const auto parts = Split(*jwe);
  REQUIRE(parts.size() == 5);
  CHECK(parts[1].empty());
  const std::string header = DecodeText(parts[0]);
  CHECK(header.find(R"("alg":"ECDH-ES","enc":"A256GCM","cty":"JOSE","kid":")" + keys.a.id()) == 1);
  CHECK(header.find("\"epk\":{\"kty\":\"EC\",\"crv\":\"P-256\"") != std::string::npos);
  CHECK(header.find("\"d\"") == std::string::npos);
  CHECK(DecodeText(parts[3]) != "the plaintext");

  const KeySet own = keys.Only(keys.a);
  auto decrypted = ehg::crypto::DecryptCompactJwe(*jwe, own);
  REQUIRE(decrypted.has_value());
  CHECK(decrypted->plaintext == "the plaintext");
  CHECK(decrypted->cty == "JOSE");

  for (std::size_t part : {0u, 2u, 3u, 4u}) {
    auto changed = parts;
    changed[part] = part == 0
                        ? Base64UrlEncode(std::string_view(header.substr(0, header.size() - 1) + ",\"x\":1}"))
                        : FlipBit(parts[part]);
    CAPTURE(part);
    CHECK(ReasonOfJwe(Join(changed), own) == Refusal::kDecryptionFailed);
  }
  CHECK(ReasonOfJwe(*jwe, keys.Only(keys.b)) == Refusal::kUnknownKey);
  // Our kid on another key: the tag cannot match.
  EcKey other_with_our_kid = *EcKey::FromJwkText(
      keys.b.Jwk(true).replace(keys.b.Jwk(true).find(keys.b.id()), keys.b.id().size(), keys.a.id()));
  CHECK(ReasonOfJwe(*jwe, keys.Only(other_with_our_kid)) == Refusal::kDecryptionFailed);
  // Only the public half: nothing to decrypt with.
  CHECK(ReasonOfJwe(*jwe, keys.Only(*EcKey::FromPem(keys.a.PublicPem()))) == Refusal::kUnknownKey);
}

TEST_CASE("A JWE with another algorithm, an off-curve ephemeral key or compression is refused") {
  Keys keys;
  const KeySet own = keys.Only(keys.a);
  const auto parts = Split(*ehg::crypto::EncryptCompactJwe(keys.a, "x", ""));
  const std::string header = DecodeText(parts[0]);
  const auto with_header = [&](std::string changed) {
    auto copy = parts;
    copy[0] = Base64UrlEncode(std::string_view(changed));
    return Join(copy);
  };
  const auto replaced = [&](std::string_view from, std::string_view to) {
    std::string changed = header;
    changed.replace(changed.find(from), from.size(), to);
    return changed;
  };
  CHECK(ReasonOfJwe(with_header(replaced("\"ECDH-ES\"", "\"dir\"")), own) == Refusal::kAlgorithm);
  CHECK(ReasonOfJwe(with_header(replaced("\"ECDH-ES\"", "\"ECDH-ES+A256KW\"")), own) == Refusal::kAlgorithm);
  CHECK(ReasonOfJwe(with_header(replaced("A256GCM", "A128CBC-HS256")), own) == Refusal::kAlgorithm);
  CHECK(ReasonOfJwe(with_header(replaced("{", "{\"zip\":\"DEF\",")), own) == Refusal::kMalformed);
  const auto y_at = header.find("\"y\":\"") + 5;
  std::string off_curve = header;
  off_curve[y_at + 10] = off_curve[y_at + 10] == 'A' ? 'B' : 'A';
  CHECK(ReasonOfJwe(with_header(off_curve), own) == Refusal::kMalformed);
  auto with_key = parts;
  with_key[1] = "AAAA";
  CHECK(ReasonOfJwe(Join(with_key), own) == Refusal::kMalformed);
  CHECK(ReasonOfJwe(Join({parts[0], parts[1], parts[2], parts[3]}), own) == Refusal::kMalformed);
}

TEST_CASE("The envelope is a gateway-signed JWS inside a JWE for the care system") {
  Keys keys;  // a: the gateway, b: the care system
  auto sealed = ehg::crypto::SealEnvelope(R"({"schema":"x"})", keys.a, keys.b);
  REQUIRE(sealed.has_value());
  KeySet care_private = keys.Only(keys.b);
  KeySet gateways = keys.Only(*EcKey::FromPem(keys.a.PublicPem()));
  auto opened = ehg::crypto::OpenEnvelope(*sealed, care_private, gateways);
  REQUIRE(opened.has_value());
  CHECK(opened->body == R"({"schema":"x"})");
  CHECK(opened->gateway_kid == keys.a.id());
  CHECK(opened->recipient_kid == keys.b.id());
  // An envelope from a gateway that is not enrolled.
  auto stranger = ehg::crypto::SealEnvelope(R"({"schema":"x"})", *EcKey::Generate(), keys.b);
  auto refused = ehg::crypto::OpenEnvelope(*stranger, care_private, gateways);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().reason == Refusal::kUnknownKey);
  CHECK(refused.error().message.find("inner JWS") == 0);
}

TEST_CASE("A signed status wrapped in a JWE by someone else is not taken for an event") {
  Keys keys;  // a: the gateway, b: the care system
  // The status is public; anyone may encrypt it for the care system's public key.
  const auto status = ehg::crypto::SignCompactJws(keys.a, R"({"schema":"ehealth-gateway/status/v0"})",
                                                  ehg::crypto::kStatusJwsType);
  REQUIRE(status.has_value());
  const auto wrapped = ehg::crypto::EncryptCompactJwe(keys.b, *status, "JOSE");
  REQUIRE(wrapped.has_value());
  auto refused =
      ehg::crypto::OpenEnvelope(*wrapped, keys.Only(keys.b), keys.Only(*EcKey::FromPem(keys.a.PublicPem())));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().reason == Refusal::kMalformed);
  CHECK(refused.error().message == "inner JWS: a signed status, not an event");
}

namespace {
std::string ReadCorpus(const std::string& name) {
  std::ifstream in(std::string(EHG_SOURCE_DIR) + "/tests/fuzz/corpus/" + name);
  std::stringstream text;
  text << in.rdbuf();
  std::string content = text.str();
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r'))
    content.pop_back();
  return content;
}
}  // namespace

TEST_CASE("An envelope sealed by the jose tool (libjose) opens here, and its commands verify") {
  KeySet care = *KeySet::FromText(ehg::fuzz::kCareEncryptionKey);
  KeySet gateways = *KeySet::FromText(ehg::fuzz::kGatewayKey);
  auto opened =
      ehg::crypto::OpenEnvelope(ReadCorpus("jose_envelope/jose-tool-device-event.jwe"), care, gateways);
  REQUIRE_MESSAGE(opened.has_value(), (opened ? "" : opened.error().message));
  CHECK(opened->body.find(R"("gateway":"gw-fuzz")") != std::string::npos);
  CHECK(opened->gateway_kid == "fuzz-gateway");

  KeySet commands = *KeySet::FromText(ehg::fuzz::kCommandKey);
  const ehg::crypto::CommandPolicy policy{"gw-fuzz", "0301", std::chrono::seconds(60),
                                          std::chrono::hours(24)};
  const ehg::core::WallTime now{std::chrono::milliseconds(ehg::fuzz::kNowMilliseconds)};
  for (int i = 1; i <= 4; ++i) {
    CAPTURE(i);
    auto verified = ehg::crypto::VerifyCommand(
        ReadCorpus("jose_command/jose-tool-command-" + std::to_string(i) + ".jws"), commands, policy, now);
    REQUIRE_MESSAGE(verified.has_value(), (verified ? "" : verified.error().message));
    CHECK(verified->jti == "fuzz-" + std::to_string(i));
    CHECK(verified->signer == "fuzz-command");
  }
}
