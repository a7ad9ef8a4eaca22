#pragma once

#include <filesystem>
#include <string_view>

#include "gateway/core/result.hpp"

namespace ehg::core {

// The one way files are replaced: a crash or a power cut at any moment leaves either the old or the new
// content at `path`, never a mix. Writes `<path>.new` (a stale one left by a crash is removed first and
// the new one is created exclusively, so a FIFO or a link planted there is never opened), fsyncs it,
// renames it over `path`, fsyncs the directory. When `keep_previous` names a file, the old content is
// copied there first, and that copy is fsynced too (it is what a rollback reads).
Result<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view text,
                                 const std::filesystem::path& keep_previous = {});

// fsync of a directory, so that a rename or unlink inside it survives a power cut.
Result<void> SyncDirectory(const std::filesystem::path& directory);

}  // namespace ehg::core
