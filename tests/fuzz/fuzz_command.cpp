// Commands arrive from the network (today plain JSON, later the payload of a verified JWS): hostile
// bytes must be refused with a reason, never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/wire/commands.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto command = ehg::wire::ParseCommand(text);
  if (!command) (void)command.error().reason.size();
  return 0;
}
