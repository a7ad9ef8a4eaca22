#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "care/console/sign_in.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

// The console's web process: HTTPS only (TLS 1.2 or 1.3), the pages and scripts of web_root, the API
// (web_api.hpp) and the live feed of alert changes as server-sent events (docs/console.md). Stateless:
// sessions and data live in the hub's PostgreSQL, so processes behind a load balancer share nothing.
namespace ehg::console {

struct ServerOptions {
  std::string database;  // libpq connection string
  std::string host = "127.0.0.1";
  std::uint16_t port = 8443;  // 0: any free port (tests)
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  std::filesystem::path web_root;  // index.html, console.js, views.js, console.css
  // Chart.js as Debian's libjs-chart.js installs it, served as /static/chart.min.js (no CDN).
  std::filesystem::path chart_js = "/usr/share/javascript/chart.js/chart.min.js";
  int database_connections = 4;    // requests that read the database at once
  int max_connections = 256;       // open connections (live feeds hold one each)
  SignInOptions sign_in;
};

class ConsoleServer {
 public:
  // Opens the database (migrating it like the hub), reads the web files, starts listening.
  static Result<std::unique_ptr<ConsoleServer>> Start(ServerOptions options, core::Clock& clock);
  ~ConsoleServer();  // stops listening, ends the live feeds
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  std::uint16_t port() const;

 private:
  struct Impl;
  explicit ConsoleServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ehg::console
