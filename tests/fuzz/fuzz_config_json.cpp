// Config files come from installers and from remote config and rules commands: hostile bytes must give an
// error, never a crash, a hang or an out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/config/config.hpp"
#include "gateway/core/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto document = ehg::core::ParseJson(text);
  if (document) {
    (void)ehg::core::Describe(*document);
    // What is written reads back (rules.apply's lists are written so), and every value's bytes are
    // inside the text (a rules.apply splices at them).
    if (!ehg::core::ParseJson(ehg::core::WriteJson(*document))) __builtin_trap();
    if (document->begin > document->end || document->end > text.size()) __builtin_trap();
    if (auto spliced = ehg::config::WithRules(text, "[]"))
      (void)ehg::config::ParseConfig(*spliced, "/etc/ehealth-gateway");
  }
  const auto config = ehg::config::ParseConfig(text, "/etc/ehealth-gateway");
  if (!config) {
    for (const auto& error : config.error())
      (void)error.ToString();
  }
  return 0;
}
