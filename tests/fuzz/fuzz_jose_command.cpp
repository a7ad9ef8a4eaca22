// Signed commands come from the network: every claim, header and signature byte is attacker-chosen.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/crypto/command_verifier.hpp"
#include "tests/fuzz/jose_fuzz_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ehg::crypto::KeySet keys = *ehg::crypto::KeySet::FromText(ehg::fuzz::kCommandKey);
  static const ehg::crypto::CommandPolicy policy{std::string(ehg::fuzz::kGatewayId),
                                                 std::string(ehg::fuzz::kTenant), std::chrono::seconds(60),
                                                 std::chrono::hours(24)};
  const ehg::core::WallTime now{std::chrono::milliseconds(ehg::fuzz::kNowMilliseconds)};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto verified = ehg::crypto::VerifyCommand(text, keys, policy, now);
  if (!verified) (void)verified.error().message.size();
  return 0;
}
