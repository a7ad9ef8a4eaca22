#include "gateway/uplink/uplink.hpp"

#include <algorithm>
#include <random>
#include <variant>

#include "gateway/core/bug.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/thread_name.hpp"
#include "gateway/uplink/messages.hpp"

namespace ehg::uplink {
namespace {

using std::chrono::milliseconds;

// Rows prefetched per outbox read, beyond those already in flight or being removed.
constexpr std::size_t kPrefetchRows = 256;
// In-flight slots bulk observations may never take, so an alert always finds one free.
constexpr std::size_t kUrgentSlots = 2;
// Longest sleep without work, so the watchdog heartbeat keeps moving.
constexpr milliseconds kIdleWake{500};
constexpr milliseconds kRetryDelay{1000};
constexpr milliseconds kCommitRetryDelay{50};
constexpr milliseconds kGoodbyeWait{1000};
constexpr milliseconds kFinalCommitWait{2000};
// The client gives up on a connection attempt after 10 s; this is the backstop if it never answers.
constexpr milliseconds kConnectAttemptLimit{30000};

double UniformRandom() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

bool IsAlert(const store::OutboxRow& row) {
  return row.event.kind == core::EventKind::kAlert;
}

}  // namespace

std::string_view ToString(LinkState state) {
  switch (state) {
    case LinkState::kStopped:
      return "stopped";
    case LinkState::kDisconnected:
      return "disconnected";
    case LinkState::kConnecting:
      return "connecting";
    case LinkState::kConnected:
      return "connected";
  }
  return "stopped";
}

UplinkCounters::UplinkCounters(core::telemetry::Registry& registry)
    : connects(registry.AddCounter(
          {"ehg_uplink_connects_total", "MQTT connections made since start (reconnects included).", {}})),
      connect_failures(registry.AddCounter(
          {"ehg_uplink_connect_failures_total", "Failed connection attempts since start.", {}})),
      connections_lost(
          registry.AddCounter({"ehg_uplink_connections_lost_total", "Connections lost since start.", {}})),
      messages_published(registry.AddCounter(
          {"ehg_messages_published_total", "MQTT messages handed to the client since start.", {}})),
      messages_acknowledged(registry.AddCounter(
          {"ehg_messages_acknowledged_total", "MQTT messages the broker acknowledged since start.", {}})),
      events_acknowledged(
          registry.AddCounter({"ehg_uplink_events_acknowledged_total",
                               "Outbox events inside messages the broker acknowledged since start.",
                               {}})),
      delivery_failures(registry.AddCounter(
          {"ehg_uplink_delivery_failures_total",
           "Messages the MQTT client could not hand to the broker since start (sent again).",
           {}})),
      alerts_resent(registry.AddCounter(
          {"ehg_alert_resends_total", "Alerts sent again while waiting for the care system's receipt.", {}})),
      receipts(registry.AddCounter(
          {"ehg_receipts_total", "Alert receipts from the care system since start.", {}})),
      commands(registry.AddCounter({"ehg_commands_total", "Authentic commands received since start.", {}})),
      commands_rejected(registry.AddCounter(
          {"ehg_commands_rejected_total",
           "Authentic commands that were not valid since start (a command result says why).",
           {}})),
      commands_refused(registry.AddCounter(
          {"ehg_commands_refused_total", "Commands refused as not authentic or not fresh.", {}})),
      seal_failures(registry.AddCounter({"ehg_uplink_seal_failures_total",
                                         "Messages whose signing and encryption failed since start (their "
                                         "events stay in the outbox, retried).",
                                         {}})),
      commands_dropped(registry.AddCounter(core::telemetry::DroppedFamily(), {"command_queue_full"})),
      messages_oversized(registry.AddCounter(core::telemetry::DroppedFamily(), {"oversized_message"})),
      status_sign_failures(registry.AddCounter(
          {"ehg_uplink_status_sign_failures_total",
           "Gateway statuses not sent (or last wills not set) since start because signing failed.",
           {}})),
      commit_failures(registry.AddCounter(
          {"ehg_uplink_commit_failures_total",
           "Outbox changes (acknowledgements, receipts) that failed to commit since start (offered again).",
           {}})) {}

Uplink::Uplink(UplinkOptions options, const transport::TransportFactory& factory, OutboxPort& outbox,
               const core::Clock& clock, core::EventIdGenerator& ids)
    : options_(std::move(options)),
      topics_(options_.tenant, options_.gateway_id),
      outbox_(outbox),
      clock_(clock),
      ids_(ids),
      backoff_(options_.reconnect_initial, options_.reconnect_max, UniformRandom),
      heartbeat_interval_(options_.heartbeat_interval),
      telemetry_(options_.telemetry),
      counters_(telemetry_.get()) {
  if (!options_.protection) core::Bug("uplink built without payload protection: refusing to run");
  options_.in_flight_window = std::max<std::size_t>(options_.in_flight_window, kUrgentSlots + 1);
  options_.observation_batch_max = std::max<std::size_t>(options_.observation_batch_max, 1);
  // Each event only posts a task: the client library's threads never touch the uplink's state.
  transport::TransportEvents events;
  events.connected = [this](bool session_present) { Post([=, this] { OnConnected(session_present); }); };
  events.connect_failed = [this](std::string reason) {
    Post([this, reason = std::move(reason)] { OnConnectFailed(reason); });
  };
  events.connection_lost = [this](std::string reason) {
    Post([this, reason = std::move(reason)] { OnConnectionLost(reason); });
  };
  events.delivered = [this](std::uint64_t tag) { Post([=, this] { OnDelivered(tag); }); };
  events.delivery_failed = [this](std::uint64_t tag, std::string reason) {
    Post([this, tag, reason = std::move(reason)] { OnDeliveryFailed(tag, reason); });
  };
  events.message = [this](std::string topic, std::string payload) {
    {
      std::lock_guard lock(mutex_);
      if (tasks_.size() >= kMaxQueuedUplinkTasks) {
        ++counters_.commands_dropped;
        return;
      }
    }
    Post([this, topic = std::move(topic), payload = std::move(payload)] { OnMessage(topic, payload); });
  };
  events.oversized = [this](std::string topic, std::size_t bytes) {
    ++counters_.messages_oversized;
    // A broker that ignores our maximum packet size can send them as fast as it likes: counted always,
    // logged only while the queue has room, so a flood cannot grow the queue without bound.
    {
      std::lock_guard lock(mutex_);
      if (tasks_.size() >= kMaxQueuedUplinkTasks) return;
    }
    Post([this, topic = std::move(topic), bytes] { OnOversized(topic, bytes); });
  };
  transport_ = factory(std::move(events));
  status_.heartbeat_interval = heartbeat_interval_;
}

Uplink::~Uplink() {
  Stop();
}

void Uplink::Start() {
  {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stop_requested_ = false;
  }
  started_at_ = clock_.SteadyNow();
  reconnect_at_ = started_at_;
  heartbeat_.store(started_at_.time_since_epoch().count());
  SetState(LinkState::kDisconnected);
  thread_ = std::thread([this] { Run(); });
}

void Uplink::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stop_requested_ = true;
  }
  wake_.notify_all();
  thread_.join();
  SetState(LinkState::kStopped);
  core::LogInfo("uplink stopped", {{"acknowledged_events", counters_.events_acknowledged.load()}});
}

