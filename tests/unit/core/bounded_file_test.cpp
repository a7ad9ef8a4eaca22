// Files a config or a command line names: only regular files, within a limit for their kind, secrets
// only when no other user may read them, and never a hang (a FIFO) or an endless read (/dev/zero).
#include "gateway/core/bounded_file.hpp"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "gateway/core/file_snapshot.hpp"
#include "tests/support/deadline.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::Errc;
using ehg::core::FileKind;
using ehg::core::FileSnapshot;
using ehg::core::OpenCheckedFile;
using ehg::core::ReadCheckedFile;

namespace {

constexpr FileKind kSmall{"test file", 16, false};
constexpr FileKind kSecret{"test secret", 1024, true};

fs::path Write(const fs::path& path, const std::string& bytes, fs::perms mode = fs::perms(0600)) {
  std::ofstream(path, std::ios::binary) << bytes;
  fs::permissions(path, mode);
  return path;
}

long MaxResidentKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

TEST_CASE("A regular file is read whole, up to exactly its kind's limit and not a byte beyond") {
  ehg::test::TempDir dir;
  CHECK(ReadCheckedFile(Write(dir / "empty", ""), kSmall) == std::string());
  CHECK(ReadCheckedFile(Write(dir / "full", std::string(16, 'x')), kSmall) == std::string(16, 'x'));
  const auto over = ReadCheckedFile(Write(dir / "over", std::string(17, 'x')), kSmall);
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().code == Errc::kInvalidArgument);
  CHECK(over.error().message == "test file " + (dir / "over").string() +
                                    " is larger than 16 bytes, the limit "
                                    "for a test file");
  // Binary content comes back unchanged.
  const std::string binary("\0\xff\n\r\x1b", 5);
  CHECK(ReadCheckedFile(Write(dir / "binary", binary), kSmall) == binary);
}

TEST_CASE("A missing file, and one without read permission, are told apart") {
  ehg::test::TempDir dir;
  const auto missing = ReadCheckedFile(dir / "missing", kSmall);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::kNotFound);
  CHECK(missing.error().message == "test file " + (dir / "missing").string() + " does not exist");
  CHECK(ReadCheckedFile(dir / "missing" / "below", kSmall).error().code == Errc::kNotFound);
  if (::geteuid() != 0) {  // root reads anything
    const auto locked = ReadCheckedFile(Write(dir / "locked", "x", fs::perms::none), kSmall);
    REQUIRE_FALSE(locked.has_value());
    CHECK(locked.error().code == Errc::kIo);
    CHECK(locked.error().message.find("Permission denied") != std::string::npos);
  }
}

TEST_CASE("What is not a regular file is refused by its kind, without opening it") {
  ehg::test::TempDir dir;
  fs::create_symlink("/dev/zero", dir / "zero-link");
  fs::create_symlink(dir / "zero-link", dir / "link-to-link");
  // A socket cannot be opened at all; it is still named for what it is.
  const fs::path socket_path = dir / "socket";
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  struct Case {
    const char* name;
    fs::path path;
    const char* kind;
  };
  const Case cases[] = {
      {"directory", dir.path(), "a directory"},
      {"/dev/zero", "/dev/zero", "a character device"},
      {"/dev/null", "/dev/null", "a character device"},
      {"/dev/urandom", "/dev/urandom", "a character device"},
      {"symbolic link to /dev/zero", dir / "zero-link", "a character device"},
      {"link to a link to /dev/zero", dir / "link-to-link", "a character device"},
      {"socket", socket_path, "a socket"},
      {"/proc/self/fd (a directory)", "/proc/self/fd", "a directory"},
  };
  for (const Case& item : cases) {
    CAPTURE(item.name);
    const long before = MaxResidentKiB();
    const auto read = ReadCheckedFile(item.path, ehg::core::kConfigFile);
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().code == Errc::kInvalidArgument);
    CHECK(read.error().message == "config file " + item.path.string() + " is " + item.kind +
                                      ", not a file: only a regular file is read");
    CHECK(MaxResidentKiB() - before < 8 * 1024);  // /dev/zero was not read into memory
  }
  ::close(listener);
}

