#pragma once

#include <filesystem>
#include <string>

#include "gateway/core/device_catalog.hpp"

namespace ehg::app {

// Prints OK or every error of the config file, the files it names included (config::CheckNamedFiles;
// a missing one is a note); returns 0, 1 with errors, or 66 when the file itself cannot be read.
int CheckConfig(const std::filesystem::path& config_path);

// The device kinds a config may name (the device catalogue), one line each, for the command-line help:
// "  serial contec-cms50-9  <description>; measures spo2, ...".
std::string DeviceKindsHelp();
// "a, b, c": the names the config takes for one device type.
std::string DeviceKindNameList(core::DeviceConnection link);

}  // namespace ehg::app
