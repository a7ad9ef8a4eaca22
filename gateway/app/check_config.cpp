#include "gateway/app/check_config.hpp"

#include <iostream>

#include "gateway/app/exit_codes.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/bounded_file.hpp"

namespace ehg::app {

int CheckConfig(const std::filesystem::path& config_path) {
  // The file itself first, with the checks LoadConfig reads it by: a FIFO, a device or a directory is
  // no config to check (66), not a config with errors (1).
  if (auto file = core::OpenCheckedFile(config_path, core::kConfigFile); !file) {
    std::cout << config_path.string() << ": " << file.error().message << "\n";
    return core::IsUnusableInput(file.error()) ? kExitNoInput : 1;
  }
  config::ConfigResult loaded = config::LoadConfig(config_path);
  // The files it names, opened as the gateway will read them. One that does not exist is a note: keys
  // and certificates are often installed after the config.
  std::vector<std::string> missing;
  if (loaded) {
    std::vector<config::ConfigError> errors = config::CheckNamedFiles(*loaded, &missing);
    if (!errors.empty()) loaded = tl::unexpected(std::move(errors));
  }
  const auto notes = [&] {
    for (const std::string& note : missing)
      std::cout << config_path.string() << ": note: " << note << " (yet)\n";
  };
  if (!loaded) {
    for (const config::ConfigError& error : loaded.error()) {
      std::cout << config_path.string() << ": " << error.ToString() << "\n";
    }
    std::cout << loaded.error().size() << (loaded.error().size() == 1 ? " error" : " errors") << "\n";
    notes();
    return 1;
  }
  std::cout << "OK: " << config_path.string() << " (" << loaded->devices.size() << " devices, "
            << loaded->rules.size() << " rules)\n";
  notes();
  return 0;
}

}  // namespace ehg::app
