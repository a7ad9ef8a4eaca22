#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "gateway/core/result.hpp"
#include "gateway/crypto/keys.hpp"

// The two JOSE objects the gateway speaks, compact serialization only (RFC 7515, 7516, 7518):
// JWS with ES256, and JWE with ECDH-ES key agreement and A256GCM content encryption. Nothing else is
// accepted: no "none", no HMAC, no other curve, no compression, no critical extensions, no keys taken
// from the header itself (only "kid" into a configured key set).
namespace ehg::crypto {

enum class Refusal {
  kMalformed,         // not a compact JOSE object, or a header we do not accept
  kUnsigned,          // alg "none" or an empty signature
  kAlgorithm,         // an algorithm other than ES256 / ECDH-ES + A256GCM
  kUnknownKey,        // no kid, or a kid not in the configured keys
  kBadSignature,      // the signature does not verify with the named key
  kDecryptionFailed,  // tag mismatch: tampered, or encrypted for another key
  kWrongAudience,
  kExpired,
  kNotYetValid,
  kReplayed,
};
std::string_view ToString(Refusal refusal);

struct Refused {
  Refusal reason;
  std::string message;  // names what was wrong, never the payload
};
template <typename T>
using Checked = tl::expected<T, Refused>;
inline tl::unexpected<Refused> Refuse(Refusal reason, std::string message) {
  return tl::unexpected(Refused{reason, std::move(message)});
}

struct VerifiedJws {
  std::string kid;
  std::string payload;
  std::string typ;  // the protected header's "typ", empty when it has none
};

struct DecryptedJwe {
  std::string kid;
  std::string cty;
  std::string plaintext;
};

// Signs `payload` with ES256; the header names the key by its id. `typ` is left out when empty.
Result<std::string> SignCompactJws(const EcKey& key, std::string_view payload, std::string_view typ = {});
Checked<VerifiedJws> VerifyCompactJws(std::string_view jws, const KeySet& keys);

// Encrypts for `recipient` (its public key) with a fresh ephemeral key; `cty` is left out when empty.
Result<std::string> EncryptCompactJwe(const EcKey& recipient, std::string_view plaintext,
                                      std::string_view cty);
// `keys` must hold private keys; the header's kid selects one.
Checked<DecryptedJwe> DecryptCompactJwe(std::string_view jwe, const KeySet& keys);

// The Concat KDF of RFC 7518 section 4.6.2 (one SHA-256 round: at most 256 bits), public for its test
// vector. In direct ECDH-ES mode `algorithm_id` is the "enc" value; apu/apv are the decoded header values.
std::vector<std::uint8_t> ConcatKdf(std::span<const std::uint8_t> shared_secret,
                                    std::string_view algorithm_id, std::span<const std::uint8_t> apu,
                                    std::span<const std::uint8_t> apv, std::size_t key_bits);

}  // namespace ehg::crypto
