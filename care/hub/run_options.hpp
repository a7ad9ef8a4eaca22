#pragma once

#include <string>
#include <vector>

#include "gateway/command_line/command_line.hpp"

// What `ehealth-hub run` needs, from its command line or from a TOML file named by --config (the
// package's /etc/ehealth-hub/hub.toml), so the systemd unit needs no long command line. The file's keys
// are the options' long names without the dashes (docs/operations-hub.md#installing-the-hub); an option
// given on the command line wins over the file.
namespace ehg::hub {

struct RunSettings {
  std::vector<std::string> servers;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string database;
  std::string decryption_key;
  std::string signing_key;
  std::string durable = "hub";
  int batch = 200;
  // debug adds a line per stored alert: where its time went (docs/operations-hub.md, "The hub").
  std::string log_level = "info";
};

// Declares run's options, --config first, on the subcommand `run`, writing into `settings` while it parses.
// A key in the file that names no option of run, a section, or a value an option refuses, is refused as
// the same mistake on the command line (command_line::Command::ConfigFileOption): a typo must not leave a
// default in force unnoticed.
void DeclareRunOptions(command_line::Command run, RunSettings& settings);

}  // namespace ehg::hub
