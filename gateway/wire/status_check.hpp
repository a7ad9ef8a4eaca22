#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/crypto/keys.hpp"

// The care system's side of the retained status (docs/mqtt.md#status-retained): is a status the
// gateway's own, fresh, and newer than the one before? A broker, or anyone who may publish on a
// gateway's status topic, must not be able to keep a silenced gateway looking online. The reference
// receiver uses this; a care system does the same checks.
namespace ehg::wire {

struct GatewayStatus {
  std::string state;                           // "online" or "offline"
  std::string reason;                          // offline: "connection lost" (the last will) or "shutdown"
  std::optional<core::WallTime> time;          // when the gateway wrote it; a last will has none
  core::WallTime connected_at{};               // the connection it belongs to
  std::chrono::seconds heartbeat_interval{0};  // online only
  std::string signer;                          // the key id; empty for a development plaintext status
  // What an online status reports of the gateway (docs/mqtt.md#status-retained), for the care system's
  // fleet view. Informative only: absent or of the wrong type, each is left empty, never a refusal.
  std::string version;  // at most 64 printable ASCII characters, else empty
  std::optional<std::int64_t> backlog_events;
  std::optional<std::int64_t> backlog_bytes;
  std::optional<std::int64_t> backlog_alerts;
  std::optional<std::int64_t> alerts_awaiting_receipt;
  std::optional<std::int64_t> dropped_observations;
  std::optional<bool> clock_synchronised;
};

struct StatusVerdict {
  bool accepted = false;
  // When refused: unsigned, malformed, algorithm, unknown_key, bad_signature, wrong_type,
  // gateway_mismatch, not_yet_valid, stale, replayed.
  std::string reason;
  std::string detail;
  GatewayStatus status;  // what was read (complete when accepted)
};

struct StatusPolicy {
  std::chrono::seconds clock_skew{60};
  // An online status older than this many of its own heartbeat intervals is stale: the gateway is silent.
  int silent_after_heartbeats = 3;
};

struct SilentGateway {
  std::string tenant;
  std::string gateway;
  core::WallTime last_status{};
  std::chrono::seconds heartbeat_interval{0};
};

class StatusTracker {
 public:
  // `gateway_keys`: the enrolled gateways' public keys. nullptr only for development plaintext payloads:
  // then a status is plain JSON and nothing proves who wrote it.
  explicit StatusTracker(const crypto::KeySet* gateway_keys, StatusPolicy policy = {});

  // One message from ehealth/v1/{tenant}/{gateway}/status, at `now` (the receiver's clock).
  StatusVerdict Check(std::string_view tenant, std::string_view gateway, std::string_view payload,
                      core::WallTime now);
  // Gateways whose last accepted status says online and has grown older than the silence limit since;
  // each is reported once until a newer status is accepted.
  std::vector<SilentGateway> NewlySilent(core::WallTime now);

 private:
  struct Known {
    std::string tenant;
    std::string gateway;
    GatewayStatus status;                       // the last accepted one
    std::optional<core::WallTime> latest_time;  // newest time of any accepted status
    bool reported_silent = false;
  };
  std::chrono::milliseconds SilenceLimit(const GatewayStatus& status) const;

  const crypto::KeySet* gateway_keys_;
  StatusPolicy policy_;
  std::map<std::string, Known> known_;  // by tenant/gateway
};

}  // namespace ehg::wire
