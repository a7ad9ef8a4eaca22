#include "gateway/crypto/jose.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "gateway/core/json.hpp"
#include "gateway/core/utf8.hpp"
#include "gateway/crypto/base64url.hpp"
#include "gateway/crypto/openssl_handles.hpp"

namespace ehg::crypto {
namespace {

using Bytes = std::vector<std::uint8_t>;
using core::JsonValue;

constexpr std::size_t kCoordinateBytes = 32;
constexpr std::size_t kSignatureBytes = 64;  // r || s, 32 bytes each (RFC 7518 section 3.4)
constexpr std::size_t kIvBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kContentKeyBytes = 32;
// Larger objects are refused before any work: events and commands are a few KiB.
constexpr std::size_t kMaxCompactBytes = 4 * 1024 * 1024;

std::span<const std::uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::vector<std::string_view> SplitCompact(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, dot - start));
    start = dot + 1;
  }
}

const JsonValue* StringMember(const JsonValue& object, std::string_view key) {
  const JsonValue* member = object.Find(key);
  return member != nullptr && member->type == JsonValue::Type::kString ? member : nullptr;
}

// Decodes and parses a protected header; refuses what no part of the gateway understands.
Checked<JsonValue> ParseHeader(std::string_view encoded) {
  auto bytes = Base64UrlDecode(encoded);
  if (!bytes) return Refuse(Refusal::kMalformed, "header is not base64url");
  auto header =
      core::ParseJson(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  if (!header) return Refuse(Refusal::kMalformed, "header is not JSON: " + header.error().message);
  if (header->type != JsonValue::Type::kObject)
    return Refuse(Refusal::kMalformed, "header is not a JSON object");
  if (header->Find("crit") != nullptr) return Refuse(Refusal::kMalformed, "header has \"crit\" extensions");
  if (header->Find("zip") != nullptr) return Refuse(Refusal::kMalformed, "compressed content is refused");
  if (StringMember(*header, "alg") == nullptr) return Refuse(Refusal::kMalformed, "header has no \"alg\"");
  return *header;
}

Checked<const EcKey*> KeyNamedIn(const JsonValue& header, const KeySet& keys) {
  const JsonValue* kid = StringMember(header, "kid");
  if (kid == nullptr) return Refuse(Refusal::kUnknownKey, "header names no key (\"kid\")");
  const EcKey* key = keys.Find(kid->text);
  if (key == nullptr)
    return Refuse(Refusal::kUnknownKey,
                  "unknown key id \"" + std::string(core::Utf8Prefix(kid->text, 64)) + "\"");
  return key;
}

std::string Header(std::initializer_list<std::pair<std::string_view, std::string_view>> members,
                   std::string_view raw_tail = {}) {
  std::string header = "{";
  for (const auto& [name, value] : members) {
    if (value.empty()) continue;
    if (header.size() > 1) header += ',';
    header += "\"" + std::string(name) + "\":\"" + std::string(value) + "\"";
  }
  if (!raw_tail.empty()) {
    if (header.size() > 1) header += ',';
    header += raw_tail;
  }
  return header + "}";
}

Result<Bytes> SharedSecret(const EcKey& own_private, const EcKey& peer_public) {
  openssl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own_private.get(), nullptr));
  std::size_t length = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      // No check of the peer's point here: every EcKey was checked when it was made (FromPem and
      // FromJwk run EVP_PKEY_public_check, an ephemeral epk included; Generate makes valid points), and
      // checking again costs a scalar multiplication per event (15 % of the gateway's CPU under load).
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer_public.get(), 0) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &length) != 1) {
    return Fail(Errc::kRejected, "ECDH key agreement failed");
  }
  Bytes secret(length);
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &length) != 1)
    return Fail(Errc::kRejected, "ECDH derive failed");
  secret.resize(length);
  return secret;
}

}  // namespace