void Uplink::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void Uplink::NotifyOutbox(core::Priority most_urgent) {
  // Any new row means a fresh read: a partial batch of observations may now be full. A row more urgent
  // than the last one sent sorts before the read position, so reading starts from the front again.
  Post([this, most_urgent] {
    need_refill_ = true;
    if (cursor_ && most_urgent < cursor_->priority) cursor_.reset();
  });
}

void Uplink::Wake() {
  Post([] {});
}

UplinkStatus Uplink::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

core::SteadyTime Uplink::LastHeartbeat() const {
  return core::SteadyTime{core::SteadyTime::duration{heartbeat_.load()}};
}

void Uplink::SetState(LinkState state) {
  state_ = state;
  std::lock_guard lock(status_mutex_);
  status_.state = state;
  if (state == LinkState::kConnected) {
    status_.connected_since = clock_.Now();
  } else {
    status_.connected_since.reset();
  }
}

void Uplink::Run() {
  core::NameThisThread("ehg-uplink");
  std::unique_lock lock(mutex_);
  while (!stop_requested_) {
    const core::SteadyTime now = clock_.SteadyNow();
    const auto wait = std::clamp(std::chrono::duration_cast<milliseconds>(NextDeadline(now) - now),
                                 milliseconds{0}, kIdleWake);
    wake_.wait_for(lock, wait, [this] { return !tasks_.empty() || stop_requested_; });
    std::deque<std::function<void()>> tasks;
    tasks.swap(tasks_);
    lock.unlock();
    RunTasks(tasks);
    Step();
    heartbeat_.store(clock_.SteadyNow().time_since_epoch().count());
    lock.lock();
  }
  lock.unlock();
  SayGoodbye();
}

void Uplink::RunTasks(std::deque<std::function<void()>>& tasks) {
  for (auto& task : tasks) {
    try {
      task();
    } catch (const std::exception& exception) {
      // A bug in our handling of one event must not stop the uplink: log it and go on.
      core::LogError("uplink event failed", {{"reason", exception.what()}});
    }
  }
}

core::SteadyTime Uplink::NextDeadline(core::SteadyTime now) const {
  core::SteadyTime next = now + kIdleWake;
  if (state_ == LinkState::kDisconnected) next = std::min(next, reconnect_at_);
  if (state_ == LinkState::kConnecting) next = std::min(next, connect_started_at_ + kConnectAttemptLimit);
  if (state_ == LinkState::kConnected) {
    next = std::min(next, heartbeat_at_);
    for (const auto& [sequence, awaiting] : awaiting_receipt_)
      next = std::min(next, awaiting.resend_at);
    if (partial_batch_since_)
      next = std::min(next, *partial_batch_since_ + options_.observation_batch_window);
  }
  if (retry_at_ > now) next = std::min(next, retry_at_);
  if (commit_retry_at_ > now) next = std::min(next, commit_retry_at_);
  return next;
}

