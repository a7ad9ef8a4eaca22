// Files named in a config or on a command line, against the real binary: a FIFO, /dev/zero, a directory,
// a link to /dev/zero, an oversized file or a secret others may read is refused at once with a clear
// message and the documented exit code (66 for a command line tool's input, 78 for the daemon's config),
// never a hang, a bad_alloc or a silent success. Every run has a timeout: a hang fails the test.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "tests/integration/daemon_support.hpp"
#include "tests/support/deadline.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::test::CommandResult;
using ehg::test::Process;
using ehg::test::RunCommand;
using ehg::test::TempDir;

namespace {

// Long enough for a loaded CI machine, far shorter than a hang.
constexpr auto kTimeout = 20s;

fs::path Fifo(const fs::path& path) {
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  return path;
}

fs::path Sparse(const fs::path& path, std::uintmax_t bytes) {
  { std::ofstream create(path); }
  fs::resize_file(path, bytes);
  return path;
}

fs::path Write(const fs::path& path, const std::string& text, fs::perms mode = fs::perms(0600)) {
  std::ofstream(path) << text;
  fs::permissions(path, mode);
  return path;
}

// The hostile inputs every command line tool is given in place of its input file.
struct Hostile {
  const char* name;
  fs::path path;
  const char* reason;
};

std::vector<Hostile> HostileInputs(const TempDir& dir, std::uintmax_t oversized_bytes) {
  fs::create_symlink("/dev/zero", dir / "zero-link");
  fs::create_directory(dir / "a-directory");
  return {
      {"FIFO", Fifo(dir / "a-fifo"), "is a FIFO (named pipe), not a file"},
      {"/dev/zero", "/dev/zero", "is a character device, not a file"},
      {"directory", dir / "a-directory", "is a directory, not a file"},
      {"symbolic link to /dev/zero", dir / "zero-link", "is a character device, not a file"},
      {"oversized file", Sparse(dir / "oversized", oversized_bytes), "is larger than"},
  };
}

void CheckRefused(const CommandResult& result, const Hostile& input, int code) {
  INFO(result.output);
  CHECK(result.exit_code == code);
  CHECK(result.output.find(input.path.string()) != std::string::npos);
  CHECK(result.output.find(input.reason) != std::string::npos);
  CHECK(result.output.find("bad_alloc") == std::string::npos);
}

}  // namespace

TEST_CASE("check-config refuses a config path that is not a readable regular file with exit 66") {
  TempDir dir;
  for (const Hostile& input : HostileInputs(dir, 5 * 1024 * 1024)) {
    CAPTURE(input.name);
    CheckRefused(RunCommand({EHG_GATEWAY_BINARY, "check-config", input.path.string()}, kTimeout), input, 66);
  }
  const auto missing =
      RunCommand({EHG_GATEWAY_BINARY, "check-config", (dir / "missing.json").string()}, kTimeout);
  CHECK(missing.exit_code == 66);
  CHECK(missing.output.find("does not exist") != std::string::npos);
}

