// ehealth-engine-admin: the engine's stream and consumer for operators and the demo, through the same
// library the hub uses (there is no `nats` command-line tool in Debian 12).
#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>
#include <string>

#include "care/engine/engine.hpp"

namespace {

std::vector<std::string> SplitServers(const std::string& text) {
  std::vector<std::string> servers;
  std::stringstream stream(text);
  for (std::string server; std::getline(stream, server, ',');)
    if (!server.empty()) servers.push_back(server);
  return servers;
}

int Report(const ehg::Error& error) {
  std::cerr << "ehealth-engine-admin: " << error.message << "\n";
  return error.code == ehg::Errc::kUnavailable ? 69 : 1;  // EX_UNAVAILABLE: the cluster is not there
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ehealth-engine-admin: the event stream and the hub's consumer on the NATS cluster"};
  app.set_version_flag("--version", std::string("ehealth-engine-admin ") + EHG_VERSION);
  app.require_subcommand(1);
  std::string servers;
  ehg::engine::EngineOptions options;
  int max_age_hours = 24 * 14;
  double max_gib = 16;
  app.add_option("--servers", servers, "Every node, comma-separated: tls://host:port,...")->required();
  app.add_option("--ca", options.ca_file, "CA of the nodes' certificates")->required();
  app.add_option("--cert", options.cert_file, "Client certificate mapped to the hub user")->required();
  app.add_option("--key", options.key_file, "Its private key")->required();
  int wait_seconds = 10;
  app.add_option("--wait", wait_seconds, "Seconds to wait for a connection")->check(CLI::Range(1, 3600));

  CLI::App* create = app.add_subcommand(
      "create-stream",
      "Create the event stream and the hub's durable consumer, or bring them to these settings");
  create->add_option("--replicas", options.stream.replicas, "Copies of each message")
      ->check(CLI::Range(1, 5));
  create->add_option("--max-age-hours", max_age_hours, "Hours a message is kept")
      ->check(CLI::Range(1, 24 * 365));
  create->add_option("--max-gib", max_gib, "Size limit of the stream in GiB")
      ->check(CLI::Range(0.001, 100000.0));
  CLI::App* info = app.add_subcommand("stream-info", "Print the stream's messages, sequences and replicas");
  CLI11_PARSE(app, argc, argv);

  options.servers = SplitServers(servers);
  options.stream.max_age = std::chrono::hours(max_age_hours);
  options.stream.max_bytes = static_cast<std::int64_t>(max_gib * 1024 * 1024 * 1024);
  auto engine = ehg::engine::Engine::Connect(options);
  if (!engine) return Report(engine.error());
  if (!(*engine)->WaitConnected(std::chrono::seconds(wait_seconds)))
    return Report(
        {ehg::Errc::kUnavailable, "no server reachable within " + std::to_string(wait_seconds) + " s"});
  if (create->parsed()) {
    if (auto stream = (*engine)->EnsureStream(); !stream) return Report(stream.error());
    if (auto consumer = (*engine)->EnsureConsumer(); !consumer) return Report(consumer.error());
    std::cout << "stream " << options.stream.name << " and consumer " << options.consumer.durable
              << " ready\n";
  }
  if (info->parsed() || create->parsed()) {
    auto state = (*engine)->StreamInfo();
    if (!state) return Report(state.error());
    std::cout << "stream=" << options.stream.name << " messages=" << state->messages
              << " first_sequence=" << state->first_sequence << " last_sequence=" << state->last_sequence
              << " replicas=" << state->replicas << " leader=" << state->leader
              << " current_followers=" << state->current_followers << "\n";
  }
  return 0;
}