void Uplink::Step() {
  const core::SteadyTime now = clock_.SteadyNow();
  if (state_ == LinkState::kDisconnected && now >= reconnect_at_) {
    SetState(LinkState::kConnecting);
    connect_started_at_ = now;
    PrepareLastWill();
    transport_->Connect();
  } else if (state_ == LinkState::kConnecting && now - connect_started_at_ > kConnectAttemptLimit) {
    OnConnectFailed("no answer to the connection attempt within 30 s");
  }
  if (state_ == LinkState::kConnected) {
    if (now >= heartbeat_at_ && PublishStatus()) heartbeat_at_ = now + heartbeat_interval_;
    FillWindow(now);
  }
  FlushCommit(now);
  std::lock_guard lock(status_mutex_);
  status_.in_flight = in_flight_.size();
  status_.alerts_awaiting_receipt = awaiting_receipt_.size();
  status_.heartbeat_interval = heartbeat_interval_;
}

void Uplink::OnConnected(bool session_present) {
  if (state_ != LinkState::kConnecting) return;
  SetState(LinkState::kConnected);
  ++counters_.connects;
  backoff_.Reset();
  last_failure_reason_.clear();
  core::LogInfo("broker connected", {{"session_present", session_present}});
  if (auto subscribed = transport_->Subscribe(topics_.command); !subscribed) {
    core::LogError("cannot subscribe to the command topic", {{"reason", subscribed.error().message}});
  }
  in_flight_.clear();
  need_refill_ = true;
  heartbeat_at_ = clock_.SteadyNow();  // the birth message goes out first
  // A new connection may follow a broker that lost what it held (a restart without persistence, a
  // receipt on its way to us included).
  RestartReceiptBackoff();
}

void Uplink::RestartReceiptBackoff() {
  const core::SteadyTime now = clock_.SteadyNow();
  for (auto& [sequence, awaiting] : awaiting_receipt_) {
    awaiting.resend_at = std::min(awaiting.resend_at, now + ReceiptResendDelay(awaiting.row, 0));
    awaiting.resends = 0;
  }
  for (auto& [tag, entry] : in_flight_)
    entry.resends = 0;
}

void Uplink::OnConnectFailed(const std::string& reason) {
  if (state_ != LinkState::kConnecting) return;
  ++counters_.connect_failures;
  // The probe costs up to a few seconds on a dead network: run it when the failure looks new, and
  // every tenth attempt after that, not on every retry of a long outage.
  if (reason != last_failure_reason_ || backoff_.attempts() % 10 == 0) {
    last_failure_reason_ = reason;
    last_diagnosis_ = transport_->DiagnoseConnectFailure();
  }
  const transport::ConnectDiagnosis& diagnosis = last_diagnosis_;
  const milliseconds delay = backoff_.Next();
  // error = someone must act (a certificate, a file); warning = the network, which passes by itself.
  core::Log(diagnosis.needs_action ? core::LogLevel::kError : core::LogLevel::kWarning,
            "broker connection failed",
            {{"attempt", backoff_.attempts()},
             {"reason", reason},
             {"diagnosis", diagnosis.text},
             {"retry_in_ms", delay.count()}});
  {
    std::lock_guard lock(status_mutex_);
    status_.last_error = diagnosis.text.empty() ? reason : diagnosis.text;
  }
  SetState(LinkState::kDisconnected);
  reconnect_at_ = clock_.SteadyNow() + delay;
}

void Uplink::OnConnectionLost(const std::string& reason) {
  if (state_ != LinkState::kConnected) return;
  ++counters_.connections_lost;
  const milliseconds delay = backoff_.Next();
  core::LogWarning("broker connection lost",
                   {{"reason", reason}, {"in_flight", in_flight_.size()}, {"retry_in_ms", delay.count()}});
  {
    std::lock_guard lock(status_mutex_);
    status_.last_error = "connection lost: " + reason;
  }
  // Whatever was in flight is sent again after reconnecting (same rows, same event ids): the rows are
  // still in the outbox and no longer excluded from the next read. Receipted and acknowledged rows stay
  // excluded until their removal is committed.
  in_flight_.clear();
  queue_.clear();
  cursor_.reset();
  need_refill_ = true;
  SetState(LinkState::kDisconnected);
  reconnect_at_ = clock_.SteadyNow() + delay;
}

