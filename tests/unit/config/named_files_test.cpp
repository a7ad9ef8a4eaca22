// Files the config names are checked when it is loaded for use (check-config, start, reload,
// config.apply): a FIFO, a device, a directory, an oversized file or a secret others may read is an
// error naming the key, found at once and without blocking, instead of a hang on the uplink thread.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "gateway/config/config.hpp"
#include "tests/support/deadline.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

void Write(const fs::path& path, const std::string& text, fs::perms mode) {
  std::ofstream(path) << text;
  fs::permissions(path, mode);
}

// A home whose config names only usable files: relative names, resolved against the config's directory.
struct Home {
  ehg::test::TempDir dir;

  Home() {
    for (const char* name : {"ca.pem", "gw.pem", "care.jwk", "commands.jwks", "status.pem"})
      Write(dir / name, "public\n", fs::perms(0644));
    for (const char* name : {"gw.key", "signing.key", "status.key", "token"})
      Write(dir / name, "secret\n", fs::perms(0600));
  }

  fs::path Config() const {
    const fs::path path = dir / "gateway.json";
    std::ofstream(path) << R"({
      "gateway": {"id": "gw-1", "tenant": "0301"},
      "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
      "broker": {"uri": "ssl://broker.example.no:8883"},
      "tls": {"ca_file": "ca.pem", "cert_file": "gw.pem", "key_file": "gw.key"},
      "security": {"gateway_key_file": "signing.key", "recipient_key_file": "care.jwk",
                   "command_keys_file": "commands.jwks"},
      "storage": {"path": "data/gateway.db"},
      "status_page": {"listen": "0.0.0.0:8443", "token_file": "token", "tls_cert_file": "status.pem",
                      "tls_key_file": "status.key"}
    })";
    return path;
  }

  // The errors of CheckNamedFiles by key, within a deadline (a hang fails the test).
  std::map<std::string, std::string> Errors(std::vector<std::string>* missing = nullptr) const {
    auto config = ehg::config::LoadConfig(Config());
    REQUIRE(config.has_value());
    auto errors = ehg::test::WithinDeadline(
        [config = *config] {
          std::vector<std::string> notes;
          auto found = ehg::config::CheckNamedFiles(config, &notes);
          return std::make_pair(found, notes);
        },
        5s);
    REQUIRE_MESSAGE(errors.has_value(), "CheckNamedFiles hung");
    if (missing != nullptr) *missing = errors->second;
    std::map<std::string, std::string> by_key;
    for (const ehg::config::ConfigError& error : errors->first)
      by_key[error.path] = error.message;
    return by_key;
  }

  void Replace(const char* name, const std::function<void(const fs::path&)>& with) const {
    fs::remove(dir / name);
    with(dir / name);
  }
};

}  // namespace

TEST_CASE("A config naming only usable files passes, and every file it names is checked") {
  Home home;
  CHECK(home.Errors().empty());
  auto config = ehg::config::LoadConfig(home.Config());
  REQUIRE(config.has_value());
  std::vector<std::string> keys;
  for (const ehg::config::NamedFile& file : ehg::config::NamedFiles(*config))
    keys.push_back(file.key);
  CHECK(keys == std::vector<std::string>{
                    "tls.ca_file", "tls.cert_file", "tls.key_file", "security.gateway_key_file",
                    "security.recipient_key_file", "security.command_keys_file", "storage.path",
                    "status_page.token_file", "status_page.tls_cert_file", "status_page.tls_key_file"});
}

TEST_CASE(
    "A FIFO, a device, a directory or a link to /dev/zero named in the config is an error naming the key") {
  struct Case {
    const char* file;
    const char* key;
    std::function<void(const fs::path&)> make;
    const char* reason;
  };
  const Case cases[] = {
      {"gw.key", "tls.key_file", [](const fs::path& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); },
       "is a FIFO (named pipe), not a file"},
      {"ca.pem", "tls.ca_file", [](const fs::path& p) { fs::create_symlink("/dev/zero", p); },
       "is a character device, not a file"},
      {"gw.pem", "tls.cert_file", [](const fs::path& p) { fs::create_directory(p); },
       "is a directory, not a file"},
      {"signing.key", "security.gateway_key_file",
       [](const fs::path& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); },
       "is a FIFO (named pipe), not a file"},
      {"care.jwk", "security.recipient_key_file",
       [](const fs::path& p) { fs::create_symlink("/dev/urandom", p); }, "is a character device, not a file"},
      {"commands.jwks", "security.command_keys_file",
       [](const fs::path& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); },
       "is a FIFO (named pipe), not a file"},
      {"token", "status_page.token_file", [](const fs::path& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); },
       "is a FIFO (named pipe), not a file"},
      {"status.key", "status_page.tls_key_file",
       [](const fs::path& p) { fs::create_symlink("/dev/zero", p); }, "is a character device, not a file"},
  };
  for (const Case& item : cases) {
    CAPTURE(item.key);
    Home home;
    home.Replace(item.file, item.make);
    const auto errors = home.Errors();
    CHECK(errors.size() == 1);
    REQUIRE(errors.count(item.key) == 1);
    CHECK(errors.at(item.key).find(item.reason) != std::string::npos);
    CHECK(errors.at(item.key).find((home.dir / item.file).string()) != std::string::npos);
  }
  // The database: SQLite would block opening a FIFO in its place.
  Home home;
  fs::create_directories(home.dir / "data");
  REQUIRE(::mkfifo((home.dir / "data/gateway.db").c_str(), 0600) == 0);
  CHECK(home.Errors().at("storage.path").find("is a FIFO") != std::string::npos);
}