std::vector<std::uint8_t> ConcatKdf(std::span<const std::uint8_t> shared_secret,
                                    std::string_view algorithm_id, std::span<const std::uint8_t> apu,
                                    std::span<const std::uint8_t> apv, std::size_t key_bits) {
  Bytes input{0, 0, 0, 1};  // round counter: one SHA-256 round covers every key this code asks for
  input.insert(input.end(), shared_secret.begin(), shared_secret.end());
  const auto append_length = [&](std::size_t length) {
    for (int shift = 24; shift >= 0; shift -= 8)
      input.push_back(static_cast<std::uint8_t>(length >> shift));
  };
  append_length(algorithm_id.size());
  input.insert(input.end(), algorithm_id.begin(), algorithm_id.end());
  append_length(apu.size());
  input.insert(input.end(), apu.begin(), apu.end());
  append_length(apv.size());
  input.insert(input.end(), apv.begin(), apv.end());
  append_length(key_bits);  // SuppPubInfo
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  Bytes key(digest.begin(),
            digest.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(key_bits / 8, length)));
  OPENSSL_cleanse(digest.data(), digest.size());
  return key;
}

std::string_view ToString(Refusal refusal) {
  switch (refusal) {
    case Refusal::kMalformed:
      return "malformed";
    case Refusal::kUnsigned:
      return "unsigned";
    case Refusal::kAlgorithm:
      return "algorithm";
    case Refusal::kUnknownKey:
      return "unknown_key";
    case Refusal::kBadSignature:
      return "bad_signature";
    case Refusal::kDecryptionFailed:
      return "decryption_failed";
    case Refusal::kWrongAudience:
      return "wrong_audience";
    case Refusal::kExpired:
      return "expired";
    case Refusal::kNotYetValid:
      return "not_yet_valid";
    case Refusal::kReplayed:
      return "replayed";
  }
  return "unknown";
}

Result<std::string> SignCompactJws(const EcKey& key, std::string_view payload, std::string_view typ) {
  if (!key.has_private()) return Fail(Errc::kInvalidArgument, "signing needs a private key");
  if (!typ.empty() && !IsPlainIdentifier(typ))
    return Fail(Errc::kInvalidArgument, "typ has characters a header cannot hold");
  const std::string signing_input =
      Base64UrlEncode(Header({{"alg", "ES256"}, {"typ", typ}, {"kid", key.id()}})) + "." +
      Base64UrlEncode(payload);
  openssl::MdCtx ctx(EVP_MD_CTX_new());
  std::size_t der_length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_length, AsBytes(signing_input).data(), signing_input.size()) !=
          1) {
    return Fail(Errc::kInternal, "ES256 signing failed");
  }
  Bytes der(der_length);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_length, AsBytes(signing_input).data(),
                     signing_input.size()) != 1) {
    return Fail(Errc::kInternal, "ES256 signing failed");
  }
  // OpenSSL writes the DER form; JOSE wants the fixed-width r || s.
  const unsigned char* cursor = der.data();
  openssl::EcdsaSig signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_length)));
  if (!signature) return Fail(Errc::kInternal, "ES256 signature not DER");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(signature.get(), &r, &s);
  Bytes raw(kSignatureBytes);
  if (BN_bn2binpad(r, raw.data(), kCoordinateBytes) != kCoordinateBytes ||
      BN_bn2binpad(s, raw.data() + kCoordinateBytes, kCoordinateBytes) != kCoordinateBytes) {
    return Fail(Errc::kInternal, "ES256 signature too long");
  }
  return signing_input + "." + Base64UrlEncode(raw);
}

