#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// UTF-8 as RFC 3629 defines it: no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF. Outside bytes (commands, key ids, device strings, files) are checked with these where they
// enter; everything the gateway writes for others (events, /api/status, /metrics, logs) passes through
// ValidUtf8 or an escape so that a byte that slipped past a check still cannot make the output invalid.
namespace ehg::core {

// The offset of the first byte that does not start a valid sequence, or nullopt when all is valid.
std::optional<std::size_t> FirstInvalidUtf8(std::string_view text);

inline bool IsValidUtf8(std::string_view text) {
  return !FirstInvalidUtf8(text).has_value();
}

// The length of the valid sequence starting at `offset` (1-4), or 0 when the byte there starts none.
std::size_t ValidUtf8SequenceAt(std::string_view text, std::size_t offset);

// The code point of the valid sequence of `length` bytes (from ValidUtf8SequenceAt) at `offset`.
std::uint32_t CodePointAt(std::string_view text, std::size_t offset, std::size_t length);

// C0 and C1 control characters, DEL, and the invisible characters that reorder or hide text on a terminal
// (bidirectional marks, embeddings, overrides and isolates; line and paragraph separators): valid
// UTF-8 that a log line must still escape so that it cannot act on whoever reads it.
bool ActsOnTerminal(std::uint32_t code_point);

// `text` with every byte that is not part of a valid sequence replaced by U+FFFD, the replacement
// character (one per byte, so the damage stays visible and countable).
std::string ValidUtf8(std::string_view text);

// At most `max_bytes` of `text`, cut before a character rather than inside one (for messages that
// quote a bounded part of what arrived).
std::string_view Utf8Prefix(std::string_view text, std::size_t max_bytes);

}  // namespace ehg::core
