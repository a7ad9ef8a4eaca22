#include "gateway/command_line/command_line.hpp"

#include <CLI/CLI.hpp>
#include <sstream>
#include <utility>

#include "gateway/core/bounded_file.hpp"

namespace ehg::command_line {
namespace {

template <typename Value>
Option AddOption(CLI::App* app, const std::string& names, Value& into, const std::string& description) {
  return Option(app->add_option(names, into, description));
}

// Reads a command's config file into its options: see Command::ConfigFileOption. The file is read as
// every file a command line names (core::ReadCheckedFile): a FIFO, a device such as /dev/zero, a
// directory or a file past 4 MiB is refused before a byte is read, where CLI11's own reading blocked on a
// FIFO and grew without end on /dev/zero.
void ApplyConfigFile(CLI::App& command, const std::string& path) {
  auto text = core::ReadCheckedFile(path, core::kConfigFile);
  if (!text) throw CLI::FileError(text.error().message);
  std::istringstream input(*text);
  const std::vector<CLI::ConfigItem> items = CLI::ConfigTOML().from_config(input);
  // The top-level command's name is argv[0]; a subcommand's is what the user typed.
  const std::string whose = command.get_parent() == nullptr ? "" : " of " + command.get_name();
  for (const CLI::ConfigItem& item : items) {
    if (!item.parents.empty())
      throw CLI::ConfigError(path + ": [" + item.parents.front() + "]: no sections, the keys" + whose +
                             " stand at the top");
    CLI::Option* option = command.get_option_no_throw("--" + item.name);
    if (option == nullptr || !option->get_configurable())
      throw CLI::ConfigError(path + ": " + item.fullname() + " is no option" + whose);
    if (option->count() > 0) continue;  // the command line wins
    option->add_result(item.inputs);
    option->run_callback();
  }
}

}  // namespace

Option& Option::Required() {
  option_->required();
  return *this;
}

Option& Option::Range(long long min, long long max) {
  option_->check(CLI::Range(min, max));
  return *this;
}

Option& Option::Range(double min, double max) {
  option_->check(CLI::Range(min, max));
  return *this;
}

Option& Option::OneOf(const std::vector<std::string>& choices) {
  option_->check(CLI::IsMember(choices));
  return *this;
}

Option& Option::Check(std::function<std::string(const std::string&)> check) {
  option_->check(std::move(check));
  return *this;
}

Option& Option::Excludes(const Option& other) {
  option_->excludes(other.option_);
  return *this;
}

Option& Option::Default(const std::string& value) {
  option_->default_val(value);
  return *this;
}

Command Command::Subcommand(const std::string& name, const std::string& description) {
  return Command(app_->add_subcommand(name, description));
}

Option Command::Add(const std::string& names, std::string& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, std::filesystem::path& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, std::vector<std::string>& into,
                    const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, int& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, unsigned& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, long& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, unsigned long& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, long long& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, unsigned long long& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}
Option Command::Add(const std::string& names, double& into, const std::string& description) {
  return AddOption(app_, names, into, description);
}

Option Command::Flag(const std::string& names, bool& into, const std::string& description) {
  return Option(app_->add_flag(names, into, description));
}

void Command::ConfigFileOption(const std::string& names, const std::string& description) {
  CLI::App* command = app_;
  app_->add_option_function<std::string>(
          names, [command](const std::string& path) { ApplyConfigFile(*command, path); }, description)
      ->configurable(false);
}

void Command::Footer(const std::string& text) {
  app_->footer(text);
}

void Command::RequireSubcommand() {
  app_->require_subcommand(1);
}

void Command::Fallthrough() {
  app_->fallthrough();
}

void Command::OnParsed(std::function<void()> call) {
  app_->parse_complete_callback(std::move(call));
}

bool Command::Parsed() const {
  return app_->parsed();
}

std::string Command::Name() const {
  return app_->get_name();
}

Program::Program(const std::string& description, const std::string& version)
    : Command(nullptr), program_(std::make_unique<CLI::App>(description)) {
  app_ = program_.get();
  program_->set_version_flag("--version", version);
}

Program::~Program() = default;

std::optional<int> Program::Parse(int argc, char** argv) {
  try {
    program_->parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return program_->exit(error);
  }
  return std::nullopt;
}

std::optional<Refusal> Program::ParseArguments(const std::vector<std::string>& arguments) {
  // CLI11 takes a vector of arguments last first.
  std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
  try {
    program_->parse(reversed);
  } catch (const CLI::ParseError& error) {
    return Refusal{error.get_exit_code(), error.get_name(), error.what()};
  }
  return std::nullopt;
}

}  // namespace ehg::command_line
