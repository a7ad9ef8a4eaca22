// contec-cms50-9 bytes come from a cable anyone can plug in: any bytes must decode or be skipped, never
// crash.
#include "tests/fuzz/serial_decoder_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ehg::fuzz::FuzzSerialDecoder("contec-cms50-9", data, size);
  return 0;
}
