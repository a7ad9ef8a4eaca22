#pragma once

#include <chrono>
#include <thread>

namespace ehg::test {

// Polls until `condition` holds or `timeout` passes, so a hung asynchronous test fails in seconds
// instead of hanging CI. Returns whether the condition held.
template <typename Condition>
bool WaitUntil(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace ehg::test
