// Envelopes come from the network (the receiver's side): hostile bytes must be refused with a reason,
// never crash, hang or read out of bounds; headers, ephemeral keys and sizes are all attacker-chosen.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/crypto/envelope.hpp"
#include "tests/fuzz/jose_fuzz_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ehg::crypto::KeySet care = *ehg::crypto::KeySet::FromText(ehg::fuzz::kCareEncryptionKey);
  static const ehg::crypto::KeySet gateways = *ehg::crypto::KeySet::FromText(ehg::fuzz::kGatewayKey);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto opened = ehg::crypto::OpenEnvelope(text, care, gateways);
  if (!opened) (void)opened.error().message.size();
  return 0;
}
