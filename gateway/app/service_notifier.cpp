#include "gateway/app/service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

#include "gateway/core/log.hpp"

namespace ehg::app {

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // Honours WATCHDOG_PID, so a child we might start never pings on our behalf.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_interval_ = std::chrono::microseconds(usec);
}

void ServiceNotifier::Ready(const std::string& status) {
  last_status_ = status;
  Send("READY=1\nSTATUS=" + status);
}

void ServiceNotifier::Reloading() {
  Send("RELOADING=1");
}

void ServiceNotifier::Stopping() {
  Send("STOPPING=1\nSTATUS=stopping");
}

void ServiceNotifier::Status(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  Send("STATUS=" + status);
}

void ServiceNotifier::Watchdog() {
  Send("WATCHDOG=1");
}

void ServiceNotifier::Send(const std::string& message) {
  if (!active_) return;
  const int sent = sd_notify(0, message.c_str());
  if (sent < 0) {
    // Every failure is logged: a lost watchdog ping makes systemd restart us, and this line says why.
    core::LogError("cannot notify systemd", {{"reason", std::strerror(-sent)}});
  }
}

}  // namespace ehg::app
