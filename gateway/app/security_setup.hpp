#pragma once

#include <filesystem>
#include <memory>

#include "gateway/config/config.hpp"
#include "gateway/core/result.hpp"
#include "gateway/crypto/protection.hpp"

namespace ehg::app {

// The payload protection the config's security section asks for: the envelope with the configured keys,
// or (only when named in the config) plaintext for development. Errors say how to fix the key files.
// At start (`starting`) it logs what it set up, and warns of the development mode; a config.apply
// only checks that the new file's keys load.
enum class ProtectionUse { kStarting, kCheckingOnly };
Result<std::shared_ptr<const crypto::PayloadProtection>> BuildProtection(const config::Config& config,
                                                                         ProtectionUse use);

struct KeygenRequest {
  std::filesystem::path out;
};
// Creates the gateway key (mode 0600, never over an existing file) and prints its public JWK for
// enrolment. 0, 1 when the file could not be written.
int GenerateKey(const KeygenRequest& request);

struct PublicKeyRequest {
  std::filesystem::path key;
  std::string format = "jwk";  // jwk or pem
};
// Prints the public half of a key file (for enrolment with the care system).
int PrintPublicKey(const PublicKeyRequest& request);

}  // namespace ehg::app
