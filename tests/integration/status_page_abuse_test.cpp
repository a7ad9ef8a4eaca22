// The status page under attack from the network it listens on (issue 21): slow connections and slow
// TLS handshakes, wrong tokens from many addresses, oversized heads and bodies, and TLS 1.2 suites the
// page must not take. Every case runs the real daemon and talks to it over raw sockets from chosen
// loopback source addresses (all of 127.0.0.0/8 reaches lo on Linux), so one test process can be many
// clients.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "tests/integration/daemon_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kToken = "3f9c2b7e51d04a8c9e6f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

// A TCP connection to 127.0.0.1:port from `source`; blocking, with send and receive timeouts.
class RawSocket {
 public:
  RawSocket(int port, const std::string& source, std::chrono::milliseconds timeout = 5s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    limit.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot bind to " + source);
    }
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot connect from " + source);
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(RawSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RawSocket& operator=(RawSocket&&) = delete;
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  int fd() const { return fd_; }

  bool Send(std::string_view bytes) const {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // Everything until the server closes (or the receive timeout).
  std::string ReceiveAll() const {
    std::string received;
    char buffer[16384];
    for (;;) {
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      received.append(buffer, static_cast<std::size_t>(got));
    }
    return received;
  }

  // True when the server closed the connection (end of file or reset) within `timeout`.
  bool ClosedWithin(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    while (Clock::now() < deadline) {
      pollfd entry{};
      entry.fd = fd_;
      entry.events = POLLIN;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&entry, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 1))) <= 0) continue;
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
};

int HttpStatus(const std::string& response) {
  static const std::regex status_line(R"(^HTTP/1\.[01] (\d{3}) )");
  std::smatch match;
  if (!std::regex_search(response, match, status_line)) return 0;
  return std::stoi(match[1]);
}

std::string Request(const std::string& path, const std::string& authorization = {}) {
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
  return request + "\r\n";
}

// One plain HTTP exchange from `source`.
std::string PlainExchange(int port, const std::string& source, const std::string& request) {
  RawSocket socket(port, source);
  socket.Send(request);
  return socket.ReceiveAll();
}

struct TlsOffer {
  std::string tls12_ciphers;  // empty: OpenSSL's defaults
  int max_version = 0;        // 0: the highest the library knows
};

// A TLS client on a RawSocket (OpenSSL, no certificate check: these tests are about what the server
// accepts, the existing page test checks the certificate). Security level 0, so the client really
// offers the old suites it is told to.
class TlsClient {
 public:
  TlsClient(int port, const std::string& source, const TlsOffer& offer = {}) : socket_(port, source) {
    context_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(context_, 0);
    SSL_CTX_set_min_proto_version(context_, TLS1_VERSION);
    if (offer.max_version != 0) SSL_CTX_set_max_proto_version(context_, offer.max_version);
    if (!offer.tls12_ciphers.empty() && SSL_CTX_set_cipher_list(context_, offer.tls12_ciphers.c_str()) != 1)
      throw std::runtime_error("this OpenSSL cannot offer " + offer.tls12_ciphers);
    ssl_ = SSL_new(context_);
    SSL_set_fd(ssl_, socket_.fd());
    static char server_name[] = "localhost";  // SSL_set_tlsext_host_name is a macro with a C cast
    SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, server_name);
    ERR_clear_error();
    connected_ = SSL_connect(ssl_) == 1;
    if (connected_) {
      cipher_ = SSL_get_cipher_name(ssl_);
      version_ = SSL_get_version(ssl_);
    }
    ERR_clear_error();
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(context_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool connected() const { return connected_; }
  const std::string& cipher() const { return cipher_; }
  const std::string& version() const { return version_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const int sent = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  std::string ReceiveAll() {
    std::string received;
    char buffer[16384];
    for (;;) {
      const int got = SSL_read(ssl_, buffer, sizeof buffer);
      if (got <= 0) break;
      received.append(buffer, static_cast<std::size_t>(got));
    }
    ERR_clear_error();
    return received;
  }

 private:
  RawSocket socket_;
  SSL_CTX* context_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
  std::string cipher_;
  std::string version_;
};

std::string TlsExchange(int port, const std::string& source, const std::string& request) {
  TlsClient client(port, source);
  if (!client.connected()) return {};
  client.Send(request);
  return client.ReceiveAll();
}

fs::path WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0600);
  return path;
}