void Uplink::OnDelivered(std::uint64_t tag) {
  auto found = in_flight_.find(tag);
  if (found == in_flight_.end()) return;  // from a connection that has since been replaced
  InFlight entry = std::move(found->second);
  in_flight_.erase(found);
  publish_latency_.Observe(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.SteadyNow() - entry.sent_at));
  ++counters_.messages_acknowledged;
  counters_.events_acknowledged += entry.sequences.size();
  if (!entry.sequences.empty()) {
    std::lock_guard lock(status_mutex_);
    status_.last_acknowledged = clock_.Now();
  }
  if (entry.alert) {
    if (!entry.receipted) {
      // The broker has it; the care system has not said so yet. Keep it and send it again if no
      // receipt comes.
      const std::int64_t sequence = entry.alert->sequence;
      AwaitingReceipt awaiting;
      awaiting.resends = entry.resends;
      awaiting.resend_at = clock_.SteadyNow() + ReceiptResendDelay(*entry.alert, entry.resends);
      awaiting.row = std::move(*entry.alert);
      awaiting_receipt_[sequence] = std::move(awaiting);
    }
    return;
  }
  for (const std::int64_t sequence : entry.sequences) {
    removing_.insert(sequence);
    pending_change_.sent_sequences.push_back(sequence);
  }
}

void Uplink::OnDeliveryFailed(std::uint64_t tag, const std::string& reason) {
  auto found = in_flight_.find(tag);
  if (found == in_flight_.end()) return;
  // The rows are no longer excluded, so the next outbox read returns them in their place (an alert that
  // was being resent included).
  in_flight_.erase(found);
  core::LogWarning("message not acknowledged; it stays in the outbox",
                   {{"reason", reason}, {"retry_in_ms", kRetryDelay.count()}});
  queue_.clear();
  cursor_.reset();
  need_refill_ = true;
  retry_at_ = clock_.SteadyNow() + kRetryDelay;
  // Counted last: whoever sees the count sees the retry time set.
  ++counters_.delivery_failures;
}

void Uplink::OnMessage(const std::string& topic, const std::string& payload) {
  if (topic != topics_.command) {
    core::LogDebug("message on an unexpected topic ignored", {{"topic", topic}});
    return;
  }
  ++counters_.commands;
  const core::WallTime now = clock_.Now();
  const auto refuse = [&](std::string_view reason, std::string_view detail) {
    ++counters_.commands_refused;
    core::LogWarning("command refused", {{"reason", reason}, {"detail", detail}, {"bytes", payload.size()}});
  };
  if (payload.size() > kMaxCommandMessageBytes) {
    return refuse("malformed", "larger than " + std::to_string(kMaxCommandMessageBytes / 1024) + " KiB");
  }
  auto opened = options_.protection->OpenCommand(payload, now);
  if (!opened) return refuse(crypto::ToString(opened.error().reason), opened.error().message);
  if (!opened->jti.empty()) {
    if (!LoadSeenCommands())
      return refuse("unavailable", "the replay window could not be read; send it again");
    if (Seen(opened->jti, now)) {
      return refuse(crypto::ToString(crypto::Refusal::kReplayed),
                    "jti \"" + opened->jti + "\" was taken before");
    }
    if (commands_not_issued_before_ && *commands_not_issued_before_ > now && clock_.WallClockSynchronised()) {
      // The clock was ahead when the database was created: a floor in the future would refuse every
      // command until then. Now is a later floor than the true one, so moving it here refuses no less;
      // only a synchronised clock may move it (a clock that is behind would lower it for good).
      core::LogWarning(
          "command replay floor was in the future (the clock was wrong when the database "
          "was created); moved to now");
      commands_not_issued_before_ = now;
      pending_change_.settings[std::string(store::kCommandsNotIssuedBeforeSetting)] =
          std::to_string(now.time_since_epoch().count());
    }
    // iat has whole seconds and the care system's clock may be a little behind: a minute of slack, so a
    // command sent just after a fresh start is not refused (a replay needs the command taken before).
    constexpr auto kReplayFloorSlack = std::chrono::seconds(60);
    if (commands_not_issued_before_ && opened->issued_at + kReplayFloorSlack < *commands_not_issued_before_) {
      return refuse(crypto::ToString(crypto::Refusal::kReplayed),
                    "issued before this gateway's database was created, whose replay window starts then; "
                    "send a new command");
    }
    // Remembered with the command's effect: both are committed in the same change, or neither.
    seen_commands_[opened->jti] = opened->remember_until;
    pending_change_.seen_commands.push_back({opened->jti, opened->remember_until});
    pending_change_.forget_commands_before = now;
  }
  // Authentic and fresh (a replay the broker kept proves nothing): the care system is there and
  // listening, so an alert it has not confirmed was lost on its side and should go again soon.
  RestartReceiptBackoff();
  auto command = wire::ParseCommand(opened->command);
  if (!command) {
    ++counters_.commands_rejected;
    core::LogWarning("command rejected", {{"command_id", command.error().id},
                                          {"type", command.error().type},
                                          {"reason", command.error().reason}});
    QueueCommandResult(command.error().id, command.error().type, false, command.error().reason);
    return;
  }
  HandleCommand(*command);
}

