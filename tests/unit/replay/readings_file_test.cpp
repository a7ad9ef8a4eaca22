// The boundary of `replay`'s input: only a regular file, read in bounded memory, never hanging.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gateway/replay/reading_line.hpp"
#include "tests/support/temp_dir.hpp"

using ehg::replay::ReadingsFile;
using Next = ReadingsFile::Next;

namespace {

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Every line of the file, with "<too long>" for a line over the limit.
std::vector<std::string> Lines(ReadingsFile& file) {
  std::vector<std::string> lines;
  std::string line;
  while (true) {
    auto next = file.ReadLine(line);
    REQUIRE(next.has_value());
    if (*next == Next::kEnd) break;
    lines.push_back(*next == Next::kTooLong ? "<too long>" : line);
  }
  return lines;
}

long MaxResidentKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

TEST_CASE("A readings file is read line by line, a last line without a newline included") {
  ehg::test::TempDir dir;
  Write(dir / "r.jsonl", "one\n\ntwo\r\nthree");
  auto file = ReadingsFile::Open(dir / "r.jsonl");
  REQUIRE(file.has_value());
  CHECK(Lines(*file) == std::vector<std::string>{"one", "", "two\r", "three"});
  CHECK(file->line_number() == 4);
  Write(dir / "empty.jsonl", "");
  auto empty = ReadingsFile::Open(dir / "empty.jsonl");
  REQUIRE(empty.has_value());
  CHECK(Lines(*empty).empty());
}

TEST_CASE("A line over the limit is skipped to its end and the lines after it still read") {
  ehg::test::TempDir dir;
  const std::string longest(ehg::replay::kMaxLineBytes, 'x');
  Write(dir / "r.jsonl",
        "first\n" + longest + "\n" + longest + "y\n" + std::string(200'000, 'z') + "\nlast\n");
  auto file = ReadingsFile::Open(dir / "r.jsonl");
  REQUIRE(file.has_value());
  CHECK(Lines(*file) == std::vector<std::string>{"first", longest, "<too long>", "<too long>", "last"});
  CHECK(file->line_number() == 5);
}

TEST_CASE("A gigabyte without a newline is refused as one long line without filling memory") {
  ehg::test::TempDir dir;
  const auto path = dir / "huge.jsonl";
  { std::ofstream create(path, std::ios::binary); }
  std::filesystem::resize_file(path, std::uintmax_t{1} << 30);  // sparse: no disk space used
  const long before = MaxResidentKiB();
  auto file = ReadingsFile::Open(path);
  REQUIRE(file.has_value());
  std::string line;
  auto next = file->ReadLine(line);
  REQUIRE(next.has_value());
  CHECK(*next == Next::kTooLong);
  CHECK(line.empty());
  CHECK(line.capacity() <= 2 * ehg::replay::kMaxLineBytes);
  // Reading a gigabyte into a string would have raised the peak by a gigabyte.
  CHECK(MaxResidentKiB() - before < 64 * 1024);
  next = file->ReadLine(line);
  REQUIRE(next.has_value());
  CHECK(*next == Next::kEnd);
}

TEST_CASE("A readings path that is not a regular file is refused by its type") {
  ehg::test::TempDir dir;
  struct Case {
    const char* name;
    std::filesystem::path path;
    const char* reason;
  };
  const Case cases[] = {
      {"directory", dir.path(), "is a directory, not a file"},
      {"/dev/zero", "/dev/zero", "is a character device, not a file"},
      {"/dev/null", "/dev/null", "is a character device, not a file"},
      {"link to /dev/zero", dir / "zero-link", "is a character device, not a file"},
  };
  std::filesystem::create_symlink("/dev/zero", dir / "zero-link");
  for (const Case& item : cases) {
    CAPTURE(item.name);
    const auto file = ReadingsFile::Open(item.path);
    REQUIRE_FALSE(file.has_value());
    CHECK(file.error().code == ehg::Errc::kInvalidArgument);
    CHECK(file.error().message.find(item.reason) != std::string::npos);
  }
  const auto missing = ReadingsFile::Open(dir / "missing.jsonl");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == ehg::Errc::kNotFound);
  CHECK(missing.error().message.find("does not exist") != std::string::npos);
}

TEST_CASE("A FIFO as readings path is refused at once, without waiting for a writer") {
  ehg::test::TempDir dir;
  const auto fifo = dir / "readings.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opening a FIFO for reading blocks until a writer comes: run it aside so a hang fails, not hangs, the
  // test. On a hang the thread is left blocked; opening the FIFO for writing below releases it.
  std::packaged_task<ehg::Result<ReadingsFile>()> task([&fifo] { return ReadingsFile::Open(fifo); });
  auto result = task.get_future();
  std::thread(std::move(task)).detach();
  const bool finished = result.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  if (!finished) {
    const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) ::close(writer);
  }
  REQUIRE_MESSAGE(finished, "ReadingsFile::Open hung on a FIFO");
  const auto file = result.get();
  REQUIRE_FALSE(file.has_value());
  CHECK(file.error().message.find("is a FIFO (named pipe), not a file") != std::string::npos);
}

TEST_CASE("A file of bytes that are not UTF-8 gives invalid lines with the bytes escaped") {
  ehg::test::TempDir dir;
  Write(dir / "latin1.jsonl",
        "{\"time\": \"2026-03-02T07:15:00Z\", \"device\": \"m\xe5ler\", \"metric\": \"spo2\", \"value\": 91, "
        "\"unit\": \"%\"}\n\x1b]0;owned\x07\xff\n");
  auto file = ReadingsFile::Open(dir / "latin1.jsonl");
  REQUIRE(file.has_value());
  const auto lines = Lines(*file);
  REQUIRE(lines.size() == 2);
  for (const std::string& line : lines) {
    const auto parsed = ehg::replay::ParseReplayLine(line);
    REQUIRE_FALSE(parsed.has_value());
    CAPTURE(parsed.error());
    CHECK(parsed.error().starts_with("not UTF-8 text (byte 0x"));
    CHECK(parsed.error().find('\x1b') == std::string::npos);
    CHECK(ehg::replay::IsUtf8(parsed.error()));
  }
}
