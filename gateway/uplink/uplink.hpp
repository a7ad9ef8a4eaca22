#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/histogram.hpp"
#include "gateway/core/result.hpp"
#include "gateway/core/telemetry.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/store/store.hpp"
#include "gateway/transport/transport.hpp"
#include "gateway/uplink/backoff.hpp"
#include "gateway/uplink/change_batcher.hpp"
#include "gateway/uplink/command_intake.hpp"
#include "gateway/uplink/counters.hpp"
#include "gateway/uplink/outbox_port.hpp"
#include "gateway/uplink/outbox_publisher.hpp"
#include "gateway/uplink/receipt_tracker.hpp"
#include "gateway/wire/commands.hpp"
#include "gateway/wire/topics.hpp"

// Sends the outbox to the care system over MQTT and takes its commands. At-least-once: a row leaves
// the outbox only after the broker acknowledged it (alerts: after the care system's receipt), and
// every event keeps its id, so receivers drop duplicates. See docs/mqtt.md.
namespace ehg::uplink {

// What became of a command the daemon carried out, for its command result.
struct CommandOutcome {
  bool ok = false;
  std::string detail;
};

// Answers a command the daemon carried out; callable from any thread, once.
using CommandDone = std::function<void(CommandOutcome outcome)>;

// Which events stay in the outbox until the care system's receipt (docs/mqtt.md, "End-to-end
// receipts"). A broker's PUBACK is not delivery: a broker that acknowledges and then loses a message
// (a restart, a shared subscription it forgot) loses nothing only when the care system confirms it.
enum class ReceiptScope {
  kEveryEvent,  // the default: alerts, observations, device and gateway events, command results
  kAlertsOnly,  // for a care system that confirms alerts only (the contract before end-to-end receipts)
};

struct UplinkOptions {
  std::string tenant;
  std::string gateway_id;
  std::string version;
  // Messages handed to the broker and not yet acknowledged.
  std::size_t in_flight_window = 32;
  // Observations per message, and how long a partial batch may wait for more.
  std::size_t observation_batch_max = 50;
  std::chrono::milliseconds observation_batch_window{2000};
  // The first resend of an event without a receipt; each further one waits twice as long as the one
  // before, up to kMaxReceiptResendInterval (or this value when it is larger). Critical and high
  // alerts never wait longer than this value or kMaxUrgentReceiptResendInterval, whichever is shorter.
  std::chrono::seconds receipt_resend_interval{60};
  ReceiptScope receipt_scope = ReceiptScope::kEveryEvent;
  std::chrono::seconds heartbeat_interval{60};
  std::chrono::milliseconds reconnect_initial{1000};
  std::chrono::milliseconds reconnect_max{60000};
  // Statuses and the last will as retained messages (broker.retain_status).
  bool retain_status = true;
  // Seals every event payload and opens every command (required: the daemon builds it from the config's
  // security section; only a config that names the development mode gets plaintext).
  std::shared_ptr<const crypto::PayloadProtection> protection;
  // Commands the uplink hands to the daemon, called on the uplink thread, which does not wait: the
  // daemon answers through `done` once, from any thread (it carries them out on its main thread); the
  // result is published from the uplink thread. Unset: refused as unsupported.
  std::function<void(const wire::ConfigChange&, CommandDone done)> apply_config;
  std::function<void(const wire::UpdateRequest&, const std::string& command_id, CommandDone done)>
      request_update;
  // Turns a batch of stored observation bodies into one message body (the daemon: a FHIR Bundle).
  std::function<std::string(std::string_view gateway_id, const std::vector<const std::string*>& bodies)>
      observation_batch;
  // Where the uplink's counters are declared; none: a registry of its own (tests, tools).
  core::telemetry::Registry* telemetry = nullptr;
};

enum class LinkState { kStopped, kDisconnected, kConnecting, kConnected };
std::string_view ToString(LinkState state);

struct UplinkStatus {
  LinkState state = LinkState::kStopped;
  std::size_t in_flight = 0;
  std::size_t alerts_awaiting_receipt = 0;
  std::size_t events_awaiting_receipt = 0;  // alerts included
  std::optional<core::WallTime> last_acknowledged;
  std::optional<core::WallTime> connected_since;
  std::chrono::seconds heartbeat_interval{60};
  std::string last_error;
};

// The MQTT 5 Maximum Packet Size the gateway announces on CONNECT: the largest command message plus
// room for the fixed header, the topic and the properties a broker forwards (144 KiB). A conforming
// broker never sends a larger packet; one that arrives anyway is dropped unread and counted.
inline constexpr std::size_t kMaxIncomingPacketBytes = kMaxCommandMessageBytes + 16 * 1024;
// Work queued for the uplink thread by the client library's threads: above this, incoming messages
// (commands, and the notices of oversized ones) are dropped and counted, never queued.
inline constexpr std::size_t kMaxQueuedUplinkTasks = 4096;

// The thread shell: owns the thread, its task queue and the transport, and hands each event to the
// part that decides (outbox_publisher, receipt_tracker, command_intake, change_batcher).
class Uplink : private CommandEffects {
 public:
  // The transport is made by `factory` with events that post to this uplink's thread. The uplink sets
  // the transport's last will itself, signed, before each connection.
  Uplink(UplinkOptions options, const transport::TransportFactory& factory, OutboxPort& outbox,
         const core::Clock& clock, core::EventIdGenerator& ids);
  ~Uplink() override;
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  // Starts the uplink thread, which connects at once and keeps reconnecting with backoff.
  void Start();
  // Says goodbye on the status topic when connected, disconnects, waits (bounded) for the last
  // removals to be committed, joins the thread. Idempotent.
  void Stop();

