#include "gateway/crypto/keys.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <tuple>

#include "tests/support/deadline.hpp"
#include "tests/support/temp_dir.hpp"

using ehg::Errc;
using ehg::crypto::EcKey;
using ehg::crypto::KeySet;

namespace {
// A key made by the `jose` tool (latchset), with the RFC 7638 thumbprint that tool computes for it
// (`jose jwk thp`): an independent check of our thumbprint.
constexpr std::string_view kJoseKey =
    R"({"alg":"ES256","crv":"P-256","d":"-xt9aGqqL2rdtcHXF0oJhel-huuQ4xv5JllX5Mbm7s4","key_ops":["sign","verify"],)"
    R"("kty":"EC","x":"5niqEb-EBARtws1ie7mVlfqFFFgVTCzindN-KMu1n4k","y":"zZB2DoLIdboi_yMfT6cxl9OqOAGjS8ba_gNEgYt1LpI"})";
constexpr std::string_view kJoseThumbprint = "BEFelOezhqW9rHFr6u4f8bOl8eFkKiFtC6pkcA9dDyI";

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}
}  // namespace

TEST_CASE("A JWK private key reads, writes back the same coordinates and names itself by thumbprint") {
  auto key = EcKey::FromJwkText(kJoseKey);
  REQUIRE(key.has_value());
  CHECK(key->has_private());
  const std::string jwk = key->Jwk(true);
  CHECK(jwk.find(R"("x":"5niqEb-EBARtws1ie7mVlfqFFFgVTCzindN-KMu1n4k")") != std::string::npos);
  CHECK(jwk.find(R"("d":"-xt9aGqqL2rdtcHXF0oJhel-huuQ4xv5JllX5Mbm7s4")") != std::string::npos);
  CHECK(key->Jwk().find("\"d\"") == std::string::npos);
  CHECK(key->id() == kJoseThumbprint);
  auto from_pem = EcKey::FromPem(key->PrivatePem());
  REQUIRE(from_pem.has_value());
  CHECK(from_pem->id() == key->id());
  auto public_only = EcKey::FromPem(key->PublicPem());
  REQUIRE(public_only.has_value());
  CHECK_FALSE(public_only->has_private());
  CHECK(public_only->id() == key->id());
}

