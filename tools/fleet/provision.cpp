#include "tools/fleet/provision.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>

#include "gateway/crypto/keys.hpp"

namespace ehg::fleet {

namespace {

struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, PkeyFree>;

tl::unexpected<Error> Problem(const std::string& what) {
  return ehg::Fail(Errc::kIo, "fleet provision: " + what);
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Problem("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<void> WriteFile(const std::filesystem::path& path, const std::string& text, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Problem("cannot write " + path.string());
  out << text;
  out.close();
  if (!out) return Problem("writing " + path.string() + " failed");
  if (secret)
    std::filesystem::permissions(path,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return {};
}

Result<Certificate> LoadCertificate(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) return Problem("the CA certificate is not a PEM certificate");
  return certificate;
}

Result<PrivateKey> LoadKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Problem("the CA key is not a PEM private key");
  return key;
}

bool AddExtension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) return false;
  const bool added = X509_add_ext(certificate, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

// A client certificate like scripts/gen-certs issues (clientAuth only, the gateway's URI), valid from an hour
// ago for 825 days.
Result<Certificate> Issue(const std::string& common_name, EVP_PKEY* public_key, X509* ca, EVP_PKEY* ca_key,
                          std::uint64_t serial) {
  Certificate certificate(X509_new());
  if (!certificate) return Problem("X509_new failed");
  X509* c = certificate.get();
  bool ok = X509_set_version(c, 2) == 1;
  ok = ok && ASN1_INTEGER_set_uint64(X509_get_serialNumber(c), serial) == 1;
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(c), -3600) != nullptr;
  ok = ok && X509_gmtime_adj(X509_getm_notAfter(c), 825L * 24 * 3600) != nullptr;
  X509_NAME* name = X509_get_subject_name(c);
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                                        0) == 1;
  ok = ok && X509_set_issuer_name(c, X509_get_subject_name(ca)) == 1;
  ok = ok && X509_set_pubkey(c, public_key) == 1;
  ok = ok && AddExtension(c, ca, NID_basic_constraints, "critical,CA:FALSE");
  ok = ok && AddExtension(c, ca, NID_key_usage, "critical,digitalSignature");
  ok = ok && AddExtension(c, ca, NID_ext_key_usage, "clientAuth");
  ok = ok && AddExtension(c, ca, NID_subject_alt_name, ("URI:" + CertificateUri(common_name)).c_str());
  ok = ok && AddExtension(c, ca, NID_subject_key_identifier, "hash");
  ok = ok && AddExtension(c, ca, NID_authority_key_identifier, "keyid:always");
  ok = ok && X509_sign(c, ca_key, EVP_sha256()) > 0;
  if (!ok) return Problem("issuing the certificate of " + common_name + " failed");
  return certificate;
}

std::string Pem(X509* certificate) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), certificate);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string Fingerprint(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(certificate, EVP_sha256(), digest, &size);
  std::ostringstream hex;
  for (unsigned int i = 0; i < size; ++i)
    hex << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(digest[i]);
  return hex.str();
}

}  // namespace

std::string CertificateUri(const std::string& gateway) {
  return "urn:ehealth:gateway:" + gateway;
}

std::string GatewayId(const std::string& prefix, std::size_t number) {
  std::ostringstream id;
  id << prefix << std::setw(5) << std::setfill('0') << number;
  return id.str();
}

Result<std::vector<FleetMember>> Provision(const ProvisionRequest& request) {
  if (request.tenants.empty()) return Problem("no tenant given");
  auto ca_text = ReadFile(request.ca_certificate);
  if (!ca_text) return tl::unexpected(ca_text.error());
  auto ca_key_text = ReadFile(request.ca_key);
  if (!ca_key_text) return tl::unexpected(ca_key_text.error());
  auto ca = LoadCertificate(*ca_text);
  if (!ca) return tl::unexpected(ca.error());
  auto ca_key = LoadKey(*ca_key_text);
  if (!ca_key) return tl::unexpected(ca_key.error());

  const std::filesystem::path keys = request.directory / "gateways";
  std::error_code error;
  std::filesystem::create_directories(keys, error);
  if (error) return Problem("cannot create " + keys.string() + ": " + error.message());
  std::filesystem::permissions(keys, std::filesystem::perms::owner_all, error);

  std::vector<FleetMember> members;
  std::string fleet = "# tenant gateway (written by ehealth-fleet-sim provision)\n";
  std::string enrol;
  for (std::size_t n = 1; n <= request.gateways; ++n) {
    FleetMember member{request.tenants[(n - 1) % request.tenants.size()], GatewayId(request.prefix, n)};
    auto tls_key = crypto::EcKey::Generate();
    auto signing_key = crypto::EcKey::Generate();
    if (!tls_key || !signing_key) return Problem("key generation failed");
    auto certificate = Issue(member.gateway, tls_key->get(), ca->get(), ca_key->get(), 0x4000'0000ULL + n);
    if (!certificate) return tl::unexpected(certificate.error());
    const std::filesystem::path base = keys / member.gateway;
    for (auto written : {WriteFile(base.string() + ".crt", Pem(certificate->get()), false),
                         WriteFile(base.string() + ".key", tls_key->PrivatePem(), true),
                         WriteFile(base.string() + ".sign.pem", signing_key->PrivatePem(), true)})
      if (!written) return tl::unexpected(written.error());
    fleet += member.tenant + " " + member.gateway + "\n";
    enrol += member.tenant + "\t" + member.gateway + "\t" + signing_key->Jwk(false) + "\t" +
             Fingerprint(certificate->get()) + "\n";
    members.push_back(std::move(member));
  }
  if (auto written = WriteFile(request.directory / "fleet.tsv", fleet, false); !written)
    return tl::unexpected(written.error());
  if (auto written = WriteFile(request.directory / "enrol.tsv", enrol, false); !written)
    return tl::unexpected(written.error());
  return members;
}

Result<std::vector<FleetMember>> ReadFleet(const std::filesystem::path& directory) {
  auto text = ReadFile(directory / "fleet.tsv");
  if (!text) return tl::unexpected(text.error());
  std::vector<FleetMember> members;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    FleetMember member;
    if (!(fields >> member.tenant >> member.gateway))
      return Problem("fleet.tsv: a line is not \"tenant gateway\"");
    members.push_back(std::move(member));
  }
  return members;
}

}  // namespace ehg::fleet
