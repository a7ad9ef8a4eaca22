// Recorded readings come from files written by other tools: any bytes must give a reading or a reason.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/replay/reading_line.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto reading = ehg::replay::ParseReadingLine(line);
  if (reading && reading->metric.empty()) __builtin_trap();  // a reading always names its metric
  return 0;
}
