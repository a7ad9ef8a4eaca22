#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/log.hpp"

namespace ehg::test {

// Captures every log line (at the given level and above) while alive; restores stderr afterwards.
class LogCapture {
 public:
  explicit LogCapture(core::LogLevel level = core::LogLevel::kDebug);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> Lines() const;
  bool Contains(std::string_view text) const;
  std::size_t Count(std::string_view text) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  core::LogLevel previous_level_;
};

}  // namespace ehg::test