TEST_CASE("check-config names the key and the reason for each unusable file the config names") {
  TempDir dir;
  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  ehg::test::DaemonConfigOptions options;
  options.ca_file = Fifo(dir / "ca.fifo").string();
  fs::create_symlink("/dev/zero", dir / "gw.pem");
  options.cert_file = (dir / "gw.pem").string();
  fs::copy_file(pki.File("gateway.key"), dir / "gw.key");
  fs::permissions(dir / "gw.key", fs::perms(0640));
  options.key_file = (dir / "gw.key").string();
  Write(dir / "token", std::string(64, 'a') + "\n", fs::perms(0644));
  options.status_page_json = R"({"listen": "127.0.0.1:1", "token_file": "token"})";
  const fs::path config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const auto result = RunCommand({EHG_GATEWAY_BINARY, "check-config", config.string()}, kTimeout);
  INFO(result.output);
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("tls.ca_file: CA certificate file " + options.ca_file +
                           " is a FIFO (named pipe), not a file") != std::string::npos);
  CHECK(result.output.find("tls.cert_file: certificate file " + options.cert_file +
                           " is a character device, not a file") != std::string::npos);
  CHECK(result.output.find("tls.key_file: TLS private key " + options.key_file +
                           " may be read by other users; fix it with: chmod 600 " + options.key_file) !=
        std::string::npos);
  CHECK(result.output.find("status_page.token_file: token file " + (dir / "token").string() +
                           " may be read by other users") != std::string::npos);
  CHECK(result.output.find("4 errors") != std::string::npos);
  // A file that is not there yet is only a note.
  fs::remove(dir / "token");
  fs::remove(dir / "ca.fifo");
  fs::remove(dir / "gw.pem");
  fs::permissions(dir / "gw.key", fs::perms(0600));
  const auto notes = RunCommand({EHG_GATEWAY_BINARY, "check-config", config.string()}, kTimeout);
  INFO(notes.output);
  CHECK(notes.exit_code == 0);
  CHECK(notes.output.starts_with("OK: "));
  CHECK(notes.output.find("note: tls.ca_file: CA certificate file " + options.ca_file + " does not exist") !=
        std::string::npos);
}

TEST_CASE("The daemon refuses to start with exit 78 when its config names a FIFO, a device or a loose key") {
  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  struct Case {
    const char* name;
    std::function<void(const TempDir&, ehg::test::DaemonConfigOptions&)> make;
    const char* expected;
  };
  const std::vector<Case> cases{
      {"TLS key is a FIFO",
       [](const TempDir& dir, auto& options) { options.key_file = Fifo(dir / "gw.key").string(); },
       "tls.key_file: TLS private key"},
      {"CA file is a link to /dev/zero",
       [](const TempDir& dir, auto& options) {
         fs::create_symlink("/dev/zero", dir / "ca.pem");
         options.ca_file = (dir / "ca.pem").string();
       },
       "tls.ca_file: CA certificate file"},
      {"TLS key group-readable",
       [&](const TempDir& dir, auto& options) {
         fs::copy_file(pki.File("gateway.key"), dir / "gw.key");
         fs::permissions(dir / "gw.key", fs::perms(0640));
         options.key_file = (dir / "gw.key").string();
       },
       "may be read by other users; fix it with: chmod 600"},
      {"status page token world-readable",
       [](const TempDir& dir, auto& options) {
         Write(dir / "token", std::string(64, 'a') + "\n", fs::perms(0604));
         options.status_page_json = R"({"listen": "127.0.0.1:1", "token_file": "token"})";
       },
       "status_page.token_file: token file"},
      {"oversized certificate",
       [](const TempDir& dir, auto& options) {
         options.cert_file = Sparse(dir / "gw.pem", 3 * 1024 * 1024).string();
       },
       "is larger than 1 MiB, the limit for a certificate file"},
      {"database is a FIFO",
       [](const TempDir& dir, auto&) {
         fs::create_directories(dir / "data");
         Fifo(dir / "data" / "gateway.db");
       },
       "storage.path: database"},
  };
  for (const Case& item : cases) {
    CAPTURE(item.name);
    TempDir dir;
    ehg::test::DaemonConfigOptions options;
    item.make(dir, options);
    const fs::path config = ehg::test::WriteDaemonConfig(dir.path(), options);
    const auto result = RunCommand(ehg::test::DaemonCommand(config), kTimeout);
    INFO(result.output);
    CHECK(result.exit_code == 78);
    CHECK(result.output.find("msg=\"config invalid\"") != std::string::npos);
    CHECK(result.output.find(item.expected) != std::string::npos);
  }
  // The config file itself.
  TempDir dir;
  for (const Hostile& input : HostileInputs(dir, 5 * 1024 * 1024)) {
    CAPTURE(input.name);
    const auto result = RunCommand({EHG_GATEWAY_BINARY, "run", "--config", input.path.string()}, kTimeout);
    INFO(result.output);
    CHECK(result.exit_code == 78);
    CHECK(result.output.find(input.reason) != std::string::npos);
  }
}

