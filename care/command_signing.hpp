#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"
#include "gateway/crypto/keys.hpp"

// The care system's side of commands (the reference receiver, tests): the gateway only verifies them
// (crypto::VerifyCommand, which documents the claims), so the signing lives here, not in the gateway.
namespace ehg::care {

// Signs `command_json` for one gateway: a compact JWS (ES256) whose payload carries the audience
// "<tenant>/<gateway id>", iat, exp = iat + lifetime, the jti and the command.
Result<std::string> SignCommand(const crypto::EcKey& care_system_key, std::string_view tenant,
                                std::string_view gateway_id, std::string_view command_json,
                                std::string_view jti, core::WallTime now, std::chrono::seconds lifetime);

}  // namespace ehg::care