// A daemon whose page listens on loopback (plain HTTP, no token) or on 0.0.0.0 (TLS and the token).
struct Page {
  explicit Page(bool beyond_loopback, fs::path cert = {}, fs::path key = {}) {
    // FreePort's port is free when asked, but these tests open hundreds of client sockets (here and in
    // the tests running beside) whose ephemeral ports come from the same range: when one takes the
    // port before the daemon binds it, start again on another.
    for (int attempt = 1;; ++attempt) {
      port = ehg::test::FreePort();
      ehg::test::DaemonConfigOptions options;
      if (beyond_loopback) {
        const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
        if (cert.empty()) cert = pki.File("broker.crt");
        if (key.empty()) key = pki.File("broker.key");
        const fs::path token_file = WriteFile(dir / "status-token", std::string(kToken) + "\n");
        options.status_page_json =
            R"({"listen": "0.0.0.0:)" + std::to_string(port) + R"(", "token_file": ")" + token_file.string() +
            R"(", "tls_cert_file": ")" + cert.string() + R"(", "tls_key_file": ")" + key.string() + R"("})";
      } else {
        options.status_page_json = R"({"listen": "127.0.0.1:)" + std::to_string(port) + R"("})";
      }
      config = ehg::test::WriteDaemonConfig(dir.path(), options);
      daemon.emplace(ehg::test::StartDaemon(config));
      REQUIRE(ehg::test::WaitUntil(
          [&] {
            return daemon->WaitForOutput("status page listening", 0ms) ||
                   daemon->WaitForOutput("status page not started", 0ms);
          },
          15s));
      if (daemon->WaitForOutput("status page listening", 0ms)) return;
      INFO(daemon->Output());
      REQUIRE(attempt < 3);
      REQUIRE(daemon->Output().find("in use") != std::string::npos);
      daemon.reset();
    }
  }

  std::string Get(const std::string& path, const std::string& source = "127.0.0.1", bool tls = false,
                  const std::string& authorization = {}) const {
    return tls ? TlsExchange(port, source, Request(path, authorization))
               : PlainExchange(port, source, Request(path, authorization));
  }

  std::size_t LinesWith(const std::string& text) const {
    std::size_t count = 0;
    for (const std::string& line : daemon->Lines())
      count += line.find(text) != std::string::npos ? 1U : 0U;
    return count;
  }

  ehg::test::TempDir dir;
  int port = 0;
  fs::path config;
  std::optional<ehg::test::Process> daemon;
};