TEST_CASE("A reload or a config naming a FIFO is refused and the running config kept") {
  TempDir dir;
  const fs::path config = ehg::test::WriteDaemonConfig(dir.path());
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 15s));
  ehg::test::DaemonConfigOptions options;
  options.status_page_json = R"({"listen": "127.0.0.1:1", "token_file": "token.fifo"})";
  Fifo(dir / "token.fifo");
  ehg::test::WriteDaemonConfig(dir.path(), options);
  daemon.Signal(SIGHUP);
  CHECK(daemon.WaitForOutput("reload refused, keeping the running config", 10s));
  CHECK(daemon.WaitForOutput("status_page.token_file: token file", 1s));
  // The main thread still answers.
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}

TEST_CASE("An update outcome that is a FIFO never blocks the main loop: logged once, SIGTERM still works") {
  TempDir dir;
  const fs::path config = ehg::test::WriteDaemonConfig(dir.path());
  Process daemon = ehg::test::StartDaemon(config);
  REQUIRE(daemon.WaitForOutput("gateway running", 15s));
  Fifo(dir / "data" / "update-result.json");
  REQUIRE(daemon.WaitForOutput("msg=\"update outcome unreadable\"", 10s));
  std::this_thread::sleep_for(2500ms);  // two more turns of the main loop
  std::size_t logged = 0;
  for (const std::string& line : daemon.Lines())
    if (line.find("update outcome unreadable") != std::string::npos) ++logged;
  CHECK(logged == 1);
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}

TEST_CASE("decode --file refuses what is not a readable regular file with exit 66") {
  TempDir dir;
  for (const Hostile& input : HostileInputs(dir, 65 * 1024 * 1024)) {
    CAPTURE(input.name);
    CheckRefused(
        RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "ascii", "--file", input.path.string()},
                   kTimeout),
        input, 66);
  }
}

TEST_CASE("replay refuses a readings or config path that is not a readable regular file with exit 66") {
  TempDir dir;
  const std::string config = std::string(EHG_SOURCE_DIR) + "/examples/copd-resident.json";
  for (const Hostile& input : HostileInputs(dir, 17ull * 1024 * 1024 * 1024)) {
    CAPTURE(input.name);
    CheckRefused(
        RunCommand({EHG_GATEWAY_BINARY, "replay", "--config", config, "--readings", input.path.string()},
                   kTimeout),
        input, 66);
  }
  TempDir other;
  for (const Hostile& input : HostileInputs(other, 5 * 1024 * 1024)) {
    CAPTURE(input.name);
    const std::string readings = std::string(EHG_FIXTURES_DIR) + "/replay/copd-week.jsonl";
    CheckRefused(
        RunCommand({EHG_GATEWAY_BINARY, "replay", "--config", input.path.string(), "--readings", readings},
                   kTimeout),
        input, 66);
  }
}

TEST_CASE(
    "public-key, store-info and scan refuse an input that is not a readable regular file with exit 66") {
  TempDir dir;
  for (const Hostile& input : HostileInputs(dir, 5 * 1024 * 1024)) {
    CAPTURE(input.name);
    CheckRefused(RunCommand({EHG_GATEWAY_BINARY, "public-key", "--key", input.path.string()}, kTimeout),
                 input, 66);
    CheckRefused(RunCommand({EHG_GATEWAY_BINARY, "store-info", "--config", input.path.string()}, kTimeout),
                 input, 66);
    CheckRefused(
        RunCommand({EHG_GATEWAY_BINARY, "scan", "--config", input.path.string(), "--seconds", "1"}, kTimeout),
        input, 66);
  }
}

