#include "gateway/app/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ehg::app {
namespace {

Result<void> SyncDirectory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(Errc::kIo, "open " + directory.string() + ": " + std::strerror(errno));
  const int synced = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (synced != 0) return Fail(Errc::kIo, "fsync " + directory.string() + ": " + std::strerror(saved));
  return {};
}

Result<void> WriteAndSync(const std::filesystem::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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

}  // namespace

Result<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view text,
                                 const std::filesystem::path& keep_previous) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  if (!keep_previous.empty() && std::filesystem::exists(path)) {
    std::error_code error;
    std::filesystem::copy_file(path, keep_previous, std::filesystem::copy_options::overwrite_existing, error);
    if (error)
      return Fail(Errc::kIo,
                  "keep " + path.string() + " as " + keep_previous.string() + ": " + error.message());
  }
  const std::filesystem::path temp = path.string() + ".new";
  if (auto written = WriteAndSync(temp, text); !written) {
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

}  // namespace ehg::app
