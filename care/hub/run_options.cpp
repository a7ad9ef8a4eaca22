#include "care/hub/run_options.hpp"

namespace ehg::hub {

void DeclareRunOptions(command_line::Command run, RunSettings& settings) {
  run.ConfigFileOption(
      "--config", "A TOML file with the options below (their long names as keys); the command line wins");
  run.Add("--server", settings.servers, "An engine node, tls://host:port (repeat for each)").Required();
  run.Add("--cafile", settings.ca_file, "CA of the engine's certificates").Required();
  run.Add("--cert", settings.cert_file, "This hub's client certificate").Required();
  run.Add("--key", settings.key_file, "Its private key").Required();
  run.Add("--database", settings.database, "libpq connection string").Required();
  run.Add("--decryption-key", settings.decryption_key, "The care system's private encryption key").Required();
  run.Add("--signing-key", settings.signing_key, "The care system's private command key").Required();
  run.Add("--durable", settings.durable, "The durable consumer every hub instance shares");
  run.Add("--batch", settings.batch, "Messages per turn").Range(1, 1000);
  run.Add("--log-level", settings.log_level, "debug, info, warning or error")
      .OneOf({"debug", "info", "warning", "error"});
}

}  // namespace ehg::hub