TEST_CASE("status never hangs on a FIFO: config, token or certificate, each is 'unknown' with the reason") {
  TempDir dir;
  for (const Hostile& input : HostileInputs(dir, 5 * 1024 * 1024)) {
    CAPTURE(input.name);
    const auto result = RunCommand({EHG_GATEWAY_BINARY, "status", "--config", input.path.string()}, kTimeout);
    INFO(result.output);
    CHECK(result.exit_code == 3);  // the monitoring plugins' "unknown" (docs/status-page.md)
    CHECK(result.output.find(input.reason) != std::string::npos);
  }
  ehg::test::DaemonConfigOptions options;
  options.status_page_json =
      R"({"listen": "127.0.0.1:1", "token_file": "token.fifo", "tls_cert_file": "cert.fifo", "tls_key_file": "k"})";
  Fifo(dir / "token.fifo");
  Fifo(dir / "cert.fifo");
  const fs::path config = ehg::test::WriteDaemonConfig(dir.path(), options);
  const auto result = RunCommand({EHG_GATEWAY_BINARY, "status", "--config", config.string()}, kTimeout);
  INFO(result.output);
  CHECK(result.exit_code == 3);
  CHECK(result.output.find("is a FIFO (named pipe), not a file") != std::string::npos);
}

TEST_CASE("receive refuses TLS and key files that are not regular files (66) or readable by others (78)") {
  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  TempDir dir;
  const auto receive = [&](const fs::path& ca, const fs::path& key, const fs::path& decryption) {
    return RunCommand(
        {EHG_CARE_BINARY, "receive", "--broker", "ssl://127.0.0.1:1", "--cafile", ca.string(), "--cert",
         pki.File("receiver.crt").string(), "--key", key.string(), "--client-id", "r", "--decryption-key",
         decryption.string(), "--gateway-keys", decryption.string()},
        kTimeout);
  };
  const auto keygen = RunCommand({EHG_GATEWAY_BINARY, "keygen", "--out", (dir / "care.key").string()});
  REQUIRE(keygen.exit_code == 0);
  for (const Hostile& input : HostileInputs(dir, 5 * 1024 * 1024)) {
    CAPTURE(input.name);
    CheckRefused(receive(input.path, pki.File("receiver.key"), dir / "care.key"), input, 66);
    CheckRefused(receive(pki.File("ca.crt"), pki.File("receiver.key"), input.path), input, 66);
  }
  fs::copy_file(pki.File("receiver.key"), dir / "receiver.key");
  fs::permissions(dir / "receiver.key", fs::perms(0644));
  const auto loose_tls_key = receive(pki.File("ca.crt"), dir / "receiver.key", dir / "care.key");
  INFO(loose_tls_key.output);
  CHECK(loose_tls_key.exit_code == 78);
  CHECK(loose_tls_key.output.find("chmod 600 " + (dir / "receiver.key").string()) != std::string::npos);
  fs::permissions(dir / "care.key", fs::perms(0640));
  const auto loose_private_key = receive(pki.File("ca.crt"), pki.File("receiver.key"), dir / "care.key");
  INFO(loose_private_key.output);
  CHECK(loose_private_key.exit_code == 78);
  CHECK(loose_private_key.output.find("private key " + (dir / "care.key").string() +
                                      " may be read by other users") != std::string::npos);
}

