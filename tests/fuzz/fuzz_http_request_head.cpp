// The request head comes from whoever reaches the status page, before any token is checked: any bytes
// must give a verdict (read more, refused with a status, or a head within the limits), never a crash,
// hang or out-of-bounds read. Fed whole and as every prefix the way a slow client sends it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/http/request_head.hpp"

namespace {

void Check(std::string_view received, const ehg::http::HeadLimits& limits) {
  const ehg::http::HeadVerdict verdict = ehg::http::ParseRequestHead(received, limits);
  switch (verdict.outcome) {
    case ehg::http::HeadOutcome::kIncomplete:
      if (received.size() > limits.max_head_bytes) __builtin_trap();  // past the limit it must decide
      break;
    case ehg::http::HeadOutcome::kRefused:
      if (verdict.status < 400 || verdict.status > 599 || verdict.reason.empty()) __builtin_trap();
      break;
    case ehg::http::HeadOutcome::kComplete: {
      const ehg::http::RequestHead& head = verdict.head;
      if (head.fields.size() > limits.max_fields || head.target.size() > limits.max_target_bytes ||
          head.target.empty() || head.target.front() != '/')
        __builtin_trap();
      const auto length = head.Field("content-length");
      if (length && length->find_first_not_of('0') != std::string_view::npos) __builtin_trap();  // a body
      if (head.Field("transfer-encoding")) __builtin_trap();
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ehg::http::HeadLimits small;
  small.max_head_bytes = 256;
  small.max_target_bytes = 64;
  small.max_fields = 4;
  Check(bytes, ehg::http::HeadLimits{});
  for (std::size_t prefix = 0; prefix <= bytes.size() && prefix <= 300; ++prefix)
    Check(bytes.substr(0, prefix), small);
  return 0;
}
