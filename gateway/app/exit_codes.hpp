#pragma once

#include "gateway/core/cli_input.hpp"

namespace ehg::app {

// Exit codes of the daemon, chosen so systemd can tell "restart me" from "restarting will not help".
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 78;  // EX_CONFIG: invalid config or a database from a newer version
// Command line tools (sysexits.h): 66 EX_NOINPUT when a file named on the command line is missing,
// unreadable, not a regular file (a FIFO, a device, a directory) or larger than its kind's limit.
inline constexpr int kExitNoInput = core::kExitNoInput;
inline constexpr int kExitUsage = 64;  // EX_USAGE: bad arguments

}  // namespace ehg::app
