#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"
#include "gateway/core/json.hpp"
#include "gateway/crypto/jose.hpp"
#include "gateway/crypto/keys.hpp"

// Commands from the care system: a compact JWS (ES256, a configured care system key) whose payload is
//   {"aud":"<tenant>/<gateway id>","exp":<NumericDate>,"iat":<NumericDate>,"jti":"<unique>","command":{...}}
// The audience names the municipality (tenant) and the gateway: gateway ids are unique only within a
// tenant, and one regional care system may hold the command key of several municipalities, so a
// command for gateway "gw-1" of one municipality must not be taken by "gw-1" of another. iat is
// required: a fresh database refuses commands issued before it existed (the uplink's replay floor).
// The replay check on jti needs the persisted window and is the uplink's (it owns the store's view).
namespace ehg::crypto {

struct CommandPolicy {
  std::string gateway_id;  // with the tenant, the only accepted audience
  std::string tenant;
  std::chrono::seconds clock_skew{60};               // allowance on exp, iat and nbf
  std::chrono::seconds max_lifetime{8 * 24 * 3600};  // exp at most this far ahead (bounds the jti window)
};

struct VerifiedCommand {
  core::JsonValue command;          // the "command" object, for wire::ParseCommand
  std::string jti;                  // empty only for an unsigned development command
  core::WallTime remember_until{};  // exp plus the clock skew: the replay window must cover it
  core::WallTime issued_at{};       // iat
  std::string signer;               // kid of the key that signed it
};

Checked<VerifiedCommand> VerifyCommand(std::string_view jws, const KeySet& command_keys,
                                       const CommandPolicy& policy, core::WallTime now);

// The audience string of one gateway: "<tenant>/<gateway id>".
std::string CommandAudience(std::string_view tenant, std::string_view gateway_id);

}  // namespace ehg::crypto
