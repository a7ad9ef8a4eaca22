#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace ehg::app {

// Exit codes of the daemon, chosen so systemd can tell "restart me" from "restarting will not help".
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 78;  // EX_CONFIG: invalid config or a database from a newer version

// Runs the gateway until SIGTERM or SIGINT; SIGHUP reloads the config. Returns the exit code.
int RunDaemon(const std::filesystem::path& config_path);

// Prints OK or every error of the config file; returns 0 or 1.
int CheckConfig(const std::filesystem::path& config_path);

struct ReplayRequest {
  std::filesystem::path config_path;
  std::filesystem::path readings_path;
  std::chrono::seconds tick{60};
  std::string until;  // ISO 8601; empty = stop at the last reading
};

// Runs the config's rules over recorded readings (JSON Lines) and prints the alert timeline as JSON
// lines on stdout, bad lines and a summary on stderr. 0, or 1 when a line was unreadable, 78 for a bad
// config.
int ReplayReadings(const ReplayRequest& request);

}  // namespace ehg::app
