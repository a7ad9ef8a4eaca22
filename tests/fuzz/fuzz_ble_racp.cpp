// Record Access Control Point indications from a glucose meter: parse or refuse, never crash.
#include <cstdlib>
#include <span>

#include "devices/ble_profiles/racp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  auto indication = ehg::devices::ble::racp::ParseIndication(bytes);
  if (indication) {
    if (const auto* response = std::get_if<ehg::devices::ble::racp::Response>(&*indication)) {
      if (ehg::devices::ble::racp::ResponseCodeName(response->code).empty()) std::abort();
    }
  } else if (indication.error().message.empty()) {
    std::abort();
  }
  (void)ehg::devices::ble::racp::ParseRequest(bytes);
  return 0;
}
