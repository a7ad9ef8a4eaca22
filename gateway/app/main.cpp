#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "gateway/app/daemon.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "ehealth-gateway: reads home medical sensors, evaluates alert rules locally and forwards "
      "encrypted events to the municipal care system"};
  app.set_version_flag("--version", std::string("ehealth-gateway ") + EHG_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  CLI::App* run = app.add_subcommand("run", "Run the gateway until SIGTERM (SIGHUP reloads the config)");
  run->add_option("-c,--config", config_path, "Configuration file")->required();

  std::string check_path;
  CLI::App* check = app.add_subcommand("check-config", "Validate a configuration file and print every error");
  check->add_option("file", check_path, "Configuration file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (*run) return ehg::app::RunDaemon(config_path);
  if (*check) return ehg::app::CheckConfig(check_path);
  return 1;
}
