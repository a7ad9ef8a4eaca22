#include "devices/ble/bus_loop.hpp"

#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway/core/log.hpp"
#include "gateway/core/thread_name.hpp"

namespace ehg::devices::ble {

ehg::Result<std::unique_ptr<BusLoop>> BusLoop::Connect(const std::string& address, const std::string& name) {
  try {
    std::unique_ptr<sdbus::IConnection> connection =
        address.empty() ? sdbus::createSystemBusConnection()
                        : sdbus::createSessionBusConnectionWithAddress(address);
    if (!name.empty()) connection->requestName(name);
    return std::unique_ptr<BusLoop>(new BusLoop(std::move(connection)));
  } catch (const sdbus::Error& error) {
    return Fail(Errc::kUnavailable, "D-Bus " + (address.empty() ? std::string("system bus") : address) +
                                        ": " + error.getName() + ": " + error.getMessage());
  }
}

BusLoop::BusLoop(std::unique_ptr<sdbus::IConnection> connection)
    : connection_(std::move(connection)), wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

BusLoop::~BusLoop() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void BusLoop::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void BusLoop::Stop() {
  if (thread_.joinable()) {
    stopping_ = true;
    Post([] {});
    thread_.join();
  }
  // Objects and proxies must be gone before the connection; their owners destroy them first.
  timers_.clear();
  std::lock_guard lock(mutex_);
  tasks_.clear();
}

void BusLoop::Post(Task task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = write(wake_fd_, &one, sizeof one);
}

BusLoop::TimerId BusLoop::PostAfter(std::chrono::milliseconds delay, Task task) {
  TimerId id = 0;
  {
    std::lock_guard lock(mutex_);
    id = next_timer_++;
  }
  auto due = std::chrono::steady_clock::now() + delay;
  if (InLoopThread()) {
    timers_.emplace(due, Timer{id, std::move(task)});
  } else {
    Post([this, id, due, task = std::move(task)]() mutable {
      timers_.emplace(due, Timer{id, std::move(task)});
    });
  }
  return id;
}

void BusLoop::Cancel(TimerId timer) {
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.id == timer) {
      timers_.erase(it);
      return;
    }
  }
}

void BusLoop::RunAndWait(const Task& task) {
  if (InLoopThread() || !thread_.joinable()) {
    task();
    return;
  }
  std::promise<void> done;
  Post([&] {
    task();
    done.set_value();
  });
  done.get_future().wait();
}

std::string BusLoop::unique_name() const {
  return connection_->getUniqueName();
}

void BusLoop::RunDueTimers() {
  const auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    Task task = std::move(timers_.begin()->second.task);
    timers_.erase(timers_.begin());
    task();
  }
}

void BusLoop::Run() {
  core::NameThisThread("ehg-bluetooth");
  thread_id_ = std::this_thread::get_id();
  while (true) {
    std::vector<Task> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (Task& task : tasks) {
      try {
        task();
      } catch (const sdbus::Error& error) {
        core::LogError("D-Bus call failed", {{"error", error.getName()}, {"reason", error.getMessage()}});
      }
    }
    if (stopping_) break;
    try {
      while (connection_->processPendingRequest()) {
      }
      RunDueTimers();
    } catch (const sdbus::Error& error) {
      // A connection the bus dropped fails at once on every try: log it once a minute, and wait a second
      // between tries instead of spinning (only Stop can end this; the bus is gone with the system).
      const auto now = std::chrono::steady_clock::now();
      if (now - last_failure_log_ > std::chrono::minutes(1)) {
        core::LogError("D-Bus processing failed",
                       {{"error", error.getName()}, {"reason", error.getMessage()}});
        last_failure_log_ = now;
      }
      pollfd wake{wake_fd_, POLLIN, 0};
      if (poll(&wake, 1, 1000) > 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto drained = read(wake_fd_, &count, sizeof count);
      }
      continue;
    }
    const sdbus::IConnection::PollData poll_data = connection_->getEventLoopPollData();
    int timeout = poll_data.getPollTimeout();
    if (!timers_.empty()) {
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
          timers_.begin()->first - std::chrono::steady_clock::now());
      const int timer_ms = static_cast<int>(std::max<std::int64_t>(0, until.count() + 1));
      timeout = timeout < 0 ? timer_ms : std::min(timeout, timer_ms);
    }
    {
      std::lock_guard lock(mutex_);
      if (!tasks_.empty()) timeout = 0;
    }
    pollfd fds[2] = {{poll_data.fd, poll_data.events, 0}, {wake_fd_, POLLIN, 0}};
    poll(fds, 2, timeout);
    if (fds[1].revents & POLLIN) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto drained = read(wake_fd_, &count, sizeof count);
    }
  }
  thread_id_ = std::thread::id();
}

}  // namespace ehg::devices::ble
