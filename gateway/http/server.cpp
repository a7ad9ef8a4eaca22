#include "gateway/http/server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/core/bounded_file.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/thread_name.hpp"
#include "gateway/http/access.hpp"
#include "gateway/http/admission.hpp"
#include "gateway/http/request_head.hpp"

// Why not Poco's HTTPServer any more: it hands each accepted connection to a worker thread that then
// blocks reading it (TLS handshake included) for up to its timeout, so two connections that send
// nothing hold both workers, and sixteen more fill its queue: the page is gone for everyone, and the
// token is only looked at once a whole request has been read. Here one thread owns every socket,
// non-blocking, under poll(): it accepts, runs the TLS handshakes, reads request heads against a
// deadline and a size limit, refuses what it must from the head alone, checks the token and the
// lockout, and writes every answer. Workers only render the answers to complete, authorised requests
// (the snapshot reads the database), so nothing a client does or does not send can hold one.
namespace ehg::http {
namespace {

using SteadyClock = std::chrono::steady_clock;

// TLS 1.2: ephemeral ECDH key exchange and an AEAD cipher only, for ECDSA and RSA certificates alike.
// No CBC (padding oracles, Lucky13), no CCM or ARIA or Camellia (no reason to carry them), no static
// RSA key exchange (no forward secrecy, Bleichenbacher), no finite-field DHE. TLS 1.3 keeps OpenSSL's
// default suites, all of them AEAD with ephemeral keys.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr std::size_t kReadChunk = 4096;
// After an answer the page stops sending and reads (and drops) what the client still sends for a
// moment before it closes, so that the client sees the answer rather than a reset (what a close with
// unread bytes in the socket causes). Bounded, so a refused body is never read.
constexpr std::size_t kMaxDrainBytes = 64 * 1024;
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr int kAcceptsPerRound = 64;
// When the process is out of file descriptors, accepting again at once would spin.
constexpr std::chrono::milliseconds kAcceptPause{100};

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[64];
  const std::size_t size = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text, size);
}

struct Reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::string Serialize(const Reply& reply, bool head_only) {
  std::string text = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                     std::string(ReasonPhrase(reply.status)) + "\r\nDate: " + HttpDate() +
                     "\r\nContent-Type: " + reply.content_type +
                     "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                     "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                     "Referrer-Policy: no-referrer\r\n"
                     "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
                     "frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n";
  for (const auto& [name, value] : reply.headers)
    text += name + ": " + value + "\r\n";
  text += "Connection: close\r\n\r\n";
  if (!head_only) text += reply.body;
  return text;
}

Reply Plain(int status, std::string body) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

// The peer's address as the log shows it: dotted quad for IPv4 and IPv4-mapped IPv6 (a dual-stack
// listener sees those), else the IPv6 address. Limits and lockouts apply to its ClientKey.
std::string PeerAddress(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      ::inet_ntop(AF_INET, &v6.sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    }
  }
  return text;
}

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

// The server's own state types live in a named namespace: a struct with members of types from an
// anonymous namespace is a warning (-Wsubobject-linkage) when this file is compiled in a unity batch.
namespace server_detail {

enum class Io { kDone, kAgain, kClosed };

struct Connection {
  enum class State { kHandshake, kHead, kAnswering, kWriting, kDraining };
  int fd = -1;
  SSL* ssl = nullptr;
  std::string address;  // for the log
  std::string client;   // ClientKey(address): what the limits and the lockout count
  State state = State::kHead;
  core::SteadyTime deadline{};
  short want = POLLIN;  // what the last read or write waits for (TLS may need the other direction)
  std::string received;
  bool request_line_seen = false;
  std::string response;
  std::size_t written = 0;
  std::size_t drained = 0;
};

struct Job {
  Admission::Id id = 0;
  std::string target;
  bool head_only = false;
};

struct Finished {
  Admission::Id id = 0;
  std::string response;
};

}  // namespace server_detail

