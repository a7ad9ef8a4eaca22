#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "gateway/core/result.hpp"
#include "gateway/http/status.hpp"

// The local status page, /api/status and /metrics (GET and HEAD only). On a loopback address it serves
// plain HTTP to anyone on the gateway; on any other address it requires TLS (1.2 with ECDHE and an AEAD
// suite, or 1.3) and the per-device token (Bearer, or Basic with the token as password), with failed
// attempts rate-limited per address (access.hpp). Every response is no-store with a strict
// Content-Security-Policy, and closes its connection.
//
// It stays available to the installer while others connect slowly, often or wrongly: one thread reads
// every connection without blocking (TLS handshake and request head within a short deadline, heads of
// bounded size, bodies refused unread, connections per address and overall bounded, the token checked
// on the head), and only complete, authorised requests reach the two threads that render answers. See
// docs/status-page.md, "Limits".
namespace ehg::http {

// The page's limits. Constants of the product, not config keys (docs/status-page.md, "Limits"); tests
// may tighten them.
struct ServerLimits {
  // From accepting a connection to the end of its request head, the TLS handshake included.
  std::chrono::milliseconds head_deadline{3000};
  // From the answer being ready to the client having taken all of it.
  std::chrono::milliseconds response_deadline{10000};
  std::size_t connections_per_address = 8;
  std::size_t connections = 128;
  std::size_t max_head_bytes = 8 * 1024;
  std::size_t workers = 2;
  std::size_t queued_requests = 16;  // authorised requests waiting for a worker; beyond: 503
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8780;  // 0: any free port (tests)
  std::string token;          // required beyond loopback
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  std::chrono::seconds refresh{10};
  // Called on a server thread for every request; must be thread-safe.
  std::function<StatusSnapshot()> snapshot;
  ServerLimits limits;
};

// The per-device token: the first line of the file (trailing CR and spaces dropped), at least 32
// characters. For the daemon and for `status`, which must read the same file the same way: a regular
// file of at most 4 KiB that only its owner may access (core::kTokenFile).
Result<std::string> ReadTokenFile(const std::filesystem::path& file);

class StatusServer {
 public:
  // Refuses (Errc::kInvalidArgument) a non-loopback address without a token or without TLS files;
  // Errc::kIo when the address cannot be bound or the certificate not loaded.
  static Result<std::unique_ptr<StatusServer>> Start(ServerOptions options);
  ~StatusServer();  // stops accepting, waits for answers being rendered, closes every connection
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  std::uint16_t port() const;
  bool tls() const;

  struct Impl;

 private:
  explicit StatusServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ehg::http
