#include "gateway/crypto/keys.hpp"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "gateway/core/bounded_file.hpp"
#include "gateway/crypto/base64url.hpp"
#include "gateway/crypto/openssl_handles.hpp"

namespace ehg::crypto {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::size_t kP256CoordinateBytes = 32;

std::shared_ptr<evp_pkey_st> Own(EVP_PKEY* key) {
  return std::shared_ptr<evp_pkey_st>(key, EVP_PKEY_free);
}

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  std::array<char, 64> name{};
  std::size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name.data(), name.size(), &length) !=
      1) {
    return false;
  }
  return std::string_view(name.data(), length) == "prime256v1";
}

// The point must lie on the curve: a receiver that skips this check leaks its private key to anyone who
// sends crafted ephemeral keys (the invalid-curve attack on ECDH-ES).
bool PublicKeyValid(EVP_PKEY* key) {
  openssl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

// x and y of the public point from one uncompressed encoding (04 || x || y): asking for each coordinate
// as a parameter converts the point to affine coordinates each time (a field inversion, twice).
std::pair<Bytes, Bytes> PublicCoordinates(EVP_PKEY* key) {
  std::array<std::uint8_t, 1 + 2 * kP256CoordinateBytes> point{};
  std::size_t length = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), point.size(),
                                      &length) != 1 ||
      length != point.size() || point[0] != 0x04) {
    return {};
  }
  const auto x = point.begin() + 1;
  const auto y = x + kP256CoordinateBytes;
  return {Bytes(x, y), Bytes(y, point.end())};
}

Bytes Coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return {};
  openssl::Bignum value(raw);
  Bytes out(kP256CoordinateBytes);
  if (BN_bn2binpad(value.get(), out.data(), static_cast<int>(out.size())) != static_cast<int>(out.size()))
    return {};
  return out;
}

std::string ReadBio(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

std::string JwkMember(std::string_view name, std::string_view value) {
  return "\"" + std::string(name) + "\":\"" + std::string(value) + "\"";
}

Result<Bytes> DecodeCoordinate(const core::JsonValue& jwk, std::string_view name) {
  const core::JsonValue* member = jwk.Find(name);
  if (member == nullptr || member->type != core::JsonValue::Type::kString) {
    return Fail(Errc::kParse, "JWK has no \"" + std::string(name) + "\"");
  }
  auto bytes = Base64UrlDecode(member->text);
  if (!bytes || bytes->size() != kP256CoordinateBytes) {
    return Fail(Errc::kParse, "JWK \"" + std::string(name) + "\" is not 32 bytes of base64url");
  }
  return *bytes;
}

// A key file's text, and whether other users may access the file: a file that turns out to hold a
// private key is refused then, like the gateway's own key.
struct KeyFileText {
  std::string text;
  bool others_may_access = false;
};

Result<KeyFileText> ReadKeyFile(const std::filesystem::path& path, const core::FileKind& kind) {
  auto file = core::OpenCheckedFile(path, kind);
  if (!file) return tl::unexpected(file.error());
  auto text = core::ReadAll(*file, path, kind);
  if (!text) return tl::unexpected(text.error());
  return KeyFileText{std::move(*text), file->others_may_access()};
}

}  // namespace

bool IsPlainIdentifier(std::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (const char c : text) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

EcKey::EcKey(std::shared_ptr<evp_pkey_st> key, bool has_private, std::string id)
    : key_(std::move(key)), has_private_(has_private), id_(std::move(id)) {
  if (id_.empty()) id_ = Thumbprint();
}

Result<EcKey> EcKey::Generate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return Fail(Errc::kInternal, "P-256 key generation failed");
  return EcKey(Own(key), true, "");
}

Result<EcKey> EcKey::FromPem(std::string_view pem) {
  openssl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  const bool is_private = pem.find("PRIVATE KEY-----") != std::string_view::npos;
  EVP_PKEY* key = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                             : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return Fail(Errc::kParse, "not a PEM key OpenSSL can read");
  auto owned = Own(key);
  if (!IsP256(key)) return Fail(Errc::kUnsupported, "not a P-256 (prime256v1) EC key");
  if (!PublicKeyValid(key)) return Fail(Errc::kParse, "the public point is not on the curve");
  return EcKey(std::move(owned), is_private, "");
}