struct StatusServer::Impl {
  using Io = server_detail::Io;
  using Connection = server_detail::Connection;
  using Job = server_detail::Job;
  using Finished = server_detail::Finished;

  ServerOptions options;
  bool require_token = false;
  bool tls = false;
  SSL_CTX* tls_context = nullptr;
  int listener = -1;
  int wake = -1;  // eventfd: workers finished something, or the server stops
  std::uint16_t port = 0;
  std::array<std::atomic<std::uint64_t>, kRefusalKinds> refusals{};

  // The I/O thread's own state: no lock.
  AuthLimiter limiter;
  Admission admission;
  LogThrottle log_throttle;
  std::map<Admission::Id, Connection> connections;
  Admission::Id next_id = 1;
  core::SteadyTime accept_paused_until{};

  std::mutex work_mutex;
  std::condition_variable work_ready;
  std::deque<Job> jobs;
  std::vector<Finished> finished;
  bool workers_stop = false;

  std::atomic<bool> stop{false};
  std::thread io;
  std::vector<std::thread> workers;

  explicit Impl(ServerOptions server_options)
      : options(std::move(server_options)),
        admission(AdmissionLimits{options.limits.connections_per_address, options.limits.connections}) {}

  ~Impl() {
    stop = true;
    Wake();
    if (io.joinable()) io.join();
    {
      std::lock_guard lock(work_mutex);
      workers_stop = true;
    }
    work_ready.notify_all();
    for (std::thread& worker : workers)
      worker.join();
    for (auto& [id, connection] : connections)
      Release(connection);
    if (tls_context != nullptr) SSL_CTX_free(tls_context);
    if (listener >= 0) ::close(listener);
    if (wake >= 0) ::close(wake);
  }

  void Wake() const {
    const std::uint64_t one = 1;
    if (wake >= 0) (void)!::write(wake, &one, sizeof one);
  }

  static void Release(Connection& connection) {
    if (connection.ssl != nullptr) SSL_free(connection.ssl);
    connection.ssl = nullptr;
    if (connection.fd >= 0) ::close(connection.fd);
    connection.fd = -1;
  }

  // ---- counting and logging --------------------------------------------------------------------------

  // Counts the refusal and logs it, at most one line per kind every 10 s (a flood must not flood the
  // log or the page's recent problems). Never with anything the client sent but its address.
  void Count(Refusal refusal, const std::string& client, core::SteadyTime now) {
    ++refusals[static_cast<std::size_t>(refusal)];
    if (refusal == Refusal::kNoToken) return;  // every browser starts without the token
    const std::optional<std::uint64_t> unlogged = log_throttle.Allow(ToString(refusal), now);
    if (!unlogged) return;
    const std::string not_logged = std::to_string(*unlogged);
    if (refusal == Refusal::kWrongToken) {
      core::LogWarning("status page: wrong token",
                       {{"client", client},
                        {"over_ceiling", limiter.OverCeiling(now) ? "true" : "false"},
                        {"not_logged", not_logged}});
    } else if (refusal == Refusal::kLockedOut) {
      core::LogWarning("status page: locked out", {{"client", client}, {"not_logged", not_logged}});
    } else {
      core::LogInfo("status page: refused",
                    {{"reason", ToString(refusal)}, {"client", client}, {"not_logged", not_logged}});
    }
  }

  // ---- the I/O thread --------------------------------------------------------------------------------

  void Run() {
    core::NameThisThread("ehg-http");
    // OpenSSL writes to its sockets with write(): a client gone away would raise SIGPIPE and end the
    // daemon. Blocked on this thread, the signal stays pending here and write() returns EPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

    std::vector<pollfd> polled;
    std::vector<Admission::Id> ids;
    while (!stop) {
      try {
        Round(polled, ids);
      } catch (const std::exception& error) {
        if (log_throttle.Allow("internal", SteadyClock::now()))
          core::LogError("status page: connection handling failed", {{"reason", error.what()}});
      }
    }
  }

  static pollfd Polled(int fd, short events) {
    pollfd entry{};
    entry.fd = fd;
    entry.events = events;
    return entry;
  }

