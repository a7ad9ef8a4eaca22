#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gateway/core/result.hpp"
#include "tools/fleet/fleet_model.hpp"

// The fleet simulator's shell (docs/operations-hub.md#the-fleet-simulator): one MQTT 3.1.1 connection
// per simulated gateway (paho, TLS with the gateway's own certificate), envelopes sealed and statuses
// signed with the gateway's own key by the gateway's own code, receipts verified like a gateway does.
namespace ehg::fleet {

struct RunOptions {
  std::filesystem::path fleet_directory;      // made by Provision
  std::filesystem::path ca_file;              // the engine's CA
  std::vector<std::string> broker_uris;       // ssl://host:port; gateway g connects to uri g % size
  std::filesystem::path care_encryption_key;  // the care system's public encryption key
  std::filesystem::path command_keys;         // the care system's public command key(s)
  Profile profile;
  // Connect only, sending nothing, for this long first: a benchmark measures the fleet's steady load,
  // not its first 2,000 TLS handshakes.
  std::chrono::seconds settle{0};
  std::chrono::seconds duration{60};  // of sending new events, after settling
  // After the duration (or a stop request): nothing new is sent; unconfirmed messages are still sent
  // again until every event is confirmed or this long has passed.
  std::chrono::seconds drain{60};
  double connects_per_second = 200;  // first connections and reconnects are paced (a TLS handshake each)
  std::size_t limit = 0;             // the first `limit` members of the fleet only; 0: all
  // Of those, the members whose position modulo `shards` is `shard`: a large fleet runs as several
  // processes (paho serves all connections of a process with one network thread and one lock).
  std::size_t shard = 0;
  std::size_t shards = 1;
  std::filesystem::path
      events_file;  // when set: every event sent, "event_id<TAB>kind<TAB>tenant<TAB>gateway"
  // When set, per alert: "event_id<TAB>first publish (Unix ms)<TAB>receipt (Unix ms)", "-" for never.
  std::filesystem::path alerts_file;
  std::string resident_prefix = "fleet-resident-";
  // Heartbeats and last wills as retained messages, as a gateway with broker.retain_status on. Off by
  // default: the fleet stands for gateways on the care side's engine, where nobody reads them retained
  // (docs/operations-hub.md#gateways-on-the-engine).
  bool retain_status = false;
  // The QoS of each gateway's command subscription (broker.command_qos). 0 by default, as gateways on the
  // engine subscribe: at 1 NATS keeps a durable consumer per gateway (docs/operations-hub.md).
  int command_qos = 0;
};

struct RunReport {
  std::size_t gateways = 0;
  std::size_t connections = 0;  // successful connects, first ones included
  std::size_t connect_failures = 0;
  std::size_t connections_lost = 0;
  std::size_t storm_drops = 0;  // connections dropped on purpose by a reconnect storm
  std::size_t messages = 0;     // first copies
  std::size_t copies_resent = 0;
  std::size_t events = 0;
  std::size_t events_confirmed = 0;
  std::size_t alerts = 0;
  std::size_t alerts_confirmed = 0;
  std::size_t heartbeats = 0;
  std::size_t receipts = 0;
  std::size_t receipt_repeats = 0;   // ids named again (a repeated receipt) or never sent
  std::size_t commands_refused = 0;  // did not verify or parse
  std::size_t events_waiting = 0;    // at the end: sent and never confirmed
  std::size_t alerts_waiting = 0;
  std::vector<Micros> alert_round_trips;
  double seconds = 0;
};

// Runs until the duration has passed or `stop` is set, then drains. Errors only for what prevents a start
// (the fleet directory, the keys).
Result<RunReport> RunFleet(const RunOptions& options, const std::atomic<bool>& stop);

// The report as one JSON object (latencies in milliseconds).
std::string ReportJson(const RunReport& report);

}  // namespace ehg::fleet
