// ehealth-engine-admin: the engine's stream and consumer for operators and the demo, through the same
// library the hub uses (there is no `nats` command-line tool in Debian 12).
#include <iostream>
#include <sstream>
#include <string>

#include "care/engine/engine.hpp"
#include "gateway/command_line/command_line.hpp"

namespace cli = ehg::command_line;

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
  cli::Program app{"ehealth-engine-admin: the event stream and the hub's consumer on the NATS cluster",
                   std::string("ehealth-engine-admin ") + EHG_VERSION};
  app.RequireSubcommand();
  std::string servers;
  ehg::engine::EngineOptions options;
  int max_age_hours = 24 * 14;
  double max_gib = 16;
  app.Add("--servers", servers, "Every node, comma-separated: tls://host:port,...").Required();
  app.Add("--ca", options.ca_file, "CA of the nodes' certificates").Required();
  app.Add("--cert", options.cert_file, "Client certificate mapped to the hub user").Required();
  app.Add("--key", options.key_file, "Its private key").Required();
  int wait_seconds = 10;
  app.Add("--wait", wait_seconds, "Seconds to wait for a connection").Range(1, 3600);

  cli::Command create = app.Subcommand(
      "create-stream",
      "Create the event stream and the hub's durable consumer, or bring them to these settings");
  create.Add("--replicas", options.stream.replicas, "Copies of each message").Range(1, 5);
  create.Add("--max-age-hours", max_age_hours, "Hours a message is kept").Range(1, 24 * 365);
  create.Add("--max-gib", max_gib, "Size limit of the stream in GiB").Range(0.001, 100000.0);
  cli::Command info = app.Subcommand("stream-info", "Print the stream's messages, sequences and replicas");
  if (const auto exit_code = app.Parse(argc, argv)) return *exit_code;

  options.servers = SplitServers(servers);
  options.stream.max_age = std::chrono::hours(max_age_hours);
  options.stream.max_bytes = static_cast<std::int64_t>(max_gib * 1024 * 1024 * 1024);
  auto engine = ehg::engine::Engine::Connect(options);
  if (!engine) return Report(engine.error());
  if (!(*engine)->WaitConnected(std::chrono::seconds(wait_seconds)))
    return Report(
        {ehg::Errc::kUnavailable, "no server reachable within " + std::to_string(wait_seconds) + " s"});
  if (create.Parsed()) {
    if (auto stream = (*engine)->EnsureStream(); !stream) return Report(stream.error());
    if (auto consumer = (*engine)->EnsureConsumer(); !consumer) return Report(consumer.error());
    std::cout << "stream " << options.stream.name << " and consumer " << options.consumer.durable
              << " ready\n";
  }
  if (info.Parsed() || create.Parsed()) {
    auto state = (*engine)->StreamInfo();
    if (!state) return Report(state.error());
    std::cout << "stream=" << options.stream.name << " messages=" << state->messages
              << " first_sequence=" << state->first_sequence << " last_sequence=" << state->last_sequence
              << " replicas=" << state->replicas << " leader=" << state->leader
              << " current_followers=" << state->current_followers << "\n";
  }
  return 0;
}