  void Round(std::vector<pollfd>& polled, std::vector<Admission::Id>& ids) {
    core::SteadyTime now = SteadyClock::now();
    polled.clear();
    ids.clear();
    polled.push_back(Polled(wake, POLLIN));
    polled.push_back(Polled(now >= accept_paused_until ? listener : -1, POLLIN));
    core::SteadyTime next = now + std::chrono::seconds(1);
    if (now < accept_paused_until) next = std::min(next, accept_paused_until);
    for (const auto& [id, connection] : connections) {
      // A connection waiting for its answer is not watched at all: a client that hangs up meanwhile
      // would otherwise wake poll() at once, round after round, until the answer is ready.
      const bool watched = connection.state != Connection::State::kAnswering;
      polled.push_back(Polled(watched ? connection.fd : -1, connection.want));
      ids.push_back(id);
      next = std::min(next, connection.deadline);
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
    if (::poll(polled.data(), polled.size(), static_cast<int>(std::clamp<std::int64_t>(wait, 0, 1000))) < 0 &&
        errno != EINTR) {
      return;
    }
    now = SteadyClock::now();
    if (polled[0].revents != 0) TakeFinished(now);
    if ((polled[1].revents & POLLIN) != 0) Accept(now);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (polled[i + 2].revents == 0) continue;
      // Closed meanwhile (to make room for a newcomer): its descriptor may already be someone else's.
      if (connections.count(ids[i]) == 0) continue;
      Advance(ids[i], now);
    }
    Expire(now);
  }

