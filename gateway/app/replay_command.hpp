#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace ehg::app {

struct ReplayRequest {
  std::filesystem::path config_path;
  std::filesystem::path readings_path;
  std::chrono::seconds tick{60};
  std::string until;  // ISO 8601; empty = stop at the last reading
};

// Runs the config's rules over recorded readings and care workers' actions (JSON Lines) and prints the
// alert timeline as JSON lines on stdout, bad lines and a summary on stderr. 0; 1 when a line was
// unreadable or an action named no open alert; 66 when the config or readings path is missing, not a
// regular file or too large; 78 for a bad config.
int ReplayReadings(const ReplayRequest& request);

}  // namespace ehg::app
