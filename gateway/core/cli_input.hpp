#pragma once

#include <filesystem>
#include <iostream>
#include <optional>
#include <string_view>

#include "gateway/core/bounded_file.hpp"

namespace ehg::core {

// sysexits.h EX_NOINPUT: a file named on the command line is missing, unreadable, not a regular file
// (a FIFO, a device, a directory) or larger than its kind's limit.
inline constexpr int kExitNoInput = 66;

// For the command line tools, before a file named on the command line is read: when it is missing,
// unreadable, not a regular file or too large for its kind, prints why on stderr ("<tool>: <reason>")
// and returns 66 (EX_NOINPUT); a secret that others may read returns `refused_code`. Nothing when the
// file can be read. The file is opened without blocking, so a FIFO never hangs the tool.
inline std::optional<int> RefuseUnusableInput(std::string_view tool, const std::filesystem::path& path,
                                              const FileKind& kind, int refused_code) {
  auto file = OpenCheckedFile(path, kind);
  if (file) return std::nullopt;
  std::cerr << tool << ": " << file.error().message << "\n";
  return IsUnusableInput(file.error()) ? kExitNoInput : refused_code;
}

}  // namespace ehg::core
