#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/core/result.hpp"

namespace sdbus {
class IConnection;
}

namespace ehg::devices::ble {

// One D-Bus connection and the one thread that uses it. sd-bus is not thread-safe, so every call,
// signal handler, exported method and timer of a BlueZ client (or of the simulator) runs on this thread;
// other threads hand work over with Post. Timers use the monotonic clock.
class BusLoop {
 public:
  using Task = std::function<void()>;
  using TimerId = std::uint64_t;

  // `address` empty: the system bus (sd-bus honours DBUS_SYSTEM_BUS_ADDRESS). A non-empty `name` is
  // requested on the bus (the simulator takes org.bluez).
  static Result<std::unique_ptr<BusLoop>> Connect(const std::string& address, const std::string& name = {});
  ~BusLoop();

  BusLoop(const BusLoop&) = delete;
  BusLoop& operator=(const BusLoop&) = delete;

  void Start();
  // Runs the tasks already posted, stops the thread and leaves the bus (the connection closes, so a
  // bus name held by it is released). Idempotent.
  void Stop();

  // Thread-safe.
  void Post(Task task);
  TimerId PostAfter(std::chrono::milliseconds delay, Task task);
  void Cancel(TimerId timer);  // loop thread only
  // Runs `task` on the loop thread and waits for it; from the loop thread itself it runs at once.
  void RunAndWait(const Task& task);

  bool InLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }
  sdbus::IConnection& connection() { return *connection_; }
  std::string unique_name() const;

 private:
  explicit BusLoop(std::unique_ptr<sdbus::IConnection> connection);
  void Run();
  void RunDueTimers();

  std::unique_ptr<sdbus::IConnection> connection_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<Task> tasks_;
  struct Timer {
    TimerId id;
    Task task;
  };
  std::multimap<std::chrono::steady_clock::time_point, Timer> timers_;  // loop thread after Start
  TimerId next_timer_ = 1;
  std::chrono::steady_clock::time_point last_failure_log_{};
};

}  // namespace ehg::devices::ble
