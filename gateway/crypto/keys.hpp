#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/core/json.hpp"
#include "gateway/core/result.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

// P-256 keys: the gateway's signing key, the care system's encryption key, the care system's command
// signing keys. Keys are named by their RFC 7638 thumbprint unless a JWK names itself.
namespace ehg::crypto {

// 1-128 printable ASCII characters without quotes or backslashes: what may be written into a JSON header
// or claim without escaping (key ids, jti, the audience).
bool IsPlainIdentifier(std::string_view text);

class EcKey {
 public:
  static Result<EcKey> Generate();
  // A PEM private key (PKCS#8 or SEC 1) or public key (SubjectPublicKeyInfo).
  static Result<EcKey> FromPem(std::string_view pem);
  // A JWK (kty EC, crv P-256; with d it is a private key). Its kid, when present, becomes the key id.
  static Result<EcKey> FromJwk(const core::JsonValue& jwk);
  static Result<EcKey> FromJwkText(std::string_view text);
  // PEM or JWK, by content.
  static Result<EcKey> FromText(std::string_view text);

  bool has_private() const { return has_private_; }
  // The JWK kid when the key came with one, else the RFC 7638 thumbprint.
  const std::string& id() const { return id_; }
  std::string Thumbprint() const;

  std::string PublicPem() const;
  std::string PrivatePem() const;  // PKCS#8; empty for a public key
  // {"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..}, with "d" when `include_private`.
  std::string Jwk(bool include_private = false) const;

  evp_pkey_st* get() const { return key_.get(); }

 private:
  EcKey(std::shared_ptr<evp_pkey_st> key, bool has_private, std::string id);

  std::shared_ptr<evp_pkey_st> key_;
  bool has_private_ = false;
  std::string id_;
};

// Keys by id, for verifying (public keys) or decrypting (private keys).
class KeySet {
 public:
  // false when a key with the same id is already there.
  bool Add(EcKey key);
  const EcKey* Find(std::string_view id) const;
  std::size_t size() const { return keys_.size(); }
  bool has_private() const { return has_private_; }  // at least one key is a private key
  // A JWK Set {"keys":[...]} or one JWK or one PEM key.
  static Result<KeySet> FromText(std::string_view text);
  // Read with the limits of core::OpenCheckedFile (a regular file of at most 64 KiB); a file holding a
  // private key is refused when other users may access it.
  static Result<KeySet> FromFile(const std::filesystem::path& path);

 private:
  std::map<std::string, EcKey, std::less<>> keys_;
  bool has_private_ = false;
};

// Key files are read with the limits of core::OpenCheckedFile: a regular file (never a FIFO, a device
// or a directory) of at most core::kMaxKeyFileBytes.
// The gateway's private key file. Refused when the group or others may read it, with the command that
// fixes it; a missing file says how to create one.
Result<EcKey> LoadPrivateKeyFile(const std::filesystem::path& path);
// One key from a PEM or JWK file, public or private (the care system's public keys; the receiver's own
// keys). A file that holds a private key is refused, like the gateway's key, when others may read it.
Result<EcKey> LoadKeyFile(const std::filesystem::path& path);
// Writes a new private key as PKCS#8 PEM, mode 0600, never over an existing file: temp file, fsync,
// rename, directory fsync.
Result<void> WritePrivateKeyFile(const std::filesystem::path& path, const EcKey& key);

}  // namespace ehg::crypto