TEST_CASE("A FIFO is refused at once, with or without a writer, and never waited on") {
  ehg::test::TempDir dir;
  const fs::path fifo = dir / "config.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const FileKind* kind : {&ehg::core::kConfigFile, &ehg::core::kTlsKeyFile, &ehg::core::kTokenFile}) {
    CAPTURE(kind->what);
    const auto read = ehg::test::WithinDeadline([fifo, kind] { return ReadCheckedFile(fifo, *kind); }, 5s);
    if (!read) ehg::test::ReleaseFifoReaders(fifo);
    REQUIRE_MESSAGE(read.has_value(), "ReadCheckedFile hung on a FIFO");
    REQUIRE_FALSE(read->has_value());
    CHECK(read->error().message.find("is a FIFO (named pipe), not a file") != std::string::npos);
  }
  // A writer that holds the FIFO open and never writes: still refused at once.
  const int writer = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
  REQUIRE(writer >= 0);
  const auto held = ehg::test::WithinDeadline([fifo] { return ReadCheckedFile(fifo, kSmall); }, 5s);
  ::close(writer);
  REQUIRE(held.has_value());
  CHECK_FALSE(held->has_value());
}

TEST_CASE("A symbolic link to a regular file is followed: configs point at certificates through links") {
  ehg::test::TempDir dir;
  Write(dir / "target.pem", "certificate");
  fs::create_symlink(dir / "target.pem", dir / "link.pem");
  CHECK(ReadCheckedFile(dir / "link.pem", ehg::core::kCertificateFile) == std::string("certificate"));
  // A secret is judged by what the link leads to, not by the link's own (always 0777) mode.
  Write(dir / "key", "secret", fs::perms(0600));
  fs::create_symlink(dir / "key", dir / "key-link");
  CHECK(ReadCheckedFile(dir / "key-link", kSecret) == std::string("secret"));
  fs::permissions(dir / "key", fs::perms(0640));
  CHECK(ReadCheckedFile(dir / "key-link", kSecret).error().code == Errc::kRejected);
}

TEST_CASE("A secret is refused when its group or others have any permission, with the fix") {
  ehg::test::TempDir dir;
  CHECK(ReadCheckedFile(Write(dir / "owner-only", "s", fs::perms(0600)), kSecret).has_value());
  CHECK(ReadCheckedFile(Write(dir / "read-only", "s", fs::perms(0400)), kSecret).has_value());
  for (const int mode : {0640, 0604, 0660, 0644, 0620, 0602, 0610, 0601, 0777}) {
    CAPTURE(mode);
    const fs::path path = Write(dir / ("mode-" + std::to_string(mode)), "s", fs::perms(mode));
    const auto read = ReadCheckedFile(path, kSecret);
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().code == Errc::kRejected);
    CHECK(read.error().message == "test secret " + path.string() +
                                      " may be read by other users; fix it with: chmod 600 " + path.string() +
                                      " (and chown it to the service user)");
  }
  // What is not a secret may be shared.
  CHECK(ReadCheckedFile(Write(dir / "shared", "s", fs::perms(0644)), kSmall).has_value());
}

TEST_CASE("An oversized file is refused by its size without reading it, a growing one while read") {
  ehg::test::TempDir dir;
  const fs::path huge = dir / "huge.json";
  { std::ofstream create(huge); }
  fs::resize_file(huge, std::uintmax_t{2} << 30);  // sparse: 2 GiB without using the disk
  const long before = MaxResidentKiB();
  const auto read = ReadCheckedFile(huge, ehg::core::kConfigFile);
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().message.find("is larger than 4 MiB, the limit for a config file") != std::string::npos);
  CHECK(MaxResidentKiB() - before < 8 * 1024);
  // /proc files say they are empty and are not: read until the end, and the limit still holds.
  const auto status = ReadCheckedFile("/proc/self/status", ehg::core::kConfigFile);
  REQUIRE(status.has_value());
  CHECK(status->find("Name:") == 0);
  const auto over = ReadCheckedFile("/proc/self/status", kSmall);
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().message.find("is larger than 16 bytes") != std::string::npos);
}

