#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "gateway/core/result.hpp"
#include "gateway/http/status.hpp"

// The local status page, /api/status and /metrics on Poco's HTTP server (two worker threads, GET and
// HEAD only). On a loopback address it serves plain HTTP to anyone on the gateway; on any other address
// it requires TLS and the per-device token (Bearer, or Basic with the token as password), with failed
// attempts rate-limited (access.hpp). Every response is no-store with a strict Content-Security-Policy.
namespace ehg::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8780;  // 0: any free port (tests)
  std::string token;          // required beyond loopback
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  std::chrono::seconds refresh{10};
  // Called on a server thread for every request; must be thread-safe.
  std::function<StatusSnapshot()> snapshot;
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
  ~StatusServer();  // stops accepting and waits for requests in progress
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
