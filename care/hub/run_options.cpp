#include "care/hub/run_options.hpp"

#include <CLI/CLI.hpp>

namespace ehg::hub {
namespace {

// CLI11 2.1 reads a config file for the top-level command only, so run's file is read here, from the
// callback of its --config option. Option callbacks run in the order the options were declared, after the
// whole command line is parsed and before the required options are checked: declared first, --config
// fills in what the command line left out, and the other options' callbacks then see the values.
void ApplyConfigFile(CLI::App& run, const std::string& path) {
  const std::vector<CLI::ConfigItem> items = CLI::ConfigTOML().from_file(path);
  for (const CLI::ConfigItem& item : items) {
    if (!item.parents.empty())
      throw CLI::ConfigError(path + ": [" + item.parents.front() +
                             "]: no sections, run's keys stand at the top");
    CLI::Option* option = run.get_option_no_throw("--" + item.name);
    if (option == nullptr || !option->get_configurable())
      throw CLI::ConfigError(path + ": " + item.fullname() + " is no option of run");
    if (option->count() > 0) continue;
    option->add_result(item.inputs);
    option->run_callback();
  }
}

}  // namespace

void DeclareRunOptions(CLI::App& run, RunSettings& settings) {
  run.add_option_function<std::string>(
         "--config", [&run](const std::string& path) { ApplyConfigFile(run, path); },
         "A TOML file with the options below (their long names as keys); the command line wins")
      ->configurable(false);
  run.add_option("--server", settings.servers, "An engine node, tls://host:port (repeat for each)")
      ->required();
  run.add_option("--cafile", settings.ca_file, "CA of the engine's certificates")->required();
  run.add_option("--cert", settings.cert_file, "This hub's client certificate")->required();
  run.add_option("--key", settings.key_file, "Its private key")->required();
  run.add_option("--database", settings.database, "libpq connection string")->required();
  run.add_option("--decryption-key", settings.decryption_key, "The care system's private encryption key")
      ->required();
  run.add_option("--signing-key", settings.signing_key, "The care system's private command key")->required();
  run.add_option("--durable", settings.durable, "The durable consumer every hub instance shares");
  run.add_option("--batch", settings.batch, "Messages per turn")->check(CLI::Range(1, 1000));
  run.add_option("--log-level", settings.log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
}

}  // namespace ehg::hub
