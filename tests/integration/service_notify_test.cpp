// The daemon under systemd's notify protocol, with the test playing systemd: NOTIFY_SOCKET points at a
// datagram socket the test owns, WATCHDOG_USEC asks for pings.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "tests/integration/daemon_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ehg::test::Process;
using ehg::test::WaitUntil;

namespace {

// What systemd would receive, one datagram per entry.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof address.sun_path);
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    REQUIRE(bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    timeval timeout{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    reader_ = std::thread([this] {
      char buffer[4096];
      while (!stop_) {
        const ssize_t got = recv(fd_, buffer, sizeof buffer, 0);
        if (got <= 0) continue;
        std::lock_guard lock(mutex_);
        messages_.emplace_back(buffer, static_cast<std::size_t>(got));
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    close(fd_);
  }
  std::vector<std::string> Messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::size_t CountContaining(const std::string& text) const {
    std::size_t count = 0;
    for (const std::string& message : Messages())
      if (message.find(text) != std::string::npos) ++count;
    return count;
  }
  // The index of the first message containing `text`, or -1.
  long IndexOf(const std::string& text, std::size_t from = 0) const {
    const auto messages = Messages();
    for (std::size_t i = from; i < messages.size(); ++i) {
      if (messages[i].find(text) != std::string::npos) return static_cast<long>(i);
    }
    return -1;
  }
  std::vector<std::string> Environment(std::chrono::microseconds watchdog) const {
    return {"NOTIFY_SOCKET=" + path_.string(), "WATCHDOG_USEC=" + std::to_string(watchdog.count())};
  }

 private:
  fs::path path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
  std::thread reader_;
};

Process StartNotifying(const fs::path& config, const NotifySocket& notify) {
  return Process::Start(ehg::test::DaemonCommand(config), notify.Environment(1s));
}

}  // namespace

TEST_CASE("Under systemd: READY once running, watchdog pings while running, RELOADING on SIGHUP, STOPPING") {
  ehg::test::TempDir dir;
  NotifySocket notify(dir.path() / "notify");
  Process daemon = StartNotifying(ehg::test::WriteDaemonConfig(dir.path()), notify);
  REQUIRE(WaitUntil([&] { return notify.CountContaining("READY=1") == 1; }, 20s));
  CHECK(daemon.WaitForOutput("gateway running", 1s));
  // Nothing before READY: the first message is the READY with the status line.
  const auto first = notify.Messages().front();
  CHECK(first.starts_with("READY=1\nSTATUS=uplink "));
  CHECK(first.find(" devices, ") != std::string::npos);

  // WATCHDOG_USEC=1 s: pings at least every 250 ms.
  const std::size_t pings_before = notify.CountContaining("WATCHDOG=1");
  std::this_thread::sleep_for(2s);
  CHECK(notify.CountContaining("WATCHDOG=1") >= pings_before + 4);

  daemon.Signal(SIGHUP);
  REQUIRE(WaitUntil([&] { return notify.CountContaining("READY=1") == 2; }, 10s));
  const long reloading = notify.IndexOf("RELOADING=1");
  REQUIRE(reloading >= 0);
  CHECK(notify.IndexOf("READY=1", static_cast<std::size_t>(reloading)) > reloading);

  daemon.Signal(SIGTERM);
  REQUIRE(daemon.Wait(10s) == 0);
  CHECK(notify.CountContaining("STOPPING=1") == 1);
  // STOPPING comes after the last ping: systemd never sees a ping from a gateway on its way out.
  CHECK(notify.Messages().back().find("STOPPING=1") != std::string::npos);
}

TEST_CASE("Under systemd: a gateway that cannot start never says READY") {
  ehg::test::TempDir dir;
  const auto config = ehg::test::WriteDaemonConfig(dir.path());
  fs::create_directories(dir.path() / "data");
  fs::copy_file(fs::path(EHG_FIXTURES_DIR) / "store" / "schema-future.db",
                dir.path() / "data" / "gateway.db");
  NotifySocket notify(dir.path() / "notify");
  Process daemon = StartNotifying(config, notify);
  CHECK(daemon.Wait(20s) == 78);
  std::this_thread::sleep_for(200ms);
  CHECK(notify.CountContaining("READY=1") == 0);
  CHECK(notify.CountContaining("WATCHDOG=1") == 0);
}

TEST_CASE("Under systemd: the status line follows the uplink, for systemctl status and the update helper") {
  ehg::test::TestBroker broker;
  broker.Start();
  const ehg::test::DaemonConfigOptions options = ehg::test::ConnectedTo(broker);
  ehg::test::TempDir dir;
  NotifySocket notify(dir.path() / "notify");
  Process daemon = StartNotifying(ehg::test::WriteDaemonConfig(dir.path(), options), notify);
  REQUIRE(WaitUntil([&] { return notify.CountContaining("STATUS=uplink connected") >= 1; }, 20s));
  const std::size_t while_connected = notify.Messages().size();
  broker.Stop();
  REQUIRE(WaitUntil([&] { return notify.IndexOf("STATUS=uplink disconnected", while_connected) >= 0; }, 20s));
  // The pings go on while the broker is away: the gateway itself is healthy.
  const std::size_t pings = notify.CountContaining("WATCHDOG=1");
  std::this_thread::sleep_for(1s);
  CHECK(notify.CountContaining("WATCHDOG=1") > pings);
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(10s) == 0);
}
