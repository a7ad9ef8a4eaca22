#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// One logging facade for the whole process: logfmt lines (key=value) on stderr, with the syslog
// priority prefix ("<6>") when stderr is connected to journald. Thread-safe.
// Levels: error = someone must act; warning = degraded but coping; info = lifecycle; debug = per message.
// Measurement values and resident identifiers are logged at debug only.
namespace ehg::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

std::optional<LogLevel> ParseLogLevel(std::string_view name);
std::string_view ToString(LogLevel level);

struct LogField {
  LogField(std::string_view field_key, std::string_view field_value) : key(field_key), value(field_value) {}
  LogField(std::string_view field_key, const char* field_value) : key(field_key), value(field_value) {}
  LogField(std::string_view field_key, const std::string& field_value) : key(field_key), value(field_value) {}
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
      LogField(std::string_view field_key, T field_value)
      : key(field_key), value(std::to_string(field_value)) {}
  LogField(std::string_view field_key, double field_value);
  LogField(std::string_view field_key, bool field_value)
      : key(field_key), value(field_value ? "true" : "false") {}

  std::string_view key;
  std::string value;
};

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
inline void LogDebug(std::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kDebug, message, fields);
}
inline void LogInfo(std::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, message, fields);
}
inline void LogWarning(std::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarning, message, fields);
}
inline void LogError(std::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, message, fields);
}

// Formats one logfmt line without the trailing newline (exposed for tests and the capture sink).
std::string FormatLogLine(LogLevel level, std::string_view message, std::initializer_list<LogField> fields);

// Replaces stderr as the destination (tests capture lines); an empty sink restores stderr.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;
void SetLogSink(LogSink sink);

// The last warning and error lines of this process, oldest first (the status page's "recent problems"),
// one entry per kind (the message and its "reason" field, if any): a repeat replaces the entry's line, moves
// it to the end and counts. Lines above debug never carry measurement values, so they may be shown.
struct LoggedProblem {
  std::chrono::system_clock::time_point at;        // the latest
  std::chrono::system_clock::time_point first_at;  // the first of `count`
  LogLevel level = LogLevel::kWarning;
  std::string kind;
  std::string message;
  std::string line;  // the latest, valid UTF-8
  std::uint64_t count = 1;
};
inline constexpr std::size_t kRecentProblemCapacity = 20;
std::vector<LoggedProblem> RecentProblems();

}  // namespace ehg::core
