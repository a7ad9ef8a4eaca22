// Device Information strings (manufacturer, model, firmware) from any device a resident pairs: the text
// that reaches logs must be valid UTF-8 without control characters and at most 64 bytes.
#include <cstdlib>
#include <span>

#include "devices/ble_profiles/profiles.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text =
      ehg::devices::ble::ParseInformationString(std::span<const std::uint8_t>(data, size));
  if (text.size() > 64) std::abort();
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xE  ? 3
                               : (lead >> 3) == 0x1E ? 4
                                                     : 0;
    if (length == 0 || i + length > text.size()) std::abort();
    if (length == 1 && (lead < 0x20 || lead == 0x7F)) std::abort();
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) std::abort();
    }
    i += length;
  }
  return 0;
}
