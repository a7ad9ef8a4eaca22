#include "gateway/http/client.hpp"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include "gateway/core/bounded_file.hpp"

// Plain sockets and OpenSSL, as the server (server.cpp): Poco's Net and NetSSL (and with them Poco Util,
// XML and Crypto) were the only reason the daemon loaded five more shared libraries, about 2.5 MiB of
// resident pages in every running gateway for a command that runs now and then.
namespace ehg::http {
namespace {

constexpr int kTimeoutSeconds = 10;
// /api/status is a few KiB; anything far larger is not the gateway's status page.
constexpr std::size_t kMaxResponseBytes = 16 * 1024 * 1024;

std::string ReachableHost(const std::string& host) {
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

std::string Endpoint(const std::string& host, unsigned port) {
  return host + ":" + std::to_string(port);
}

std::string OpenSslReason() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return errno != 0 ? std::strerror(errno) : "connection closed";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

// A connected TCP socket with send and receive timeouts, or why not (kUnavailable).
Result<int> Connect(const std::string& host, unsigned port, Socket& socket) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int failed = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
      failed != 0) {
    return Fail(Errc::kUnavailable,
                "cannot read the status from " + Endpoint(host, port) + ": " + ::gai_strerror(failed));
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  int last_error = 0;
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    const timeval timeout{kTimeoutSeconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, address->ai_addr, address->ai_addrlen) == 0) {
      socket.fd = fd;
      return fd;
    }
    last_error = errno;
    ::close(fd);
  }
  if (last_error == ECONNREFUSED) {
    return Fail(Errc::kUnavailable, "nothing listens on " + Endpoint(host, port) +
                                        ": is the gateway running, with its status page enabled?");
  }
  return Fail(Errc::kUnavailable,
              "cannot read the status from " + Endpoint(host, port) + ": " + std::strerror(last_error));
}

// Writes all of `text` and reads until the peer closes (the request says "Connection: close"), through
// plain send/recv or TLS.
class Stream {
 public:
  Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}

  bool WriteAll(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const std::size_t left = text.size() - done;
      ssize_t wrote = 0;
      if (ssl_ != nullptr) {
        const int n = SSL_write(ssl_, text.data() + done, static_cast<int>(left));
        wrote = n;
      } else {
        wrote = ::send(fd_, text.data() + done, left, MSG_NOSIGNAL);
        if (wrote < 0 && errno == EINTR) continue;
      }
      if (wrote <= 0) return false;
      done += static_cast<std::size_t>(wrote);
    }
    return true;
  }

  // Everything until the peer closes; false on a timeout, an error or more than kMaxResponseBytes.
  bool ReadToEnd(std::string& out) {
    char buffer[16384];
    while (true) {
      ssize_t got = 0;
      if (ssl_ != nullptr) {
        const int n = SSL_read(ssl_, buffer, sizeof buffer);
        if (n <= 0) {
          const int error = SSL_get_error(ssl_, n);
          // The end, with close_notify or (SSL_OP_IGNORE_UNEXPECTED_EOF) without: Content-Length tells
          // whether the body is whole.
          return error == SSL_ERROR_ZERO_RETURN;
        }
        got = n;
      } else {
        got = ::recv(fd_, buffer, sizeof buffer, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return false;
        if (got == 0) return true;
      }
      out.append(buffer, static_cast<std::size_t>(got));
      if (out.size() > kMaxResponseBytes) return false;
    }
  }

 private:
  int fd_;
  SSL* ssl_;
};

