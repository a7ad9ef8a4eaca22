#include <iostream>

#include "gateway/app/daemon.hpp"
#include "gateway/config/config.hpp"

namespace ehg::app {

int CheckConfig(const std::filesystem::path& config_path) {
  const config::ConfigResult loaded = config::LoadConfig(config_path);
  if (!loaded) {
    for (const config::ConfigError& error : loaded.error()) {
      std::cout << config_path.string() << ": " << error.ToString() << "\n";
    }
    std::cout << loaded.error().size() << (loaded.error().size() == 1 ? " error" : " errors") << "\n";
    return 1;
  }
  std::cout << "OK: " << config_path.string() << " (" << loaded->devices.size() << " devices, "
            << loaded->rules.size() << " rules)\n";
  return 0;
}

}  // namespace ehg::app
