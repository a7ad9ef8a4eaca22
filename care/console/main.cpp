// ehealth-console: the care staff's web console (docs/console.md). One process of many: each serves
// any request, as all state is in the hub's PostgreSQL.
#include <signal.h>

#include <csignal>
#include <iostream>

#include "care/console/server.hpp"
#include "gateway/command_line/command_line.hpp"
#include "gateway/core/clock.hpp"

namespace cli = ehg::command_line;

int main(int argc, char** argv) {
  cli::Program app{
      "ehealth-console: the care staff's alert board, residents' charts and the fleet, in the browser",
      std::string("ehealth-console ") + EHG_VERSION};
  // The package's unit runs `ehealth-console --config /etc/ehealth-hub/console.toml`: the keys are the
  // options' long names; a key that is no option is an error (a typo must not leave a default in force).
  app.ConfigFileOption("--config", "A TOML file with the options below (their long names as keys)");
  ehg::console::ServerOptions options;
  std::string listen = "127.0.0.1:8443";
  app.Add("--database", options.database, "libpq connection string (the hub's database)").Required();
  app.Add("--listen", listen, "host:port to serve HTTPS on (port 0: any free one)");
  app.Add("--tls-cert", options.tls_cert_file, "The server certificate (PEM)").Required();
  app.Add("--tls-key", options.tls_key_file, "Its private key (PEM)").Required();
  app.Add("--web-root", options.web_root, "The console's pages and scripts")
      .Default("/usr/share/ehealth-hub/console");
  app.Add("--chart-js", options.chart_js, "Chart.js, as the package libjs-chart.js installs it")
      .Default("/usr/share/javascript/chart.js/chart.min.js");
  app.Add("--database-connections", options.database_connections, "Requests reading the database at once")
      .Range(1, 64);
  if (const auto exit_code = app.Parse(argc, argv))
    return *exit_code == 0 ? 0 : 78;  // EX_CONFIG: the unit does not restart a console configured wrongly
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "ehealth-console: --listen is host:port\n";
    return 64;
  }
  options.host = listen.substr(0, colon);
  try {
    options.port = static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1)));
  } catch (const std::exception&) {
    std::cerr << "ehealth-console: --listen is host:port\n";
    return 64;
  }

  // SIGTERM and SIGINT are taken by sigwait below, never by a handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ehg::core::SystemClock clock(true);
  auto server = ehg::console::ConsoleServer::Start(options, clock);
  if (!server) {
    std::cerr << "ehealth-console: " << server.error().message << "\n";
    return server.error().code == ehg::Errc::kUnavailable ? 69 : 78;
  }
  std::cout << "console listening on https://" << options.host << ":" << (*server)->port() << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  std::cout << "console stopping" << std::endl;
  return 0;
}
