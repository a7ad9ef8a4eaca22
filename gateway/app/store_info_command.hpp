#pragma once

#include <filesystem>

namespace ehg::app {

// Prints the database's schema version and open critical alerts as JSON (the update helper asks).
int PrintStoreInfo(const std::filesystem::path& config_path);

}  // namespace ehg::app
