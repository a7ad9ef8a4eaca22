#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ehg::test {

struct Process::Impl {
  pid_t pid = -1;
  int read_fd = -1;
  mutable int write_fd = -1;  // the child's stdin
  std::optional<int> exit_code;
  std::thread reader;
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::string output;

  void ReadAll() {
    char buffer[4096];
    while (true) {
      const ssize_t got = ::read(read_fd, buffer, sizeof buffer);
      if (got <= 0) break;
      {
        std::lock_guard lock(mutex);
        output.append(buffer, static_cast<std::size_t>(got));
      }
      changed.notify_all();
    }
  }
};

Process Process::Start(const std::vector<std::string>& argv, const std::vector<std::string>& environment) {
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry)
    env_strings.emplace_back(*entry);
  for (const std::string& extra : environment)
    env_strings.push_back(extra);
  std::vector<char*> env_pointers;
  for (std::string& entry : env_strings)
    env_pointers.push_back(entry.data());
  env_pointers.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers;
  for (std::string& arg : args)
    arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  int input[2];
  if (::pipe2(input, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(input[0], STDIN_FILENO);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    // The test process may block signals in its threads; the child starts with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(arg_pointers[0], arg_pointers.data(), env_pointers.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ::close(input[0]);
  auto impl = std::make_unique<Impl>();
  impl->pid = pid;
  impl->read_fd = fds[0];
  impl->write_fd = input[1];
  Impl* raw = impl.get();
  impl->reader = std::thread([raw] { raw->ReadAll(); });
  return Process(std::move(impl));
}

Process::Process(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&&) noexcept = default;

Process::~Process() {
  if (!impl_) return;
  if (!impl_->exit_code) {
    ::kill(impl_->pid, SIGKILL);
    int status = 0;
    ::waitpid(impl_->pid, &status, 0);
  }
  if (impl_->reader.joinable()) impl_->reader.join();
  ::close(impl_->read_fd);
  CloseInput();
}

void Process::WriteInput(std::string_view text) const {
  std::size_t written = 0;
  while (impl_->write_fd >= 0 && written < text.size()) {
    const ssize_t n = ::write(impl_->write_fd, text.data() + written, text.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
}

void Process::CloseInput() const {
  if (impl_->write_fd >= 0) ::close(impl_->write_fd);
  impl_->write_fd = -1;
}

pid_t Process::pid() const {
  return impl_->pid;
}

void Process::Signal(int signal_number) const {
  ::kill(impl_->pid, signal_number);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (impl_->exit_code) return impl_->exit_code;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(impl_->pid, &status, WNOHANG);
    if (done == impl_->pid) {
      impl_->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // The pipe closes with the child (unless it left grandchildren holding it): collect the rest.
      if (impl_->reader.joinable()) impl_->reader.join();
      return impl_->exit_code;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Process::WaitForOutput(std::string_view text, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout,
                                 [&] { return impl_->output.find(text) != std::string::npos; });
}

std::string Process::Output() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->output;
}

std::vector<std::string> Process::Lines() const {
  std::vector<std::string> lines;
  std::istringstream stream(Output());
  for (std::string line; std::getline(stream, line);)
    lines.push_back(line);
  return lines;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  Process process = Process::Start(argv);
  const auto code = process.Wait(timeout);
  CommandResult result;
  result.exit_code = code.value_or(-1);
  result.output = process.Output();
  return result;
}

}  // namespace ehg::test
