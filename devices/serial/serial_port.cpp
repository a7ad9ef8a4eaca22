#include "devices/serial/serial_port.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ehg::devices::serial {
namespace {

std::optional<speed_t> Speed(unsigned baud) {
  switch (baud) {
    case 4800:
      return B4800;
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    default:
      return std::nullopt;
  }
}

std::string SystemError(std::string_view what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

bool DeviceGone(int error) {
  return error == EIO || error == ENODEV || error == ENXIO || error == EBADF;
}

}  // namespace

Result<SerialPort> SerialPort::Open(const std::filesystem::path& path, const ProtocolInfo& protocol) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT || error == ENODEV || error == ENXIO) {
      return Fail(Errc::kNotFound, SystemError("cannot open " + path.string(), error));
    }
    return Fail(Errc::kUnavailable, SystemError("cannot open " + path.string(), error));
  }
  SerialPort port(fd, path);
  if (!::isatty(fd)) return Fail(Errc::kUnavailable, path.string() + " is not a serial port (tty)");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return Fail(Errc::kUnavailable, SystemError(path.string() + " is in use by another program", errno));
  }
  const auto speed = Speed(protocol.baud);
  if (!speed) return Fail(Errc::kInvalidArgument, "unsupported baud rate " + std::to_string(protocol.baud));

  termios settings{};
  if (::tcgetattr(fd, &settings) != 0) return Fail(Errc::kUnavailable, SystemError("tcgetattr", errno));
  ::cfmakeraw(&settings);
  settings.c_cflag &= ~static_cast<tcflag_t>(CSIZE | CSTOPB | PARENB | PARODD | CRTSCTS);
  settings.c_cflag |= CS8 | CLOCAL | CREAD;
  if (protocol.parity != Parity::kNone) {
    settings.c_cflag |= PARENB;
    if (protocol.parity == Parity::kOdd) settings.c_cflag |= PARODD;
  }
  settings.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  settings.c_cc[VMIN] = 0;
  settings.c_cc[VTIME] = 0;
  ::cfsetispeed(&settings, *speed);
  ::cfsetospeed(&settings, *speed);
  if (::tcsetattr(fd, TCSANOW, &settings) != 0) {
    return Fail(Errc::kUnavailable, SystemError("tcsetattr", errno));
  }
  ::tcflush(fd, TCIFLUSH);  // bytes from before we configured the line are noise
  return port;
}

SerialPort::SerialPort(SerialPort&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

SerialPort& SerialPort::operator=(SerialPort&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

SerialPort::~SerialPort() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::size_t> SerialPort::Read(std::span<std::uint8_t> buffer) {
  const ssize_t count = ::read(fd_, buffer.data(), buffer.size());
  if (count > 0) return static_cast<std::size_t>(count);
  if (count == 0) return std::size_t{0};  // raw mode with VMIN 0: nothing there (a hangup shows in poll)
  const int error = errno;
  if (error == EAGAIN || error == EINTR) return std::size_t{0};
  if (DeviceGone(error)) return Fail(Errc::kUnavailable, SystemError("read", error));
  return Fail(Errc::kIo, SystemError("read", error));
}

Result<void> SerialPort::Write(std::span<const std::uint8_t> bytes) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t count = ::write(fd_, bytes.data() + written, bytes.size() - written);
    if (count > 0) {
      written += static_cast<std::size_t>(count);
      continue;
    }
    const int error = errno;
    if (count < 0 && (error == EAGAIN || error == EINTR)) {
      pollfd wait{fd_, POLLOUT, 0};
      if (::poll(&wait, 1, 1000) <= 0) return Fail(Errc::kUnavailable, "write: device does not take data");
      continue;
    }
    return Fail(DeviceGone(error) ? Errc::kUnavailable : Errc::kIo, SystemError("write", error));
  }
  return {};
}

bool SerialPort::StillNamesThisDevice() const {
  struct stat by_path {};
  struct stat by_fd {};
  if (::stat(path_.c_str(), &by_path) != 0 || ::fstat(fd_, &by_fd) != 0) return false;
  return by_path.st_rdev == by_fd.st_rdev;
}

}  // namespace ehg::devices::serial
