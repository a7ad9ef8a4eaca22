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

  ehg::app::ReplayRequest replay_request;
  int tick_seconds = 60;
  CLI::App* replay = app.add_subcommand(
      "replay", "Run the config's rules over recorded readings and print the alert timeline (JSON lines)");
  replay->add_option("--config", replay_request.config_path, "Configuration file with the rules")->required();
  replay
      ->add_option("--readings", replay_request.readings_path,
                   "Readings, one JSON object per line: time, device, metric, value, unit, optional flags")
      ->required();
  replay
      ->add_option("--tick-seconds", tick_seconds, "How often time-based rules are evaluated (reading time)")
      ->check(CLI::Range(1, 3600));
  replay->add_option("--until", replay_request.until,
                     "Keep the clock running to this ISO 8601 time after the last reading");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (*run) return ehg::app::RunDaemon(config_path);
  if (*check) return ehg::app::CheckConfig(check_path);
  if (*replay) {
    replay_request.tick = std::chrono::seconds{tick_seconds};
    return ehg::app::ReplayReadings(replay_request);
  }
  return 1;
}
