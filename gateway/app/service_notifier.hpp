#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ehg::app {

// Talks to systemd's notify socket (Type=notify): READY once the gateway can work, WATCHDOG while its
// threads are alive, STATUS for `systemctl status` and the update helper's health check. Without
// NOTIFY_SOCKET (run by hand, in a container, under another supervisor) every call does nothing.
class ServiceNotifier {
 public:
  ServiceNotifier();

  bool active() const { return active_; }
  // The interval systemd expects pings at (WatchdogSec), when it supervises us with a watchdog.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

  // Also after a reload: READY=1 ends the RELOADING=1 state.
  void Ready(const std::string& status);
  void Reloading();
  void Stopping();
  // Sends the status only when it changed.
  void Status(const std::string& status);
  void Watchdog();

 private:
  void Send(const std::string& message);

  bool active_ = false;
  std::optional<std::chrono::microseconds> watchdog_interval_;
  std::string last_status_;
};

}  // namespace ehg::app
