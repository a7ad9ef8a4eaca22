#include "gateway/core/atomic_file.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

std::string ContentOf(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void Put(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("An atomic write replaces the content and leaves no temporary file behind") {
  ehg::test::TempDir dir;
  const fs::path file = dir.path() / "gateway.json";
  Put(file, "old");
  REQUIRE(ehg::core::WriteFileAtomically(file, "new").has_value());
  CHECK(ContentOf(file) == "new");
  CHECK_FALSE(fs::exists(dir.path() / "gateway.json.new"));
}

TEST_CASE("A FIFO left where the temporary file goes does not stall the write") {
  // Opening a FIFO for writing waits for a reader: the old helper (O_TRUNC on whatever was there) hung.
  ehg::test::TempDir dir;
  const fs::path file = dir.path() / "update-request.json";
  REQUIRE(::mkfifo((file.string() + ".new").c_str(), 0600) == 0);
  REQUIRE(ehg::core::WriteFileAtomically(file, "{}").has_value());
  CHECK(ContentOf(file) == "{}");
  CHECK(fs::is_regular_file(file));
}

TEST_CASE("A link left where the temporary file goes never lets the write reach its target") {
  ehg::test::TempDir dir;
  const fs::path file = dir.path() / "gateway.json";
  const fs::path elsewhere = dir.path() / "shadow";
  Put(elsewhere, "untouched");
  fs::create_symlink(elsewhere, file.string() + ".new");
  REQUIRE(ehg::core::WriteFileAtomically(file, "new").has_value());
  CHECK(ContentOf(elsewhere) == "untouched");
  CHECK(ContentOf(file) == "new");
  CHECK_FALSE(fs::is_symlink(file));
}

TEST_CASE("The previous content is kept when asked, and only when there was one") {
  ehg::test::TempDir dir;
  const fs::path file = dir.path() / "gateway.json";
  const fs::path previous = dir.path() / "gateway.json.previous";
  REQUIRE(ehg::core::WriteFileAtomically(file, "first", previous).has_value());
  CHECK_FALSE(fs::exists(previous));
  REQUIRE(ehg::core::WriteFileAtomically(file, "second", previous).has_value());
  CHECK(ContentOf(previous) == "first");
  CHECK(ContentOf(file) == "second");
  CHECK_FALSE(fs::exists(previous.string() + ".new"));
}

TEST_CASE("A write into a missing directory is an error, not a crash, and leaves nothing") {
  ehg::test::TempDir dir;
  const auto written = ehg::core::WriteFileAtomically(dir.path() / "missing" / "file", "x");
  REQUIRE_FALSE(written.has_value());
  CHECK(written.error().code == ehg::Errc::kIo);
  CHECK(ehg::core::SyncDirectory(dir.path()).has_value());
  CHECK_FALSE(ehg::core::SyncDirectory(dir.path() / "missing").has_value());
}
