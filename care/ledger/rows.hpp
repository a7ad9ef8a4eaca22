#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/result.hpp"

// The pure half of the hub's store (docs/hub-database.md): an opened, verified message body and the
// tenant and gateway of the topic it came on, turned into the rows the ledger writes. No database, no
// I/O: every function here takes bytes and returns rows or an error saying why, whatever the bytes.
// The body was signed by an enrolled gateway key, but a gateway is still outside the hub: a buggy or
// stolen one writes what it likes, so everything is checked and bounded before it goes near SQL.
namespace ehg::ledger {

// Bounds on what one message may hold. The envelope layer refuses JOSE objects above 4 MiB already.
inline constexpr std::size_t kMaxBodyBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxBundleEntries = 1000;  // the gateway sends 50 (uplink.observation_batch_max)
inline constexpr std::size_t kMaxIdBytes = 128;         // pseudonyms, device, rule and alert ids
inline constexpr std::size_t kMaxTextBytes = 4096;      // details, notes
inline constexpr std::size_t kMaxFlags = 16;

enum class Kind { kAlert, kObservation, kDevice, kGateway, kCommandResult };
std::string_view ToString(Kind kind);
std::optional<Kind> ParseKind(std::string_view name);

// ehealth/v1/{tenant}/{gateway}/event/{kind}, .../cmd/result or .../status, as an MQTT topic ('/') or
// the NATS subject it becomes ('.'). `kind` is empty for a status.
struct Topic {
  std::string tenant;
  std::string gateway;
  std::optional<Kind> kind;
  bool status = false;
};
Result<Topic> ParseTopic(std::string_view topic);

bool ValidTenant(std::string_view tenant);    // four digits (the municipality number)
bool ValidGateway(std::string_view gateway);  // 1-64 of [A-Za-z0-9_-]

// One event id the message carries, with what every kind shares.
struct IngestedEvent {
  core::EventId event_id;
  Kind kind = Kind::kObservation;
  core::WallTime time{};  // alert: updated_at; observation: effective; others: time
  std::string subject;    // the resident's pseudonym; empty for a command result
};

// One measured value. A blood pressure entry gives one row per component, all with the entry's event id.
struct ObservationRow {
  core::EventId event_id;
  std::string subject;
  std::string device;
  std::string metric;  // a name of the metric catalogue (docs/events.md)
  core::WallTime effective{};
  std::optional<core::WallTime> issued;
  double value = 0;                // in the catalogue's unit (a body height sent in cm is stored in m)
  std::string unit;                // the catalogue's UCUM unit
  std::vector<std::string> flags;  // quality flags, plus time_uncertain and device_clock_suspect
  std::string identifier;          // the FHIR business identifier (alerts' evidence names it)
};

struct AlertRow {
  std::string alert_id;
  std::string change;  // raised, updated, escalated, acknowledged, resolved
  int stage = 0;       // 0 open (raised, updated, escalated), 1 acknowledged, 2 resolved: never goes back
  std::string state;
  std::string severity;
  int priority = 1;  // 0 critical, 1 other severities (docs/events.md)
  std::string rule_id;
  std::string metric;
  std::string device;
  core::WallTime raised_at{};
  core::WallTime updated_at{};
  std::int64_t escalation_level = 0;
  std::int64_t occurrences = 0;
  double worst_value = 0;
  std::optional<core::WallTime> acknowledged_at;
  std::string acknowledged_by;
  std::optional<core::WallTime> resolved_at;
  std::string resolved_by;
};

struct DeviceRow {
  std::string device;
  bool connected = false;
  std::string detail;
};

struct GatewayEventRow {
  std::string code;
  std::string severity;
  std::string detail;
};

struct CommandResultRow {
  std::string command_id;  // empty when the command's id could not be read
  std::string type;
  std::string status;  // ok or rejected
  std::string detail;
};

// The rows of one message: every event id it carries and the rows of its kind.
struct Message {
  std::string tenant;
  std::string gateway;
  Kind kind = Kind::kObservation;
  std::vector<IngestedEvent> events;
  std::string body;  // the verified body as stored with alert, device, gateway and command result events
  std::vector<ObservationRow> observations;
  std::optional<AlertRow> alert;
  std::optional<DeviceRow> device;
  std::optional<GatewayEventRow> gateway_event;
  std::optional<CommandResultRow> command_result;
};

// The rows of one opened body that came on a topic of `tenant`/`gateway` for events of `kind`. All or
// nothing: an observation Bundle with one bad entry is refused whole (Errc::kParse, the entry named),
// since a gateway that wrote one bad entry cannot be trusted with its neighbours either, and the hub
// must not confirm a message it did not store whole.
Result<Message> ReadMessage(std::string_view tenant, std::string_view gateway, Kind kind,
                            std::string_view body);

// The retained status (ehealth-gateway/status/v0) of a gateway, after wire::StatusTracker has verified
// its signature, freshness and order: what the gateways table keeps of it.
struct StatusRow {
  std::string tenant;
  std::string gateway;
  std::string state;                   // online or offline
  std::string reason;                  // offline: connection lost (the last will) or shutdown
  std::optional<core::WallTime> time;  // a last will has none
  core::WallTime connected_at{};
  std::string version;
  std::optional<std::int64_t> heartbeat_interval_seconds;
  std::optional<std::int64_t> backlog_events;
  std::optional<std::int64_t> backlog_bytes;
  std::optional<std::int64_t> backlog_alerts;
  std::optional<std::int64_t> alerts_awaiting_receipt;
  std::optional<std::int64_t> dropped_observations;
  std::optional<bool> clock_synchronised;
  // When the hub took it, by the hub's clock (the gateway's may lie): a gateway online since a command
  // went out gets it again (Ledger::ResendCommands). nullopt: not recorded.
  std::optional<core::WallTime> received_at;
};
Result<StatusRow> ReadStatus(std::string_view tenant, std::string_view gateway, std::string_view body);

}  // namespace ehg::ledger