void Uplink::OnOversized(const std::string& topic, std::size_t bytes) {
  // Counted where it arrived; here only said. The broker ignored the Maximum Packet Size of our CONNECT.
  core::LogWarning("message larger than the maximum packet size dropped unread",
                   {{"topic", topic}, {"bytes", bytes}, {"maximum", kMaxIncomingPacketBytes}});
}

bool Uplink::LoadSeenCommands() {
  if (seen_commands_loaded_) return true;
  auto window = outbox_.LoadReplayWindow(clock_.Now());
  if (!window) {
    core::LogError("reading the command replay window failed", {{"reason", window.error().message}});
    return false;
  }
  for (store::SeenCommand& command : window->seen)
    seen_commands_[std::move(command.jti)] = command.remember_until;
  commands_not_issued_before_ = window->not_issued_before;
  seen_commands_loaded_ = true;
  return true;
}

bool Uplink::Seen(const std::string& jti, core::WallTime now) {
  std::erase_if(seen_commands_, [&](const auto& entry) { return entry.second < now; });
  return seen_commands_.count(jti) > 0;
}

namespace {

// One lambda per command kind: std::visit over them does not compile when a kind has no handler, so a
// new kind cannot fall through to an answer meant for another.
template <class... Handlers>
struct Overloaded : Handlers... {
  using Handlers::operator()...;
};
template <class... Handlers>
Overloaded(Handlers...) -> Overloaded<Handlers...>;

}  // namespace

void Uplink::HandleCommand(const wire::Command& command) {
  core::LogInfo("command received", {{"command_id", command.id}, {"type", command.type}});
  const auto answer = [&](bool ok, std::string_view detail) {
    QueueCommandResult(command.id, command.type, ok, detail);
  };
  std::visit(Overloaded{
                 [&](const wire::AlertReceipt& receipt) {
                   const bool known = HandleReceipt(receipt.event_id);
                   answer(true,
                          known ? "receipt recorded" : "receipt recorded; the alert was not waiting for one");
                 },
                 // Answered once the pipeline has applied the action (pending_action_commands_).
                 [&](const wire::AlertAck& ack) {
                   pending_change_.alert_actions.push_back(
                       {store::AlertAction::Kind::kAcknowledge, ack.alert_id, ack.by, {}});
                   pending_action_commands_.emplace_back(command.id, command.type);
                 },
                 [&](const wire::AlertResolve& resolve) {
                   pending_change_.alert_actions.push_back(
                       {store::AlertAction::Kind::kResolve, resolve.alert_id, resolve.by, resolve.note});
                   pending_action_commands_.emplace_back(command.id, command.type);
                 },
                 [&](const wire::HeartbeatSet& heartbeat) {
                   heartbeat_interval_ = heartbeat.interval;
                   pending_change_.settings[std::string(kHeartbeatSetting)] =
                       std::to_string(heartbeat.interval.count());
                   heartbeat_at_ = clock_.SteadyNow();  // the new interval is announced at once
                   answer(true, "heartbeat every " + std::to_string(heartbeat.interval.count()) + " s");
                 },
                 // Carried out by the daemon (on its main thread); answered when it is done.
                 [&](const wire::ConfigApply& apply) {
                   if (!options_.apply_config) return answer(false, "not supported here");
                   options_.apply_config(apply, AnswerLater(command));
                 },
                 [&](const wire::UpdateRequest& update) {
                   if (!options_.request_update) return answer(false, "not supported here");
                   options_.request_update(update, command.id, AnswerLater(command));
                 },
                 [&](const wire::StatusRequest&) {
                   heartbeat_at_ = clock_.SteadyNow();
                   answer(true, "status published");
                 },
                 [&](const wire::Ping&) { answer(true, "pong"); },
             },
             command.body);
}

CommandDone Uplink::AnswerLater(const wire::Command& command) {
  return [this, id = command.id, type = command.type](CommandOutcome outcome) {
    Post([this, id, type, outcome = std::move(outcome)] {
      QueueCommandResult(id, type, outcome.ok, outcome.detail);
    });
  };
}

bool Uplink::HandleReceipt(const core::EventId& event_id) {
  ++counters_.receipts;
  // Removed by event id, so a receipt for a row this uplink has not read yet works too.
  pending_change_.receipted_alerts.push_back(event_id);
  const auto matches = [&](const store::OutboxRow& row) { return row.event.id == event_id; };
  // The row stays out of outbox reads until its removal is committed.
  const auto hold = [this](std::int64_t sequence) {
    removing_.insert(sequence);
    pending_receipt_rows_.push_back(sequence);
  };
  for (auto it = awaiting_receipt_.begin(); it != awaiting_receipt_.end(); ++it) {
    if (matches(it->second.row)) {
      hold(it->first);
      awaiting_receipt_.erase(it);
      return true;
    }
  }
  for (auto& [tag, entry] : in_flight_) {
    if (entry.alert && matches(*entry.alert)) {
      entry.receipted = true;  // its acknowledgement must not start the resend schedule
      hold(entry.alert->sequence);
      return true;
    }
  }
  const auto queued = std::find_if(queue_.begin(), queue_.end(), matches);
  if (queued == queue_.end()) return false;
  hold(queued->sequence);
  queue_.erase(queued);
  return true;
}