Checked<VerifiedJws> VerifyCompactJws(std::string_view jws, const KeySet& keys) {
  if (jws.size() > kMaxCompactBytes) return Refuse(Refusal::kMalformed, "larger than 4 MiB");
  const auto parts = SplitCompact(jws);
  if (parts.size() != 3) {
    return Refuse(Refusal::kMalformed, "a compact JWS has 3 parts, this has " + std::to_string(parts.size()));
  }
  auto header = ParseHeader(parts[0]);
  if (!header) return tl::unexpected(header.error());
  const std::string& alg = StringMember(*header, "alg")->text;
  if (alg == "none") return Refuse(Refusal::kUnsigned, "unsigned (alg \"none\")");
  if (parts[2].empty()) return Refuse(Refusal::kUnsigned, "unsigned (empty signature)");
  if (alg != "ES256")
    return Refuse(Refusal::kAlgorithm, "algorithm \"" + alg.substr(0, 32) + "\" refused, only ES256");
  if (const JsonValue* b64 = header->Find("b64"); b64 != nullptr) {
    return Refuse(Refusal::kMalformed, "unencoded payloads (\"b64\") are refused");
  }
  auto key = KeyNamedIn(*header, keys);
  if (!key) return tl::unexpected(key.error());
  auto raw = Base64UrlDecode(parts[2]);
  if (!raw || raw->size() != kSignatureBytes)
    return Refuse(Refusal::kBadSignature, "signature is not 64 bytes");
  auto payload = Base64UrlDecode(parts[1]);
  if (!payload) return Refuse(Refusal::kMalformed, "payload is not base64url");

  openssl::EcdsaSig signature(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw->data(), kCoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(raw->data() + kCoordinateBytes, kCoordinateBytes, nullptr);
  if (!signature || r == nullptr || s == nullptr || ECDSA_SIG_set0(signature.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Refuse(Refusal::kBadSignature, "signature unreadable");
  }
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(signature.get(), &der);
  if (der_length <= 0) return Refuse(Refusal::kBadSignature, "signature unreadable");
  std::unique_ptr<unsigned char, decltype([](unsigned char* p) { OPENSSL_free(p); })> der_owner(der);

  const std::size_t signed_length = parts[0].size() + 1 + parts[1].size();
  openssl::MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, (*key)->get()) != 1 ||
      EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_length), AsBytes(jws).data(),
                       signed_length) != 1) {
    return Refuse(Refusal::kBadSignature, "signature does not verify with key \"" + (*key)->id() + "\"");
  }
  VerifiedJws verified;
  verified.kid = (*key)->id();
  verified.payload.assign(payload->begin(), payload->end());
  if (const JsonValue* typ = StringMember(*header, "typ"); typ != nullptr) verified.typ = typ->text;
  return verified;
}

Result<std::string> EncryptCompactJwe(const EcKey& recipient, std::string_view plaintext,
                                      std::string_view cty) {
  if (!cty.empty() && !IsPlainIdentifier(cty))
    return Fail(Errc::kInvalidArgument, "cty has characters a header cannot hold");
  auto ephemeral = EcKey::Generate();
  if (!ephemeral) return tl::unexpected(ephemeral.error());
  auto secret = SharedSecret(*ephemeral, recipient);
  if (!secret) return tl::unexpected(secret.error());
  auto content_key = ConcatKdf(*secret, "A256GCM", {}, {}, kContentKeyBytes * 8);
  OPENSSL_cleanse(secret->data(), secret->size());

  // The ephemeral public key without its own kid: receivers take it as a bare JWK.
  std::string epk = ephemeral->Jwk();
  epk = epk.substr(0, epk.rfind(",\"kid\"")) + "}";
  const std::string header = Base64UrlEncode(Header(
      {{"alg", "ECDH-ES"}, {"enc", "A256GCM"}, {"cty", cty}, {"kid", recipient.id()}}, "\"epk\":" + epk));

  std::array<std::uint8_t, kIvBytes> iv{};
  if (RAND_bytes(iv.data(), static_cast<int>(iv.size())) != 1)
    return Fail(Errc::kInternal, "no random bytes");
  openssl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  Bytes ciphertext(plaintext.size() + 16);
  std::array<std::uint8_t, kTagBytes> tag{};
  int length = 0;
  int total = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, content_key.data(), iv.data()) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, AsBytes(header).data(),
                        static_cast<int>(header.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), ciphertext.data(), &length, AsBytes(plaintext).data(),
                        static_cast<int>(plaintext.size())) == 1 &&
      (total = length, EVP_EncryptFinal_ex(ctx.get(), ciphertext.data() + total, &length) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag.data()) == 1;
  OPENSSL_cleanse(content_key.data(), content_key.size());
  if (!ok) return Fail(Errc::kInternal, "A256GCM encryption failed");
  ciphertext.resize(static_cast<std::size_t>(total + length));
  return header + ".." + Base64UrlEncode(iv) + "." + Base64UrlEncode(ciphertext) + "." + Base64UrlEncode(tag);
}

