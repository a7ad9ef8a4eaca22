#pragma once

#include <filesystem>

namespace ehg::app {

// Exit codes of the daemon, chosen so systemd can tell "restart me" from "restarting will not help".
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 78;  // EX_CONFIG: invalid config or a database from a newer version

// Runs the gateway until SIGTERM or SIGINT; SIGHUP reloads the config. Returns the exit code.
int RunDaemon(const std::filesystem::path& config_path);

// Prints OK or every error of the config file; returns 0 or 1.
int CheckConfig(const std::filesystem::path& config_path);

}  // namespace ehg::app
