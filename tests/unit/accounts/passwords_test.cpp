#include "care/accounts/passwords.hpp"

#include <doctest/doctest.h>

#include <set>

namespace ehg::accounts {
namespace {

// The lowest argon2id cost libsodium takes: the tests check behaviour, not strength.
const HashCost kCheap{1, 8192};

TEST_CASE("an argon2id hash verifies its password only, and carries its own parameters") {
  auto hash = HashPassword("correct horse battery", kCheap);
  REQUIRE(hash);
  CHECK(hash->starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
  CHECK(VerifyPassword(*hash, "correct horse battery"));
  CHECK_FALSE(VerifyPassword(*hash, "correct horse batterY"));
  CHECK_FALSE(VerifyPassword(*hash, "correct horse battery "));
  CHECK_FALSE(VerifyPassword(*hash, ""));
  // Salted: the same password twice is two different hashes, both valid.
  auto again = HashPassword("correct horse battery", kCheap);
  REQUIRE(again);
  CHECK(*again != *hash);
  CHECK(VerifyPassword(*again, "correct horse battery"));
  // Made cheaper than the production cost: rehashed at the next sign-in.
  CHECK(NeedsRehash(*hash));
  CHECK_FALSE(NeedsRehash(*hash, kCheap));
}

TEST_CASE("hashes that are not argon2id strings never verify") {
  for (const std::string& hash : std::vector<std::string>{
           std::string(), std::string("x"), std::string("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
           std::string("$2y$10$abcdefghijklmnopqrstuu"), std::string(200, '$'),
           std::string("$argon2id$v=19$m=8,t=1,p=1$\0$x", 30)}) {
    CAPTURE(hash);
    CHECK_FALSE(VerifyPassword(hash, ""));
    CHECK_FALSE(VerifyPassword(hash, "x"));
    CHECK(NeedsRehash(hash));
  }
  // A real hash cut short, or with its digest changed, fails too.
  auto hash = HashPassword("correct horse battery", kCheap);
  REQUIRE(hash);
  CHECK_FALSE(VerifyPassword(hash->substr(0, hash->size() - 2), "correct horse battery"));
  std::string changed = *hash;
  changed.back() = changed.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(VerifyPassword(changed, "correct horse battery"));
}

TEST_CASE("the decoy hash verifies nothing a user would type") {
  const std::string& decoy = DecoyHash(kCheap);
  REQUIRE(decoy.starts_with("$argon2id$"));
  CHECK(&decoy == &DecoyHash(kCheap));
  for (const char* guess : {"", "password", "correct horse battery", "admin"})
    CHECK_FALSE(VerifyPassword(decoy, guess));
}

TEST_CASE("tokens: 43 characters of base64url, all different, and digests are SHA-256 hex") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string token = NewToken();
    REQUIRE(token.size() == 43);
    CHECK(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    seen.insert(token);
  }
  CHECK(seen.size() == 1000);
  // FIPS 180-2's example: SHA-256("abc").
  CHECK(TokenDigest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(TokenDigest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(SameToken("abc", "abc"));
  CHECK(SameToken("", ""));
  CHECK_FALSE(SameToken("abc", "abd"));
  CHECK_FALSE(SameToken("abc", "abcd"));
  CHECK_FALSE(SameToken("abc", ""));
}

}  // namespace
}  // namespace ehg::accounts
