#include "care/engine/engine.hpp"

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "care/engine/subjects.hpp"
#include "gateway/core/log.hpp"

namespace ehg::engine {
namespace {

std::int64_t Millis(std::chrono::milliseconds duration) {
  return static_cast<std::int64_t>(duration.count());
}

std::int64_t Nanos(std::chrono::nanoseconds duration) {
  return static_cast<std::int64_t>(duration.count());
}

// nats.c's status, its last error text and the JetStream error code, as one of our errors.
Error NatsError(std::string_view what, natsStatus status, jsErrCode js_error = static_cast<jsErrCode>(0)) {
  std::string message = std::string(what) + ": " + natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text != nullptr && *text != '\0') message += std::string(" (") + text + ")";
  if (js_error != 0) message += " [JetStream error " + std::to_string(static_cast<int>(js_error)) + "]";
  Errc code = Errc::kInternal;
  switch (status) {
    case NATS_TIMEOUT:
    case NATS_NOT_YET_CONNECTED:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS:
      code = Errc::kUnavailable;
      break;
    case NATS_NOT_PERMITTED:
      code = Errc::kRejected;
      break;
    case NATS_NOT_FOUND:
      code = Errc::kNotFound;
      break;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      code = Errc::kInvalidArgument;
      break;
    default:
      break;
  }
  return Error{code, std::move(message)};
}

tl::unexpected<Error> Failed(std::string_view what, natsStatus status,
                             jsErrCode js_error = static_cast<jsErrCode>(0)) {
  return tl::unexpected<Error>(NatsError(what, status, js_error));
}

ObservedStream ObserveStream(const jsStreamConfig& config) {
  ObservedStream observed;
  for (int i = 0; i < config.SubjectsLen; ++i)
    observed.subjects.emplace_back(config.Subjects[i]);
  observed.replicas = static_cast<int>(config.Replicas);
  observed.duplicate_window = std::chrono::nanoseconds(config.Duplicates);
  observed.max_age = std::chrono::nanoseconds(config.MaxAge);
  observed.max_bytes = config.MaxBytes;
  observed.max_message_bytes = config.MaxMsgSize;
  observed.discard_new = config.Discard == js_DiscardNew;
  observed.file_storage = config.Storage == js_FileStorage;
  observed.limits_retention = config.Retention == js_LimitsPolicy;
  return observed;
}

ObservedConsumer ObserveConsumer(const jsConsumerConfig& config) {
  ObservedConsumer observed;
  observed.explicit_ack = config.AckPolicy == js_AckExplicit;
  observed.deliver_all = config.DeliverPolicy == js_DeliverAll;
  observed.pull = config.DeliverSubject == nullptr || *config.DeliverSubject == '\0';
  observed.filter_subject = config.FilterSubject != nullptr ? config.FilterSubject : "";
  observed.ack_wait = std::chrono::nanoseconds(config.AckWait);
  observed.max_ack_pending = config.MaxAckPending;
  return observed;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string joined;
  for (const std::string& line : lines)
    joined += (joined.empty() ? "" : "; ") + line;
  return joined;
}

}  // namespace

Delivery::Delivery(std::string subject, std::string payload, std::uint64_t stream_sequence,
                   std::uint64_t delivery_count, core::WallTime stored_at, std::shared_ptr<void> message)
    : subject_(std::move(subject)),
      payload_(std::move(payload)),
      stream_sequence_(stream_sequence),
      delivery_count_(delivery_count),
      stored_at_(stored_at),
      message_(std::move(message)) {}

struct Engine::Impl {
  EngineOptions options;
  natsOptions* nats_options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* jetstream = nullptr;
  natsSubscription* subscription = nullptr;  // bound to the durable consumer by EnsureConsumer
  std::mutex subscription_mutex;

  std::atomic<bool> closing{false};  // our own Close: no warning about the disconnection
  mutable std::mutex state_mutex;
  mutable std::condition_variable state_changed;
  bool is_connected = false;
  bool closed = false;  // nats.c called OnClosed: it calls nothing of ours after that

