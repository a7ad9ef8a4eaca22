#pragma once

#include <string>
#include <string_view>

#include "gateway/core/result.hpp"
#include "gateway/crypto/jose.hpp"
#include "gateway/crypto/keys.hpp"

// The end-to-end envelope around every event (docs/integration.md): the event body signed by the gateway
// (JWS, ES256, kid = gateway key id) and that JWS encrypted for the care system (JWE, ECDH-ES + A256GCM,
// kid = care system key id, cty "JOSE"). The broker sees neither the body nor who it is about.
namespace ehg::crypto {

// The "typ" of the gateway's signed retained status (docs/mqtt.md#signed-status), signed with the same
// key as the events: a status is never taken for an event, nor an event for a status.
inline constexpr std::string_view kStatusJwsType = "ehealth-gateway-status+jws";

Result<std::string> SealEnvelope(std::string_view body, const EcKey& gateway_key, const EcKey& recipient_key);

struct OpenedEnvelope {
  std::string body;
  std::string gateway_kid;    // the key that signed it
  std::string recipient_kid;  // the key it was encrypted for
};
// The care system's side: `decryption_keys` holds its private keys, `gateway_keys` the enrolled
// gateways' public keys.
Checked<OpenedEnvelope> OpenEnvelope(std::string_view payload, const KeySet& decryption_keys,
                                     const KeySet& gateway_keys);

}  // namespace ehg::crypto