  void Accept(core::SteadyTime now) {
    for (int round = 0; round < kAcceptsPerRound; ++round) {
      sockaddr_storage peer{};
      socklen_t peer_size = sizeof peer;
      const int fd =
          ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &peer_size, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          accept_paused_until = now + kAcceptPause;
          if (log_throttle.Allow("accept", now))
            core::LogError("status page: cannot accept connections", {{"reason", std::strerror(errno)}});
        }
        return;
      }
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      const std::string address = PeerAddress(peer);
      const Admission::Id id = next_id++;
      const std::string client = ClientKey(address);
      const Admission::Decision decision = admission.Admit(id, client);
      if (decision.closed) {
        const auto victim = connections.find(*decision.closed);
        if (victim != connections.end()) {
          if (decision.closed_was_waiting) Count(decision.refusal, victim->second.address, now);
          Release(victim->second);
          connections.erase(victim);
        }
      }
      if (!decision.admitted) {
        Count(decision.refusal, address, now);
        ::close(fd);
        continue;
      }
      Connection connection;
      connection.fd = fd;
      connection.address = address;
      connection.client = client;
      connection.deadline = now + options.limits.head_deadline;
      connection.state = tls ? Connection::State::kHandshake : Connection::State::kHead;
      if (tls) {
        connection.ssl = SSL_new(tls_context);
        if (connection.ssl == nullptr || SSL_set_fd(connection.ssl, fd) != 1) {
          ERR_clear_error();
          Release(connection);
          admission.Remove(id);
          continue;
        }
        SSL_set_accept_state(connection.ssl);
      }
      connections.emplace(id, std::move(connection));
    }
  }

  // Closes the connection; a refusal is counted and logged.
  void Close(Admission::Id id, std::optional<Refusal> refusal, core::SteadyTime now) {
    const auto found = connections.find(id);
    if (found == connections.end()) return;
    if (refusal) Count(*refusal, found->second.address, now);
    Release(found->second);
    connections.erase(found);
    admission.Remove(id);
  }

  void Expire(core::SteadyTime now) {
    std::vector<std::pair<Admission::Id, std::optional<Refusal>>> expired;
    for (const auto& [id, connection] : connections) {
      if (connection.deadline > now) continue;
      switch (connection.state) {
        case Connection::State::kHandshake:
        case Connection::State::kHead:
          expired.emplace_back(id, Refusal::kHeaderTimeout);
          break;
        case Connection::State::kWriting:
          expired.emplace_back(id, Refusal::kSlowReader);
          break;
        case Connection::State::kDraining:
          expired.emplace_back(id, std::nullopt);
          break;
        case Connection::State::kAnswering:
          break;
      }
    }
    for (const auto& [id, refusal] : expired)
      Close(id, refusal, now);
  }

  void Advance(Admission::Id id, core::SteadyTime now) {
    Connection& connection = connections.at(id);
    switch (connection.state) {
      case Connection::State::kHandshake:
        Handshake(id, connection, now);
        return;
      case Connection::State::kHead:
        ReadHead(id, connection, now);
        return;
      case Connection::State::kWriting:
        Write(id, connection, now);
        return;
      case Connection::State::kDraining:
        Drain(id, connection, now);
        return;
      case Connection::State::kAnswering:
        return;
    }
  }

  void Handshake(Admission::Id id, Connection& connection, core::SteadyTime now) {
    ERR_clear_error();
    const int result = SSL_accept(connection.ssl);
    if (result == 1) {
      connection.state = Connection::State::kHead;
      connection.want = POLLIN;
      ReadHead(id, connection, now);  // the request may have come with the handshake's last flight
      return;
    }
    const int error = SSL_get_error(connection.ssl, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      connection.want = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      return;
    }
    // A client that connects and goes away without a word (a port check) is no refusal; a handshake
    // OpenSSL refused (no shared suite or version, plain HTTP, junk) is.
    const bool refused = ERR_peek_error() != 0;
    ERR_clear_error();
    Close(id, refused ? std::optional<Refusal>(Refusal::kTlsHandshake) : std::nullopt, now);
  }

  // Reads what has arrived of the head, up to one byte past the limit, and judges it.
  Io Receive(Connection& connection, char* buffer, std::size_t size, std::size_t& got) {
    got = 0;
    if (connection.ssl != nullptr) {
      ERR_clear_error();
      const int result = SSL_read(connection.ssl, buffer, static_cast<int>(size));
      if (result > 0) {
        got = static_cast<std::size_t>(result);
        return Io::kDone;
      }
      const int error = SSL_get_error(connection.ssl, result);
      ERR_clear_error();
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        connection.want = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return Io::kAgain;
      }
      return Io::kClosed;
    }
    for (;;) {
      const ssize_t result = ::recv(connection.fd, buffer, size, 0);
      if (result > 0) {
        got = static_cast<std::size_t>(result);
        return Io::kDone;
      }
      if (result < 0 && errno == EINTR) continue;
      if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        connection.want = POLLIN;
        return Io::kAgain;
      }
      return Io::kClosed;
    }
  }

  void ReadHead(Admission::Id id, Connection& connection, core::SteadyTime now) {
    const HeadLimits limits{options.limits.max_head_bytes, HeadLimits{}.max_target_bytes,
                            HeadLimits{}.max_fields};
    char buffer[kReadChunk];
    while (connection.received.size() <= limits.max_head_bytes) {
      const std::size_t room = std::min(kReadChunk, limits.max_head_bytes + 1 - connection.received.size());
      std::size_t got = 0;
      const Io outcome = Receive(connection, buffer, room, got);
      if (outcome == Io::kAgain) return;
      if (outcome == Io::kClosed) {
        Close(id, std::nullopt, now);  // the client gave up: nothing to answer
        return;
      }
      const bool newline = std::memchr(buffer, '\n', got) != nullptr;
      connection.received.append(buffer, got);
      // Judged while the request line is incomplete (junk and endless targets go at once), then once per
      // line, so a head dripped byte by byte costs no more than one judgement per line.
      if (connection.request_line_seen && !newline && connection.received.size() <= limits.max_head_bytes)
        continue;
      connection.request_line_seen = connection.request_line_seen || newline;
      HeadVerdict verdict = ParseRequestHead(connection.received, limits);
      if (verdict.outcome == HeadOutcome::kIncomplete) continue;
      if (verdict.outcome == HeadOutcome::kRefused) {
        Respond(id, connection, Plain(verdict.status, std::string(verdict.reason) + "\n"), false,
                verdict.refusal, now);
      } else {
        Dispatch(id, connection, verdict.head, now);
      }
      return;
    }
  }

  // The head is complete and well formed: refuse from it alone, or hand it to a worker.
  void Dispatch(Admission::Id id, Connection& connection, const RequestHead& head, core::SteadyTime now) {
    const bool head_only = head.method == "HEAD";
    if (head.method != "GET" && !head_only) {
      Reply reply = Plain(405, "GET or HEAD only\n");
      reply.headers.emplace_back("Allow", "GET, HEAD");
      Respond(id, connection, reply, false, Refusal::kMethod, now);
      return;
    }
    if (require_token) {
      if (const auto wait = limiter.LockedOut(connection.client, now)) {
        Reply reply =
            Plain(429, "too many wrong tokens: try again in " + std::to_string(wait->count()) + " s\n");
        reply.headers.emplace_back("Retry-After", std::to_string(wait->count()));
        Respond(id, connection, reply, head_only, Refusal::kLockedOut, now);
        return;
      }
      const std::optional<std::string_view> authorization = head.Field("authorization");
      const std::optional<std::string> token =
          authorization ? TokenFromAuthorization(*authorization) : std::nullopt;
      if (token && TokensEqual(options.token, *token)) {
        limiter.Succeeded(connection.client);
      } else {
        // No credentials at all is how every browser starts: it gets the login prompt, nothing is held
        // against the address.
        if (authorization) limiter.Failed(connection.client, now);
        Reply reply = Plain(401, "the status token is required (user name: anything, password: the token)\n");
        reply.headers.emplace_back("WWW-Authenticate",
                                   "Basic realm=\"ehealth-gateway status\", charset=\"UTF-8\"");
        Respond(id, connection, reply, head_only, authorization ? Refusal::kWrongToken : Refusal::kNoToken,
                now);
        return;
      }
    }
    {
      std::lock_guard lock(work_mutex);
      if (jobs.size() < options.limits.queued_requests) {
        Job job;
        job.id = id;
        job.target = head.target;
        job.head_only = head_only;
        jobs.push_back(std::move(job));
        connection.state = Connection::State::kAnswering;
        connection.deadline = core::SteadyTime::max();
        admission.SetPhase(id, Admission::Phase::kAnswering);
      }
    }
    if (connection.state == Connection::State::kAnswering) {
      work_ready.notify_one();
      return;
    }
    Reply reply = Plain(503, "the status page is busy: try again in a second\n");
    reply.headers.emplace_back("Retry-After", "1");
    Respond(id, connection, reply, head_only, Refusal::kBusy, now);
  }

  void Respond(Admission::Id id, Connection& connection, const Reply& reply, bool head_only,
               std::optional<Refusal> refusal, core::SteadyTime now) {
    if (refusal) Count(*refusal, connection.address, now);
    StartWriting(id, connection, Serialize(reply, head_only), now);
  }

  void StartWriting(Admission::Id id, Connection& connection, std::string response, core::SteadyTime now) {
    connection.response = std::move(response);
    connection.written = 0;
    connection.state = Connection::State::kWriting;
    connection.want = POLLOUT;
    connection.deadline = now + options.limits.response_deadline;
    admission.SetPhase(id, Admission::Phase::kAnswering);
    Write(id, connection, now);
  }

  void Write(Admission::Id id, Connection& connection, core::SteadyTime now) {
    while (connection.written < connection.response.size()) {
      const char* data = connection.response.data() + connection.written;
      const std::size_t size = connection.response.size() - connection.written;
      if (connection.ssl != nullptr) {
        ERR_clear_error();
        const int result =
            SSL_write(connection.ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 20)));
        if (result > 0) {
          connection.written += static_cast<std::size_t>(result);
          continue;
        }
        const int error = SSL_get_error(connection.ssl, result);
        ERR_clear_error();
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          connection.want = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
          return;
        }
        Close(id, std::nullopt, now);
        return;
      }
      const ssize_t result = ::send(connection.fd, data, size, MSG_NOSIGNAL);
      if (result > 0) {
        connection.written += static_cast<std::size_t>(result);
        continue;
      }
      if (result < 0 && errno == EINTR) continue;
      if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        connection.want = POLLOUT;
        return;
      }
      Close(id, std::nullopt, now);
      return;
    }
    if (connection.ssl != nullptr) {
      ERR_clear_error();
      SSL_shutdown(connection.ssl);  // close_notify when the socket takes it; Content-Length ends the answer
      ERR_clear_error();
    }
    ::shutdown(connection.fd, SHUT_WR);
    connection.state = Connection::State::kDraining;
    connection.want = POLLIN;
    connection.deadline = now + kDrainTime;
    admission.SetPhase(id, Admission::Phase::kDraining);
  }

  void Drain(Admission::Id id, Connection& connection, core::SteadyTime now) {
    char buffer[kReadChunk];
    for (;;) {
      const ssize_t result = ::recv(connection.fd, buffer, sizeof buffer, 0);
      if (result > 0) {
        connection.drained += static_cast<std::size_t>(result);
        if (connection.drained <= kMaxDrainBytes) continue;
      } else if (result < 0 && errno == EINTR) {
        continue;
      } else if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      }
      Close(id, std::nullopt, now);
      return;
    }
  }

  void TakeFinished(core::SteadyTime now) {
    std::uint64_t count = 0;
    (void)!::read(wake, &count, sizeof count);
    std::vector<Finished> done;
    {
      std::lock_guard lock(work_mutex);
      done.swap(finished);
    }
    for (Finished& answer : done) {
      const auto found = connections.find(answer.id);
      if (found == connections.end()) continue;
      StartWriting(answer.id, found->second, std::move(answer.response), now);
    }
  }

  // ---- the workers -----------------------------------------------------------------------------------

  void Work() {
    core::NameThisThread("ehg-http-render");
    for (;;) {
      Job job;
      {
        std::unique_lock lock(work_mutex);
        work_ready.wait(lock, [&] { return workers_stop || !jobs.empty(); });
        if (workers_stop) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      Finished answer;
      answer.id = job.id;
      answer.response = Serialize(Render(job.target), job.head_only);
      {
        std::lock_guard lock(work_mutex);
        finished.push_back(std::move(answer));
      }
      Wake();
    }
  }

  Reply Render(std::string path) {
    if (const std::size_t query = path.find('?'); query != std::string::npos) path.resize(query);
    try {
      Reply reply;
      if (path == "/") {
        reply.content_type = "text/html; charset=utf-8";
        reply.body = StatusPageHtml(Snapshot(), options.refresh);
      } else if (path == "/api/status") {
        reply.content_type = "application/json";
        reply.body = StatusJson(Snapshot());
      } else if (path == "/metrics") {
        reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
        reply.body = MetricsText(Snapshot());
      } else {
        return Plain(404, "not found: the paths are /, /api/status and /metrics\n");
      }
      return reply;
    } catch (const std::exception& error) {
      core::LogError("status page: request failed", {{"reason", error.what()}});
      return Plain(500, "the status could not be read; see the gateway's log\n");
    }
  }

  StatusSnapshot Snapshot() {
    StatusSnapshot snapshot = options.snapshot();
    for (std::size_t kind = 0; kind < kRefusalKinds; ++kind)
      snapshot.page_refusals[kind] = refusals[kind].load();
    return snapshot;
  }

  // ---- start -----------------------------------------------------------------------------------------

  Result<void> CreateTlsContext() {
    tls_context = SSL_CTX_new(TLS_server_method());
    if (tls_context == nullptr) return Fail(Errc::kIo, "status page: " + OpenSslError());
    SSL_CTX_set_min_proto_version(tls_context, TLS1_2_VERSION);
    // No renegotiation (a client could make the server redo the costly part at will), the server's
    // order of suites, no compression (CRIME).
    SSL_CTX_set_options(tls_context,
                        SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(tls_context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_cipher_list(tls_context, kTls12Ciphers) != 1)
      return Fail(Errc::kIo, "status page: TLS suites: " + OpenSslError());
    const std::string cert = options.tls_cert_file.string();
    const std::string key = options.tls_key_file.string();
    if (SSL_CTX_use_certificate_chain_file(tls_context, cert.c_str()) != 1)
      return Fail(Errc::kIo, "status page: cannot load the certificate " + cert + ": " + OpenSslError());
    if (SSL_CTX_use_PrivateKey_file(tls_context, key.c_str(), SSL_FILETYPE_PEM) != 1)
      return Fail(Errc::kIo, "status page: cannot load the key " + key + ": " + OpenSslError());
    if (SSL_CTX_check_private_key(tls_context) != 1)
      return Fail(Errc::kIo,
                  "status page: the key " + key + " does not belong to " + cert + ": " + OpenSslError());
    tls = true;
    return {};
  }

  Result<void> Listen() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(options.port);
    if (const int error = ::getaddrinfo(options.host.c_str(), service.c_str(), &hints, &found); error != 0)
      return Fail(Errc::kIo, "status page: cannot resolve " + options.host + ": " + ::gai_strerror(error));
    int last_error = 0;
    for (const addrinfo* address = found; address != nullptr && listener < 0; address = address->ai_next) {
      const int fd = ::socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        last_error = errno;
        continue;
      }
      const int on = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      if (::bind(fd, address->ai_addr, address->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
        listener = fd;
      } else {
        last_error = errno;
        ::close(fd);
      }
    }
    ::freeaddrinfo(found);
    if (listener < 0) {
      return Fail(Errc::kIo, "status page: cannot listen on " + options.host + ":" + service + ": " +
                                 std::strerror(last_error));
    }
    sockaddr_storage bound{};
    socklen_t size = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &size);
    port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(bound).sin6_port
                                             : reinterpret_cast<const sockaddr_in&>(bound).sin_port);
    return {};
  }
};

