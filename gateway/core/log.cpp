#include "gateway/core/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "gateway/core/clock.hpp"
#include "gateway/core/utf8.hpp"

namespace ehg::core {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_sink_mutex;
LogSink g_sink;
std::mutex g_problems_mutex;
std::deque<LoggedProblem> g_problems;

// A kind (message and reason) already in the list is moved to the end with its count raised, so a flood of
// one kind of junk (refused commands, say) takes one entry and cannot push real problems out.
void RememberProblem(LogLevel level, const std::string& kind, std::string_view message,
                     const std::string& line) {
  std::lock_guard lock(g_problems_mutex);
  const auto now = std::chrono::system_clock::now();
  std::uint64_t count = 1;
  auto first_at = now;
  for (auto it = g_problems.begin(); it != g_problems.end(); ++it) {
    if (it->level == level && it->kind == kind) {
      count = it->count + 1;
      first_at = it->first_at;
      g_problems.erase(it);
      break;
    }
  }
  if (g_problems.size() == kRecentProblemCapacity) g_problems.pop_front();
  LoggedProblem problem;
  problem.at = now;
  problem.first_at = first_at;
  problem.level = level;
  problem.kind = kind;
  problem.message = std::string(message);
  problem.line = line;
  problem.count = count;
  g_problems.push_back(std::move(problem));
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
    const auto byte = static_cast<unsigned char>(c);
    if (c == ' ' || c == '=' || c == '"' || c == '\\' || byte < 0x20 || byte >= 0x7F) return true;
  }
  return false;
}

void AppendHexEscape(std::string& line, unsigned char byte) {
  char escaped[8];
  std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned>(byte));
  line += escaped;
}

void AppendValue(std::string& line, std::string_view value) {
  if (!NeedsQuotes(value)) {
    line += value;
    return;
  }
  line += '"';
  // Bytes that are not valid UTF-8 (from a device, a file, the network) are written as \xNN, so every
  // line is valid UTF-8 and shows exactly what arrived; characters that act on a terminal as \u{NNNN}.
  for (std::size_t i = 0; i < value.size();) {
    const char c = value[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      const std::size_t length = ValidUtf8SequenceAt(value, i);
      if (length == 0) {
        AppendHexEscape(line, byte);
        ++i;
      } else if (const std::uint32_t code_point = CodePointAt(value, i, length); ActsOnTerminal(code_point)) {
        // A CSI (U+009B) or a right-to-left override would act on the terminal that shows the journal.
        char escaped[16];
        std::snprintf(escaped, sizeof escaped, "\\u{%04x}", static_cast<unsigned>(code_point));
        line += escaped;
        i += length;
      } else {
        line.append(value.substr(i, length));
        i += length;
      }
      continue;
    }
    ++i;
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
        if (byte < 0x20 || byte == 0x7F) {
          AppendHexEscape(line, byte);
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
  // Problems are remembered for the status page whatever the configured level: a level set to "error"
  // must not hide refusals from the installer.
  if (level >= LogLevel::kWarning) {
    std::string kind(message);
    for (const LogField& field : fields) {
      if (field.key == "reason") kind += "\n" + field.value;  // an expired command is not junk
    }
    RememberProblem(level, kind, message, FormatLogLine(level, message, fields));
  }
  if (!LogEnabled(level)) return;
  std::string line = FormatLogLine(level, message, fields);
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