  void SetConnected(bool value) {
    {
      std::lock_guard lock(state_mutex);
      is_connected = value;
    }
    state_changed.notify_all();
  }

  // nats.c calls these on its own threads.
  static void OnConnected(natsConnection* connection, void* closure) {
    char url[256] = "";
    (void)natsConnection_GetConnectedUrl(connection, url, sizeof url);
    core::LogInfo("engine connected", {{"server", url}});
    static_cast<Impl*>(closure)->SetConnected(true);
  }
  static void OnDisconnected(natsConnection*, void* closure) {
    Impl* self = static_cast<Impl*>(closure);
    if (!self->closing) core::LogWarning("engine disconnected, reconnecting");
    self->SetConnected(false);
  }
  static void OnClosed(natsConnection*, void* closure) {
    Impl* self = static_cast<Impl*>(closure);
    {
      std::lock_guard lock(self->state_mutex);
      self->is_connected = false;
      self->closed = true;
    }
    self->state_changed.notify_all();
  }
  static void OnAsyncError(natsConnection*, natsSubscription*, natsStatus status, void*) {
    core::LogWarning("engine asynchronous error", {{"error", natsStatus_GetText(status)}});
  }

  ~Impl() {
    if (subscription != nullptr) natsSubscription_Destroy(subscription);
    if (jetstream != nullptr) jsCtx_Destroy(jetstream);
    if (connection != nullptr) {
      closing = true;
      natsConnection_Close(connection);
      // nats.c runs the callbacks on a thread of its own, after Close returns: wait for the last one
      // (closed) before this object, their closure, goes away.
      std::unique_lock lock(state_mutex);
      if (!state_changed.wait_for(lock, std::chrono::seconds(5), [&] { return closed; }))
        core::LogWarning("engine: closed callback did not come within 5 s");
      lock.unlock();
      natsConnection_Destroy(connection);
    }
    if (nats_options != nullptr) natsOptions_Destroy(nats_options);
  }

  Result<void> Ready() const {
    if (jetstream == nullptr) return Fail(Errc::kClosed, "engine: not connected");
    if (natsConnection_Status(connection) != NATS_CONN_STATUS_CONNECTED)
      return Fail(Errc::kUnavailable, "engine: no server connected (reconnecting)");
    return {};
  }