Result<std::unique_ptr<StatusServer>> StatusServer::Start(ServerOptions options) {
  const bool require_token = !core::IsLoopbackHost(options.host);
  if (require_token) {
    if (options.token.size() < 16) {
      return Fail(Errc::kInvalidArgument, "a status page beyond loopback (" + options.host +
                                              ") needs the per-device token (status_page.token_file)");
    }
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return Fail(Errc::kInvalidArgument,
                  "a status page beyond loopback (" + options.host +
                      ") is served over TLS only (status_page.tls_cert_file, tls_key_file)");
    }
  }
  const bool tls = !options.tls_cert_file.empty();
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->require_token = require_token;
  if (tls) {
    if (auto created = impl->CreateTlsContext(); !created) return tl::unexpected(created.error());
  }
  if (auto listening = impl->Listen(); !listening) return tl::unexpected(listening.error());
  impl->wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake < 0) return Fail(Errc::kIo, std::string("status page: eventfd: ") + std::strerror(errno));
  Impl& server = *impl;
  for (std::size_t i = 0; i < std::max<std::size_t>(server.options.limits.workers, 1); ++i)
    server.workers.emplace_back([&server] { server.Work(); });
  server.io = std::thread([&server] { server.Run(); });
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(impl)));
}

Result<std::string> ReadTokenFile(const std::filesystem::path& file) {
  auto text = core::ReadCheckedFile(file, core::kTokenFile);
  if (!text) return tl::unexpected(text.error());
  std::string token = text->substr(0, text->find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.size() < 32) {
    return Fail(Errc::kInvalidArgument, file.string() + " holds no token of at least 32 characters");
  }
  return token;
}

StatusServer::StatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StatusServer::~StatusServer() = default;

std::uint16_t StatusServer::port() const {
  return impl_->port;
}

bool StatusServer::tls() const {
  return impl_->tls;
}

}  // namespace ehg::http