void Uplink::QueueCommandResult(std::string_view command_id, std::string_view type, bool ok,
                                std::string_view detail) {
  core::Event event{ids_.Next(), core::EventKind::kCommandResult, core::Priority::kNormal, clock_.Now(), {}};
  event.body =
      wire::CommandResultBody(event.id, options_.gateway_id, event.created, command_id, type, ok, detail);
  pending_change_.events.push_back(std::move(event));
}

void Uplink::FillWindow(core::SteadyTime now) {
  if (now < retry_at_) return;
  // Alerts whose receipt is overdue go first, alone, with their original event id.
  for (auto it = awaiting_receipt_.begin(); it != awaiting_receipt_.end();) {
    if (in_flight_.size() >= options_.in_flight_window) return;
    if (it->second.resend_at > now) {
      ++it;
      continue;
    }
    store::OutboxRow row = std::move(it->second.row);
    const std::uint32_t resends = it->second.resends + 1;
    it = awaiting_receipt_.erase(it);
    ++counters_.alerts_resent;
    core::LogInfo("alert sent again: no receipt yet",
                  {{"event_id", row.event.id.ToString()},
                   {"resends", resends},
                   {"next_in_s", ReceiptResendDelay(row, resends).count()}});
    std::vector<store::OutboxRow> rows;
    rows.push_back(std::move(row));
    if (!PublishRows(std::move(rows), false, resends)) return;
  }

  bool refilled_for_batch = false;
  while (in_flight_.size() < options_.in_flight_window) {
    if (need_refill_ || (queue_.empty() && outbox_has_more_)) {
      if (!Refill()) return;
    }
    if (queue_.empty()) return;
    const store::OutboxRow& front = queue_.front();
    if (front.event.priority == core::Priority::kBulk &&
        in_flight_.size() + kUrgentSlots >= options_.in_flight_window) {
      return;
    }
    if (front.event.kind != core::EventKind::kObservation) {
      std::vector<store::OutboxRow> rows;
      rows.push_back(std::move(queue_.front()));
      queue_.pop_front();
      if (!PublishRows(std::move(rows), true)) return;
      continue;
    }
    std::size_t available = 0;
    while (available < queue_.size() && available < options_.observation_batch_max &&
           queue_[available].event.kind == core::EventKind::kObservation) {
      ++available;
    }
    if (available < options_.observation_batch_max && available == queue_.size() && outbox_has_more_ &&
        !refilled_for_batch) {
      refilled_for_batch = true;
      need_refill_ = true;
      continue;
    }
    if (available < options_.observation_batch_max && available == queue_.size()) {
      // A partial batch: wait a little for more, unless it has waited long enough.
      if (!partial_batch_since_) partial_batch_since_ = now;
      if (now - *partial_batch_since_ < options_.observation_batch_window) return;
    }
    partial_batch_since_.reset();
    std::vector<store::OutboxRow> rows(
        std::make_move_iterator(queue_.begin()),
        std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(available)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(available));
    if (!PublishRows(std::move(rows), true)) return;
  }
}

bool Uplink::Refill() {
  need_refill_ = false;
  std::set<std::int64_t> excluded = removing_;
  for (const auto& [sequence, awaiting] : awaiting_receipt_)
    excluded.insert(sequence);
  for (const auto& [tag, entry] : in_flight_)
    excluded.insert(entry.sequences.begin(), entry.sequences.end());
  // From the read position only what is new; from the front, enough to see past what is excluded.
  const std::size_t limit = cursor_ ? kPrefetchRows : kPrefetchRows + excluded.size();
  auto rows = outbox_.Peek(limit, cursor_);
  if (!rows) {
    core::LogError("cannot read the outbox", {{"reason", rows.error().message}});
    retry_at_ = clock_.SteadyNow() + kRetryDelay;
    queue_.clear();
    return false;
  }
  outbox_has_more_ = rows->size() == limit;
  queue_.clear();
  for (store::OutboxRow& row : *rows) {
    if (excluded.count(row.sequence) == 0) queue_.push_back(std::move(row));
  }
  return true;
}