  jsOptions ApiOptions() const {
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = Millis(options.api_timeout);
    return js_options;
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Connect(EngineOptions options) {
  if (options.servers.empty()) return Fail(Errc::kInvalidArgument, "engine: no servers");
  if (auto stream = CheckStreamSettings(options.stream); !stream) return tl::unexpected(stream.error());
  if (auto consumer = CheckConsumerSettings(options.consumer); !consumer)
    return tl::unexpected(consumer.error());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  Impl& self = *impl;
  const EngineOptions& o = self.options;
  std::vector<const char*> servers;
  for (const std::string& server : o.servers)
    servers.push_back(server.c_str());
  natsStatus status = natsOptions_Create(&self.nats_options);
  natsOptions* n = self.nats_options;
  if (status == NATS_OK) status = natsOptions_SetServers(n, servers.data(), static_cast<int>(servers.size()));
  if (status == NATS_OK) status = natsOptions_SetName(n, o.name.c_str());
  // Try the servers in the order given: each hub instance can list its nearest node first.
  if (status == NATS_OK) status = natsOptions_SetNoRandomize(n, true);
  if (status == NATS_OK) status = natsOptions_SetTimeout(n, Millis(o.connect_timeout));
  if (status == NATS_OK) status = natsOptions_SetMaxReconnect(n, -1);  // for ever
  if (status == NATS_OK) status = natsOptions_SetReconnectWait(n, Millis(o.reconnect_wait));
  if (status == NATS_OK) status = natsOptions_SetPingInterval(n, Millis(o.ping_interval));
  if (status == NATS_OK) status = natsOptions_SetMaxPingsOut(n, o.max_pings_out);
  if (status == NATS_OK) status = natsOptions_SetSecure(n, true);
  if (status == NATS_OK && !o.ca_file.empty())
    status = natsOptions_LoadCATrustedCertificates(n, o.ca_file.c_str());
  if (status == NATS_OK && !o.cert_file.empty())
    status = natsOptions_LoadCertificatesChain(n, o.cert_file.c_str(), o.key_file.c_str());
  if (status != NATS_OK) return Failed("engine: options", status);
  if (status == NATS_OK) status = natsOptions_SetDisconnectedCB(n, &Impl::OnDisconnected, &self);
  if (status == NATS_OK) status = natsOptions_SetReconnectedCB(n, &Impl::OnConnected, &self);
  if (status == NATS_OK) status = natsOptions_SetClosedCB(n, &Impl::OnClosed, &self);
  if (status == NATS_OK) status = natsOptions_SetErrorHandler(n, &Impl::OnAsyncError, &self);
  // No server reachable at start: keep trying in the background (the hub may start before the cluster).
  if (status == NATS_OK) status = natsOptions_SetRetryOnFailedConnect(n, true, &Impl::OnConnected, &self);
  if (status != NATS_OK) return Failed("engine: options", status);
  status = natsConnection_Connect(&self.connection, n);
  if (status == NATS_OK) {
    self.SetConnected(true);
  } else if (status != NATS_NOT_YET_CONNECTED) {
    return Failed("engine: connect", status);
  }
  jsOptions js_options = self.ApiOptions();
  status = natsConnection_JetStream(&self.jetstream, self.connection, &js_options);
  if (status != NATS_OK) return Failed("engine: JetStream context", status);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

bool Engine::connected() const {
  return natsConnection_Status(impl_->connection) == NATS_CONN_STATUS_CONNECTED;
}

std::string Engine::connected_server() const {
  char url[256] = "";
  if (natsConnection_GetConnectedUrl(impl_->connection, url, sizeof url) != NATS_OK) return {};
  return url;
}

bool Engine::WaitConnected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->state_mutex);
  return impl_->state_changed.wait_for(lock, timeout, [&] { return impl_->is_connected; });
}

Result<void> Engine::EnsureStream() {
  if (auto ready = impl_->Ready(); !ready) return ready;
  const StreamSettings& want = impl_->options.stream;
  jsOptions js_options = impl_->ApiOptions();
  // Two attempts: another hub instance may create the stream between our look and our create.
  for (int attempt = 0; attempt < 2; ++attempt) {
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    natsStatus status = js_GetStreamInfo(&info, impl_->jetstream, want.name.c_str(), &js_options, &js_error);
    std::optional<ObservedStream> have;
    if (status == NATS_OK) {
      have = ObserveStream(*info->Config);
      jsStreamInfo_Destroy(info);
    } else if (status != NATS_NOT_FOUND) {
      return Failed("engine: stream info " + want.name, status, js_error);
    }
    const Plan plan = PlanStream(want, have);
    if (plan.action == PlanAction::kNothing) return {};
    if (plan.action == PlanAction::kRefuse)
      return Fail(Errc::kRejected,
                  "engine: stream " + want.name +
                      " differs in what only an operator may change: " + Join(plan.differences));
    std::vector<const char*> subjects;
    for (const std::string& subject : want.subjects)
      subjects.push_back(subject.c_str());
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = want.name.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Retention = js_LimitsPolicy;
    config.Storage = js_FileStorage;
    config.Replicas = want.replicas;
    config.Duplicates = Nanos(want.duplicate_window);
    config.MaxAge = Nanos(want.max_age);
    config.MaxBytes = want.max_bytes;
    config.MaxMsgSize = want.max_message_bytes;
    config.Discard = want.discard_new ? js_DiscardNew : js_DiscardOld;
    info = nullptr;
    js_error = static_cast<jsErrCode>(0);
    if (plan.action == PlanAction::kCreate) {
      status = js_AddStream(&info, impl_->jetstream, &config, &js_options, &js_error);
      if (status != NATS_OK && js_error == JSStreamNameExistErr) continue;  // another instance was first
    } else {
      core::LogWarning("engine: updating stream",
                       {{"stream", want.name}, {"changes", Join(plan.differences)}});
      status = js_UpdateStream(&info, impl_->jetstream, &config, &js_options, &js_error);
    }
    if (info != nullptr) jsStreamInfo_Destroy(info);
    if (status != NATS_OK) return Failed("engine: create or update stream " + want.name, status, js_error);
    core::LogInfo(plan.action == PlanAction::kCreate ? "engine: stream created" : "engine: stream updated",
                  {{"stream", want.name}, {"replicas", want.replicas}});
    return {};
  }
  return Fail(Errc::kInternal, "engine: stream " + want.name + " appeared and vanished while creating it");
}

Result<void> Engine::EnsureConsumer() {
  if (auto ready = impl_->Ready(); !ready) return ready;
  const std::string& stream = impl_->options.stream.name;
  const ConsumerSettings& want = impl_->options.consumer;
  jsOptions js_options = impl_->ApiOptions();
  jsConsumerInfo* info = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus status = js_GetConsumerInfo(&info, impl_->jetstream, stream.c_str(), want.durable.c_str(),
                                         &js_options, &js_error);
  std::optional<ObservedConsumer> have;
  if (status == NATS_OK) {
    have = ObserveConsumer(*info->Config);
    jsConsumerInfo_Destroy(info);
  } else if (status != NATS_NOT_FOUND) {
    return Failed("engine: consumer info " + want.durable, status, js_error);
  }
  const Plan plan = PlanConsumer(want, have);
  if (plan.action == PlanAction::kRefuse)
    return Fail(Errc::kRejected,
                "engine: consumer " + want.durable +
                    " differs in what only an operator may change: " + Join(plan.differences));
  if (plan.action != PlanAction::kNothing) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = want.durable.c_str();
    config.AckPolicy = js_AckExplicit;
    config.DeliverPolicy = js_DeliverAll;
    config.AckWait = Nanos(want.ack_wait);
    config.MaxAckPending = want.max_ack_pending;
    if (!want.filter_subject.empty()) config.FilterSubject = want.filter_subject.c_str();
    info = nullptr;
    js_error = static_cast<jsErrCode>(0);
    // Creating a durable that another instance just created with the same settings succeeds as well.
    status =
        plan.action == PlanAction::kCreate
            ? js_AddConsumer(&info, impl_->jetstream, stream.c_str(), &config, &js_options, &js_error)
            : js_UpdateConsumer(&info, impl_->jetstream, stream.c_str(), &config, &js_options, &js_error);
    if (info != nullptr) jsConsumerInfo_Destroy(info);
    if (status != NATS_OK)
      return Failed("engine: create or update consumer " + want.durable, status, js_error);
    if (plan.action == PlanAction::kUpdate)
      core::LogWarning("engine: consumer updated",
                       {{"consumer", want.durable}, {"changes", Join(plan.differences)}});
  }
  std::lock_guard lock(impl_->subscription_mutex);
  if (impl_->subscription != nullptr) return {};
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Consumer = want.durable.c_str();
  js_error = static_cast<jsErrCode>(0);
  status = js_PullSubscribe(&impl_->subscription, impl_->jetstream, nullptr, want.durable.c_str(),
                            &js_options, &sub_options, &js_error);
  if (status != NATS_OK) {
    impl_->subscription = nullptr;
    return Failed("engine: bind to consumer " + want.durable, status, js_error);
  }
  return {};
}

