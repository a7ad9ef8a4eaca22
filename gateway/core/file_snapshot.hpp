#pragma once

#include <filesystem>
#include <string>

#include "gateway/core/bounded_file.hpp"
#include "gateway/core/result.hpp"

namespace ehg::core {

// A private in-memory copy of a checked file, reachable by a path of its own (/proc/self/fd/N), for the
// libraries that open TLS files by name themselves (paho and OpenSSL for the broker connection, OpenSSL for
// the status page): they get only what core::ReadCheckedFile read and checked (a regular file within
// its limit; a key only when others may not read it), never a FIFO or a device that could block their
// thread, however the named file changes afterwards. The copy is a sealed memfd: nobody can write it,
// and other processes cannot open it (/proc/<pid>/fd needs ptrace rights over the gateway).
class FileSnapshot {
 public:
  // Reads `source` with core::ReadCheckedFile and copies what it read.
  static Result<FileSnapshot> Take(const std::filesystem::path& source, const core::FileKind& kind);
  // No content: what a library finds for a file that was missing (it then fails to load it).
  static Result<FileSnapshot> Empty(std::string_view name);

  FileSnapshot(FileSnapshot&& other) noexcept;
  FileSnapshot& operator=(FileSnapshot&& other) noexcept;
  FileSnapshot(const FileSnapshot&) = delete;
  FileSnapshot& operator=(const FileSnapshot&) = delete;
  ~FileSnapshot();

  // Where to open the copy: stays the same for this object's life, across ReplaceWith.
  std::filesystem::path path() const;
  // Takes `newer`'s content under this snapshot's path, atomically (dup3): a library opening the path
  // meanwhile gets either the old or the new copy, never a mix. For reload.
  Result<void> ReplaceWith(FileSnapshot&& newer);

 private:
  explicit FileSnapshot(int descriptor) : descriptor_(descriptor) {}
  int descriptor_ = -1;
};

}  // namespace ehg::core
