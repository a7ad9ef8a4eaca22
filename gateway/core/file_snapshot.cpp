#include "gateway/core/file_snapshot.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ehg::core {
namespace {

Result<FileSnapshot> Failed(std::string_view what) {
  return Fail(Errc::kIo, std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

Result<FileSnapshot> FileSnapshot::Take(const std::filesystem::path& source, const core::FileKind& kind) {
  auto text = core::ReadCheckedFile(source, kind);
  if (!text) return tl::unexpected(text.error());
  auto snapshot = Empty(source.filename().string());
  if (!snapshot) return snapshot;
  for (std::size_t written = 0; written < text->size();) {
    const ssize_t count = ::write(snapshot->descriptor_, text->data() + written, text->size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      return Failed("cannot copy " + source.string());
    }
    written += static_cast<std::size_t>(count);
  }
  // The copy never changes again; readers open their own description (offset 0) through the path.
  if (::fcntl(snapshot->descriptor_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
      0) {
    return Failed("cannot seal the copy of " + source.string());
  }
  return snapshot;
}

Result<FileSnapshot> FileSnapshot::Empty(std::string_view name) {
  const std::string label = "ehg:" + std::string(name);
  const int descriptor = ::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (descriptor < 0) return Failed("cannot make an in-memory copy of " + std::string(name));
  // A memfd is born 0777; the copy is the owner's alone, so whatever reads it (a secret's or a trust
  // anchor's checks included) sees the mode of a private file.
  if (::fchmod(descriptor, 0400) != 0) {
    ::close(descriptor);
    return Failed("cannot make the in-memory copy of " + std::string(name) + " private");
  }
  return FileSnapshot(descriptor);
}

FileSnapshot::FileSnapshot(FileSnapshot&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, -1)) {}

FileSnapshot& FileSnapshot::operator=(FileSnapshot&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) ::close(descriptor_);
    descriptor_ = std::exchange(other.descriptor_, -1);
  }
  return *this;
}

FileSnapshot::~FileSnapshot() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

std::filesystem::path FileSnapshot::path() const {
  return "/proc/self/fd/" + std::to_string(descriptor_);
}

Result<void> FileSnapshot::ReplaceWith(FileSnapshot&& newer) {
  if (newer.descriptor_ < 0 || newer.descriptor_ == descriptor_) return {};
  if (descriptor_ < 0) {
    descriptor_ = std::exchange(newer.descriptor_, -1);
    return {};
  }
  // dup3 changes what the number refers to in one step; the old copy goes once nobody has it open.
  if (::dup3(newer.descriptor_, descriptor_, O_CLOEXEC) < 0) {
    return Fail(Errc::kIo, std::string("cannot replace a file copy: ") + std::strerror(errno));
  }
  ::close(std::exchange(newer.descriptor_, -1));
  return {};
}

}  // namespace ehg::core
