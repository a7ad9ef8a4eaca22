#include "gateway/app/security_setup.hpp"

#include <iostream>

#include "gateway/app/exit_codes.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/log.hpp"
#include "gateway/crypto/keys.hpp"

namespace ehg::app {

Result<std::shared_ptr<const crypto::PayloadProtection>> BuildProtection(const config::Config& config,
                                                                         ProtectionUse use) {
  const config::SecurityConfig& security = config.security;
  const bool starting = use == ProtectionUse::kStarting;
  if (security.insecure_plaintext_payloads_for_development) {
    if (starting) {
      core::LogWarning(
          "security.insecure_plaintext_payloads_for_development is set: events leave unencrypted and "
          "unsigned, commands are taken unsigned; development only");
    }
    return std::make_shared<crypto::PlaintextForDevelopment>();
  }
  auto gateway_key = crypto::LoadPrivateKeyFile(security.gateway_key_file);
  if (!gateway_key) return tl::unexpected(gateway_key.error());
  auto recipient = crypto::LoadKeyFile(security.recipient_key_file);
  if (!recipient) return tl::unexpected(recipient.error().WithContext("care system encryption key"));
  if (recipient->has_private()) {
    return Fail(Errc::kRejected, "care system encryption key " + security.recipient_key_file.string() +
                                     " holds a private key: only its public half belongs on a gateway");
  }
  auto command_keys = crypto::KeySet::FromFile(security.command_keys_file);
  if (!command_keys) return tl::unexpected(command_keys.error().WithContext("care system command keys"));
  if (command_keys->size() == 0) return Fail(Errc::kRejected, "no care system command keys configured");
  if (starting) {
    core::LogInfo("payloads sealed end to end", {{"gateway_key_id", gateway_key->id()},
                                                 {"recipient_key_id", recipient->id()},
                                                 {"command_keys", command_keys->size()}});
  }
  crypto::CommandPolicy policy{
      config.gateway.id, config.gateway.tenant, security.clock_skew,
      std::chrono::duration_cast<std::chrono::seconds>(security.command_max_lifetime)};
  return std::make_shared<crypto::JoseProtection>(std::move(*gateway_key), std::move(*recipient),
                                                  std::move(*command_keys), std::move(policy));
}

int GenerateKey(const KeygenRequest& request) {
  auto key = crypto::EcKey::Generate();
  if (!key) {
    std::cerr << "keygen: " << key.error().message << "\n";
    return 1;
  }
  if (auto written = crypto::WritePrivateKeyFile(request.out, *key); !written) {
    std::cerr << "keygen: " << written.error().message << "\n";
    return 1;
  }
  std::cerr << "keygen: wrote " << request.out.string() << " (mode 0600, key id " << key->id()
            << "); give the public key below to the care system for enrolment\n";
  std::cout << key->Jwk() << "\n";
  return 0;
}

int PrintPublicKey(const PublicKeyRequest& request) {
  auto key = crypto::LoadKeyFile(request.key);
  if (!key) {
    std::cerr << "public-key: " << key.error().message << "\n";
    return core::IsUnusableInput(key.error()) ? kExitNoInput : 1;
  }
  std::cout << (request.format == "pem" ? key->PublicPem() : key->Jwk() + "\n");
  return 0;
}

}  // namespace ehg::app
