#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <variant>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/core/result.hpp"

// The lines of a `ehealth-gateway replay` file (JSON Lines, docs/rules.md): recorded readings
//   {"time": "2026-03-02T07:15:00Z", "device": "oximeter", "metric": "spo2", "value": 91, "unit": "%",
//    "flags": ["motion_artefact"]}
// (optional: "device_time", "time_uncertain" (bool), "sequence" (whole number)) and care workers' actions
//   {"time": "2026-03-02T07:30:00Z", "action": "acknowledge", "rule": "spo2-low", "by": "nurse-17"}
// Unknown keys are refused. The parsers are pure; ReadingsFile is the one part that reads a file.
namespace ehg::replay {

inline constexpr std::size_t kMaxLineBytes = 4096;
inline constexpr std::size_t kMaxIdCharacters = 64;  // device, rule and alert ids, a care worker's name
inline constexpr std::size_t kMaxNoteBytes = 500;    // a resolve's note

enum class ActionKind { kAcknowledge, kResolve };
std::string_view ToString(ActionKind kind);

// Which open alert an action is for: by the replay's alert id ("A0003"), or by its rule (and device, for a
// rule that watches each device on its own), i.e. the open alert whose key is alerts::AlertKey(rule,
// device).
struct AlertById {
  std::string alert_id;
};
struct AlertByRule {
  std::string rule_id;
  std::string device_id;  // empty for the resident's rules
};
using AlertReference = std::variant<AlertById, AlertByRule>;

// A care worker's acknowledgement or resolution of an open alert, at `time`.
struct ReplayAction {
  core::WallTime time{};
  ActionKind kind = ActionKind::kAcknowledge;
  AlertReference alert;
  std::string by;    // the care worker: 1-64 printable characters
  std::string note;  // resolve only: at most kMaxNoteBytes of UTF-8
};

using ReplayLine = std::variant<core::Reading, ReplayAction>;

// A reading (received_at from "time", device_time from "device_time", which defaults to "time") or an
// action (a line with "action"), or why the line is neither. A reading is also checked against the
// metric catalogue (unit, physical range). A line must be UTF-8 of at most kMaxLineBytes. The reason
// never repeats the line's bytes raw: control characters, bidirectional overrides and bytes that are not
// UTF-8 are escaped (\u001b, \xff), so it is safe to print on a terminal.
tl::expected<ReplayLine, std::string> ParseReplayLine(std::string_view line);
// The same for a line that must be a reading: an action line is refused.
tl::expected<core::Reading, std::string> ParseReadingLine(std::string_view line);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points beyond U+10FFFF).
bool IsUtf8(std::string_view text);
// `text` with what a terminal would act on escaped (see ParseReplayLine), at most about `max_bytes` long.
std::string EscapeForTerminal(std::string_view text, std::size_t max_bytes = 80);

// A readings file, read line by line in bounded memory whatever it holds (a gigabyte without a newline
// included). Owns its file descriptor. Not thread-safe.
class ReadingsFile {
 public:
  // Refuses anything but a regular file (a directory, a FIFO, a device, a socket) without blocking, and a
  // file larger than core::kMaxReadingsFileBytes (core::OpenCheckedFile).
  static Result<ReadingsFile> Open(const std::filesystem::path& path);
  ReadingsFile(ReadingsFile&& other) noexcept;
  ReadingsFile& operator=(ReadingsFile&& other) noexcept;
  ReadingsFile(const ReadingsFile&) = delete;
  ReadingsFile& operator=(const ReadingsFile&) = delete;
  ~ReadingsFile();

  enum class Next {
    kLine,     // `line` holds the next line, without its '\n'
    kTooLong,  // the next line is longer than kMaxLineBytes: skipped to its end, `line` is empty
    kEnd,
  };
  // An error is a read error of the file (kIo); the file is not read on after it.
  Result<Next> ReadLine(std::string& line);
  // The number of the line last returned, from 1.
  std::uint64_t line_number() const { return line_number_; }

 private:
  explicit ReadingsFile(int descriptor);

  int descriptor_ = -1;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unread bytes of buffer_ are [begin_, end_)
  std::size_t end_ = 0;
  bool at_end_ = false;
  std::uint64_t line_number_ = 0;
};

}  // namespace ehg::replay
