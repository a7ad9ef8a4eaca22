#include "care/command_signing.hpp"

#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/jose.hpp"

namespace ehg::care {

Result<std::string> SignCommand(const crypto::EcKey& care_system_key, std::string_view tenant,
                                std::string_view gateway_id, std::string_view command_json,
                                std::string_view jti, core::WallTime now, std::chrono::seconds lifetime) {
  if (!crypto::IsPlainIdentifier(tenant) || !crypto::IsPlainIdentifier(gateway_id) ||
      !crypto::IsPlainIdentifier(jti)) {
    return Fail(Errc::kInvalidArgument, "tenant, gateway id and jti must be printable identifiers");
  }
  const auto issued = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::string claims = "{\"aud\":\"" + crypto::CommandAudience(tenant, gateway_id) +
                             "\",\"iat\":" + std::to_string(issued) +
                             ",\"exp\":" + std::to_string(issued + lifetime.count()) + ",\"jti\":\"" +
                             std::string(jti) + "\",\"command\":" + std::string(command_json) + "}";
  return crypto::SignCompactJws(care_system_key, claims);
}

}  // namespace ehg::care
