#pragma once

#include <filesystem>

namespace ehg::test {

// $TMPDIR, or /tmp when it is unset or empty: where TempDir and MadeOnce put their directories.
std::filesystem::path TempRoot();

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace ehg::test
