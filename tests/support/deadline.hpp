#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

namespace ehg::test {

// Runs `function` on a thread of its own and waits at most `timeout` for its result, so a call that hangs
// (opening a FIFO for reading waits for a writer) fails the test instead of hanging CI. nullopt on a
// timeout; the thread is then left detached, and `function` must own what it uses (capture by value).
template <typename Function>
auto WithinDeadline(Function function, std::chrono::milliseconds timeout)
    -> std::optional<decltype(function())> {
  std::packaged_task<decltype(function())()> task(std::move(function));
  auto result = task.get_future();
  std::thread(std::move(task)).detach();
  if (result.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return result.get();
}

// Opens `fifo` for writing and closes it: wakes a reader blocked in open() on it, so a hung call left
// behind by WithinDeadline ends.
inline void ReleaseFifoReaders(const std::filesystem::path& fifo) {
  const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  if (writer >= 0) ::close(writer);
}

}  // namespace ehg::test
