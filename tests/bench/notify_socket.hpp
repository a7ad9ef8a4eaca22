#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

// systemd's side of sd_notify for the benchmarks that start the daemon: the time the first READY=1
// arrives. Header-only, like bench_support.hpp.
namespace ehg::bench {

class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    if (fd_ < 0 || bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error("cannot bind the notify socket");
  }
  ~NotifySocket() {
    close(fd_);
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  std::string Environment() const { return "NOTIFY_SOCKET=" + path_.string(); }
  std::optional<std::chrono::steady_clock::time_point> WaitForReady(std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      timeval wait{0, 1000};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
      const ssize_t got = recv(fd_, buffer, sizeof buffer, 0);
      if (got > 0 && std::string(buffer, static_cast<std::size_t>(got)).find("READY=1") != std::string::npos)
        return std::chrono::steady_clock::now();
    }
    return std::nullopt;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace ehg::bench
