#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "gateway/core/result.hpp"

// A simulated fleet's identities (docs/operations-hub.md#the-fleet-simulator): per gateway a P-256 TLS
// key with a client certificate (CN = gateway id, URI CertificateUri) issued by the given CA, and a
// separate P-256 signing key for its envelopes and statuses, as a real gateway has. Written into one
// directory:
//   fleet.tsv          "tenant gateway" lines: the simulator's list and scripts/cluster --gateways
//   enrol.tsv          "tenant<TAB>gateway<TAB>public JWK<TAB>certificate SHA-256": ehealth-hub enrol --from
//   gateways/ID.crt    the client certificate; ID.key its key; ID.sign.pem the signing key (PKCS#8)
namespace ehg::fleet {

struct ProvisionRequest {
  std::filesystem::path directory;
  std::filesystem::path ca_certificate;
  std::filesystem::path ca_key;
  std::vector<std::string> tenants;  // gateways are spread over these in turn
  std::size_t gateways = 0;
  std::string prefix = "fleet-gw-";  // gateway ids: prefix + 1-based number, zero-padded to 5 digits
};

struct FleetMember {
  std::string tenant;
  std::string gateway;
};

Result<std::vector<FleetMember>> Provision(const ProvisionRequest& request);

// The members of a provisioned fleet, from its fleet.tsv.
Result<std::vector<FleetMember>> ReadFleet(const std::filesystem::path& directory);

// The URI naming a gateway's user on the engine (urn:ehealth:gateway:ID), as scripts/gen-certs writes it
// into the certificate: NATS maps a certificate with a URI to its user with one lookup, one without by
// comparing its subject with every user's (docs/operations-hub.md#users-and-permissions).
std::string CertificateUri(const std::string& gateway);

// The gateway id of member `number` (1-based).
std::string GatewayId(const std::string& prefix, std::size_t number);

}  // namespace ehg::fleet