Checked<DecryptedJwe> DecryptCompactJwe(std::string_view jwe, const KeySet& keys) {
  if (jwe.size() > kMaxCompactBytes) return Refuse(Refusal::kMalformed, "larger than 4 MiB");
  const auto parts = SplitCompact(jwe);
  if (parts.size() != 5) {
    return Refuse(Refusal::kMalformed, "a compact JWE has 5 parts, this has " + std::to_string(parts.size()));
  }
  auto header = ParseHeader(parts[0]);
  if (!header) return tl::unexpected(header.error());
  const std::string& alg = StringMember(*header, "alg")->text;
  const JsonValue* enc = StringMember(*header, "enc");
  if (alg != "ECDH-ES")
    return Refuse(Refusal::kAlgorithm, "key management \"" + alg.substr(0, 32) + "\" refused, only ECDH-ES");
  if (enc == nullptr || enc->text != "A256GCM")
    return Refuse(Refusal::kAlgorithm, "content encryption must be A256GCM");
  if (!parts[1].empty()) return Refuse(Refusal::kMalformed, "ECDH-ES carries no encrypted key");
  auto key = KeyNamedIn(*header, keys);
  if (!key) return tl::unexpected(key.error());
  if (!(*key)->has_private())
    return Refuse(Refusal::kUnknownKey, "no private key for \"" + (*key)->id() + "\"");
  const JsonValue* epk_json = header->Find("epk");
  if (epk_json == nullptr || epk_json->Find("d") != nullptr)
    return Refuse(Refusal::kMalformed, "no usable \"epk\"");
  auto epk = EcKey::FromJwk(*epk_json);  // checks the point is on P-256
  if (!epk) return Refuse(Refusal::kMalformed, "\"epk\": " + epk.error().message);
  auto iv = Base64UrlDecode(parts[2]);
  auto ciphertext = Base64UrlDecode(parts[3]);
  auto tag = Base64UrlDecode(parts[4]);
  if (!iv || iv->size() != kIvBytes) return Refuse(Refusal::kMalformed, "IV must be 12 bytes");
  if (!ciphertext) return Refuse(Refusal::kMalformed, "ciphertext is not base64url");
  if (!tag || tag->size() != kTagBytes) return Refuse(Refusal::kMalformed, "tag must be 16 bytes");

  // Party info is optional; other libraries may set it, and it takes part in the key derivation.
  Bytes party_info[2];
  const char* party_names[2] = {"apu", "apv"};
  for (int i = 0; i < 2; ++i) {
    if (const JsonValue* member = header->Find(party_names[i])) {
      auto decoded = member->type == JsonValue::Type::kString ? Base64UrlDecode(member->text) : std::nullopt;
      if (!decoded)
        return Refuse(Refusal::kMalformed, std::string("\"") + party_names[i] + "\" is not base64url");
      party_info[i] = std::move(*decoded);
    }
  }
  auto secret = SharedSecret(**key, *epk);
  if (!secret) return Refuse(Refusal::kMalformed, secret.error().message);
  auto content_key = ConcatKdf(*secret, "A256GCM", party_info[0], party_info[1], kContentKeyBytes * 8);
  OPENSSL_cleanse(secret->data(), secret->size());
  openssl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  Bytes plaintext(ciphertext->size() + 16);
  int length = 0;
  int total = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, content_key.data(), iv->data()) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, AsBytes(parts[0]).data(),
                        static_cast<int>(parts[0].size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), plaintext.data(), &length, ciphertext->data(),
                        static_cast<int>(ciphertext->size())) == 1 &&
      (total = length, EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag->data()) == 1) &&
      EVP_DecryptFinal_ex(ctx.get(), plaintext.data() + total, &length) == 1;
  OPENSSL_cleanse(content_key.data(), content_key.size());
  if (!ok) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Refuse(Refusal::kDecryptionFailed,
                  "authentication tag does not match (tampered, or encrypted for another key)");
  }
  plaintext.resize(static_cast<std::size_t>(total + length));
  const JsonValue* cty = StringMember(*header, "cty");
  return DecryptedJwe{(*key)->id(), cty != nullptr ? cty->text : "",
                      std::string(plaintext.begin(), plaintext.end())};
}

}  // namespace ehg::crypto
