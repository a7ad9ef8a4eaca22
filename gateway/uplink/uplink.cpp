#include "gateway/uplink/uplink.hpp"

#include <algorithm>
#include <random>

#include "gateway/core/bug.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/thread_name.hpp"
#include "gateway/uplink/messages.hpp"

namespace ehg::uplink {
namespace {

using std::chrono::milliseconds;

// Longest sleep without work, so the watchdog heartbeat keeps moving.
constexpr milliseconds kIdleWake{500};
constexpr milliseconds kGoodbyeWait{1000};
constexpr milliseconds kFinalCommitWait{2000};
// The client gives up on a connection attempt after 10 s; this is the backstop if it never answers.
constexpr milliseconds kConnectAttemptLimit{30000};

double UniformRandom() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

// The rows the care system confirms with a receipt (docs/mqtt.md, "End-to-end receipts"): until then
// they stay in the outbox and go again.
bool NeedsReceipt(ReceiptScope scope, const OutgoingRows& message) {
  if (scope == ReceiptScope::kEveryEvent) return true;
  return message.rows.size() == 1 && message.rows.front().event.kind == core::EventKind::kAlert;
}

PublisherOptions PublisherOptionsFor(const UplinkOptions& options) {
  return {options.in_flight_window, options.observation_batch_max, options.observation_batch_window};
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

Uplink::Uplink(UplinkOptions options, const transport::TransportFactory& factory, OutboxPort& outbox,
               const core::Clock& clock, core::EventIdGenerator& ids)
    : options_(std::move(options)),
      topics_(options_.tenant, options_.gateway_id),
      outbox_(outbox),
      clock_(clock),
      backoff_(options_.reconnect_initial, options_.reconnect_max, UniformRandom),
      heartbeat_interval_(options_.heartbeat_interval),
      telemetry_(options_.telemetry),
      counters_(telemetry_.get()),
      publisher_(PublisherOptionsFor(options_), outbox),
      receipts_(options_.receipt_resend_interval),
      changes_(options_.gateway_id, ids, counters_),
      intake_(options_.protection, outbox, changes_, counters_) {
  if (!options_.protection) core::Bug("uplink built without payload protection: refusing to run");
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
  Post([this, most_urgent] { publisher_.RowsAdded(most_urgent); });
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
    if (const auto resend = receipts_.next_resend()) next = std::min(next, *resend);
    if (const auto batch = publisher_.batch_deadline()) next = std::min(next, *batch);
  }
  if (publisher_.retry_at() > now) next = std::min(next, publisher_.retry_at());
  if (changes_.retry_at() > now) next = std::min(next, changes_.retry_at());
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
  status_.in_flight = publisher_.in_flight();
  status_.alerts_awaiting_receipt = receipts_.waiting_alerts();
  status_.events_awaiting_receipt = receipts_.waiting();
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
  publisher_.Connected();
  receipts_.ConnectionLost();
  const core::SteadyTime now = clock_.SteadyNow();
  heartbeat_at_ = now;  // the birth message goes out first
  // A new connection may follow a broker that lost what it held (a restart without persistence, a
  // receipt on its way to us included).
  receipts_.RestartBackoff(now);
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
  core::LogWarning(
      "broker connection lost",
      {{"reason", reason}, {"in_flight", publisher_.in_flight()}, {"retry_in_ms", delay.count()}});
  {
    std::lock_guard lock(status_mutex_);
    status_.last_error = "connection lost: " + reason;
  }
  // Whatever was in flight is sent again after reconnecting (same rows, same event ids). Receipted and
  // acknowledged rows stay excluded until their removal is committed.
  publisher_.ConnectionLost();
  receipts_.ConnectionLost();
  SetState(LinkState::kDisconnected);
  reconnect_at_ = clock_.SteadyNow() + delay;
}

void Uplink::OnDelivered(std::uint64_t tag) {
  std::optional<InFlight> entry = publisher_.Delivered(tag);
  if (!entry) return;
  const core::SteadyTime now = clock_.SteadyNow();
  publish_latency_.Observe(std::chrono::duration_cast<std::chrono::microseconds>(now - entry->sent_at));
  ++counters_.messages_acknowledged;
  counters_.events_acknowledged += entry->sequences.size();
  if (!entry->sequences.empty()) {
    std::lock_guard lock(status_mutex_);
    status_.last_acknowledged = clock_.Now();
  }
  // A row waiting for a receipt stays; any other leaves the outbox.
  for (const std::int64_t sequence : entry->sequences) {
    if (!receipts_.Acknowledged(sequence, now)) changes_.RowAcknowledged(sequence);
  }
}

void Uplink::OnDeliveryFailed(std::uint64_t tag, const std::string& reason) {
  const std::optional<InFlight> entry = publisher_.DeliveryFailed(tag, clock_.SteadyNow());
  if (!entry) return;
  for (const std::int64_t sequence : entry->sequences)
    receipts_.Unsent(sequence);
  core::LogWarning("message not acknowledged; it stays in the outbox",
                   {{"reason", reason}, {"retry_in_ms", kPublishRetryDelay.count()}});
  // Counted last: whoever sees the count sees the retry time set.
  ++counters_.delivery_failures;
}

void Uplink::OnMessage(const std::string& topic, const std::string& payload) {
  if (topic != topics_.command) {
    core::LogDebug("message on an unexpected topic ignored", {{"topic", topic}});
    return;
  }
  intake_.Take(payload, clock_.Now(), clock_.WallClockSynchronised(), *this);
}

void Uplink::OnOversized(const std::string& topic, std::size_t bytes) {
  // Counted where it arrived; here only said. The broker ignored the Maximum Packet Size of our CONNECT.
  core::LogWarning("message larger than the maximum packet size dropped unread",
                   {{"topic", topic}, {"bytes", bytes}, {"maximum", kMaxIncomingPacketBytes}});
}

void Uplink::OnCommitDone(const Result<store::WriteOutcome>& result) {
  const ChangeBatcher::Committed committed = changes_.CommitDone(result, clock_.SteadyNow(), clock_.Now());
  // Command results were appended: send them (from the front if they sort before the read position).
  if (committed.most_urgent_event) publisher_.RowsAdded(*committed.most_urgent_event);
  // Alert events of an ack or resolve were appended too.
  if (committed.alert_actions) publisher_.Reread();
}

void Uplink::CareSystemAnswered() {
  // After a silence longer than the resend interval the care system is back: an event it has not
  // confirmed was lost on its side and should go again soon. While it keeps answering (a receipt comes
  // with every message) an event it leaves unconfirmed keeps backing off.
  const core::SteadyTime now = clock_.SteadyNow();
  if (!last_care_answer_ || now - *last_care_answer_ > options_.receipt_resend_interval)
    receipts_.RestartBackoff(now);
  last_care_answer_ = now;
}

bool Uplink::Receipted(const core::EventId& event_id) {
  // The row stays out of outbox reads until its removal is committed.
  std::optional<std::int64_t> sequence = receipts_.Receipt(event_id);
  if (!sequence) sequence = publisher_.TakeQueued(event_id);
  if (sequence) receipts_.Forget(*sequence);
  changes_.Receipted(event_id, sequence);
  return sequence.has_value();
}

void Uplink::HeartbeatChanged(std::chrono::seconds interval) {
  heartbeat_interval_ = interval;
  heartbeat_at_ = clock_.SteadyNow();  // the new interval is announced at once
}

void Uplink::StatusRequested() {
  heartbeat_at_ = clock_.SteadyNow();
}

bool Uplink::ApplyConfig(const wire::ConfigChange& change, const wire::Command& command) {
  if (!options_.apply_config) return false;
  options_.apply_config(change, AnswerLater(command));
  return true;
}

bool Uplink::RequestUpdate(const wire::UpdateRequest& update, const wire::Command& command) {
  if (!options_.request_update) return false;
  options_.request_update(update, command.id, AnswerLater(command));
  return true;
}

CommandDone Uplink::AnswerLater(const wire::Command& command) {
  return [this, id = command.id, type = command.type](CommandOutcome outcome) {
    Post([this, id, type, outcome = std::move(outcome)] {
      changes_.CommandResult(id, type, outcome.ok, outcome.detail, clock_.Now());
    });
  };
}

void Uplink::FillWindow(core::SteadyTime now) {
  const auto held = [this](OutboxPublisher::Skipped& rows) {
    rows.sequences.insert(changes_.removing().begin(), changes_.removing().end());
    rows.events.insert(changes_.removing_events().begin(), changes_.removing_events().end());
    receipts_.AddWaiting(rows.sequences);
  };
  const auto due = [&]() -> std::optional<OutgoingRows> {
    std::optional<ReceiptTracker::Due> resend = receipts_.TakeDue(now);
    // An event the care system did not confirm in kMaxCopiesWithoutReceipt copies is given up, never an
    // alert: counted and logged as dropped, so it holds no slot of the receipt window for ever.
    while (resend && resend->row.event.kind != core::EventKind::kAlert &&
           resend->copies >= kMaxCopiesWithoutReceipt) {
      ++counters_.events_given_up;
      core::LogWarning("event given up: the care system confirmed none of its copies",
                       {{"event_id", resend->row.event.id.ToString()},
                        {"kind", core::ToString(resend->row.event.kind)},
                        {"copies", resend->copies}});
      receipts_.Forget(resend->row.sequence);
      changes_.GivenUp(resend->row.event.id, resend->row.sequence);
      resend = receipts_.TakeDue(now);
    }
    if (!resend) return std::nullopt;
    OutgoingRows message;
    message.resends = resend->resends;
    // Observations the care system did not confirm go again as a batch, as they went first; from
    // kAloneFromCopy on one per message, so one entry a care system refuses holds back no other.
    const bool batch =
        resend->row.event.kind == core::EventKind::kObservation && resend->copies + 1 < kAloneFromCopy;
    if (resend->row.event.kind == core::EventKind::kAlert) {
      ++counters_.alerts_resent;
      core::LogInfo("alert sent again: no receipt yet", {{"event_id", resend->row.event.id.ToString()},
                                                         {"resends", resend->resends},
                                                         {"next_in_s", resend->next_delay.count()}});
    }
    message.rows.push_back(std::move(resend->row));
    while (batch && message.rows.size() < options_.observation_batch_max) {
      std::optional<ReceiptTracker::Due> more =
          receipts_.TakeDue(now, core::EventKind::kObservation, kAloneFromCopy - 1);
      if (!more) break;
      message.resends = std::max(message.resends, more->resends);
      message.rows.push_back(std::move(more->row));
    }
    counters_.events_resent += message.rows.size();
    if (message.rows.front().event.kind == core::EventKind::kObservation) {
      core::LogInfo("observations sent again: no receipt yet",
                    {{"events", message.rows.size()}, {"resends", message.resends}});
    }
    return message;
  };
  const auto bulk_room = [this] { return receipts_.unconfirmed_bulk() < kMaxUnconfirmedBulkRows; };
  publisher_.Fill(
      now, held, due, [this](const OutgoingRows& message) { return PublishRows(message); }, bulk_room);
}

std::optional<std::uint64_t> Uplink::PublishRows(const OutgoingRows& message) {
  const std::vector<store::OutboxRow>& rows = message.rows;
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
    return std::nullopt;
  }
  const std::uint64_t tag = next_tag_++;
  if (!Publish(topic, *sealed, false, tag)) return std::nullopt;
  if (NeedsReceipt(options_.receipt_scope, message)) {
    for (const store::OutboxRow& row : rows)
      receipts_.Sent(row, message.resends);
  }
  return tag;
}

bool Uplink::PublishStatus() {
  if (publisher_.status_in_flight()) return true;  // the previous status is still on its way
  StatusInfo info;
  info.gateway_id = options_.gateway_id;
  info.tenant = options_.tenant;
  info.version = options_.version;
  info.time = clock_.Now();
  info.connected_at = connected_at_;
  info.uptime = std::chrono::duration_cast<std::chrono::seconds>(clock_.SteadyNow() - started_at_);
  info.heartbeat_interval = heartbeat_interval_;
  info.backlog = outbox_.Snapshot();
  info.alerts_awaiting_receipt = receipts_.waiting_alerts();
  info.events_awaiting_receipt = receipts_.waiting();
  info.reconnects = counters_.connects.load() > 0 ? counters_.connects.load() - 1 : 0;
  info.clock_synchronised = clock_.WallClockSynchronised();
  std::string payload;
  // Unsigned it would prove nothing: no status this time; the next heartbeat tries again.
  if (!SignStatus(OnlineStatusBody(info), payload)) return true;
  return SendStatus(payload);
}

bool Uplink::SendStatus(const std::string& payload) {
  const core::SteadyTime now = clock_.SteadyNow();
  const std::uint64_t tag = next_tag_++;
  if (!Publish(topics_.status, payload, options_.retain_status, tag)) {
    publisher_.NotSent(now);
    return false;
  }
  publisher_.StatusSent(tag, now);
  return true;
}

bool Uplink::Publish(const std::string& topic, const std::string& payload, bool retained, std::uint64_t tag) {
  if (auto published = transport_->Publish(topic, payload, retained, tag); !published) {
    core::LogWarning("publish not accepted by the MQTT client; retrying",
                     {{"reason", published.error().message}, {"retry_in_ms", kPublishRetryDelay.count()}});
    return false;
  }
  ++counters_.messages_published;
  return true;
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
    will.retained = options_.retain_status;
  } else {
    will.payload.clear();
  }
  transport_->SetLastWill(std::move(will));
}

void Uplink::FlushCommit(core::SteadyTime now) {
  changes_.Flush(now, [this](const store::OutboxChange& change) {
    return outbox_.Commit(change, [this](const Result<store::WriteOutcome>& result) {
      Post([this, result] { OnCommitDone(result); });
    });
  });
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
        SendStatus(goodbye)) {
      // Wait for the goodbye and whatever else is in flight, so their rows can be removed now rather
      // than sent again at the next start.
      drain_until(std::chrono::steady_clock::now() + kGoodbyeWait,
                  [this] { return publisher_.in_flight() == 0 || state_ != LinkState::kConnected; });
    }
  }
  transport_->Disconnect();
  // Acknowledged rows still to be removed: hand them over and wait (bounded) for the commit, so a clean
  // stop does not resend them at the next start.
  drain_until(std::chrono::steady_clock::now() + kFinalCommitWait, [this] { return changes_.Settled(); });
}

}  // namespace ehg::uplink