// The value of one sample in a /metrics text, or -1.
double Sample(const std::string& metrics, const std::string& series) {
  const std::size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

// Connections that hold the page without finishing a request: half send nothing, half send the start of
// a request and then one byte a second, for as long as they live.
class SlowCrowd {
 public:
  void Silent(int port, const std::string& source) { silent_.emplace_back(port, source); }
  void Dripping(int port, const std::string& source, std::string_view start) {
    dripping_.emplace_back(port, source);
    dripping_.back().Send(start);
  }
  void StartDripping() {
    dripper_ = std::thread([this] {
      while (!stop_) {
        for (const RawSocket& socket : dripping_)
          (void)::send(socket.fd(), "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        for (int i = 0; i < 10 && !stop_; ++i)
          std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~SlowCrowd() {
    stop_ = true;
    if (dripper_.joinable()) dripper_.join();
  }
  const std::vector<RawSocket>& silent() const { return silent_; }
  const std::vector<RawSocket>& dripping() const { return dripping_; }

 private:
  std::vector<RawSocket> silent_;
  std::vector<RawSocket> dripping_;
  std::atomic<bool> stop_{false};
  std::thread dripper_;
};

std::string Address(int a, int b) {
  return "127.0." + std::to_string(a) + "." + std::to_string(b);
}

}  // namespace

TEST_CASE("Two hundred slow connections do not keep the installer from the loopback page") {
  Page page(false);
  SlowCrowd crowd;
  // 100 from the installer's own address (over the per-address limit of 8), 100 from 100 other
  // addresses, then 70 more from 70 more: 178 held, 50 over the overall limit of 128.
  const auto crowd_start = Clock::now();
  for (int i = 0; i < 50; ++i) {
    crowd.Silent(page.port, "127.0.0.1");
    crowd.Dripping(page.port, "127.0.0.1", "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    crowd.Silent(page.port, Address(1, 1 + i));
    crowd.Dripping(page.port, Address(1, 101 + i), "GET /api/status HTTP/1.1\r\nX-Slow: ");
  }
  for (int i = 0; i < 70; ++i)
    crowd.Silent(page.port, Address(1, i < 50 ? 51 + i : 151 + i));
  crowd.StartDripping();
  const auto crowd_took = Clock::now() - crowd_start;
  std::this_thread::sleep_for(300ms);

  for (const std::string source : {"127.0.0.1", "127.0.0.2"}) {
    const auto start = Clock::now();
    const std::string response = page.Get("/api/status", source);
    const auto took = Clock::now() - start;
    INFO("from " << source << ": " << response.substr(0, 200));
    CHECK(HttpStatus(response) == 200);
    CHECK(response.find("\"id\":\"gw-it-01\"") != std::string::npos);
    CHECK(took < 1s);
  }

  // The newest silent connection was not pushed out by others: the header deadline closes it.
  const auto opened = Clock::now();
  CHECK(crowd.silent().back().ClosedWithin(8s));
  CHECK(Clock::now() - opened < 8s);
  CHECK(crowd.dripping().back().ClosedWithin(3s));  // dripping does not extend the deadline

  const std::string metrics = page.Get("/metrics");
  INFO(metrics);
  const auto per_address = Sample(metrics, R"(ehg_http_refusals_total{reason="per_address_limit"})");
  const auto header_timeout = Sample(metrics, R"(ehg_http_refusals_total{reason="header_timeout"})");
  const auto connection_limit = Sample(metrics, R"(ehg_http_refusals_total{reason="connection_limit"})");
  CHECK(per_address >= 90);
  CHECK(header_timeout >= 1);
  // Every one of the 270 was refused or closed by the page, for a named reason.
  CHECK(per_address + header_timeout + connection_limit == 270);
  // 50 waiting connections closed for newcomers over the overall limit. On a loaded machine (a
  // sanitizer build beside other tests) opening the crowd can take longer than the 3 s head deadline,
  // which then closes the oldest first and leaves fewer to push out.
  MESSAGE(
      "opening the crowd took " << std::chrono::duration_cast<std::chrono::milliseconds>(crowd_took).count()
                                << " ms");
  if (crowd_took < 1s) CHECK(connection_limit >= 40);
  // Logged, but not a line per refusal.
  const std::size_t logged = page.LinesWith("status page: refused");
  CHECK(logged >= 1);
  CHECK(logged <= 10);
}

TEST_CASE("A flood from addresses sorting after the installer's never closes its connection") {
  Page page(false);
  // One connection each from 10000 addresses, all after "127.0.0.2" in text order, a new one every
  // millisecond or so (far more than the page holds); the oldest are let go on this side once the page
  // must have closed them.
  std::atomic<bool> stop{false};
  std::atomic<int> opened{0};
  // Newcomers while the installer's request is in flight (-1: none in flight). Capped at 100, below the
  // page's 128 connections: on a loaded machine the installer's 50 ms became enough for 128 (a CI run
  // under ASan), and the test would then show the limit, not the order of closing.
  std::atomic<int> during_installer{-1};
  std::thread flood([&] {
    std::deque<RawSocket> held;
    for (int n = 0; !stop; n = (n + 1) % (250 * 40)) {
      if (during_installer.load() >= 100) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      try {
        held.emplace_back(page.port, Address(10 + n / 250, 1 + n % 250), 2s);
        ++opened;
        // Counted only while a request is in flight: a -1 set meanwhile stays -1.
        int seen = during_installer.load();
        while (seen >= 0 && !during_installer.compare_exchange_weak(seen, seen + 1)) {
        }
      } catch (const std::exception&) {
        continue;  // the page pausing its accepts for a moment: try the next address
      }
      if (held.size() > 300) held.pop_front();
      std::this_thread::sleep_for(1ms);
    }
  });
  REQUIRE(ehg::test::WaitUntil([&] { return opened > 200; }, 15s));

  // The installer takes 50 ms from connecting to sending its head (a handshake over a slow Wi-Fi link):
  // about 50 newcomers arrive meanwhile, each closing the oldest waiting connection, which is never
  // the installer's (that would take 128). Closing the tied address that sorts first closed it.
  int newcomers_in_all = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto start = Clock::now();
    during_installer = 0;
    RawSocket installer(page.port, "127.0.0.2");
    std::this_thread::sleep_for(50ms);
    installer.Send(Request("/api/status"));
    const std::string response = installer.ReceiveAll();
    const auto took = Clock::now() - start;
    const int newcomers = during_installer.exchange(-1);
    newcomers_in_all += newcomers;
    INFO("attempt " << attempt << ", flood connections so far " << opened.load() << ", " << newcomers
                    << " while the installer waited: " << response.substr(0, 200));
    CHECK(HttpStatus(response) == 200);
    CHECK(response.find("\"id\":\"gw-it-01\"") != std::string::npos);
    CHECK(took < 1s);
  }
  // The flood did go on while the installer waited (about 50 each time on an idle machine).
  CHECK(newcomers_in_all >= 10);
  stop = true;
  flood.join();
  const std::string metrics = page.Get("/metrics", "127.0.0.2");
  INFO("flood connections: " << opened.load());
  CHECK(Sample(metrics, R"(ehg_http_refusals_total{reason="connection_limit"})") >= 100);
}

TEST_CASE("Slow TLS handshakes and slow heads do not keep the installer from the page beyond loopback") {
  Page page(true);
  SlowCrowd crowd;
  // Silent TCP connections never send a ClientHello; others finish the handshake, then drip a head.
  std::vector<std::unique_ptr<TlsClient>> handshaken;
  for (int i = 0; i < 150; ++i)
    crowd.Silent(page.port, Address(2, 1 + i));
  for (int i = 0; i < 50; ++i) {
    handshaken.push_back(std::make_unique<TlsClient>(page.port, Address(3, 1 + i)));
    if (handshaken.back()->connected()) handshaken.back()->Send("GET / HTTP/1.1\r\nX-Slow: ");
  }
  crowd.StartDripping();
  std::this_thread::sleep_for(300ms);

  for (const std::string source : {"127.0.0.2", "127.0.2.7"}) {
    const auto start = Clock::now();
    const std::string response = page.Get("/api/status", source, true, std::string("Bearer ") + kToken);
    const auto took = Clock::now() - start;
    INFO("from " << source << ": " << response.substr(0, 200));
    CHECK(HttpStatus(response) == 200);
    CHECK(response.find("\"id\":\"gw-it-01\"") != std::string::npos);
    CHECK(took < 1s);
  }
  CHECK(crowd.silent().back().ClosedWithin(8s));
}

TEST_CASE("Wrong tokens from forty addresses do not lock the installer out, the guessers are locked out") {
  Page page(true);
  // 40 addresses, two wrong guesses each: 80 failures, well over the overall ceiling of 30 a minute.
  for (int round = 0; round < 2; ++round) {
    for (int i = 1; i <= 40; ++i) {
      const std::string response =
          page.Get("/api/status", Address(4, i), true, "Bearer guess-" + std::to_string(round * 100 + i));
      INFO("guesser " << i << ": " << response.substr(0, 200));
      const int status = HttpStatus(response);
      CHECK((status == 401 || status == 429));
      CHECK(response.find("gw-it-01") == std::string::npos);
    }
  }
  // Over the ceiling a guesser's address is locked after its wrong token: even the right token waits.
  // Asked at once: the lockout is 2 s, and under the sanitizers on a busy machine the installer's two
  // requests below once took longer than that (the address was served again, a clean CI run).
  const std::string guesser = page.Get("/api/status", Address(4, 40), true, std::string("Bearer ") + kToken);
  CHECK(HttpStatus(guesser) == 429);
  CHECK(guesser.find("Retry-After: ") != std::string::npos);
  CHECK(guesser.find("gw-it-01") == std::string::npos);

  // The installer, from an address of its own and with the right token, is served at once.
  const std::string installer = page.Get("/api/status", "127.0.0.9", true, std::string("Bearer ") + kToken);
  INFO(installer.substr(0, 300));
  CHECK(HttpStatus(installer) == 200);
  CHECK(installer.find("\"id\":\"gw-it-01\"") != std::string::npos);
  // Basic as a phone's browser sends it, from yet another address.
  const std::string basic =  // "installer:" and the token
      page.Get(
          "/", "127.0.0.10", true,
          "Basic aW5zdGFsbGVyOjNmOWMyYjdlNTFkMDRhOGM5ZTZmMWEyYjNjNGQ1ZTZmN2E4YjljMGQxZTJmM2E0YjVjNmQ3ZThmOWEw"
          "YjFjMmQ=");
  CHECK(HttpStatus(basic) == 200);

  const std::string metrics = page.Get("/metrics", "127.0.0.9", true, std::string("Bearer ") + kToken);
  INFO(metrics.substr(0, 300));
  CHECK(Sample(metrics, R"(ehg_http_refusals_total{reason="wrong_token"})") +
            Sample(metrics, R"(ehg_http_refusals_total{reason="locked_out"})") >=
        81);
  CHECK(Sample(metrics, "ehg_http_auth_refusals_total") >= 81);
  // Logged, rate-limited, never with a token.
  const std::size_t logged = page.LinesWith("status page: wrong token");
  CHECK(logged >= 1);
  CHECK(logged <= 5);
  const std::string output = page.daemon->Output();
  CHECK(output.find(kToken) == std::string::npos);
  CHECK(output.find("guess-") == std::string::npos);
}

TEST_CASE("A request with a body or an oversized head is refused before it is read") {
  Page page(false);
  const auto refused_fast = [&](const std::string& request, int expected) {
    const auto start = Clock::now();
    RawSocket socket(page.port, "127.0.0.3");
    socket.Send(request);
    const std::string response = socket.ReceiveAll();
    INFO(request.substr(0, 120));
    INFO(response.substr(0, 300));
    CHECK(HttpStatus(response) == expected);
    CHECK(response.find("gw-it-01") == std::string::npos);
    CHECK(Clock::now() - start < 2s);
  };
  // A body announced and never sent: answered at once, no waiting for it.
  refused_fast("GET /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 104857600\r\n\r\n", 413);
  refused_fast("GET /api/status HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n", 413);
  refused_fast("POST /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 104857600\r\n\r\n", 413);
  refused_fast("DELETE /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n", 405);
  // A request line that never ends, and a head of ten thousand small fields.
  refused_fast("GET /" + std::string(20000, 'a'), 414);
  std::string many = "GET / HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 10000; ++i)
    many += "X: y\r\n";
  refused_fast(many, 431);
  // Smuggling shapes: two lengths, a space before the colon, a folded line.
  refused_fast("GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n", 400);
  refused_fast("GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization : Bearer x\r\n\r\n", 400);
  refused_fast("GET / HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n c\r\n\r\n", 400);

  // 90 fields of 8000 bytes (each one under Poco's own field limit): the answer comes while most of
  // the head is still unsent, so the server did not read it all.
  RawSocket socket(page.port, "127.0.0.4");
  socket.Send("GET /api/status HTTP/1.1\r\nHost: localhost\r\n");
  const std::string field = "X-Big: " + std::string(8000, 'b') + "\r\n";
  const std::size_t total = 90 * field.size();
  std::size_t sent = 0;
  bool answered = false;
  while (sent < total && !answered) {
    if (!socket.Send(field)) break;
    sent += field.size();
    pollfd entry{};
    entry.fd = socket.fd();
    entry.events = POLLIN;
    answered = ::poll(&entry, 1, 20) > 0;
  }
  socket.Send("\r\n");
  const std::string response = socket.ReceiveAll();
  INFO(response.substr(0, 300));
  CHECK(HttpStatus(response) == 431);
  CHECK(sent < total / 2);

  const std::string metrics = page.Get("/metrics");
  CHECK(Sample(metrics, R"(ehg_http_refusals_total{reason="body"})") >= 3);
  CHECK(Sample(metrics, R"(ehg_http_refusals_total{reason="head_too_large"})") >= 3);
  CHECK(Sample(metrics, R"(ehg_http_refusals_total{reason="malformed"})") >= 3);
  CHECK(Sample(metrics, R"(ehg_http_refusals_total{reason="method"})") >= 1);
  // The page still answers.
  CHECK(HttpStatus(page.Get("/api/status")) == 200);
}

TEST_CASE("The page's TLS 1.2 takes only ECDHE with AES-GCM or ChaCha20-Poly1305, TLS 1.3 as it is") {
  // An RSA certificate too, so the static-RSA and ECDHE-RSA suites can be offered at all (the test PKI
  // is EC P-256).
  ehg::test::TempDir keys;
  const fs::path rsa_cert = keys / "rsa.crt";
  const fs::path rsa_key = keys / "rsa.key";
  const ehg::test::CommandResult made = ehg::test::RunCommand(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
       "/CN=localhost", "-keyout", rsa_key.string(), "-out", rsa_cert.string()},
      60s);
  REQUIRE(made.exit_code == 0);
  ::chmod(rsa_key.c_str(), 0600);

  struct Case {
    bool rsa;
    std::vector<std::string> refused;
    std::vector<std::string> taken;
  };
  const std::vector<Case> cases = {
      {false,
       {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384",
        "ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES256-CCM8", "ECDHE-ECDSA-ARIA128-GCM-SHA256",
        "ECDHE-ECDSA-CAMELLIA128-SHA256"},
       {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}},
      {true,
       {"AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES256-SHA256", "AES128-SHA", "AES128-CCM",
        "CAMELLIA256-SHA256", "ARIA128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-CHACHA20-POLY1305",
        "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA", "ECDHE-ARIA256-GCM-SHA384",
        "ECDHE-RSA-CAMELLIA128-SHA256"},
       {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}},
  };
  for (const Case& tls : cases) {
    Page page = tls.rsa ? Page(true, rsa_cert, rsa_key) : Page(true);
    for (const std::string& suite : tls.refused) {
      INFO((tls.rsa ? "RSA certificate, " : "EC certificate, ") << suite);
      const TlsClient client(page.port, "127.0.0.5", {.tls12_ciphers = suite, .max_version = TLS1_2_VERSION});
      CHECK_FALSE(client.connected());
    }
    for (const std::string& suite : tls.taken) {
      INFO((tls.rsa ? "RSA certificate, " : "EC certificate, ") << suite);
      TlsClient client(page.port, "127.0.0.5", {.tls12_ciphers = suite, .max_version = TLS1_2_VERSION});
      REQUIRE(client.connected());
      CHECK(client.cipher() == suite);
      CHECK(client.version() == "TLSv1.2");
      client.Send(Request("/api/status", std::string("Bearer ") + kToken));
      CHECK(HttpStatus(client.ReceiveAll()) == 200);
    }
    // TLS 1.3 with the library's defaults, and nothing older than 1.2.
    const TlsClient modern(page.port, "127.0.0.5");
    CHECK(modern.connected());
    CHECK(modern.version() == "TLSv1.3");
    const TlsClient old(page.port, "127.0.0.5",
                        {.tls12_ciphers = "ALL:@SECLEVEL=0", .max_version = TLS1_1_VERSION});
    CHECK_FALSE(old.connected());

    const std::string metrics = page.Get("/metrics", "127.0.0.6", true, std::string("Bearer ") + kToken);
    CHECK(Sample(metrics, R"(ehg_http_refusals_total{reason="tls_handshake"})") >=
          static_cast<double>(tls.refused.size()));
  }
}
