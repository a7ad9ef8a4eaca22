#include "tests/support/log_capture.hpp"

#include <algorithm>

namespace ehg::test {

LogCapture::LogCapture(core::LogLevel level) : previous_level_(core::GetLogLevel()) {
  core::SetLogLevel(level);
  core::SetLogSink([this](core::LogLevel, std::string_view line) {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(line);
  });
}

LogCapture::~LogCapture() {
  core::SetLogSink({});
  core::SetLogLevel(previous_level_);
}

std::vector<std::string> LogCapture::Lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

bool LogCapture::Contains(std::string_view text) const {
  return Count(text) > 0;
}

std::size_t LogCapture::Count(std::string_view text) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(lines_.begin(), lines_.end(),
                    [text](const std::string& line) { return line.find(text) != std::string::npos; }));
}

}  // namespace ehg::test