TEST_CASE("An oversized key or certificate is an error with the limit") {
  Home home;
  fs::resize_file(home.dir / "ca.pem", 2 * 1024 * 1024);  // sparse
  fs::resize_file(home.dir / "gw.key", 65 * 1024);
  const auto errors = home.Errors();
  CHECK(errors.at("tls.ca_file").find("is larger than 1 MiB, the limit for a CA certificate file") !=
        std::string::npos);
  CHECK(errors.at("tls.key_file").find("is larger than 64 KiB, the limit for a TLS private key") !=
        std::string::npos);
}

TEST_CASE("A TLS key or the token that other users may read is an error with the chmod that fixes it") {
  Home home;
  fs::permissions(home.dir / "gw.key", fs::perms(0640));
  fs::permissions(home.dir / "token", fs::perms(0644));
  fs::permissions(home.dir / "status.key", fs::perms(0604));
  fs::permissions(home.dir / "signing.key", fs::perms(0660));
  const auto errors = home.Errors();
  CHECK(errors.size() == 4);
  for (const auto& [key, file] :
       std::map<std::string, std::string>{{"tls.key_file", "gw.key"},
                                          {"status_page.token_file", "token"},
                                          {"status_page.tls_key_file", "status.key"},
                                          {"security.gateway_key_file", "signing.key"}}) {
    const auto& config_key = key;  // clang 14 cannot capture a structured binding
    CAPTURE(config_key);
    REQUIRE(errors.count(key) == 1);
    CHECK(errors.at(key).find("may be read by other users; fix it with: chmod 600 " +
                              (home.dir / file).string()) != std::string::npos);
  }
  // Public files may be shared.
  fs::permissions(home.dir / "ca.pem", fs::perms(0644));
  fs::permissions(home.dir / "care.jwk", fs::perms(0644));
  CHECK(home.Errors().count("tls.ca_file") == 0);
}

TEST_CASE("A named file that does not exist yet is a note, not an error") {
  Home home;
  fs::remove(home.dir / "gw.pem");
  std::vector<std::string> missing;
  CHECK(home.Errors(&missing).empty());
  REQUIRE(missing.size() == 2);  // the certificate, and the database made at first start
  CHECK(missing[0] ==
        "tls.cert_file: certificate file " + (home.dir / "gw.pem").string() + " does not exist");
  CHECK(missing[1].starts_with("storage.path: database "));
}

TEST_CASE("The development flags leave the files they make unused unchecked, a disabled page its files") {
  ehg::test::TempDir dir;
  std::ofstream(dir / "gateway.json") << R"({
    "gateway": {"id": "gw-1", "tenant": "0301"},
    "resident": {"pseudonym": "r-0001", "time_zone": "Europe/Oslo"},
    "broker": {"uri": "tcp://localhost:1883", "insecure_plaintext_for_development": true},
    "tls": {"ca_file": "/dev/zero", "cert_file": "/dev/zero", "key_file": "/dev/zero"},
    "security": {"insecure_plaintext_payloads_for_development": true},
    "storage": {"path": "gateway.db"},
    "status_page": {"enabled": false, "token_file": "/dev/zero"}
  })";
  auto config = ehg::config::LoadConfig(dir / "gateway.json");
  REQUIRE(config.has_value());
  CHECK(ehg::config::CheckNamedFiles(*config).empty());
}

TEST_CASE(
    "The config file itself: a FIFO, /dev/zero, a directory or a link to /dev/zero is refused at once") {
  ehg::test::TempDir dir;
  const fs::path fifo = dir / "gateway.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  fs::create_symlink("/dev/zero", dir / "zero.json");
  fs::create_directory(dir / "directory.json");
  for (const fs::path& path : {fifo, fs::path("/dev/zero"), dir / "zero.json", dir / "directory.json"}) {
    CAPTURE(path);
    const auto loaded = ehg::test::WithinDeadline([path] { return ehg::config::LoadConfig(path); }, 5s);
    if (!loaded) ehg::test::ReleaseFifoReaders(fifo);
    REQUIRE_MESSAGE(loaded.has_value(), "LoadConfig hung");
    REQUIRE_FALSE(loaded->has_value());
    CHECK(loaded->error()[0].message.find(", not a file: only a regular file is read") != std::string::npos);
  }
  const fs::path huge = dir / "huge.json";
  { std::ofstream create(huge); }
  fs::resize_file(huge, 5 * 1024 * 1024);
  const auto loaded = ehg::config::LoadConfig(huge);
  REQUIRE_FALSE(loaded.has_value());
  CHECK(loaded.error()[0].message.find("is larger than 4 MiB, the limit for a config file") !=
        std::string::npos);
}
