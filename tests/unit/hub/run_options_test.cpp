// `ehealth-hub run --config FILE`: the TOML file the package ships as /etc/ehealth-hub/hub.toml gives run's
// options, the command line wins over it, and whatever the file gets wrong is refused as a command line
// mistake would be (docs/operations-hub.md#installing-the-hub).
#include "care/hub/run_options.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace ehg::hub {
namespace {

const char* const kCompleteFile = R"(# every option of run
server = ["tls://engine-1:4222", "tls://engine-2:4222"]
cafile = "/etc/ehealth-hub/tls/ca.crt"
cert = "/etc/ehealth-hub/tls/hub.crt"
key = "/etc/ehealth-hub/tls/hub.key"
database = "host=db.example.invalid dbname=ehealth_hub sslmode=verify-full"
decryption-key = "/etc/ehealth-hub/care-encryption.key"
signing-key = "/etc/ehealth-hub/care-commands.key"
durable = "hub-test"
batch = 50
log-level = "debug"
)";

// A command line of `ehealth-hub`, as main() declares run.
struct HubCommandLine {
  command_line::Program program{"ehealth-hub", "ehealth-hub test"};
  RunSettings settings;
  test::TempDir dir;

  HubCommandLine() { DeclareRunOptions(program.Subcommand("run", ""), settings); }

  std::string WriteConfig(const std::string& text) {
    const std::string path = dir / "hub.toml";
    std::ofstream(path) << text;
    return path;
  }

  // Parses `ehealth-hub ARGS...`; what it was refused for, if it was.
  std::optional<command_line::Refusal> Parse(const std::vector<std::string>& arguments) {
    return program.ParseArguments(arguments);
  }
};

TEST_CASE("run: the config file gives every option") {
  HubCommandLine command;
  REQUIRE_FALSE(command.Parse({"run", "--config", command.WriteConfig(kCompleteFile)}));
  const RunSettings& settings = command.settings;
  CHECK(settings.servers == std::vector<std::string>{"tls://engine-1:4222", "tls://engine-2:4222"});
  CHECK(settings.ca_file == "/etc/ehealth-hub/tls/ca.crt");
  CHECK(settings.cert_file == "/etc/ehealth-hub/tls/hub.crt");
  CHECK(settings.key_file == "/etc/ehealth-hub/tls/hub.key");
  CHECK(settings.database == "host=db.example.invalid dbname=ehealth_hub sslmode=verify-full");
  CHECK(settings.decryption_key == "/etc/ehealth-hub/care-encryption.key");
  CHECK(settings.signing_key == "/etc/ehealth-hub/care-commands.key");
  CHECK(settings.durable == "hub-test");
  CHECK(settings.batch == 50);
  CHECK(settings.log_level == "debug");
}

TEST_CASE("run: an option on the command line wins over the config file, the rest comes from the file") {
  HubCommandLine command;
  REQUIRE_FALSE(command.Parse({"run", "--server", "tls://other:4222", "--config",
                               command.WriteConfig(kCompleteFile), "--batch", "7"}));
  CHECK(command.settings.servers == std::vector<std::string>{"tls://other:4222"});
  CHECK(command.settings.batch == 7);
  CHECK(command.settings.durable == "hub-test");
  CHECK(command.settings.database == "host=db.example.invalid dbname=ehealth_hub sslmode=verify-full");
}

TEST_CASE("run: without a config file the command line alone works, with the defaults") {
  HubCommandLine command;
  REQUIRE_FALSE(
      command.Parse({"run", "--server", "tls://a:4222", "--cafile", "ca", "--cert", "c", "--key", "k",
                     "--database", "dbname=x", "--decryption-key", "d", "--signing-key", "s"}));
  CHECK(command.settings.servers == std::vector<std::string>{"tls://a:4222"});
  CHECK(command.settings.durable == "hub");
  CHECK(command.settings.batch == 200);
  CHECK(command.settings.log_level == "info");
}

TEST_CASE("run: the package's hub.toml is valid TOML for run, and needs only server and database") {
  HubCommandLine command;
  const std::string shipped = std::string(EHG_SOURCE_DIR) + "/packaging/hub.toml";
  REQUIRE_FALSE(
      command.Parse({"run", "--config", shipped, "--server", "tls://a:4222", "--database", "dbname=x"}));
  CHECK(command.settings.key_file == "/etc/ehealth-hub/tls/hub.key");
  CHECK(command.settings.decryption_key == "/etc/ehealth-hub/care-encryption.key");
  CHECK(command.settings.signing_key == "/etc/ehealth-hub/care-commands.key");
  CHECK(command.settings.batch == 200);
}

TEST_CASE("run: the package's hub.toml alone does not start a hub (server and database unset)") {
  HubCommandLine command;
  const std::string shipped = std::string(EHG_SOURCE_DIR) + "/packaging/hub.toml";
  const auto refusal = command.Parse({"run", "--config", shipped});
  REQUIRE(refusal.has_value());
  CHECK(refusal->kind == "RequiredError");
  CHECK(refusal->exit_code != 0);
  CHECK_MESSAGE(refusal->message.find("--server") != std::string::npos, refusal->message);
}

struct Mistake {
  const char* what;
  std::string file;
  std::string message;  // part of what the error says
};

TEST_CASE("run: a config file with a mistake is refused, saying where") {
  const std::string rest = R"(
cafile = "ca"
cert = "c"
key = "k"
database = "dbname=x"
decryption-key = "d"
signing-key = "s"
)";
  const std::vector<Mistake> mistakes{
      {"a key that is no option (a typo)", "server = \"tls://a:4222\"\ndurabel = \"x\"" + rest, "durabel"},
      {"a section", "[run]\nserver = \"tls://a:4222\"" + rest, "[run]: no sections"},
      {"the config file naming itself", "config = \"/etc/other.toml\"\nserver = \"tls://a:4222\"" + rest,
       "config"},
      {"a value the option refuses", "batch = 5000\nserver = \"tls://a:4222\"" + rest, "5000"},
      {"a number that is none", "batch = \"many\"\nserver = \"tls://a:4222\"" + rest, "many"},
      {"a log level that is none", "log-level = \"loud\"\nserver = \"tls://a:4222\"" + rest, "loud"},
      {"a required option in neither place", "server = \"tls://a:4222\"\ncafile = \"ca\"", "--cert"},
  };
  for (const Mistake& mistake : mistakes) {
    INFO(mistake.what);
    HubCommandLine command;
    const auto refusal = command.Parse({"run", "--config", command.WriteConfig(mistake.file)});
    REQUIRE(refusal.has_value());
    CHECK(refusal->exit_code != 0);
    CHECK_MESSAGE(refusal->message.find(mistake.message) != std::string::npos, refusal->message);
  }
}

TEST_CASE("run: a config file that cannot be read is refused") {
  HubCommandLine command;
  const auto refusal = command.Parse({"run", "--config", (command.dir / "missing.toml").string()});
  REQUIRE(refusal.has_value());
  CHECK(refusal->kind == "FileError");
  CHECK_MESSAGE(refusal->message.find("missing.toml") != std::string::npos, refusal->message);
}

}  // namespace
}  // namespace ehg::hub
