// The retained status comes from the broker: whoever may publish on a gateway's status topic chooses
// the bytes. Any input must give a verdict (accepted only when signed by the enrolled key), never a
// crash, hang or out-of-bounds read; a second message checks the replay bookkeeping.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/wire/status_check.hpp"
#include "tests/fuzz/jose_fuzz_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ehg::crypto::KeySet keys = *ehg::crypto::KeySet::FromText(ehg::fuzz::kGatewayKey);
  const ehg::core::WallTime now{std::chrono::milliseconds(ehg::fuzz::kNowMilliseconds)};
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  ehg::wire::StatusTracker signed_statuses(&keys);
  const auto verdict = signed_statuses.Check(ehg::fuzz::kTenant, ehg::fuzz::kGatewayId, payload, now);
  if (verdict.accepted && verdict.status.signer.empty()) std::abort();  // signed mode takes nothing unsigned
  (void)signed_statuses.Check(ehg::fuzz::kTenant, ehg::fuzz::kGatewayId, payload, now);
  (void)signed_statuses.NewlySilent(now + std::chrono::hours(1));
  ehg::wire::StatusTracker development(nullptr);
  (void)development.Check(ehg::fuzz::kTenant, ehg::fuzz::kGatewayId, payload, now);
  return 0;
}
