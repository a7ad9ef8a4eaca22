// Whatever bytes reach them, everything the gateway writes for others is valid UTF-8: log lines,
// JSON strings, /api/status, /metrics, the page and sealed (here: development plaintext) event bodies;
// and the JSON reader never accepts text that is not UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/core/json.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/utf8.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/http/status.hpp"
#include "tests/fuzz/jose_fuzz_keys.hpp"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ehg::core::IsValidUtf8;
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  const std::string repaired = ehg::core::ValidUtf8(bytes);
  Require(IsValidUtf8(repaired));
  if (IsValidUtf8(bytes)) Require(repaired == bytes);
  Require(IsValidUtf8(ehg::core::Utf8Prefix(repaired, size / 2)));

  if (ehg::core::ParseJson(bytes)) Require(IsValidUtf8(bytes));
  const std::string quoted = ehg::core::JsonQuote(bytes);
  Require(IsValidUtf8(quoted));
  const auto parsed = ehg::core::ParseJson(quoted);
  Require(parsed.has_value() && parsed->text == repaired);

  Require(IsValidUtf8(ehg::core::FormatLogLine(ehg::core::LogLevel::kWarning, bytes, {{"value", bytes}})));

  ehg::http::StatusSnapshot status;
  status.gateway_id = bytes;
  status.tenant = bytes;
  status.version = bytes;
  ehg::http::DeviceView device;
  device.id = bytes;
  device.transport = bytes;
  device.type = bytes;
  status.devices.push_back(device);
  ehg::http::Problem problem;
  problem.level = "warning";
  problem.line = bytes;
  status.recent_problems.push_back(problem);
  Require(IsValidUtf8(ehg::http::StatusJson(status)));
  Require(IsValidUtf8(ehg::http::MetricsText(status)));
  Require(IsValidUtf8(ehg::http::StatusPageHtml(status, std::chrono::seconds(10))));

  const ehg::crypto::PlaintextForDevelopment plaintext;
  const auto sealed = plaintext.Seal(bytes);
  Require(sealed.has_value() && IsValidUtf8(*sealed));
  // The production seal: what the care system opens is valid UTF-8 too (the JWE itself is base64).
  static const ehg::crypto::KeySet care = *ehg::crypto::KeySet::FromText(ehg::fuzz::kCareEncryptionKey);
  static const ehg::crypto::KeySet gateways = *ehg::crypto::KeySet::FromText(ehg::fuzz::kGatewayKey);
  static const ehg::crypto::JoseProtection jose(
      *ehg::crypto::EcKey::FromJwkText(ehg::fuzz::kGatewayKey),
      *ehg::crypto::EcKey::FromJwkText(ehg::fuzz::kCareEncryptionKey), ehg::crypto::KeySet{},
      ehg::crypto::CommandPolicy{std::string(ehg::fuzz::kGatewayId), std::string(ehg::fuzz::kTenant)});
  const auto envelope = jose.Seal(bytes);
  Require(envelope.has_value());
  const auto opened = ehg::crypto::OpenEnvelope(*envelope, care, gateways);
  Require(opened.has_value() && IsValidUtf8(opened->body) && opened->body == repaired);
  return 0;
}
