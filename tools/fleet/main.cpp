// ehealth-fleet-sim: thousands of simulated gateways in one process, for the hub's load and chaos tests
// (docs/operations-hub.md#the-fleet-simulator). `provision` makes their identities, `run` connects them
// to the engine's MQTT listener and sends observation batches, alerts and heartbeats, re-sending until the
// care system confirms every event.
#include <signal.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/command_line/command_line.hpp"
#include "tools/fleet/fleet_runner.hpp"
#include "tools/fleet/provision.hpp"

namespace cli = ehg::command_line;

namespace {

std::atomic<bool> stop_requested{false};
void OnStopSignal(int) {
  stop_requested.store(true);
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ','))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Program app{"ehealth-fleet-sim: simulated gateways for the hub's load and chaos tests",
                   std::string("ehealth-fleet-sim ") + EHG_VERSION};
  app.RequireSubcommand();

  ehg::fleet::ProvisionRequest provision;
  std::string tenants = "0301";
  cli::Command provision_command = app.Subcommand("provision", "Make the fleet's keys and certificates");
  provision_command.Add("--dir", provision.directory, "Where the fleet's files go").Required();
  provision_command.Add("--ca", provision.ca_certificate, "The CA certificate (PEM)").Required();
  provision_command.Add("--ca-key", provision.ca_key, "The CA's private key (PEM)").Required();
  provision_command.Add("--gateways", provision.gateways, "How many").Required().Range(1, 100000);
  provision_command.Add("--tenants", tenants, "Municipality numbers, comma-separated (in turn)");
  provision_command.Add("--prefix", provision.prefix, "Gateway id prefix");

  ehg::fleet::RunOptions run;
  std::string brokers;
  double observation_seconds = 60, heartbeat_seconds = 60, burst_every = 0, burst_seconds = 30,
         storm_every = 0, receipt_timeout = 30;
  int duration = 60, drain = 60;
  cli::Command run_command = app.Subcommand("run", "Connect the fleet and send until the duration is over");
  run_command.Add("--dir", run.fleet_directory, "The provisioned fleet").Required();
  run_command.Add("--brokers", brokers, "MQTT TLS addresses, comma-separated (ssl://host:port)").Required();
  run_command.Add("--cafile", run.ca_file, "The engine's CA").Required();
  run_command.Add("--care-key", run.care_encryption_key, "The care system's public encryption key")
      .Required();
  run_command.Add("--command-keys", run.command_keys, "The care system's public command key(s)").Required();
  run_command.Add("--duration", duration, "Seconds of sending").Range(1, 7 * 24 * 3600);
  int settle = 0;
  run_command.Add("--settle", settle, "Seconds of connecting only, before sending").Range(0, 3600);
  run_command.Add("--drain", drain, "Seconds to wait for the last receipts").Range(0, 3600);
  run_command.Add("--limit", run.limit, "Only the first N gateways of the fleet");
  std::string shard = "0/1";
  run_command.Add("--shard", shard, "K/N: this process runs every N-th gateway from the K-th (0-based)")
      .Check([](const std::string& text) {
        std::size_t k = 0, n = 0;
        char slash = 0;
        std::istringstream in(text);
        return (in >> k >> slash >> n) && slash == '/' && n > 0 && k < n && in.eof()
                   ? std::string()
                   : std::string("expected K/N with K < N");
      });
  run_command.Add("--observation-interval", observation_seconds, "Seconds between a gateway's batches");
  run_command.Add("--readings", run.profile.readings_per_batch, "Readings per batch").Range(1, 50);
  run_command.Add("--heartbeat-interval", heartbeat_seconds, "Seconds between heartbeats");
  run_command.Add("--alerts-per-second", run.profile.alerts_per_second, "Alerts across the fleet");
  run_command.Add("--burst-every", burst_every, "Seconds between bursts (0: none)");
  run_command.Add("--burst-seconds", burst_seconds, "Length of a burst");
  run_command.Add("--burst-factor", run.profile.burst_factor, "Batches this many times as often");
  run_command.Add("--storm-every", storm_every, "Seconds between reconnect storms (0: none)");
  run_command.Add("--storm-fraction", run.profile.storm_fraction, "Share of the fleet each storm drops")
      .Range(0.0, 1.0);
  run_command.Add("--receipt-timeout", receipt_timeout, "Seconds before an unconfirmed message goes again");
  run_command.Add("--connects-per-second", run.connects_per_second, "Connection attempts per second");
  run_command.Add("--events-file", run.events_file, "Write every event sent here");
  run_command.Add("--alerts-file", run.alerts_file, "Write each alert's publish and receipt time here");
  run_command.Flag("--retain-status", run.retain_status,
                   "Heartbeats and last wills retained (a gateway's broker.retain_status)");
  run_command.Add("--command-qos", run.command_qos, "QoS of each gateway's command subscription (0 or 1)")
      .Range(0, 1);

  if (const auto exit_code = app.Parse(argc, argv)) return *exit_code;

  if (provision_command) {
    provision.tenants = Split(tenants);
    auto members = ehg::fleet::Provision(provision);
    if (!members) {
      std::cerr << "ehealth-fleet-sim: " << members.error().message << "\n";
      return 1;
    }
    std::cout << "provisioned " << members->size() << " gateways in " << provision.directory.string() << "\n";
    return 0;
  }

  auto seconds = [](double value) { return ehg::fleet::Millis(static_cast<long long>(value * 1000)); };
  run.broker_uris = Split(brokers);
  {
    char slash = 0;
    std::istringstream in(shard);
    in >> run.shard >> slash >> run.shards;
  }
  run.duration = std::chrono::seconds(duration);
  run.settle = std::chrono::seconds(settle);
  run.drain = std::chrono::seconds(drain);
  run.profile.observation_interval = seconds(observation_seconds);
  run.profile.heartbeat_interval = seconds(heartbeat_seconds);
  run.profile.burst_every = seconds(burst_every);
  run.profile.burst_length = seconds(burst_seconds);
  run.profile.storm_every = seconds(storm_every);
  run.profile.receipt_timeout = seconds(receipt_timeout);
  signal(SIGTERM, OnStopSignal);
  signal(SIGINT, OnStopSignal);
  auto report = ehg::fleet::RunFleet(run, stop_requested);
  if (!report) {
    std::cerr << "ehealth-fleet-sim: " << report.error().message << "\n";
    return 1;
  }
  std::cout << ehg::fleet::ReportJson(*report) << std::endl;
  // 3: the run ended with events the care system never confirmed.
  return report->events_waiting == 0 ? 0 : 3;
}