std::string HostHeader(const std::string& host, unsigned port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

// One request, "Connection: close", the response read to the end: the body of a 200, else kRejected.
Result<std::string> Exchange(Stream& stream, const std::string& host, const FetchOptions& options) {
  std::string request = "GET " + options.path + " HTTP/1.1\r\nHost: " + HostHeader(host, options.port) +
                        "\r\nConnection: close\r\n";
  if (!options.token.empty()) request += "Authorization: Bearer " + options.token + "\r\n";
  request += "\r\n";
  const std::string endpoint = Endpoint(host, options.port);
  if (!stream.WriteAll(request)) {
    return Fail(Errc::kUnavailable, "cannot read the status from " + endpoint + ": the request was not sent");
  }
  std::string response;
  const bool complete = stream.ReadToEnd(response);
  const auto head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return Fail(Errc::kUnavailable, "cannot read the status from " + endpoint +
                                        (complete ? ": no HTTP response" : ": no complete answer in time"));
  }
  // "HTTP/1.1 200 OK"
  const auto line_end = response.find("\r\n");
  const std::string status_line = response.substr(0, line_end);
  int status = 0;
  std::string reason;
  if (status_line.starts_with("HTTP/1.") && status_line.size() >= 12) {
    std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    if (status_line.size() > 13) reason = status_line.substr(13);
  }
  if (status == 0) return Fail(Errc::kUnavailable, "cannot read the status from " + endpoint + ": not HTTP");
  std::string body = response.substr(head_end + 4);
  const std::string head = Lower(response.substr(0, head_end + 2));
  if (const auto length_at = head.find("\r\ncontent-length:"); length_at != std::string::npos) {
    std::size_t length = 0;
    const char* begin = head.data() + length_at + 17;
    while (*begin == ' ')
      ++begin;
    if (std::from_chars(begin, head.data() + head.size(), length).ec == std::errc{}) {
      if (length > body.size()) {
        return Fail(Errc::kUnavailable,
                    "cannot read the status from " + endpoint + ": the answer was cut short");
      }
      body.resize(length);
    }
  }
  if (status != 200) {
    return Fail(Errc::kRejected,
                "the status page answered " + std::to_string(status) + " " + reason + ": " + body);
  }
  if (!complete) return Fail(Errc::kUnavailable, "cannot read the status from " + endpoint + ": cut short");
  return body;
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

Result<X509Ptr> LoadPinned(const std::filesystem::path& file) {
  auto text = core::ReadCheckedFile(file, core::kCertificateFile);
  if (!text) return tl::unexpected(text.error());
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(text->data(), static_cast<int>(text->size())), BIO_free);
  X509Ptr certificate(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!certificate) return Fail(Errc::kIo, "no PEM certificate in " + file.string());
  return certificate;
}

}  // namespace

Result<std::string> Fetch(const FetchOptions& options) {
  const std::string host = ReachableHost(options.host);
  Socket socket;
  if (auto connected = Connect(host, options.port, socket); !connected)
    return tl::unexpected(connected.error());
  if (options.pinned_cert_file.empty()) {
    Stream stream(socket.fd, nullptr);
    return Exchange(stream, host, options);
  }
  auto pinned = LoadPinned(options.pinned_cert_file);
  if (!pinned) return tl::unexpected(pinned.error());
  // The status page's certificate is the gateway's own (often self-signed): pinned, not chained, and the
  // pin replaces the host name check.
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                                  SSL_CTX_free);
  if (!context) return Fail(Errc::kUnavailable, "TLS unavailable: " + OpenSslReason());
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_options(context.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), SSL_free);
  if (!ssl || SSL_set_fd(ssl.get(), socket.fd) != 1) {
    return Fail(Errc::kUnavailable, "TLS unavailable: " + OpenSslReason());
  }
  const std::string endpoint = Endpoint(host, options.port);
  errno = 0;
  if (SSL_connect(ssl.get()) != 1) {
    return Fail(Errc::kUnavailable,
                "cannot read the status from " + endpoint + ": TLS handshake failed: " + OpenSslReason());
  }
  const X509Ptr presented(SSL_get1_peer_certificate(ssl.get()), X509_free);
  if (!presented || X509_cmp(presented.get(), pinned->get()) != 0) {
    return Fail(Errc::kIo, "the server at " + endpoint + " did not present the status page certificate " +
                               options.pinned_cert_file.string() + ": nothing was sent");
  }
  Stream stream(socket.fd, ssl.get());
  auto body = Exchange(stream, host, options);
  SSL_shutdown(ssl.get());
  return body;
}

}  // namespace ehg::http
