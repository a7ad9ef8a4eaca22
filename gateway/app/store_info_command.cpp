#include "gateway/app/store_info_command.hpp"

#include <iostream>

#include "gateway/app/exit_codes.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/cli_input.hpp"
#include "gateway/core/json_writer.hpp"
#include "gateway/store/store.hpp"

namespace ehg::app {

// One JSON line for the update helper and the package scripts: the database's schema version beside the
// one this binary understands, and the open critical alerts (no update while one is open). Run it as the
// service user: SQLite creates the -wal/-shm files of a WAL database, and they must stay the daemon's.
int PrintStoreInfo(const std::filesystem::path& config_path) {
  if (auto refused = core::RefuseUnusableInput("store-info", config_path, core::kConfigFile, kExitConfig))
    return *refused;
  const config::ConfigResult loaded = config::LoadConfig(config_path);
  if (!loaded) {
    for (const config::ConfigError& error : loaded.error())
      std::cerr << config_path.string() << ": " << error.ToString() << "\n";
    return kExitConfig;
  }
  // SQLite would wait for ever on a FIFO in place of the database; the update helper waits for us.
  for (const config::ConfigError& error : config::CheckNamedFiles(*loaded)) {
    if (error.path != "storage.path") continue;
    std::cerr << "store-info: " << error.message << "\n";
    return kExitNoInput;
  }
  const std::filesystem::path& database = loaded->storage.path;
  const auto version = store::ReadSchemaVersion(database);
  if (!version) {
    std::cerr << "store-info: " << version.error().message << "\n";
    return kExitFailure;
  }
  core::JsonWriter info;
  info.BeginObject().Key("database").String(database.string());
  info.Key("schema_version").Integer(*version).Key("supported_schema_version").Integer(store::kSchemaVersion);
  if (*version == 0) {
    info.Key("open_critical_alerts").Integer(0);
  } else {
    const auto critical = store::CountOpenAlerts(database, "critical");
    if (!critical) {
      std::cerr << "store-info: " << critical.error().message << "\n";
      return kExitFailure;
    }
    info.Key("open_critical_alerts").Unsigned(*critical);
  }
  std::cout << std::move(info.EndObject()).Take();
  std::cout << "\n";
  return kExitOk;
}

}  // namespace ehg::app
