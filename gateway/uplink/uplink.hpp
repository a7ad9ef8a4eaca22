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

struct UplinkOptions {
  std::string tenant;
  std::string gateway_id;
  std::string version;
  // Messages handed to the broker and not yet acknowledged.
  std::size_t in_flight_window = 32;
  // Observations per message, and how long a partial batch may wait for more.
  std::size_t observation_batch_max = 50;
  std::chrono::milliseconds observation_batch_window{2000};
  // The first resend of an alert without a receipt; each further one waits twice as long as the one
  // before, up to kMaxReceiptResendInterval (or this value when it is larger). Critical and high
  // alerts never wait longer than this value or kMaxUrgentReceiptResendInterval, whichever is shorter.
  std::chrono::seconds receipt_resend_interval{60};
  std::chrono::seconds heartbeat_interval{60};
  std::chrono::milliseconds reconnect_initial{1000};
  std::chrono::milliseconds reconnect_max{60000};
  // Seals every event payload and opens every command (required: the daemon builds it from the config's
  // security section; only a config that names the development mode gets plaintext).
  std::shared_ptr<const crypto::PayloadProtection> protection;
  // Commands the uplink hands to the daemon, called on the uplink thread, which does not wait: the
  // daemon answers through `done` once, from any thread (it carries them out on its main thread); the
  // result is published from the uplink thread. Unset: refused as unsupported.
  std::function<void(const wire::ConfigApply&, CommandDone done)> apply_config;
  std::function<void(const wire::UpdateRequest&, const std::string& command_id, CommandDone done)>
      request_update;
  // Turns a batch of stored observation bodies into one message body (the daemon: a FHIR Bundle).
  std::function<std::string(std::string_view gateway_id, const std::vector<const std::string*>& bodies)>
      observation_batch;
  // Where the uplink's counters are declared; none: a registry of its own (tests, tools).
  core::telemetry::Registry* telemetry = nullptr;
};

// Where the uplink's rows come from and where its changes go (the store, through the pipeline).
class OutboxPort {
 public:
  virtual ~OutboxPort() = default;
  // Uplink thread only: the outbox in sending order, at most `limit` rows, after `after` when given.
  virtual Result<std::vector<store::OutboxRow>> Peek(std::size_t limit,
                                                     std::optional<store::OutboxPosition> after) = 0;
  // Thread-safe and asynchronous: `done` is called on another thread once the change was committed or
  // failed as a whole. false = not accepted now (nothing happened); offer it again later.
  virtual bool Commit(const store::OutboxChange& change,
                      std::function<void(const Result<store::WriteOutcome>&)> done) = 0;
  virtual store::OutboxSnapshot Snapshot() const = 0;  // thread-safe
  // Uplink thread only: signed command ids still remembered at `now`, and the database's floor.
  virtual Result<store::ReplayWindow> LoadReplayWindow(core::WallTime now) = 0;
};

// The production port: reads through the store's read-only connection, changes through the owner of
// the writer connection (the pipeline).
class ReaderOutbox final : public OutboxPort {
 public:
  ReaderOutbox(std::unique_ptr<store::OutboxReader> reader, store::OutboxChangeSink& writer)
      : reader_(std::move(reader)), writer_(writer) {}

  Result<std::vector<store::OutboxRow>> Peek(std::size_t limit,
                                             std::optional<store::OutboxPosition> after) override {
    return reader_->Peek(limit, after);
  }
  bool Commit(const store::OutboxChange& change,
              std::function<void(const Result<store::WriteOutcome>&)> done) override {
    return writer_.ApplyOutboxChange(change, std::move(done));
  }
  store::OutboxSnapshot Snapshot() const override { return writer_.outbox(); }
  Result<store::ReplayWindow> LoadReplayWindow(core::WallTime now) override {
    return reader_->LoadReplayWindow(now);
  }

 private:
  std::unique_ptr<store::OutboxReader> reader_;
  store::OutboxChangeSink& writer_;
};

enum class LinkState { kStopped, kDisconnected, kConnecting, kConnected };
std::string_view ToString(LinkState state);

