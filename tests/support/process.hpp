#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehg::test {

// A child process whose stdout and stderr are collected by a background thread. Killed (SIGKILL) and
// reaped on destruction if still running, so a failing test never leaves a daemon behind.
class Process {
 public:
  // argv[0] is the executable path. `environment` entries (NAME=value) are added to ours.
  static Process Start(const std::vector<std::string>& argv,
                       const std::vector<std::string>& environment = {});
  ~Process();
  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;

  pid_t pid() const;
  void Signal(int signal_number) const;
  // The exit code, 128 + signal number when killed by a signal, or nothing on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // True once a line containing `text` has been printed (counting from the start).
  bool WaitForOutput(std::string_view text, std::chrono::milliseconds timeout) const;
  std::string Output() const;
  // Writes to the child's standard input; CloseInput() gives it end of file.
  void WriteInput(std::string_view text) const;
  void CloseInput() const;
  std::vector<std::string> Lines() const;

 private:
  struct Impl;
  explicit Process(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs a command to completion and returns its exit code and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace ehg::test
