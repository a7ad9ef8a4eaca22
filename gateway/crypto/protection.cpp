#include "gateway/crypto/protection.hpp"

#include "gateway/crypto/envelope.hpp"

namespace ehg::crypto {

JoseProtection::JoseProtection(EcKey gateway_key, EcKey recipient_key, KeySet command_keys,
                               CommandPolicy policy)
    : gateway_key_(std::move(gateway_key)),
      recipient_key_(std::move(recipient_key)),
      command_keys_(std::move(command_keys)),
      policy_(std::move(policy)) {}

Result<std::string> JoseProtection::Seal(std::string_view body) const {
  return SealEnvelope(core::ValidUtf8(body), gateway_key_, recipient_key_);
}

Result<std::string> JoseProtection::SignStatus(std::string_view body) const {
  return SignCompactJws(gateway_key_, body, kStatusJwsType);
}

Checked<VerifiedCommand> JoseProtection::OpenCommand(std::string_view payload, core::WallTime now) const {
  return VerifyCommand(payload, command_keys_, policy_, now);
}

Checked<VerifiedCommand> PlaintextForDevelopment::OpenCommand(std::string_view payload,
                                                              core::WallTime) const {
  auto command = core::ParseJson(payload);
  if (!command || command->type != core::JsonValue::Type::kObject) {
    return tl::unexpected(Refused{Refusal::kMalformed, "a command is a JSON object"});
  }
  VerifiedCommand unsigned_command;
  unsigned_command.command = std::move(*command);
  return unsigned_command;
}

}  // namespace ehg::crypto
