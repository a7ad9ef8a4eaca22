#pragma once

#include <string>
#include <string_view>

#include "gateway/core/result.hpp"

// Passwords and session tokens, on libsodium: argon2id password hashes in the PHC string format
// (crypto_pwhash_str: the parameters and salt travel in the string, so a later cost setting still
// verifies older hashes), random tokens and their digests, comparisons in constant time.
namespace ehg::accounts {

// argon2id's cost. The default is libsodium's "interactive" level (2 passes over 64 MiB, about 0.1 s
// on a care-side server): a sign-in, not a key derivation. Tests lower it.
struct HashCost {
  unsigned long long operations = 2;
  std::size_t memory_bytes = 64u << 20;
};

Result<std::string> HashPassword(std::string_view password, const HashCost& cost = {});
// False for a wrong password and for a hash that is not an argon2id string.
bool VerifyPassword(std::string_view hash, std::string_view password);
// True when the hash was made with other parameters than `cost` (rehash it at the next sign-in).
bool NeedsRehash(std::string_view hash, const HashCost& cost = {});
// A hash of a password nobody knows, for an unknown user name: verifying against it takes as long as
// for a real account, so the answer's time does not tell which names exist.
const std::string& DecoyHash(const HashCost& cost = {});

// 32 random bytes, base64url without padding (43 characters): a session cookie or a CSRF token.
std::string NewToken();
// SHA-256 of a token, hex: what the database keeps of a session cookie (a copy of the table opens none).
std::string TokenDigest(std::string_view token);
// Equal in time independent of where they differ.
bool SameToken(std::string_view a, std::string_view b);

}  // namespace ehg::accounts