  // Thread-safe: new events were committed to the outbox (the pipeline's listener).
  void NotifyOutbox(core::Priority most_urgent);
  // Thread-safe: re-evaluate timers now (tests that move a manual clock).
  void Wake();

  UplinkStatus status() const;
  const UplinkCounters& counters() const { return counters_; }
  // From handing a message to the MQTT client to the broker's acknowledgement (PUBACK).
  const core::LatencyHistogram& publish_latency() const { return publish_latency_; }
  // Steady time of the uplink thread's last loop (for the systemd watchdog).
  core::SteadyTime LastHeartbeat() const;

 private:
  void Post(std::function<void()> task);
  void Run();
  void RunTasks(std::deque<std::function<void()>>& tasks);
  void Step();
  core::SteadyTime NextDeadline(core::SteadyTime now) const;

  // What the transport and the pipeline report, run on the uplink thread.
  void OnConnected(bool session_present);
  void OnConnectFailed(const std::string& reason);
  void OnConnectionLost(const std::string& reason);
  void OnDelivered(std::uint64_t tag);
  void OnDeliveryFailed(std::uint64_t tag, const std::string& reason);
  void OnMessage(const std::string& topic, const std::string& payload);
  void OnOversized(const std::string& topic, std::size_t bytes);
  void OnCommitDone(const Result<store::WriteOutcome>& result);

  // What commands do here (CommandEffects).
  void CareSystemAnswered() override;
  bool Receipted(const core::EventId& event_id) override;
  void HeartbeatChanged(std::chrono::seconds interval) override;
  void StatusRequested() override;
  bool ApplyConfig(const wire::ConfigChange& change, const wire::Command& command) override;
  bool RequestUpdate(const wire::UpdateRequest& update, const wire::Command& command) override;
  // The `done` for a command the daemon carries out: posts its result back to the uplink thread.
  CommandDone AnswerLater(const wire::Command& command);

  void FillWindow(core::SteadyTime now);
  // Seals one message of outbox rows and hands it to the transport: its tag, or nothing (logged).
  std::optional<std::uint64_t> PublishRows(const OutgoingRows& message);
  bool PublishStatus();
  // A signed status on the status topic (retained unless options say otherwise); false when the
  // transport did not take it.
  bool SendStatus(const std::string& payload);
  bool Publish(const std::string& topic, const std::string& payload, bool retained, std::uint64_t tag);
  // Signs a status body for the status topic; false (logged, counted) when the key failed us.
  bool SignStatus(const std::string& body, std::string& signed_body);
  // Prepares the signed last will of the connection about to be made (no will when signing fails).
  void PrepareLastWill();
  void FlushCommit(core::SteadyTime now);
  void SetState(LinkState state);
  void SayGoodbye();

  UplinkOptions options_;
  wire::Topics topics_;
  OutboxPort& outbox_;
  const core::Clock& clock_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stop_requested_ = false;
  std::thread thread_;

  // Uplink thread only: the connection and the heartbeat; the outbox's rows, receipts, commands and
  // changes are the parts' below.
  ReconnectBackoff backoff_;
  LinkState state_ = LinkState::kStopped;
  core::SteadyTime started_at_{};
  core::SteadyTime reconnect_at_{};
  core::SteadyTime connect_started_at_{};
  std::optional<core::SteadyTime> last_care_answer_;  // the last authentic command
  core::WallTime connected_at_{};  // wall time of the current connection attempt; names it in statuses
  core::SteadyTime heartbeat_at_{};
  std::chrono::seconds heartbeat_interval_;
  std::string last_failure_reason_;
  transport::ConnectDiagnosis last_diagnosis_;
  std::uint64_t next_tag_ = 1;

  mutable std::mutex status_mutex_;
  UplinkStatus status_;
  std::atomic<std::int64_t> heartbeat_{0};
  core::telemetry::OwnOrShared telemetry_;
  UplinkCounters counters_;
  core::LatencyHistogram publish_latency_;

  // Uplink thread only.
  OutboxPublisher publisher_;
  ReceiptTracker receipts_;
  ChangeBatcher changes_;
  CommandIntake intake_;
  // Last: destroyed first, so no late callback from the client library finds the rest gone.
  std::unique_ptr<transport::Transport> transport_;
};

}  // namespace ehg::uplink