namespace {

// One pull request of up to `batch` messages, no-wait with an expiry of `timeout`. NATS 2.9 answers such
// a request as a "one-shot" (server/consumer.go, processNextMsgRequest and processWaiting): what the
// consumer has now at once; when it has nothing, the first messages that come within the expiry, at
// once; then a 408 status ends the request. nats.c waits for the answer up to the same `timeout`.
// Appends what came to `deliveries`.
Result<void> PullOnce(natsSubscription* subscription, int batch, std::chrono::milliseconds timeout,
                      std::vector<Delivery>& deliveries) {
  jsFetchRequest request;
  jsFetchRequest_Init(&request);
  request.Batch = batch;
  request.NoWait = true;
  request.Expires = static_cast<int64_t>(Millis(timeout)) * 1'000'000;  // nanoseconds
  natsMsgList list{nullptr, 0};
  const natsStatus status = natsSubscription_FetchRequest(&list, subscription, &request);
  // Nothing there (a no-wait request's "no messages", or the wait ran out): no error.
  const bool nothing = (status == NATS_TIMEOUT || status == NATS_NOT_FOUND) && list.Count == 0;
  if (status != NATS_OK && !nothing) {
    natsMsgList_Destroy(&list);
    return Failed("engine: fetch", status);
  }
  deliveries.reserve(deliveries.size() + static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* message = list.Msgs[i];
    list.Msgs[i] = nullptr;  // ours now: natsMsgList_Destroy skips it
    std::shared_ptr<void> owned(message, [](void* raw) { natsMsg_Destroy(static_cast<natsMsg*>(raw)); });
    jsMsgMetaData* meta = nullptr;
    std::uint64_t sequence = 0;
    std::uint64_t delivered = 0;
    core::WallTime stored_at{};
    if (natsMsg_GetMetaData(&meta, message) == NATS_OK) {
      sequence = meta->Sequence.Stream;
      delivered = meta->NumDelivered;
      stored_at = core::WallTime(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(meta->Timestamp)));
      jsMsgMetaData_Destroy(meta);
    }
    const char* data = natsMsg_GetData(message);
    const int length = natsMsg_GetDataLength(message);
    deliveries.emplace_back(
        natsMsg_GetSubject(message),
        data != nullptr ? std::string(data, static_cast<std::size_t>(length)) : std::string(), sequence,
        delivered, stored_at, std::move(owned));
  }
  natsMsgList_Destroy(&list);
  return {};
}

}  // namespace