Result<EcKey> EcKey::FromJwk(const core::JsonValue& jwk) {
  using Type = core::JsonValue::Type;
  if (jwk.type != Type::kObject) return Fail(Errc::kParse, "a JWK is a JSON object");
  const core::JsonValue* kty = jwk.Find("kty");
  const core::JsonValue* crv = jwk.Find("crv");
  if (kty == nullptr || kty->type != Type::kString || kty->text != "EC") {
    return Fail(Errc::kUnsupported, "JWK \"kty\" must be \"EC\"");
  }
  if (crv == nullptr || crv->type != Type::kString || crv->text != "P-256") {
    return Fail(Errc::kUnsupported, "JWK \"crv\" must be \"P-256\"");
  }
  std::string id;
  if (const core::JsonValue* kid = jwk.Find("kid")) {
    if (kid->type != Type::kString || !IsPlainIdentifier(kid->text)) {
      return Fail(Errc::kParse, "JWK \"kid\" must be 1-128 printable characters without quotes");
    }
    id = kid->text;
  }
  auto x = DecodeCoordinate(jwk, "x");
  if (!x) return tl::unexpected(x.error());
  auto y = DecodeCoordinate(jwk, "y");
  if (!y) return tl::unexpected(y.error());
  Bytes point{0x04};
  point.insert(point.end(), x->begin(), x->end());
  point.insert(point.end(), y->begin(), y->end());

  openssl::ParamBuilder builder(OSSL_PARAM_BLD_new());
  std::string group = "prime256v1";
  OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0);
  OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  openssl::Bignum private_value;
  const core::JsonValue* d = jwk.Find("d");
  if (d != nullptr) {
    auto d_bytes = DecodeCoordinate(jwk, "d");
    if (!d_bytes) return tl::unexpected(d_bytes.error());
    private_value.reset(BN_bin2bn(d_bytes->data(), static_cast<int>(d_bytes->size()), nullptr));
    OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_PRIV_KEY, private_value.get());
  }
  openssl::Params params(OSSL_PARAM_BLD_to_param(builder.get()));
  openssl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, d != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                        params.get()) != 1) {
    return Fail(Errc::kParse, "JWK is not a valid P-256 key");
  }
  auto owned = Own(key);
  if (!PublicKeyValid(key)) return Fail(Errc::kParse, "JWK point is not on the P-256 curve");
  if (d != nullptr) {
    openssl::PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) {
      return Fail(Errc::kParse, "JWK \"d\" does not belong to its public point");
    }
  }
  return EcKey(std::move(owned), d != nullptr, id);
}

Result<EcKey> EcKey::FromJwkText(std::string_view text) {
  auto json = core::ParseJson(text);
  if (!json) return Fail(Errc::kParse, "JWK is not JSON: " + json.error().message);
  return FromJwk(*json);
}

Result<EcKey> EcKey::FromText(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') return FromJwkText(text);
  return FromPem(text);
}

std::string EcKey::Thumbprint() const {
  // RFC 7638: the required members in lexicographic order, no white space.
  const auto [x, y] = PublicCoordinates(key_.get());
  const std::string canonical = "{" + JwkMember("crv", "P-256") + "," + JwkMember("kty", "EC") + "," +
                                JwkMember("x", Base64UrlEncode(x)) + "," +
                                JwkMember("y", Base64UrlEncode(y)) + "}";
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return Base64UrlEncode(std::span<const std::uint8_t>(digest.data(), length));
}

std::string EcKey::PublicPem() const {
  openssl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return ReadBio(bio.get());
}

std::string EcKey::PrivatePem() const {
  if (!has_private_) return {};
  openssl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return ReadBio(bio.get());
}

std::string EcKey::Jwk(bool include_private) const {
  const auto [x, y] = PublicCoordinates(key_.get());
  std::string jwk = "{" + JwkMember("kty", "EC") + "," + JwkMember("crv", "P-256") + "," +
                    JwkMember("x", Base64UrlEncode(x)) + "," + JwkMember("y", Base64UrlEncode(y));
  if (include_private && has_private_) {
    jwk += "," + JwkMember("d", Base64UrlEncode(Coordinate(key_.get(), OSSL_PKEY_PARAM_PRIV_KEY)));
  }
  return jwk + "," + JwkMember("kid", id_) + "}";
}

bool KeySet::Add(EcKey key) {
  const std::string id = key.id();
  const bool has_private = key.has_private();
  const bool added = keys_.emplace(id, std::move(key)).second;
  if (added && has_private) has_private_ = true;
  return added;
}

