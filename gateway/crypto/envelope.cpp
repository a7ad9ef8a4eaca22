#include "gateway/crypto/envelope.hpp"

namespace ehg::crypto {

Result<std::string> SealEnvelope(std::string_view body, const EcKey& gateway_key,
                                 const EcKey& recipient_key) {
  auto signed_body = SignCompactJws(gateway_key, body);
  if (!signed_body) return tl::unexpected(signed_body.error());
  return EncryptCompactJwe(recipient_key, *signed_body, "JOSE");
}

Checked<OpenedEnvelope> OpenEnvelope(std::string_view payload, const KeySet& decryption_keys,
                                     const KeySet& gateway_keys) {
  auto decrypted = DecryptCompactJwe(payload, decryption_keys);
  if (!decrypted) return tl::unexpected(decrypted.error());
  auto verified = VerifyCompactJws(decrypted->plaintext, gateway_keys);
  if (!verified) {
    return tl::unexpected(Refused{verified.error().reason, "inner JWS: " + verified.error().message});
  }
  // Anyone may encrypt for the care system: a genuine signed status wrapped in a JWE is not an event.
  if (verified->typ == kStatusJwsType) {
    return tl::unexpected(Refused{Refusal::kMalformed, "inner JWS: a signed status, not an event"});
  }
  return OpenedEnvelope{std::move(verified->payload), std::move(verified->kid), std::move(decrypted->kid)};
}

}  // namespace ehg::crypto
