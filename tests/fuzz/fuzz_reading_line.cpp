// Replay files come from other tools and from people: any bytes must give a reading, an action or a
// reason, and the reason must be safe to print on a terminal.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <variant>

#include "gateway/replay/reading_line.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto parsed = ehg::replay::ParseReplayLine(line);
  if (!parsed) {
    // A reason never carries a control character or bytes that are not UTF-8.
    if (!ehg::replay::IsUtf8(parsed.error())) __builtin_trap();
    for (const char c : parsed.error()) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) __builtin_trap();
    }
    return 0;
  }
  std::visit(
      [](const auto& item) {
        using T = std::decay_t<decltype(item)>;
        if constexpr (std::is_same_v<T, ehg::core::Reading>) {
          if (item.metric.empty() || !item.device_time) __builtin_trap();  // always set by the parser
        } else {
          static_assert(std::is_same_v<T, ehg::replay::ReplayAction>);
          if (item.by.empty() || item.note.size() > ehg::replay::kMaxNoteBytes) __builtin_trap();
          if (item.kind != ehg::replay::ActionKind::kResolve && !item.note.empty()) __builtin_trap();
        }
      },
      *parsed);
  // The reading-only parser agrees with the line parser.
  if (ehg::replay::ParseReadingLine(line).has_value() != std::holds_alternative<ehg::core::Reading>(*parsed))
    __builtin_trap();
  return 0;
}
