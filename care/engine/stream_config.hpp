#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/result.hpp"

// The event stream and the hub's durable consumer as we want them, and what to do about the ones the
// server has (docs/operations-hub.md#the-engine). Pure: the adapter (engine.cpp) reads the server's
// configuration into the Observed* structs and acts on the plan.
namespace ehg::engine {

struct StreamSettings {
  std::string name = "EHEALTH_EVENTS";
  // Everything a gateway sends up, whether or not a hub runs: events, command results, the status. Never
  // the commands going down (ehealth.v1.*.*.cmd): the hub would read its own commands back.
  std::vector<std::string> subjects = {"ehealth.v1.*.*.event.>", "ehealth.v1.*.*.status",
                                       "ehealth.v1.*.*.cmd.result"};
  int replicas = 3;
  // JetStream drops a second message with the same Nats-Msg-Id within this window.
  std::chrono::seconds duplicate_window{120};
  // Held for a hub outage of days; gateways keep every event until its receipt anyway.
  std::chrono::seconds max_age{std::chrono::hours(24 * 14)};
  std::int64_t max_bytes = std::int64_t{16} * 1024 * 1024 * 1024;
  // Events are never larger than 4 MiB (docs/mqtt.md); the servers' max_payload is the same.
  std::int32_t max_message_bytes = 4 * 1024 * 1024;
  // When full: refuse new messages rather than drop the oldest unread ones. A refused event stays in its
  // gateway's outbox (no receipt comes) and is sent again; a dropped one would be read by no one.
  bool discard_new = true;
};

struct ConsumerSettings {
  std::string durable = "hub";
  // A message neither acknowledged nor refused within this time goes to another hub instance.
  std::chrono::milliseconds ack_wait{30000};
  // At most this many messages handed out and not yet acknowledged, over all hub instances.
  std::int64_t max_ack_pending = 1000;
  // Empty: the whole stream. The hub's alert lane reads only `ehealth.v1.*.*.event.alert`
  // (kAlertSubjects), so an alert never waits behind a backlog of observations.
  std::string filter_subject;
};

inline constexpr const char* kAlertSubjects = "ehealth.v1.*.*.event.alert";
// The alert lane's ack wait: an alert that a hub instance took and never acknowledged (it died in its
// turn) goes to another instance after this, not after the main consumer's 30 s. The main lane leaves
// alerts to this consumer, so nothing else stores them sooner. An alert turn takes milliseconds; one
// that took longer is redelivered and stored once all the same (unique event ids).
inline constexpr std::chrono::milliseconds kAlertAckWait{5000};

// What the server reports of an existing stream: the fields we manage.
struct ObservedStream {
  std::vector<std::string> subjects;
  int replicas = 0;
  std::chrono::nanoseconds duplicate_window{0};
  std::chrono::nanoseconds max_age{0};
  std::int64_t max_bytes = 0;
  std::int32_t max_message_bytes = 0;
  bool discard_new = false;
  bool file_storage = true;
  bool limits_retention = true;
};

struct ObservedConsumer {
  bool explicit_ack = true;
  bool deliver_all = true;
  bool pull = true;            // no deliver subject
  std::string filter_subject;  // empty: the whole stream
  std::chrono::nanoseconds ack_wait{0};
  std::int64_t max_ack_pending = 0;
};

enum class PlanAction {
  kCreate,   // none there
  kNothing,  // as wanted
  kUpdate,   // differs in what the server can change in place
  kRefuse,   // differs in what it cannot (storage, retention, ack or deliver policy): an operator decides
};

struct Plan {
  PlanAction action = PlanAction::kNothing;
  std::vector<std::string> differences;  // one line per field, for the log
};

// Settings that would break the contract: no subjects, a subject capturing the commands, a window longer
// than the age limit, fewer than one replica.
Result<void> CheckStreamSettings(const StreamSettings& settings);
Result<void> CheckConsumerSettings(const ConsumerSettings& settings);

Plan PlanStream(const StreamSettings& want, const std::optional<ObservedStream>& have);
Plan PlanConsumer(const ConsumerSettings& want, const std::optional<ObservedConsumer>& have);

// Whether the stream stores a message published on `subject`.
bool Captures(const StreamSettings& settings, std::string_view subject);

}  // namespace ehg::engine
