// The fleet's identities, checked from the outside: openssl verifies each certificate against the CA
// and reads its subject and key usage, the keys are each gateway's own and private files, and the
// enrolment list names the signing key the gateway really signs with.
#include "tools/fleet/provision.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "gateway/crypto/keys.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

using ehg::test::RunCommand;

namespace {

std::string Read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("Each provisioned gateway has its own certificate from the CA, its own keys, private files") {
  ehg::test::TempDir pki;
  REQUIRE(RunCommand({std::string(EHG_SOURCE_DIR) + "/scripts/gen-certs", pki.path().string(), "gw-unused"},
                     std::chrono::seconds(60))
              .exit_code == 0);
  ehg::test::TempDir fleet;
  ehg::fleet::ProvisionRequest request{fleet.path(), pki / "ca.crt", pki / "ca.key", {"0301", "4601"}, 3,
                                       "t-gw-"};
  auto members = ehg::fleet::Provision(request);
  REQUIRE_MESSAGE(members.has_value(), (members ? "" : members.error().message));
  REQUIRE(members->size() == 3);
  CHECK((*members)[0].gateway == "t-gw-00001");
  CHECK((*members)[0].tenant == "0301");
  CHECK((*members)[1].tenant == "4601");
  CHECK((*members)[2].tenant == "0301");

  auto again = ehg::fleet::ReadFleet(fleet.path());
  REQUIRE(again.has_value());
  REQUIRE(again->size() == 3);
  CHECK((*again)[2].gateway == "t-gw-00003");

  std::set<std::string> keys;
  std::istringstream enrol(Read(fleet / "enrol.tsv"));
  std::string line;
  for (const auto& member : *members) {
    const auto base = fleet / "gateways" / member.gateway;
    const auto verified = RunCommand(
        {"/usr/bin/openssl", "verify", "-CAfile", (pki / "ca.crt").string(), base.string() + ".crt"});
    CHECK_MESSAGE(verified.exit_code == 0, verified.output);
    const auto text = RunCommand({"/usr/bin/openssl", "x509", "-in", base.string() + ".crt", "-noout",
                                  "-subject", "-ext", "extendedKeyUsage,basicConstraints,subjectAltName"});
    CHECK(text.output.find("CN = " + member.gateway) != std::string::npos);
    // The engine maps the certificate to the gateway's user by this URI (scripts/cluster).
    CHECK(text.output.find("URI:urn:ehealth:gateway:" + member.gateway + "\n") != std::string::npos);
    CHECK(text.output.find("TLS Web Client Authentication") != std::string::npos);
    CHECK(text.output.find("CA:FALSE") != std::string::npos);
    // The TLS key belongs to the certificate.
    const auto certificate_key =
        RunCommand({"/usr/bin/openssl", "x509", "-in", base.string() + ".crt", "-noout", "-pubkey"});
    const auto private_key =
        RunCommand({"/usr/bin/openssl", "pkey", "-in", base.string() + ".key", "-pubout"});
    CHECK(certificate_key.output == private_key.output);
    for (const char* secret : {".key", ".sign.pem"}) {
      const auto perms = std::filesystem::status(base.string() + secret).permissions();
      CHECK((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
            std::filesystem::perms::none);
    }
    // The enrolment line: tenant, gateway, the public half of the signing key, the certificate's SHA-256.
    REQUIRE(std::getline(enrol, line));
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, '\t');)
      fields.push_back(field);
    REQUIRE(fields.size() == 4);
    CHECK(fields[0] == member.tenant);
    CHECK(fields[1] == member.gateway);
    auto signing = ehg::crypto::EcKey::FromText(Read(base.string() + ".sign.pem"));
    REQUIRE(signing.has_value());
    CHECK(signing->has_private());
    auto enrolled = ehg::crypto::EcKey::FromText(fields[2]);
    REQUIRE(enrolled.has_value());
    CHECK(!enrolled->has_private());
    CHECK(enrolled->Thumbprint() == signing->Thumbprint());
    const auto fingerprint = RunCommand(
        {"/usr/bin/openssl", "x509", "-in", base.string() + ".crt", "-noout", "-fingerprint", "-sha256"});
    std::string hex;
    for (char c : fingerprint.output.substr(fingerprint.output.find('=') + 1))
      if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    CHECK(fields[3] == hex);
    // Every key is the gateway's own.
    CHECK(keys.insert(signing->Thumbprint()).second);
    CHECK(keys.insert(Read(base.string() + ".key")).second);
  }
}

TEST_CASE("Provisioning with a CA key that is not a key fails with a clear error and writes no fleet") {
  ehg::test::TempDir pki;
  std::ofstream(pki / "ca.crt") << "not a certificate";
  std::ofstream(pki / "ca.key") << "not a key";
  ehg::test::TempDir fleet;
  auto members = ehg::fleet::Provision({fleet.path(), pki / "ca.crt", pki / "ca.key", {"0301"}, 2, "x-"});
  REQUIRE(!members.has_value());
  CHECK(members.error().message.find("CA certificate") != std::string::npos);
  CHECK(!std::filesystem::exists(fleet / "fleet.tsv"));
}
