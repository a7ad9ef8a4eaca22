// beurer-bm bytes come from a cable anyone can plug in: any bytes must decode or be skipped, never crash.
#include "devices/serial_protocols/beurer_session.hpp"
#include "tests/fuzz/serial_decoder_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ehg::fuzz::FuzzSerialDecoder("beurer-bm", data, size);
  // The same bytes as a monitor's answers during a memory download, in chunks of up to 7 bytes.
  ehg::devices::serial::BeurerSession session;
  session.Begin();
  for (std::size_t at = 0; at < size && session.active();) {
    const std::size_t chunk = std::min<std::size_t>(1 + data[at] % 7, size - at);
    const auto step = session.OnBytes({data + at, chunk});
    ehg::fuzz::Check(!step.finished || !session.active());
    for (const auto& record : step.records)
      ehg::fuzz::Check(record.values.size() >= 2);
    at += chunk;
  }
  session.OnTimeout();
  ehg::fuzz::Check(!session.active());
  return 0;
}
