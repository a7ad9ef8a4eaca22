#include "gateway/core/bounded_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ehg::core {
namespace {

std::string Named(const FileKind& kind, const std::filesystem::path& path) {
  return std::string(kind.what) + " " + path.string();
}

std::string TypeOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

tl::unexpected<Error> SystemError(const FileKind& kind, const std::filesystem::path& path, int error) {
  if (error == ENOENT || error == ENOTDIR) {
    return Fail(Errc::kNotFound, Named(kind, path) + " does not exist");
  }
  return Fail(Errc::kIo, "cannot read " + Named(kind, path) + ": " + std::strerror(error));
}

tl::unexpected<Error> TooLarge(const FileKind& kind, const std::filesystem::path& path) {
  return Fail(Errc::kInvalidArgument, Named(kind, path) + " is larger than " + DescribeBytes(kind.max_bytes) +
                                          ", the limit for a " + std::string(kind.what));
}

}  // namespace

std::string DescribeBytes(std::uint64_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

CheckedFile::CheckedFile(CheckedFile&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, -1)),
      size_(other.size_),
      others_may_access_(other.others_may_access_) {}

CheckedFile& CheckedFile::operator=(CheckedFile&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) ::close(descriptor_);
    descriptor_ = std::exchange(other.descriptor_, -1);
    size_ = other.size_;
    others_may_access_ = other.others_may_access_;
  }
  return *this;
}

CheckedFile::~CheckedFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

int CheckedFile::Release() {
  return std::exchange(descriptor_, -1);
}

Result<CheckedFile> OpenCheckedFile(const std::filesystem::path& path, const FileKind& kind) {
  const auto not_regular = [&](mode_t mode) {
    return Fail(Errc::kInvalidArgument,
                Named(kind, path) + " is " + TypeOf(mode) + ", not a file: only a regular file is read");
  };
  // The type first, on an O_PATH descriptor: that opens nothing (a serial port would raise DTR and reset
  // what is attached, a tape rewinds, a FIFO waits for a writer), and the file is then opened for
  // reading through that same descriptor, so a name swapped between the check and the open gains
  // nothing. No O_NOFOLLOW: a certificate reached through a symbolic link is normal, and the checks look
  // at what the link leads to.
  const int located = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (located < 0) return SystemError(kind, path, errno);
  struct stat status {};
  if (::fstat(located, &status) != 0) {
    const int error = errno;
    ::close(located);
    return SystemError(kind, path, error);
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(located);
    return not_regular(status.st_mode);
  }
  // O_NONBLOCK and O_NOCTTY in case the checks above were ever bypassed: never wait, never take a
  // controlling terminal.
  const std::string same_file = "/proc/self/fd/" + std::to_string(located);
  const int descriptor = ::open(same_file.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  const int open_error = errno;
  ::close(located);
  if (descriptor < 0) return SystemError(kind, path, open_error);
  CheckedFile file(descriptor);
  if (::fstat(descriptor, &status) != 0) return SystemError(kind, path, errno);
  if (!S_ISREG(status.st_mode)) return not_regular(status.st_mode);
  if (kind.trust_anchor) {
    // Whoever may write a trust anchor (the config, the care system's keys, the CA) decides whom the
    // gateway trusts: only its owner may, and no other user may replace it in its directory.
    if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      return Fail(
          Errc::kRejected,
          Named(kind, path) + " may be written by other users; fix it with: chmod go-w " + path.string());
    }
    struct stat directory {};
    const std::filesystem::path parent = path.parent_path().empty() ? "." : path.parent_path();
    if (::stat(parent.c_str(), &directory) == 0 && (directory.st_mode & S_IWOTH) != 0 &&
        (directory.st_mode & S_ISVTX) == 0) {
      return Fail(Errc::kRejected, Named(kind, path) + " is in a directory every user may write to (" +
                                       parent.string() + "); move it, or fix it with: chmod o-w " +
                                       parent.string());
    }
  }
  file.others_may_access_ = (status.st_mode & (S_IRWXG | S_IRWXO)) != 0;
  if (kind.secret && file.others_may_access_) return tl::unexpected(OthersMayReadError(kind, path));
  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (size > kind.max_bytes) return TooLarge(kind, path);
  file.size_ = size;
  return file;
}

Result<std::string> ReadCheckedFile(const std::filesystem::path& path, const FileKind& kind) {
  auto file = OpenCheckedFile(path, kind);
  if (!file) return tl::unexpected(file.error());
  return ReadAll(*file, path, kind);
}

Result<std::string> ReadAll(CheckedFile& file, const std::filesystem::path& path, const FileKind& kind) {
  // Sized by what fstat said, but read until the end: the file may have grown (or be a /proc file that
  // says 0). One byte beyond the limit is enough to know it is too large.
  std::string text;
  text.resize(static_cast<std::size_t>(std::min<std::uint64_t>(file.size(), kind.max_bytes) + 1));
  std::size_t length = 0;
  while (true) {
    if (length == text.size()) {
      if (length > kind.max_bytes) return TooLarge(kind, path);
      text.resize(static_cast<std::size_t>(std::min<std::uint64_t>(2 * length + 4096, kind.max_bytes + 1)));
    }
    const ssize_t count = ::read(file.descriptor(), text.data() + length, text.size() - length);
    if (count < 0) {
      if (errno == EINTR) continue;
      return SystemError(kind, path, errno);
    }
    if (count == 0) break;
    length += static_cast<std::size_t>(count);
  }
  if (length > kind.max_bytes) return TooLarge(kind, path);
  text.resize(length);
  return text;
}

Error OthersMayReadError(const FileKind& kind, const std::filesystem::path& path) {
  return Error{Errc::kRejected, Named(kind, path) + " may be read by other users; fix it with: chmod 600 " +
                                    path.string() + " (and chown it to the service user)"};
}

bool IsUnusableInput(const Error& error) {
  return error.code == Errc::kNotFound || error.code == Errc::kIo || error.code == Errc::kInvalidArgument;
}

}  // namespace ehg::core
