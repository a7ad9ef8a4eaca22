#include "gateway/crypto/command_verifier.hpp"

#include <algorithm>
#include <cmath>

namespace ehg::crypto {
namespace {

using core::JsonValue;

std::optional<double> NumericDate(const JsonValue& claims, std::string_view name) {
  const JsonValue* value = claims.Find(name);
  if (value == nullptr || value->type != JsonValue::Type::kNumber || !std::isfinite(value->number)) {
    return std::nullopt;
  }
  return value->number;
}

bool AudienceMatches(const JsonValue& aud, std::string_view audience) {
  if (aud.type == JsonValue::Type::kString) return aud.text == audience;
  if (aud.type != JsonValue::Type::kArray) return false;
  for (const JsonValue& item : aud.items) {
    if (item.type == JsonValue::Type::kString && item.text == audience) return true;
  }
  return false;
}

}  // namespace

Checked<VerifiedCommand> VerifyCommand(std::string_view jws, const KeySet& command_keys,
                                       const CommandPolicy& policy, core::WallTime now) {
  auto verified = VerifyCompactJws(jws, command_keys);
  if (!verified) return tl::unexpected(verified.error());
  auto claims = core::ParseJson(verified->payload);
  if (!claims) return Refuse(Refusal::kMalformed, "signed payload is not JSON: " + claims.error().message);
  if (claims->type != JsonValue::Type::kObject) {
    return Refuse(Refusal::kMalformed, "signed payload is not a JSON object");
  }
  const JsonValue* aud = claims->Find("aud");
  if (aud == nullptr || policy.tenant.empty() || policy.gateway_id.empty() ||
      !AudienceMatches(*aud, CommandAudience(policy.tenant, policy.gateway_id))) {
    return Refuse(Refusal::kWrongAudience, "\"aud\" does not name this gateway as \"<tenant>/<gateway id>\"");
  }
  const auto now_seconds = static_cast<double>(now.time_since_epoch().count()) / 1000.0;
  const auto skew = static_cast<double>(policy.clock_skew.count());
  const auto exp = NumericDate(*claims, "exp");
  if (!exp) return Refuse(Refusal::kMalformed, "\"exp\" missing or not a number");
  if (*exp + skew <= now_seconds) return Refuse(Refusal::kExpired, "expired (\"exp\" is in the past)");
  if (*exp - now_seconds > static_cast<double>(policy.max_lifetime.count())) {
    return Refuse(
        Refusal::kMalformed,
        "\"exp\" is more than " + std::to_string(policy.max_lifetime.count() / 3600) + " hours ahead");
  }
  if (claims->Find("iat") == nullptr) return Refuse(Refusal::kMalformed, "\"iat\" missing");
  for (const std::string_view name : {"iat", "nbf"}) {
    if (claims->Find(name) == nullptr) continue;
    const auto value = NumericDate(*claims, name);
    if (!value) return Refuse(Refusal::kMalformed, "\"" + std::string(name) + "\" is not a number");
    if (*value - skew > now_seconds) {
      return Refuse(Refusal::kNotYetValid,
                    "\"" + std::string(name) + "\" is in the future (check the clocks)");
    }
  }
  const JsonValue* jti = claims->Find("jti");
  if (jti == nullptr || jti->type != JsonValue::Type::kString || !IsPlainIdentifier(jti->text)) {
    return Refuse(Refusal::kMalformed, "\"jti\" must be 1-128 printable characters");
  }
  const JsonValue* command = claims->Find("command");
  if (command == nullptr || command->type != JsonValue::Type::kObject) {
    return Refuse(Refusal::kMalformed, "\"command\" must be an object");
  }
  const auto remember_until_ms = static_cast<std::int64_t>(std::ceil((*exp + skew) * 1000.0));
  // iat is a finite number here (checked above); clamp before converting so no value is undefined.
  const double iat = std::clamp(*NumericDate(*claims, "iat"), -1e12, 1e12);
  VerifiedCommand out;
  out.command = *command;
  out.jti = jti->text;
  out.remember_until = core::WallTime(std::chrono::milliseconds(remember_until_ms));
  out.issued_at =
      core::WallTime(std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(iat * 1000.0))));
  out.signer = std::move(verified->kid);
  return out;
}

std::string CommandAudience(std::string_view tenant, std::string_view gateway_id) {
  return std::string(tenant) + "/" + std::string(gateway_id);
}

}  // namespace ehg::crypto
