// The Authorization header comes from whoever reaches the status page: any bytes must give a token or
// nothing, never a crash, hang or out-of-bounds read; the comparison must cope with any length.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/http/access.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const auto token = ehg::http::TokenFromAuthorization(header);
  if (token) (void)ehg::http::TokensEqual("3f9c2b7e51d04a8c9e6f1a2b3c4d5e6f", *token);
  return 0;
}
