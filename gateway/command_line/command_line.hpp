#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

// The command lines of every binary (the gateway's, the tools', the care side's), on CLI11. CLI11 stays
// behind this header, in command_line.cpp only: it is header-only, and each file that included it took
// 17.5 CPU s to compile at the package's -O2 -g (its own code, instantiated again in each); the binaries'
// main.cpp files now compile in a few. What the binaries see is CLI11's behaviour unchanged: its help,
// its messages and its exit codes (106 for a wrong value, 105 for a missing required option...).
namespace ehg::command_line {

// An option as declared; each call adds a rule and returns the option, so calls chain.
class Option {
 public:
  explicit Option(CLI::Option* option) : option_(option) {}

  Option& Required();
  // The value must lie in [min, max].
  Option& Range(int min, int max) { return Range(static_cast<long long>(min), static_cast<long long>(max)); }
  Option& Range(long long min, long long max);
  Option& Range(double min, double max);
  Option& OneOf(const std::vector<std::string>& choices);
  // `check` says what is wrong with a value, or returns an empty string when it is fine.
  Option& Check(std::function<std::string(const std::string&)> check);
  // Not together with `other` on one command line.
  Option& Excludes(const Option& other);
  // The value when the option is not given, shown in the help.
  Option& Default(const std::string& value);

 private:
  CLI::Option* option_;
};

// A command or subcommand: its options and flags land in the variables they name while parsing.
class Command {
 public:
  explicit Command(CLI::App* app) : app_(app) {}

  Command Subcommand(const std::string& name, const std::string& description);

  // `names` as CLI11 spells them: "-c,--config", "--seconds", or "file" for a positional argument.
  Option Add(const std::string& names, std::string& into, const std::string& description);
  Option Add(const std::string& names, std::filesystem::path& into, const std::string& description);
  Option Add(const std::string& names, std::vector<std::string>& into, const std::string& description);
  Option Add(const std::string& names, int& into, const std::string& description);
  Option Add(const std::string& names, unsigned& into, const std::string& description);
  Option Add(const std::string& names, long& into, const std::string& description);
  Option Add(const std::string& names, unsigned long& into, const std::string& description);
  Option Add(const std::string& names, long long& into, const std::string& description);
  Option Add(const std::string& names, unsigned long long& into, const std::string& description);
  Option Add(const std::string& names, double& into, const std::string& description);
  Option Flag(const std::string& names, bool& into, const std::string& description);

  // A --config option of this (sub)command: a TOML file whose keys are the command's options' long names
  // without the dashes; what the command line gives wins over the file. A key that names no option, a
  // section, or a value an option refuses is refused as the same mistake on the command line would be;
  // so is a file that is no regular file of at most 4 MiB (a FIFO, /dev/zero), before it is read.
  // Declare it first: CLI11 runs the options' callbacks in the order they were declared, so the file's
  // values are in before the others' checks. (CLI11 2.1 reads a config file for the top level only.)
  void ConfigFileOption(const std::string& names, const std::string& description);

  void Footer(const std::string& text);
  // Exactly one subcommand must be given.
  void RequireSubcommand();
  // Options of this command may also come after its subcommand's name.
  void Fallthrough();
  // Called once this command has been parsed (before the required options are checked).
  void OnParsed(std::function<void()> call);

  // Whether this command was on the command line.
  bool Parsed() const;
  explicit operator bool() const { return Parsed(); }
  std::string Name() const;

 protected:
  CLI::App* app_;
};

// What a command line was refused for: CLI11's exit code, its kind of mistake (CLI11's name for it, such
// as "RequiredError", "ValidationError", "ConversionError", "FileError", "ConfigError") and its message.
struct Refusal {
  int exit_code = 0;
  std::string kind;
  std::string message;
};

// The top-level command of a binary, with --help and --version.
class Program : public Command {
 public:
  Program(const std::string& description, const std::string& version);
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Parses argv. Nothing: the program goes on. A number: the program exits with it, after CLI11 printed
  // the help or the version (0) or what is wrong (its code for the mistake).
  std::optional<int> Parse(int argc, char** argv);
  // For tests: parses `arguments` (without the program's name) and prints nothing.
  std::optional<Refusal> ParseArguments(const std::vector<std::string>& arguments);

 private:
  std::unique_ptr<CLI::App> program_;
};

}  // namespace ehg::command_line
