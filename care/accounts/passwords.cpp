#include "care/accounts/passwords.hpp"

#include <sodium.h>

#include <array>
#include <mutex>

namespace ehg::accounts {
namespace {

bool Initialised() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, const HashCost& cost) {
  if (!Initialised()) return Fail(Errc::kUnavailable, "libsodium could not be initialised");
  std::array<char, crypto_pwhash_STRBYTES> hash{};
  if (crypto_pwhash_str_alg(hash.data(), password.data(), password.size(), cost.operations, cost.memory_bytes,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Fail(Errc::kUnavailable, "argon2id: not enough memory for the password hash");
  return std::string(hash.data());
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (!Initialised()) return false;
  // crypto_pwhash_str_verify reads a NUL-terminated string of at most STRBYTES - 1 characters.
  if (hash.size() >= crypto_pwhash_STRBYTES || !hash.starts_with("$argon2id$")) return false;
  const std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool NeedsRehash(std::string_view hash, const HashCost& cost) {
  if (!Initialised()) return true;
  if (hash.size() >= crypto_pwhash_STRBYTES || !hash.starts_with("$argon2id$")) return true;
  const std::string terminated(hash);
  return crypto_pwhash_str_needs_rehash(terminated.c_str(), cost.operations, cost.memory_bytes) != 0;
}

const std::string& DecoyHash(const HashCost& cost) {
  // Made once per process with the cost of the first call; a password of random bytes nobody has.
  static const std::string decoy = [&] {
    auto made = HashPassword(NewToken(), cost);
    return made ? *made : std::string();
  }();
  return decoy;
}

std::string NewToken() {
  std::array<unsigned char, 32> bytes{};
  if (!Initialised()) std::abort();  // no randomness: never hand out a guessable session
  randombytes_buf(bytes.data(), bytes.size());
  std::array<char, 64> text{};
  sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return std::string(text.data());
}

std::string TokenDigest(std::string_view token) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()), token.size());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data());
}

bool SameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ehg::accounts
