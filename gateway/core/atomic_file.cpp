#include "gateway/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ehg::core {
namespace {

// Creates `path` exclusively (O_EXCL, O_NOFOLLOW: never an existing file, FIFO or link), writes `text`,
// fsyncs and closes it.
Result<void> CreateAndSync(const std::filesystem::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Errc::kIo, "create " + path.string() + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      ::close(fd);
      return Fail(saved == ENOSPC ? Errc::kFull : Errc::kIo,
                  "write " + path.string() + ": " + std::strerror(saved));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    return Fail(Errc::kIo, "fsync " + path.string() + ": " + std::strerror(saved));
  }
  if (::close(fd) != 0) return Fail(Errc::kIo, "close " + path.string() + ": " + std::strerror(errno));
  return {};
}

// Removes a leftover of an earlier crash (whatever it is: file, FIFO, link); absent is fine.
Result<void> RemoveStale(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Fail(Errc::kIo, "remove stale " + path.string() + ": " + std::strerror(errno));
  return {};
}

Result<std::string> ReadRegularFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Fail(Errc::kIo, "open " + path.string() + ": " + std::strerror(errno));
  std::string text;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      return Fail(Errc::kIo, "read " + path.string() + ": " + std::strerror(saved));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace

Result<void> SyncDirectory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(Errc::kIo, "open directory " + directory.string() + ": " + std::strerror(errno));
  const int synced = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (synced != 0) return Fail(Errc::kIo, "fsync " + directory.string() + ": " + std::strerror(saved));
  return {};
}

Result<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view text,
                                 const std::filesystem::path& keep_previous) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  if (!keep_previous.empty()) {
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) {
      auto previous = ReadRegularFile(path);
      if (!previous) return tl::unexpected(previous.error().WithContext("keep the previous content"));
      // The kept copy goes through the same steps: a rollback must never read half a file.
      if (auto kept = WriteFileAtomically(keep_previous, *previous); !kept)
        return tl::unexpected(kept.error().WithContext("keep " + path.string()));
    }
  }
  const std::filesystem::path temp = path.string() + ".new";
  if (auto removed = RemoveStale(temp); !removed) return removed;
  if (auto written = CreateAndSync(temp, text); !written) {
    ::unlink(temp.c_str());
    return written;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    return Fail(Errc::kIo, "rename " + temp.string() + ": " + std::strerror(saved));
  }
  return SyncDirectory(directory);
}

}  // namespace ehg::core