bool Uplink::PublishRows(std::vector<store::OutboxRow> rows, bool from_queue, std::uint32_t resends) {
  InFlight entry;
  entry.resends = resends;
  for (const store::OutboxRow& row : rows)
    entry.sequences.push_back(row.sequence);
  const store::OutboxPosition last{rows.back().event.priority, rows.back().sequence};
  std::string payload;
  std::string topic;
  if (rows.size() == 1 && rows.front().event.kind != core::EventKind::kObservation) {
    topic = topics_.Event(rows.front().event.kind);
    payload = rows.front().event.body;
  } else {
    std::vector<const std::string*> bodies;
    for (const store::OutboxRow& row : rows)
      bodies.push_back(&row.event.body);
    topic = topics_.Event(core::EventKind::kObservation);
    payload = options_.observation_batch ? options_.observation_batch(options_.gateway_id, bodies)
                                         : ObservationBatchBody(options_.gateway_id, bodies);
  }
  auto sealed = options_.protection->Seal(payload);
  if (!sealed) {
    // Our own keys failed us: nothing is lost (the rows stay), so log loudly and try again later.
    ++counters_.seal_failures;
    core::LogError("sealing an event failed; retrying", {{"reason", sealed.error().message}});
    queue_.clear();
    cursor_.reset();
    need_refill_ = true;
    retry_at_ = clock_.SteadyNow() + kRetryDelay;
    return false;
  }
  if (rows.size() == 1 && IsAlert(rows.front())) entry.alert = std::move(rows.front());
  if (!Send(topic, *sealed, false, std::move(entry))) return false;
  // Resends of alerts waiting for a receipt are out of order and do not move the read position.
  if (from_queue) cursor_ = last;
  return true;
}

bool Uplink::PublishStatus() {
  for (const auto& [tag, entry] : in_flight_) {
    if (entry.sequences.empty()) return true;  // the previous status is still on its way
  }
  StatusInfo info;
  info.gateway_id = options_.gateway_id;
  info.tenant = options_.tenant;
  info.version = options_.version;
  info.time = clock_.Now();
  info.connected_at = connected_at_;
  info.uptime = std::chrono::duration_cast<std::chrono::seconds>(clock_.SteadyNow() - started_at_);
  info.heartbeat_interval = heartbeat_interval_;
  info.backlog = outbox_.Snapshot();
  info.awaiting_receipt = awaiting_receipt_.size();
  info.reconnects = counters_.connects.load() > 0 ? counters_.connects.load() - 1 : 0;
  info.clock_synchronised = clock_.WallClockSynchronised();
  std::string payload;
  // Unsigned it would prove nothing: no status this time; the next heartbeat tries again.
  if (!SignStatus(OnlineStatusBody(info), payload)) return true;
  return Send(topics_.status, payload, true, InFlight{});
}

bool Uplink::SignStatus(const std::string& body, std::string& signed_body) {
  auto signed_status = options_.protection->SignStatus(body);
  if (!signed_status) {
    ++counters_.status_sign_failures;
    core::LogError("signing the status failed", {{"reason", signed_status.error().message}});
    return false;
  }
  signed_body = std::move(*signed_status);
  return true;
}

void Uplink::PrepareLastWill() {
  // The will is signed now and sent by the broker whenever this connection dies: it can carry no time
  // of its own, only the connection it ends (docs/mqtt.md#status-retained).
  connected_at_ = clock_.Now();
  transport::LastWill will;
  if (SignStatus(
          OfflineStatusBody(options_.gateway_id, options_.tenant, "connection lost", nullptr, connected_at_),
          will.payload)) {
    will.topic = topics_.status;
  } else {
    will.payload.clear();
  }
  transport_->SetLastWill(std::move(will));
}

std::chrono::seconds Uplink::ReceiptResendDelay(const store::OutboxRow& alert, std::uint32_t resends) const {
  const std::chrono::seconds base = options_.receipt_resend_interval;
  // A critical or high alert the care system lost is a resident waiting for help: no backoff, and never
  // more than two minutes between copies (the receiver answers every copy with a receipt, so a copy
  // too many costs one message). Today every alert is critical or high (info alerts go as high).
  if (alert.event.priority <= core::Priority::kHigh) return std::min(base, kMaxUrgentReceiptResendInterval);
  // Less urgent ones double per resend, so one whose receipts keep getting lost does not go out every
  // minute for ever; the cap keeps a resend within a quarter of an hour.
  const std::chrono::seconds cap = std::max(base, kMaxReceiptResendInterval);
  std::chrono::seconds delay = base;
  for (std::uint32_t i = 0; i < resends && delay < cap; ++i)
    delay *= 2;
  return std::min(delay, cap);
}

bool Uplink::Send(const std::string& topic, const std::string& payload, bool retained, InFlight entry) {
  const std::uint64_t tag = next_tag_++;
  entry.sent_at = clock_.SteadyNow();
  // Registered before publishing: the acknowledgement may arrive (as a posted task) at any moment.
  in_flight_[tag] = std::move(entry);
  if (auto published = transport_->Publish(topic, payload, retained, tag); !published) {
    in_flight_.erase(tag);
    core::LogWarning("publish not accepted by the MQTT client; retrying",
                     {{"reason", published.error().message}, {"retry_in_ms", kRetryDelay.count()}});
    queue_.clear();
    cursor_.reset();
    need_refill_ = true;
    retry_at_ = clock_.SteadyNow() + kRetryDelay;
    return false;
  }
  ++counters_.messages_published;
  return true;
}