const EcKey* KeySet::Find(std::string_view id) const {
  const auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

Result<KeySet> KeySet::FromText(std::string_view text) {
  KeySet set;
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    auto json = core::ParseJson(text);
    if (!json) return Fail(Errc::kParse, "not JSON: " + json.error().message);
    const core::JsonValue* keys = json->Find("keys");
    if (keys == nullptr) {
      auto key = EcKey::FromJwk(*json);
      if (!key) return tl::unexpected(key.error());
      set.Add(std::move(*key));
      return set;
    }
    if (keys->type != core::JsonValue::Type::kArray) return Fail(Errc::kParse, "\"keys\" must be an array");
    for (std::size_t i = 0; i < keys->items.size(); ++i) {
      auto key = EcKey::FromJwk(keys->items[i]);
      if (!key) return tl::unexpected(key.error().WithContext("keys[" + std::to_string(i) + "]"));
      if (!set.Add(std::move(*key))) {
        return Fail(Errc::kParse, "keys[" + std::to_string(i) + "]: a second key with the same kid");
      }
    }
    return set;
  }
  auto key = EcKey::FromPem(text);
  if (!key) return tl::unexpected(key.error());
  set.Add(std::move(*key));
  return set;
}

Result<KeySet> KeySet::FromFile(const std::filesystem::path& path) {
  auto file = ReadKeyFile(path, core::kPublicKeyFile);
  if (!file) return tl::unexpected(file.error());
  auto set = FromText(file->text);
  if (!set) return tl::unexpected(set.error().WithContext(path.string()));
  if (set->has_private() && file->others_may_access) {
    return tl::unexpected(core::OthersMayReadError(core::kPrivateKeyFile, path));
  }
  return set;
}

Result<EcKey> LoadPrivateKeyFile(const std::filesystem::path& path) {
  auto file = ReadKeyFile(path, core::kGatewayKeyFile);
  if (!file) {
    if (file.error().code == Errc::kNotFound) {
      return Fail(Errc::kNotFound,
                  file.error().message + "; create it with: ehealth-gateway keygen --out " + path.string());
    }
    return tl::unexpected(file.error());
  }
  auto key = EcKey::FromText(file->text);
  if (!key) return tl::unexpected(key.error().WithContext("gateway key " + path.string()));
  if (!key->has_private())
    return Fail(Errc::kRejected, "gateway key " + path.string() + " holds no private key");
  return key;
}

Result<EcKey> LoadKeyFile(const std::filesystem::path& path) {
  auto file = ReadKeyFile(path, core::kPublicKeyFile);
  if (!file) return tl::unexpected(file.error());
  auto key = EcKey::FromText(file->text);
  if (!key) return tl::unexpected(key.error().WithContext(path.string()));
  if (key->has_private() && file->others_may_access) {
    return tl::unexpected(core::OthersMayReadError(core::kPrivateKeyFile, path));
  }
  return key;
}

Result<void> WritePrivateKeyFile(const std::filesystem::path& path, const EcKey& key) {
  if (std::filesystem::exists(path)) {
    return Fail(Errc::kRejected, path.string() + " exists; a key is never overwritten (move it away first)");
  }
  const std::string pem = key.PrivatePem();
  if (pem.empty()) return Fail(Errc::kInvalidArgument, "no private key to write");
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Errc::kIo, "cannot create " + temp.string() + ": " + std::strerror(errno));
  const auto fail = [&](const std::string& what) {
    const std::string reason = what + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(temp.c_str());
    return Fail(Errc::kIo, reason);
  };
  if (::write(fd, pem.data(), pem.size()) != static_cast<ssize_t>(pem.size()))
    return fail("write " + temp.string());
  if (::fsync(fd) != 0) return fail("fsync " + temp.string());
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    return Fail(Errc::kIo, "close " + temp.string() + ": " + std::strerror(errno));
  }
  if (::link(temp.c_str(), path.c_str()) != 0) {  // unlike rename, link never replaces a file
    const std::string reason = std::strerror(errno);
    ::unlink(temp.c_str());
    return Fail(Errc::kIo, "cannot create " + path.string() + ": " + reason);
  }
  ::unlink(temp.c_str());
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Fail(Errc::kIo, "open " + directory.string() + ": " + std::strerror(errno));
  const int synced = ::fsync(dir);
  ::close(dir);
  if (synced != 0) return Fail(Errc::kIo, "fsync " + directory.string() + ": " + std::strerror(errno));
  return {};
}

}  // namespace ehg::crypto