// Monotonic counters, readable from any thread.
struct UplinkCounters {
  // Each is declared once, here, on the registry the uplink's options name (docs/status-page.md).
  explicit UplinkCounters(core::telemetry::Registry& registry);
  using Counter = core::telemetry::Counter;
  Counter connects;
  Counter connect_failures;
  Counter connections_lost;
  Counter messages_published;  // handed to the client (incl. status, resends)
  Counter messages_acknowledged;
  Counter events_acknowledged;  // outbox rows inside acknowledged messages
  Counter delivery_failures;
  Counter alerts_resent;  // resends while waiting for a receipt
  Counter receipts;
  Counter commands;
  Counter commands_rejected;  // authentic, but not a valid command: a result says why
  // Not authentic or not fresh (unsigned, forged, unknown key, expired, replayed, another gateway's):
  // logged and counted, nothing else happens, no result.
  Counter commands_refused;
  Counter seal_failures;
  Counter commands_dropped;  // queue full: the care system repeats unanswered ones
  // Larger than the maximum packet size announced on CONNECT: the broker ignored it. Dropped unread.
  Counter messages_oversized;
  Counter status_sign_failures;  // a status not sent (or a will not set) unsigned
  Counter commit_failures;
};

struct UplinkStatus {
  LinkState state = LinkState::kStopped;
  std::size_t in_flight = 0;
  std::size_t alerts_awaiting_receipt = 0;
  std::optional<core::WallTime> last_acknowledged;
  std::optional<core::WallTime> connected_since;
  std::chrono::seconds heartbeat_interval{60};
  std::string last_error;
};

inline constexpr std::string_view kHeartbeatSetting = "uplink.heartbeat_interval_seconds";

// The largest message the uplink takes: a signed command is its JSON (at most kMaxCommandBytes, a
// config.apply carrying a whole config file) in base64url plus a header and a signature, well under
// twice its size.
inline constexpr std::size_t kMaxCommandMessageBytes = 2 * wire::kMaxCommandBytes;
// The MQTT 5 Maximum Packet Size the gateway announces on CONNECT: the largest command message plus
// room for the fixed header, the topic and the properties a broker forwards (144 KiB). A conforming
// broker never sends a larger packet; one that arrives anyway is dropped unread and counted.
inline constexpr std::size_t kMaxIncomingPacketBytes = kMaxCommandMessageBytes + 16 * 1024;
// Resends of an alert without a receipt back off to this interval at most.
inline constexpr std::chrono::seconds kMaxReceiptResendInterval{15 * 60};
// A critical or high alert whose copy the care system lost must not wait a quarter of an hour: its
// resends do not back off, and come at most this far apart.
inline constexpr std::chrono::seconds kMaxUrgentReceiptResendInterval{2 * 60};
// Work queued for the uplink thread by the client library's threads: above this, incoming messages
// (commands, and the notices of oversized ones) are dropped and counted, never queued.
inline constexpr std::size_t kMaxQueuedUplinkTasks = 4096;

class Uplink {
 public:
  // The transport is made by `factory` with events that post to this uplink's thread. The uplink sets
  // the transport's last will itself, signed, before each connection.
  Uplink(UplinkOptions options, const transport::TransportFactory& factory, OutboxPort& outbox,
         const core::Clock& clock, core::EventIdGenerator& ids);
  ~Uplink();
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
  // One MQTT message handed to the transport and not yet acknowledged.
  struct InFlight {
    std::vector<std::int64_t> sequences;    // outbox rows inside (none for a status message)
    std::optional<store::OutboxRow> alert;  // kept for resending until the receipt arrives
    bool receipted = false;                 // the receipt came before the broker's acknowledgement
    std::uint32_t resends = 0;              // an alert sent again for want of a receipt: how often
    core::SteadyTime sent_at{};
  };
  struct AwaitingReceipt {
    store::OutboxRow row;
    core::SteadyTime resend_at;
    std::uint32_t resends = 0;  // sent again this many times already (the backoff's step)
  };

  void Post(std::function<void()> task);
  void Run();
  void RunTasks(std::deque<std::function<void()>>& tasks);
  void Step();
  core::SteadyTime NextDeadline(core::SteadyTime now) const;

  void OnConnected(bool session_present);
  void OnConnectFailed(const std::string& reason);
  void OnConnectionLost(const std::string& reason);
  void OnDelivered(std::uint64_t tag);
  void OnDeliveryFailed(std::uint64_t tag, const std::string& reason);
  void OnMessage(const std::string& topic, const std::string& payload);
  void OnOversized(const std::string& topic, std::size_t bytes);
  void OnCommitDone(const Result<store::WriteOutcome>& result);

