#include "gateway/core/bug.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

namespace {

struct Ended {
  int signal = 0;
  std::string stderr_text;
};

// Runs Bug() in a child process (it aborts) and returns how the child ended and what it logged.
Ended BugInChild() {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    // Under ASan an abort is reported and turned into an exit; keep the plain SIGABRT.
    std::signal(SIGABRT, SIG_DFL);
    ehg::core::Bug("the rule table lost an entry");
  }
  ::close(pipe_fds[1]);
  Ended ended;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0)
    ended.stderr_text.append(buffer, static_cast<std::size_t>(got));
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  if (WIFSIGNALED(status)) ended.signal = WTERMSIG(status);
  return ended;
}

}  // namespace

TEST_CASE("A bug is logged with its file and line, then the process aborts so systemd restarts it") {
  const Ended ended = BugInChild();
  CHECK(ended.signal == SIGABRT);
  CHECK(ended.stderr_text.find("bug: the rule table lost an entry") != std::string::npos);
  CHECK(ended.stderr_text.find("bug_test.cpp:") != std::string::npos);
}
