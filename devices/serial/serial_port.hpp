#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "devices/serial_protocols/decoder.hpp"
#include "gateway/core/result.hpp"

namespace ehg::devices::serial {

// A tty in raw mode with the protocol's line settings, non-blocking, locked against a second opener
// (flock, as ModemManager and other well-behaved programs respect). The thin adapter over termios.
class SerialPort {
 public:
  // Errc::kNotFound when the node does not exist (unplugged), kUnavailable when it cannot be opened or
  // configured (busy, permissions, not a tty).
  static Result<SerialPort> Open(const std::filesystem::path& path, const ProtocolInfo& protocol);

  SerialPort(SerialPort&& other) noexcept;
  SerialPort& operator=(SerialPort&& other) noexcept;
  SerialPort(const SerialPort&) = delete;
  SerialPort& operator=(const SerialPort&) = delete;
  ~SerialPort();

  int fd() const { return fd_; }
  // Bytes now available (0 when none). Errc::kUnavailable when the device is gone (EIO, ENODEV,
  // ENXIO). A hangup without an error shows only as POLLHUP: callers poll.
  Result<std::size_t> Read(std::span<std::uint8_t> buffer);
  // Writes everything, waiting at most 1 s for room. Errc::kUnavailable when the device is gone.
  Result<void> Write(std::span<const std::uint8_t> bytes);
  // The path still names the device node this port has open (a by-id link follows a replugged device
  // to a new ttyUSB number; a stale open would read nothing forever).
  bool StillNamesThisDevice() const;

 private:
  SerialPort(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace ehg::devices::serial
