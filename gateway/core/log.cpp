#include "gateway/core/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "gateway/core/clock.hpp"

namespace ehg::core {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_sink_mutex;
LogSink g_sink;
std::mutex g_problems_mutex;
std::deque<LoggedProblem> g_problems;

void RememberProblem(LogLevel level, const std::string& line) {
  std::lock_guard lock(g_problems_mutex);
  if (g_problems.size() == kRecentProblemCapacity) g_problems.pop_front();
  g_problems.push_back({std::chrono::system_clock::now(), level, line});
}

// journald sets JOURNAL_STREAM=<dev>:<inode> for the stream it reads; compare with our stderr so a
// redirected stderr (a file, a pipe in tests) gets plain lines.
bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat status {};
  if (fstat(STDERR_FILENO, &status) != 0) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  return device == status.st_dev && inode == status.st_ino;
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 7;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kWarning:
      return 4;
    case LogLevel::kError:
      return 3;
  }
  return 6;
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    if (c == ' ' || c == '=' || c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

void AppendValue(std::string& line, std::string_view value) {
  if (!NeedsQuotes(value)) {
    line += value;
    return;
  }
  line += '"';
  for (const char c : value) {
    switch (c) {
      case '"':
        line += "\\\"";
        break;
      case '\\':
        line += "\\\\";
        break;
      case '\n':
        line += "\\n";
        break;
      case '\r':
        line += "\\r";
        break;
      case '\t':
        line += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          line += escaped;
        } else {
          line += c;
        }
    }
  }
  line += '"';
}

}  // namespace

LogField::LogField(std::string_view field_key, double field_value) : key(field_key) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", field_value);
  value = text;
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string_view ToString(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void SetLogLevel(LogLevel level) {
  g_level.store(level);
}
LogLevel GetLogLevel() {
  return g_level.load();
}
bool LogEnabled(LogLevel level) {
  return level >= g_level.load();
}

std::string FormatLogLine(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  std::string line;
  line.reserve(96);
  line += "level=";
  line += ToString(level);
  line += " msg=";
  AppendValue(line, message);
  for (const LogField& field : fields) {
    line += ' ';
    line += field.key;
    line += '=';
    AppendValue(line, field.value);
  }
  return line;
}

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line = FormatLogLine(level, message, fields);
  if (level >= LogLevel::kWarning) RememberProblem(level, line);
  std::lock_guard lock(g_sink_mutex);
  if (g_sink) {
    g_sink(level, line);
    return;
  }
  static const bool journal = StderrIsJournal();
  std::string output;
  output.reserve(line.size() + 8);
  if (journal) {
    output += '<';
    output += static_cast<char>('0' + SyslogPriority(level));
    output += '>';
  } else {
    // journald stamps its own lines; a terminal or file needs the time in the line.
    output += "ts=";
    output += FormatIso8601(
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    output += ' ';
  }
  output += line;
  output += '\n';
  // One write per line so that lines from different threads and processes never interleave.
  const char* data = output.data();
  std::size_t left = output.size();
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written <= 0) break;  // nowhere left to report a failing stderr
    data += written;
    left -= static_cast<std::size_t>(written);
  }
}

std::vector<LoggedProblem> RecentProblems() {
  std::lock_guard lock(g_problems_mutex);
  return {g_problems.begin(), g_problems.end()};
}

void SetLogSink(LogSink sink) {
  std::lock_guard lock(g_sink_mutex);
  g_sink = std::move(sink);
}

}  // namespace ehg::core
