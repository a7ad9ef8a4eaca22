#include "gateway/app/check_config.hpp"

#include <algorithm>
#include <iostream>

#include "gateway/app/exit_codes.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/bounded_file.hpp"

namespace ehg::app {
namespace {

std::string_view DeviceTypeName(core::DeviceConnection link) {
  switch (link) {
    case core::DeviceConnection::kSerial:
      return "serial";
    case core::DeviceConnection::kBle:
      return "ble";
    case core::DeviceConnection::kSimulated:
      return "sim";
  }
  return "";
}

}  // namespace

std::string DeviceKindsHelp() {
  std::size_t width = 0;
  for (const core::DeviceKind& kind : core::DeviceKinds())
    width = std::max(width, kind.name.size());
  std::string help;
  for (const core::DeviceKind& kind : core::DeviceKinds()) {
    const std::string_view type = DeviceTypeName(kind.link);
    help += "  " + std::string(type) + std::string(7 - type.size(), ' ') + std::string(kind.name) +
            std::string(width + 2 - kind.name.size(), ' ') + std::string(kind.description) + "; measures " +
            std::string(kind.measures) + "\n";
  }
  return help;
}

std::string DeviceKindNameList(core::DeviceConnection link) {
  std::string names;
  for (const std::string_view name : core::DeviceKindNames(link)) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

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