TEST_CASE("A kid in the JWK is kept as the key id") {
  auto key = EcKey::FromJwkText(Replace(std::string(kJoseKey), "{", R"({"kid":"care-2026",)"));
  REQUIRE(key.has_value());
  CHECK(key->id() == "care-2026");
  CHECK(key->Thumbprint() != "care-2026");
  CHECK_FALSE(EcKey::FromJwkText(Replace(std::string(kJoseKey), "{", R"({"kid":"a\"b",)")).has_value());
}

TEST_CASE("Keys that are not P-256 points are refused") {
  // y changed in its last character: no longer on the curve (the invalid-curve attack needs this check).
  auto off_curve = EcKey::FromJwkText(Replace(std::string(kJoseKey), "LpI\"", "LpE\""));
  CHECK_FALSE(off_curve.has_value());
  CHECK_FALSE(EcKey::FromJwkText(Replace(std::string(kJoseKey), "P-256", "P-384")).has_value());
  CHECK_FALSE(
      EcKey::FromJwkText(Replace(std::string(kJoseKey), R"("kty":"EC")", R"("kty":"RSA")")).has_value());
  CHECK_FALSE(EcKey::FromJwkText(Replace(std::string(kJoseKey), "5niqEb-E", "5niq")).has_value());  // short x
  // A private part that belongs to another key.
  auto other = EcKey::Generate();
  REQUIRE(other.has_value());
  const std::string other_jwk = other->Jwk(true);
  const auto d_at = other_jwk.find("\"d\":\"") + 5;
  const std::string other_d = other_jwk.substr(d_at, 43);
  CHECK_FALSE(EcKey::FromJwkText(
                  Replace(std::string(kJoseKey), "-xt9aGqqL2rdtcHXF0oJhel-huuQ4xv5JllX5Mbm7s4", other_d))
                  .has_value());
  CHECK_FALSE(EcKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").has_value());
}

TEST_CASE("A key set reads a JWK Set and refuses two keys with one kid") {
  auto a = EcKey::Generate();
  auto b = EcKey::Generate();
  REQUIRE((a && b));
  auto set = KeySet::FromText("{\"keys\":[" + a->Jwk() + "," + b->Jwk() + "]}");
  REQUIRE(set.has_value());
  CHECK(set->size() == 2);
  CHECK(set->Find(a->id()) != nullptr);
  CHECK(set->Find("nope") == nullptr);
  auto twice = KeySet::FromText("{\"keys\":[" + a->Jwk() + "," + a->Jwk() + "]}");
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error().message.find("keys[1]") != std::string::npos);
}

TEST_CASE("The gateway key file is written 0600, never overwritten, and refused when others may read it") {
  ehg::test::TempDir dir;
  const auto path = dir.path() / "gateway.key";
  auto missing = ehg::crypto::LoadPrivateKeyFile(path);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("ehealth-gateway keygen --out") != std::string::npos);

  auto key = EcKey::Generate();
  REQUIRE(key.has_value());
  REQUIRE(ehg::crypto::WritePrivateKeyFile(path, *key).has_value());
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto loaded = ehg::crypto::LoadPrivateKeyFile(path);
  REQUIRE(loaded.has_value());
  CHECK(loaded->id() == key->id());

  auto again = ehg::crypto::WritePrivateKeyFile(path, *EcKey::Generate());
  REQUIRE_FALSE(again.has_value());
  CHECK(ehg::crypto::LoadPrivateKeyFile(path)->id() == key->id());

  ::chmod(path.c_str(), 0640);
  auto readable = ehg::crypto::LoadPrivateKeyFile(path);
  REQUIRE_FALSE(readable.has_value());
  CHECK(readable.error().code == Errc::kRejected);
  CHECK(readable.error().message.find("chmod 600 " + path.string()) != std::string::npos);

  // A public key where the private key should be.
  const auto public_path = dir.path() / "public.pem";
  std::ofstream(public_path) << key->PublicPem();
  ::chmod(public_path.c_str(), 0600);
  CHECK_FALSE(ehg::crypto::LoadPrivateKeyFile(public_path).has_value());
}

TEST_CASE("Any key file holding a private key is refused when others may read it, a public one is not") {
  ehg::test::TempDir dir;
  auto key = EcKey::Generate();
  REQUIRE(key.has_value());
  const auto write = [&](const std::string& name, const std::string& text, int mode) {
    const auto path = dir.path() / name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), static_cast<mode_t>(mode));
    return path;
  };
  const auto private_pem = write("private.pem", key->PrivatePem(), 0644);
  const auto private_jwk = write("private.jwk", key->Jwk(true), 0640);
  const auto private_set = write("private.jwks", "{\"keys\":[" + key->Jwk(true) + "]}", 0604);
  for (const auto& path : {private_pem, private_jwk}) {
    CAPTURE(path);
    const auto loaded = ehg::crypto::LoadKeyFile(path);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().code == Errc::kRejected);
    CHECK(loaded.error().message == "private key " + path.string() +
                                        " may be read by other users; fix it with: chmod 600 " +
                                        path.string() + " (and chown it to the service user)");
  }
  const auto set = KeySet::FromFile(private_set);
  REQUIRE_FALSE(set.has_value());
  CHECK(set.error().code == Errc::kRejected);
  ::chmod(private_set.c_str(), 0600);
  CHECK(KeySet::FromFile(private_set).has_value());
  ::chmod(private_pem.c_str(), 0600);
  CHECK(ehg::crypto::LoadKeyFile(private_pem).has_value());
  // Public keys are for sharing.
  CHECK(ehg::crypto::LoadKeyFile(write("public.jwk", key->Jwk(), 0644)).has_value());
  CHECK(KeySet::FromFile(write("public.jwks", "{\"keys\":[" + key->Jwk() + "]}", 0644)).has_value());
}

TEST_CASE("Key files that are not regular files or too large are refused at once, without reading them") {
  ehg::test::TempDir dir;
  const auto fifo = dir.path() / "key.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto huge = dir.path() / "huge.jwks";
  { std::ofstream create(huge); }
  std::filesystem::resize_file(huge, 1 << 20);
  for (const std::filesystem::path& path : {fifo, std::filesystem::path("/dev/zero"), dir.path(), huge}) {
    CAPTURE(path);
    const auto loaded = ehg::test::WithinDeadline(
        [path] {
          return std::make_tuple(ehg::crypto::LoadPrivateKeyFile(path).has_value(),
                                 ehg::crypto::LoadKeyFile(path).has_value(),
                                 KeySet::FromFile(path).error().message);
        },
        std::chrono::seconds(5));
    if (!loaded) ehg::test::ReleaseFifoReaders(fifo);
    REQUIRE_MESSAGE(loaded.has_value(), "a key file read hung");
    CHECK_FALSE(std::get<0>(*loaded));
    CHECK_FALSE(std::get<1>(*loaded));
    const std::string& reason = std::get<2>(*loaded);
    CHECK((reason.find(", not a file") != std::string::npos ||
           reason.find("is larger than 64 KiB") != std::string::npos));
  }
}
