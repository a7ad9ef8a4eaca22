#pragma once

#include <filesystem>
#include <string>

#include "gateway/core/result.hpp"

// How `ehealth-gateway status` reads the running daemon's /api/status.
namespace ehg::http {

struct FetchOptions {
  std::string host = "127.0.0.1";  // 0.0.0.0 / :: (listening everywhere) are asked on loopback
  unsigned port = 8780;
  std::string token;  // sent only after the server showed the pinned certificate (TLS) or on loopback
  // TLS: the server must present exactly this certificate (the gateway's own status page certificate),
  // checked before anything is sent. Empty: plain HTTP (loopback only).
  std::filesystem::path pinned_cert_file;
  std::string path = "/api/status";
};

// The body of a 200 response; Errc::kUnavailable when nothing listens, kRejected for another status
// (the message names it), kIo for a certificate that is not the pinned one.
Result<std::string> Fetch(const FetchOptions& options);

}  // namespace ehg::http
