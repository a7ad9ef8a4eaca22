#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/store/store.hpp"

// Message bodies the uplink writes itself (the status topic, observation batches). Schemas in
// docs/mqtt.md.
namespace ehg::uplink {

struct StatusInfo {
  std::string gateway_id;
  std::string tenant;
  std::string version;
  core::WallTime time{};
  core::WallTime connected_at{};  // when the current connection was attempted: names the connection
  std::chrono::seconds uptime{0};
  std::chrono::seconds heartbeat_interval{60};
  store::OutboxSnapshot backlog;
  std::uint64_t alerts_awaiting_receipt = 0;
  std::uint64_t events_awaiting_receipt = 0;  // alerts included
  std::uint64_t reconnects = 0;
  bool clock_synchronised = true;
};

// Retained "online" status: the birth message and every heartbeat.
std::string OnlineStatusBody(const StatusInfo& info);
// Retained "offline" status: the last will (reason "connection lost", no time: it is signed when the
// connection is made and the broker sends it later) and the goodbye on a clean stop (reason "shutdown",
// with time). Both name the connection they end by its `connected_at`.
std::string OfflineStatusBody(std::string_view gateway_id, std::string_view tenant, std::string_view reason,
                              const core::WallTime* time, core::WallTime connected_at);

// Observations sent as one message. The bodies are the stored event bodies (JSON objects we wrote).
std::string ObservationBatchBody(std::string_view gateway_id, const std::vector<const std::string*>& bodies);

}  // namespace ehg::uplink
