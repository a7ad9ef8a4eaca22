#pragma once

#include <filesystem>

namespace ehg::app {

// Prints OK or every error of the config file, the files it names included (config::CheckNamedFiles;
// a missing one is a note); returns 0, 1 with errors, or 66 when the file itself cannot be read.
int CheckConfig(const std::filesystem::path& config_path);

}  // namespace ehg::app