void Uplink::FlushCommit(core::SteadyTime now) {
  if (committing_) return;
  store::OutboxChange& change = pending_change_;
  if (change.sent_sequences.empty() && change.receipted_alerts.empty() && change.events.empty() &&
      change.settings.empty() && change.alert_actions.empty()) {
    return;
  }
  if (now < commit_retry_at_) return;
  const bool accepted = outbox_.Commit(change, [this](const Result<store::WriteOutcome>& result) {
    Post([this, result] { OnCommitDone(result); });
  });
  if (!accepted) {
    commit_retry_at_ = now + kCommitRetryDelay;
    return;
  }
  committing_ = std::move(change);
  committing_receipt_rows_ = std::move(pending_receipt_rows_);
  committing_action_commands_ = std::move(pending_action_commands_);
  pending_change_ = {};
  pending_receipt_rows_.clear();
  pending_action_commands_.clear();
}

void Uplink::OnCommitDone(const Result<store::WriteOutcome>& result) {
  if (!committing_) return;
  store::OutboxChange done = std::move(*committing_);
  committing_.reset();
  if (result) {
    for (const std::int64_t sequence : done.sent_sequences)
      removing_.erase(sequence);
    for (const std::int64_t sequence : committing_receipt_rows_)
      removing_.erase(sequence);
    committing_receipt_rows_.clear();
    // Command results were appended: send them (from the front if they sort before the read position).
    for (const core::Event& event : done.events) {
      need_refill_ = true;
      if (cursor_ && event.priority < cursor_->priority) cursor_.reset();
    }
    // Alert events of an ack or resolve were appended too; their commands hear the outcome.
    if (!done.alert_actions.empty()) need_refill_ = true;
    for (std::size_t i = 0; i < committing_action_commands_.size(); ++i) {
      const auto& [command_id, type] = committing_action_commands_[i];
      const bool known = i < result->alert_action_results.size();
      QueueCommandResult(command_id, type, known && result->alert_action_results[i].ok,
                         known ? result->alert_action_results[i].detail : "not applied");
    }
    committing_action_commands_.clear();
    return;
  }
  ++counters_.commit_failures;
  core::LogError("uplink change not stored; retrying", {{"reason", result.error().message}});
  // Put it back in front of whatever came since, and try again shortly.
  pending_change_.sent_sequences.insert(pending_change_.sent_sequences.begin(), done.sent_sequences.begin(),
                                        done.sent_sequences.end());
  pending_change_.receipted_alerts.insert(pending_change_.receipted_alerts.begin(),
                                          done.receipted_alerts.begin(), done.receipted_alerts.end());
  pending_change_.events.insert(pending_change_.events.begin(), done.events.begin(), done.events.end());
  pending_change_.alert_actions.insert(pending_change_.alert_actions.begin(), done.alert_actions.begin(),
                                       done.alert_actions.end());
  pending_action_commands_.insert(pending_action_commands_.begin(), committing_action_commands_.begin(),
                                  committing_action_commands_.end());
  committing_action_commands_.clear();
  for (auto& [name, value] : done.settings)
    pending_change_.settings.try_emplace(name, value);
  pending_receipt_rows_.insert(pending_receipt_rows_.end(), committing_receipt_rows_.begin(),
                               committing_receipt_rows_.end());
  committing_receipt_rows_.clear();
  commit_retry_at_ = clock_.SteadyNow() + kRetryDelay;
}

void Uplink::SayGoodbye() {
  // Runs on the uplink thread after the loop ended: tasks are drained here by hand.
  const auto drain_until = [this](core::SteadyTime deadline, const std::function<bool()>& done) {
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::deque<std::function<void()>> tasks;
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, milliseconds{20}, [this] { return !tasks_.empty(); });
        tasks.swap(tasks_);
      }
      RunTasks(tasks);
      FlushCommit(clock_.SteadyNow());
    }
  };
  if (state_ == LinkState::kConnected) {
    const core::WallTime now = clock_.Now();
    std::string goodbye;
    if (SignStatus(OfflineStatusBody(options_.gateway_id, options_.tenant, "shutdown", &now, connected_at_),
                   goodbye) &&
        Send(topics_.status, goodbye, true, InFlight{})) {
      // Wait for the goodbye and whatever else is in flight, so their rows can be removed now rather
      // than sent again at the next start.
      drain_until(std::chrono::steady_clock::now() + kGoodbyeWait,
                  [this] { return in_flight_.empty() || state_ != LinkState::kConnected; });
    }
  }
  transport_->Disconnect();
  // Acknowledged rows still to be removed: hand them over and wait (bounded) for the commit, so a clean
  // stop does not resend them at the next start.
  drain_until(std::chrono::steady_clock::now() + kFinalCommitWait, [this] {
    return !committing_ && pending_change_.sent_sequences.empty() &&
           pending_change_.receipted_alerts.empty() && pending_change_.events.empty() &&
           pending_change_.settings.empty();
  });
}

}  // namespace ehg::uplink
