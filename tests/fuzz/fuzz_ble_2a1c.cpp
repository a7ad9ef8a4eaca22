// temperature (0x2A1C) values from a paired device: parse or refuse, never crash.
#include "tests/fuzz/ble_profile_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ehg::fuzz::FuzzCharacteristic(0x2A1C, data, size);
  return 0;
}