  void HandleCommand(const wire::Command& command);
  // The `done` for a command the daemon carries out: posts its result back to the uplink thread.
  CommandDone AnswerLater(const wire::Command& command);
  // The replay window: loaded once from the store, then kept here and persisted with each change.
  bool LoadSeenCommands();
  bool Seen(const std::string& jti, core::WallTime now);
  // Stops the alert's resends and queues its removal; false when the uplink did not hold the alert.
  bool HandleReceipt(const core::EventId& event_id);
  void QueueCommandResult(std::string_view command_id, std::string_view type, bool ok,
                          std::string_view detail);

  void FillWindow(core::SteadyTime now);
  bool Refill();
  bool PublishRows(std::vector<store::OutboxRow> rows, bool from_queue, std::uint32_t resends = 0);
  bool PublishStatus();
  // Signs a status body for the status topic; false (logged, counted) when the key failed us.
  bool SignStatus(const std::string& body, std::string& signed_body);
  // Prepares the signed last will of the connection about to be made (no will when signing fails).
  void PrepareLastWill();
  std::chrono::seconds ReceiptResendDelay(const store::OutboxRow& alert, std::uint32_t resends) const;
  // The care system answered (a receipt or any authentic command): alerts still waiting for a receipt
  // were lost on its side, so their next resend is one base interval away at most and the backoff
  // starts over.
  void RestartReceiptBackoff();
  bool Send(const std::string& topic, const std::string& payload, bool retained, InFlight entry);
  void FlushCommit(core::SteadyTime now);
  void SetState(LinkState state);
  void SayGoodbye();

  UplinkOptions options_;
  wire::Topics topics_;
  OutboxPort& outbox_;
  const core::Clock& clock_;
  core::EventIdGenerator& ids_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stop_requested_ = false;
  std::thread thread_;

  // Uplink thread only.
  ReconnectBackoff backoff_;
  LinkState state_ = LinkState::kStopped;
  core::SteadyTime started_at_{};
  core::SteadyTime reconnect_at_{};
  core::SteadyTime connect_started_at_{};
  core::WallTime connected_at_{};  // wall time of the current connection attempt; names it in statuses
  core::SteadyTime heartbeat_at_{};
  core::SteadyTime retry_at_{};         // after a failed publish or outbox read
  core::SteadyTime commit_retry_at_{};  // after a refused or failed commit
  std::optional<core::SteadyTime> partial_batch_since_;
  std::chrono::seconds heartbeat_interval_;
  std::string last_failure_reason_;
  transport::ConnectDiagnosis last_diagnosis_;
  std::map<std::uint64_t, InFlight> in_flight_;
  std::uint64_t next_tag_ = 1;
  std::deque<store::OutboxRow> queue_;  // prefetched rows in sending order, none of them in flight
  // The last row sent in outbox order: the next read starts after it. Cleared whenever a row before it
  // may need sending again (lost connection, refused message) or a more urgent row arrived.
  std::optional<store::OutboxPosition> cursor_;
  bool need_refill_ = true;
  bool outbox_has_more_ = false;
  std::map<std::int64_t, AwaitingReceipt> awaiting_receipt_;
  std::map<std::string, core::WallTime> seen_commands_;  // jti -> remember until
  bool seen_commands_loaded_ = false;
  std::optional<core::WallTime> commands_not_issued_before_;  // the database's replay floor
  std::set<std::int64_t> removing_;  // acknowledged or receipted rows whose removal is not committed yet
  store::OutboxChange pending_change_;
  // The commands behind pending_change_.alert_actions / the committing change's, in the same order:
  // each hears the outcome once the pipeline applied its action.
  std::vector<std::pair<std::string, std::string>> pending_action_commands_;
  std::vector<std::pair<std::string, std::string>> committing_action_commands_;
  std::optional<store::OutboxChange> committing_;
  std::vector<std::int64_t> committing_receipt_rows_;
  std::vector<std::int64_t> pending_receipt_rows_;

  mutable std::mutex status_mutex_;
  UplinkStatus status_;
  std::atomic<std::int64_t> heartbeat_{0};
  core::telemetry::OwnOrShared telemetry_;
  UplinkCounters counters_;
  core::LatencyHistogram publish_latency_;
  // Last: destroyed first, so no late callback from the client library finds the rest gone.
  std::unique_ptr<transport::Transport> transport_;
};

}  // namespace ehg::uplink