TEST_CASE("Every kind has a limit and a name, and secrets are the keys and the token") {
  for (const FileKind* kind :
       {&ehg::core::kConfigFile, &ehg::core::kCaFile, &ehg::core::kCertificateFile, &ehg::core::kTlsKeyFile,
        &ehg::core::kGatewayKeyFile, &ehg::core::kPublicKeyFile, &ehg::core::kPrivateKeyFile,
        &ehg::core::kTokenFile, &ehg::core::kOutcomeFile, &ehg::core::kCaptureFile,
        &ehg::core::kReadingsFile}) {
    CAPTURE(kind->what);
    CHECK_FALSE(kind->what.empty());
    CHECK(kind->max_bytes >= 4096);
    CHECK(kind->max_bytes <= std::uint64_t{16} << 30);
  }
  CHECK(ehg::core::kTlsKeyFile.secret);
  CHECK(ehg::core::kGatewayKeyFile.secret);
  CHECK(ehg::core::kPrivateKeyFile.secret);
  CHECK(ehg::core::kTokenFile.secret);
  CHECK_FALSE(ehg::core::kCaFile.secret);
  CHECK(ehg::core::DescribeBytes(ehg::core::kMaxKeyFileBytes) == "64 KiB");
  CHECK(ehg::core::DescribeBytes(ehg::core::kMaxConfigFileBytes) == "4 MiB");
}

TEST_CASE("A file snapshot is a sealed private copy under a path of its own, replaced in one step") {
  ehg::test::TempDir dir;
  const fs::path source = Write(dir / "ca.pem", "first");
  auto snapshot = FileSnapshot::Take(source, ehg::core::kCaFile);
  REQUIRE(snapshot.has_value());
  const fs::path path = snapshot->path();
  CHECK(path.string().starts_with("/proc/self/fd/"));
  const auto content = [&] { return ReadCheckedFile(path, ehg::core::kCaFile).value_or("<unreadable>"); };
  CHECK(content() == "first");
  // Later changes of the source do not reach the copy, and the copy cannot be written.
  Write(source, "changed");
  CHECK(content() == "first");
  {
    std::ofstream overwrite(path);
    overwrite << "written";
  }
  CHECK(content() == "first");
  // A reload puts new content under the same path.
  auto newer = FileSnapshot::Take(source, ehg::core::kCaFile);
  REQUIRE(newer.has_value());
  REQUIRE(snapshot->ReplaceWith(std::move(*newer)).has_value());
  CHECK(snapshot->path() == path);
  CHECK(content() == "changed");
  // What cannot be read is not copied.
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto from_fifo =
      ehg::test::WithinDeadline([fifo] { return FileSnapshot::Take(fifo, ehg::core::kCaFile); }, 5s);
  if (!from_fifo) ehg::test::ReleaseFifoReaders(fifo);
  REQUIRE(from_fifo.has_value());
  CHECK_FALSE(from_fifo->has_value());
  CHECK_FALSE(FileSnapshot::Take("/dev/zero", ehg::core::kCaFile).has_value());
  CHECK(FileSnapshot::Take(Write(dir / "key", "k", fs::perms(0644)), ehg::core::kTlsKeyFile).error().code ==
        Errc::kRejected);
}

TEST_CASE("A trust anchor is refused when others may write it or replace it in its directory") {
  ehg::test::TempDir dir;
  const FileKind& anchor = ehg::core::kPublicKeyFile;  // the care system's command keys
  CHECK(anchor.trust_anchor);
  CHECK(ehg::core::kConfigFile.trust_anchor);
  CHECK(ehg::core::kCaFile.trust_anchor);
  CHECK(ReadCheckedFile(Write(dir / "shared-readable", "k", fs::perms(0644)), anchor).has_value());
  for (const int mode : {0664, 0646, 0666, 0622}) {
    CAPTURE(mode);
    const fs::path path = Write(dir / ("writable-" + std::to_string(mode)), "k", fs::perms(mode));
    const auto read = ReadCheckedFile(path, anchor);
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().code == Errc::kRejected);
    CHECK(read.error().message.find("may be written by other users; fix it with: chmod go-w") !=
          std::string::npos);
  }
  // A directory anyone may write to lets anyone replace the file: refused unless sticky, like /tmp.
  const fs::path open_dir = dir / "open";
  fs::create_directory(open_dir);
  const fs::path inside = Write(open_dir / "keys.jwks", "k", fs::perms(0644));
  fs::permissions(open_dir, fs::perms(0777));
  const auto refused = ReadCheckedFile(inside, anchor);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("in a directory every user may write to") != std::string::npos);
  fs::permissions(open_dir, fs::perms(01777));
  CHECK(ReadCheckedFile(inside, anchor).has_value());
  // Data that decides nothing may be shared and written by a group.
  CHECK(ReadCheckedFile(Write(dir / "capture", "k", fs::perms(0664)), ehg::core::kCaptureFile).has_value());
}
