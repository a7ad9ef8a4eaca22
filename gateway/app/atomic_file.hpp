#pragma once

#include <filesystem>
#include <string_view>

#include "gateway/core/result.hpp"

namespace ehg::app {

// Replaces `path` with `text` so that a crash leaves either the old or the new file: temp file, fsync,
// rename, directory fsync. When `keep_previous` names a file, the old content is copied there first.
Result<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view text,
                                 const std::filesystem::path& keep_previous = {});

}  // namespace ehg::app