Result<std::vector<Delivery>> Engine::Fetch(int max, std::chrono::milliseconds timeout) {
  natsSubscription* subscription = nullptr;
  {
    std::lock_guard lock(impl_->subscription_mutex);
    subscription = impl_->subscription;
  }
  if (subscription == nullptr) return Fail(Errc::kClosed, "engine: Fetch before EnsureConsumer");
  if (max < 1) return Fail(Errc::kInvalidArgument, "engine: Fetch of fewer than one message");
  // One request, answered the moment anything is there (PullOnce). nats.c's plain fetch of `max` kept
  // waiting until `max` messages came or the timeout passed: on a quiet system every alert waited out the
  // whole timeout (measured: p99 510 ms from publish to receipt with 50 gateways, the hub's 500 ms fetch
  // wait). A second no-wait request to top up a turn after its first message did the same: NATS held it
  // for its whole expiry when nothing more came (measured: a quiet alert lane's alerts 500 ms late).
  std::vector<Delivery> deliveries;
  if (auto pulled = PullOnce(subscription, max, timeout, deliveries); !pulled)
    return tl::unexpected(pulled.error());
  return deliveries;
}

Result<void> Engine::Ack(const Delivery& delivery) {
  jsOptions js_options = impl_->ApiOptions();
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus status =
      natsMsg_AckSync(static_cast<natsMsg*>(delivery.message_.get()), &js_options, &js_error);
  if (status != NATS_OK) return Failed("engine: ack", status, js_error);
  return {};
}