TEST_CASE("The uplink connects with the copies it read at start even after its TLS files became FIFOs") {
  ehg::test::TestBroker broker({"broker", false});
  broker.Start();
  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  TempDir dir;
  for (const char* name : {"ca.crt", "gateway.crt", "gateway.key"})
    fs::copy_file(pki.File(name), dir / name);
  ehg::test::DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.ca_file = (dir / "ca.crt").string();
  options.cert_file = (dir / "gateway.crt").string();
  options.key_file = (dir / "gateway.key").string();
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(daemon.WaitForOutput("msg=\"broker connected\"", 15s));
  // Someone replaces the files with FIFOs; the broker restarts, and the gateway must connect again.
  for (const char* name : {"ca.crt", "gateway.crt", "gateway.key"}) {
    fs::remove(dir / name);
    Fifo(dir / name);
  }
  broker.Stop();
  broker.Start();
  const auto connects = [&] {
    std::size_t count = 0;
    for (const std::string& line : daemon.Lines())
      if (line.find("msg=\"broker connected\"") != std::string::npos) ++count;
    return count;
  };
  CHECK(ehg::test::WaitUntil([&] { return connects() >= 2; }, 30s));
  // A reload reads them again: FIFOs are refused and the copies kept.
  daemon.Signal(SIGHUP);
  CHECK(daemon.WaitForOutput("reload refused, keeping the running config", 10s));
  daemon.Signal(SIGTERM);
  const auto code = daemon.Wait(15s);
  for (const char* name : {"ca.crt", "gateway.crt", "gateway.key"})
    ehg::test::ReleaseFifoReaders(dir / name);
  CHECK(code == 0);
}

TEST_CASE("A renewed client certificate is read on reload and used from the next connection") {
  ehg::test::TestBroker broker({"broker", false});
  broker.Start();
  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  TempDir dir;
  fs::copy_file(pki.File("ca.crt"), dir / "ca.crt");
  // At first a certificate the broker does not trust.
  fs::copy_file(pki.File("gateway-other-ca.crt"), dir / "gateway.crt");
  fs::copy_file(pki.File("gateway-other-ca.key"), dir / "gateway.key");
  ehg::test::DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.ca_file = (dir / "ca.crt").string();
  options.cert_file = (dir / "gateway.crt").string();
  options.key_file = (dir / "gateway.key").string();
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(daemon.WaitForOutput("msg=\"broker connection failed\"", 15s));
  // The installer puts the right certificate and key in place and reloads.
  fs::copy_file(pki.File("gateway.crt"), dir / "gateway.crt", fs::copy_options::overwrite_existing);
  fs::copy_file(pki.File("gateway.key"), dir / "gateway.key", fs::copy_options::overwrite_existing);
  daemon.Signal(SIGHUP);
  CHECK(daemon.WaitForOutput("msg=\"broker TLS files read again; the next connection uses them\"", 10s));
  CHECK(daemon.WaitForOutput("msg=\"broker connected\"", 20s));
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(15s) == 0);
}

TEST_CASE("A client certificate renewed in place is read again without a reload and used to connect") {
  ehg::test::TestBroker broker({"broker", false});
  broker.Start();
  const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
  TempDir dir;
  fs::copy_file(pki.File("ca.crt"), dir / "ca.crt");
  fs::copy_file(pki.File("gateway-other-ca.crt"), dir / "gateway.crt");
  fs::copy_file(pki.File("gateway-other-ca.key"), dir / "gateway.key");
  ehg::test::DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  options.ca_file = (dir / "ca.crt").string();
  options.cert_file = (dir / "gateway.crt").string();
  options.key_file = (dir / "gateway.key").string();
  Process daemon = ehg::test::StartDaemon(ehg::test::WriteDaemonConfig(dir.path(), options));
  REQUIRE(daemon.WaitForOutput("msg=\"broker connection failed\"", 15s));
  // A renewal job writes new files and tells nobody (as before the copies, when paho read by name).
  fs::copy_file(pki.File("gateway.crt"), dir / "gateway.crt.new");
  fs::copy_file(pki.File("gateway.key"), dir / "gateway.key.new");
  fs::rename(dir / "gateway.crt.new", dir / "gateway.crt");
  fs::rename(dir / "gateway.key.new", dir / "gateway.key");
  CHECK(daemon.WaitForOutput("msg=\"broker TLS files read again; the next connection uses them\"", 45s));
  CHECK(daemon.WaitForOutput("msg=\"broker connected\"", 90s));
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(15s) == 0);
}