// No jsOptions for the three below: nats.c (js.c, _ackMsg) turns any acknowledgement given options with
// a Wait into a request that waits for the server's reply. With the API options they did, one round trip
// each: a turn of 32 alerts spent up to 127 ms after its commit acknowledging them one after the other
// while a gateway's catch-up kept the engine busy (scripts/hub-fleet, alert times receipts_handed_ms).
Result<void> Engine::AckWithoutConfirmation(const Delivery& delivery) {
  const natsStatus status = natsMsg_Ack(static_cast<natsMsg*>(delivery.message_.get()), nullptr);
  if (status != NATS_OK) return Failed("engine: ack", status);
  return {};
}

Result<void> Engine::Nak(const Delivery& delivery, std::chrono::milliseconds delay) {
  const natsStatus status =
      natsMsg_NakWithDelay(static_cast<natsMsg*>(delivery.message_.get()), Millis(delay), nullptr);
  if (status != NATS_OK) return Failed("engine: nak", status);
  return {};
}

Result<void> Engine::Term(const Delivery& delivery) {
  const natsStatus status = natsMsg_Term(static_cast<natsMsg*>(delivery.message_.get()), nullptr);
  if (status != NATS_OK) return Failed("engine: term", status);
  return {};
}

Result<Traffic> Engine::ClientTraffic() const {
  natsStatistics* statistics = nullptr;
  natsStatus status = natsStatistics_Create(&statistics);
  if (status == NATS_OK) status = natsConnection_GetStats(impl_->connection, statistics);
  Traffic traffic;
  std::uint64_t in_bytes = 0;
  std::uint64_t out_bytes = 0;
  std::uint64_t reconnects = 0;
  if (status == NATS_OK)
    status = natsStatistics_GetCounts(statistics, &traffic.messages_in, &in_bytes, &traffic.messages_out,
                                      &out_bytes, &reconnects);
  if (statistics != nullptr) natsStatistics_Destroy(statistics);
  if (status != NATS_OK) return Failed("engine: statistics", status);
  return traffic;
}

Result<void> Engine::Publish(std::string_view subject, std::string_view payload) {
  if (auto published = PublishWithoutFlush(subject, payload); !published) return published;
  // The flush's round trip is the proof that the server has it (and applied our permissions to it).
  return Flush();
}

Result<void> Engine::PublishWithoutFlush(std::string_view subject, std::string_view payload) {
  if (auto ready = impl_->Ready(); !ready) return ready;
  const std::string name(subject);
  const natsStatus status = natsConnection_Publish(impl_->connection, name.c_str(), payload.data(),
                                                   static_cast<int>(payload.size()));
  if (status != NATS_OK) return Failed("engine: publish", status);
  return {};
}

Result<void> Engine::Flush() {
  if (auto ready = impl_->Ready(); !ready) return ready;
  const natsStatus status =
      natsConnection_FlushTimeout(impl_->connection, Millis(impl_->options.api_timeout));
  if (status != NATS_OK) return Failed("engine: flush", status);
  return {};
}

Result<StreamState> Engine::StreamInfo() {
  if (auto ready = impl_->Ready(); !ready) return tl::unexpected(ready.error());
  jsOptions js_options = impl_->ApiOptions();
  jsStreamInfo* info = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_GetStreamInfo(&info, impl_->jetstream, impl_->options.stream.name.c_str(), &js_options, &js_error);
  if (status != NATS_OK) return Failed("engine: stream info", status, js_error);
  StreamState state;
  state.messages = info->State.Msgs;
  state.first_sequence = info->State.FirstSeq;
  state.last_sequence = info->State.LastSeq;
  state.replicas = static_cast<int>(info->Config->Replicas);
  if (info->Cluster != nullptr) {
    if (info->Cluster->Leader != nullptr) state.leader = info->Cluster->Leader;
    for (int i = 0; i < info->Cluster->ReplicasLen; ++i)
      if (info->Cluster->Replicas[i]->Current) ++state.current_followers;
  }
  jsStreamInfo_Destroy(info);
  return state;
}

}  // namespace ehg::engine
