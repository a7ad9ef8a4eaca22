#include "tools/fleet/fleet_runner.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <variant>

#include "alerts/alert.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/crypto/keys.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/fhir/observation.hpp"
#include "gateway/pipeline/event_bodies.hpp"
#include "gateway/transport/paho_transport.hpp"
#include "gateway/uplink/messages.hpp"
#include "gateway/wire/commands.hpp"
#include "gateway/wire/topics.hpp"
#include "tools/fleet/provision.hpp"

namespace ehg::fleet {

namespace {

// What a paho thread hands to the simulator's loop.
struct Incoming {
  enum class Kind { kConnected, kConnectFailed, kLost, kMessage } kind;
  std::size_t gateway = 0;
  std::uint64_t generation = 0;  // the connection attempt it belongs to
  std::string topic;
  std::string payload;
  // When paho handed a message over, before it waited in the inbox for the process's one main thread
  // (which serves every gateway of the process: a real gateway's own thread waits for nobody).
  core::WallTime arrived{};
};

class Inbox {
 public:
  void Post(Incoming incoming) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(incoming));
    }
    ready_.notify_one();
  }
  std::deque<Incoming> Take(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, wait, [&] { return !items_.empty(); });
    std::deque<Incoming> taken;
    taken.swap(items_);
    return taken;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Incoming> items_;
};

// Connection attempts run here, not on the loop: Connect first ends the previous session, which waits
// (bounded) for the broker, and a storm drops hundreds at once.
class Connector {
 public:
  explicit Connector(int threads) {
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] { Work(); });
  }
  ~Connector() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& thread : threads_)
      thread.join();
  }
  void Submit(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

enum class Phase { kIdle, kConnecting, kConnected, kWaiting };

struct Outgoing {
  std::string topic;
  std::string payload;
  std::string alert_event;  // the alert's event id; empty for other messages
};

struct SimulatedGateway {
  FleetMember member;
  std::unique_ptr<wire::Topics> topics;
  std::unique_ptr<crypto::JoseProtection> protection;
  std::unique_ptr<transport::Transport> transport;
  Phase phase = Phase::kIdle;
  std::atomic<std::uint64_t> generation{0};
  core::SteadyTime reconnect_at{};
  core::WallTime connected_at{};
  core::WallTime started_at{};
  std::uint64_t next_message = 1;
  std::map<std::uint64_t, Outgoing> unconfirmed;  // message -> what to send again
  std::uint64_t readings = 0;
  std::uint64_t connections = 0;
};

struct AlertTiming {
  std::optional<core::WallTime> published;  // its first copy out
  std::optional<core::WallTime> receipted;  // when its receipt arrived (paho handed it over)
  std::optional<core::WallTime> handled;    // when the main thread verified it
  std::uint64_t copies = 0;                 // publishes, the first one included
  std::uint64_t connection = 0;             // the gateway's connection count at the first copy
  bool connection_changed = false;          // the receipt came on a later connection than the first copy
};

Result<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Errc::kIo, "fleet: cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

core::Reading MakeReading(std::size_t index, std::uint64_t n, core::WallTime at) {
  core::Reading reading;
  reading.device_id = "oximeter";
  const bool spo2 = n % 2 == 0;
  reading.metric = spo2 ? "spo2" : "pulse_rate";
  reading.unit = spo2 ? "%" : "/min";
  // Plausible, varying, and different per gateway: 93-98 %, 60-89 /min.
  reading.value =
      spo2 ? 93.0 + static_cast<double>((index + n) % 6) : 60.0 + static_cast<double>((index * 7 + n) % 30);
  reading.device_time = at;
  reading.received_at = at;
  return reading;
}

alerts::Alert MakeAlert(const std::string& alert_id, core::WallTime at) {
  alerts::Alert alert;
  alert.alert_id = alert_id;
  alert.rule_id = "spo2-low";
  alert.metric = "spo2";
  alert.severity = alerts::Severity::kHigh;
  alert.raised_at = at;
  alert.updated_at = at;
  alert.worst_value = 87;
  alert.evidence.push_back({"oximeter", "spo2", 87, "%", at});
  return alert;
}

class Fleet {
 public:
  Fleet(const RunOptions& options, const std::atomic<bool>& stop) : options_(options), stop_(stop) {}

  Result<void> Load() {
    auto members = ReadFleet(options_.fleet_directory);
    if (!members) return tl::unexpected(members.error());
    if (options_.limit > 0 && members->size() > options_.limit) members->resize(options_.limit);
    if (options_.shards == 0 || options_.shard >= options_.shards)
      return Fail(Errc::kInvalidArgument, "fleet: shard must be below the number of shards");
    std::vector<FleetMember> mine;
    for (std::size_t i = options_.shard; i < members->size(); i += options_.shards)
      mine.push_back(std::move((*members)[i]));
    *members = std::move(mine);
    if (options_.broker_uris.empty()) return Fail(Errc::kInvalidArgument, "fleet: no broker address");
    auto encryption_text = ReadText(options_.care_encryption_key);
    if (!encryption_text) return tl::unexpected(encryption_text.error());
    auto encryption = crypto::EcKey::FromText(*encryption_text);
    if (!encryption) return tl::unexpected(encryption.error().WithContext("the care encryption key"));
    auto command_keys = crypto::KeySet::FromFile(options_.command_keys);
    if (!command_keys) return tl::unexpected(command_keys.error().WithContext("the command keys"));
    gateways_.reserve(members->size());
    for (FleetMember& member : *members) {
      auto gateway = std::make_unique<SimulatedGateway>();
      const std::filesystem::path base = options_.fleet_directory / "gateways" / member.gateway;
      auto signing_text = ReadText(base.string() + ".sign.pem");
      if (!signing_text) return tl::unexpected(signing_text.error());
      auto signing = crypto::EcKey::FromText(*signing_text);
      if (!signing) return tl::unexpected(signing.error().WithContext(member.gateway + "'s signing key"));
      gateway->protection = std::make_unique<crypto::JoseProtection>(
          std::move(*signing), *encryption, *command_keys,
          crypto::CommandPolicy{member.gateway, member.tenant, std::chrono::seconds(60),
                                std::chrono::seconds(8 * 24 * 3600)});
      gateway->topics = std::make_unique<wire::Topics>(member.tenant, member.gateway);
      gateway->member = std::move(member);
      const std::size_t index = gateways_.size();
      transport::PahoOptions paho;
      paho.uri = options_.broker_uris[index % options_.broker_uris.size()];
      paho.client_id = gateway->member.gateway;
      paho.ca_file = options_.ca_file;
      paho.cert_file = base.string() + ".crt";
      paho.key_file = base.string() + ".key";
      paho.version = transport::MqttVersion::kV3_1_1;
      paho.keepalive = std::chrono::seconds(30);
      paho.subscription_qos = options_.command_qos;
      gateway->transport = transport::MakePahoTransport(paho, Events(index, *gateway));
      gateways_.push_back(std::move(gateway));
    }
    if (!options_.events_file.empty()) {
      events_out_.open(options_.events_file, std::ios::trunc);
      if (!events_out_) return Fail(Errc::kIo, "fleet: cannot write " + options_.events_file.string());
    }
    report_.gateways = gateways_.size();
    return {};
  }

  RunReport Run() {
    const core::SteadyTime start = clock_.SteadyNow();
    Schedule schedule(options_.profile, gateways_.size(), start + options_.settle,
                      Shard{options_.shard, options_.shards});
    const core::SteadyTime sending_ends = start + options_.settle + options_.duration;
    std::optional<core::SteadyTime> drain_ends;
    for (std::size_t g = 0; g < gateways_.size(); ++g)
      connect_queue_.push_back(g);
    core::SteadyTime last_pace = start;
    double connect_budget = 0;
    {
      Connector connector(2);
      connector_ = &connector;
      core::SteadyTime next_tick = start;
      for (;;) {
        for (Incoming& incoming : inbox_.Take(std::chrono::milliseconds(5)))
          Handle(incoming);
        const core::SteadyTime now = clock_.SteadyNow();
        // The rest looks at every gateway and every waiting message: every 20 ms, not per event.
        if (now < next_tick) continue;
        next_tick = now + std::chrono::milliseconds(20);
        if (!drain_ends && (now >= sending_ends || stop_.load())) drain_ends = now + options_.drain;
        if (drain_ends) {
          if (receipts_.waiting_events() == 0 || now >= *drain_ends) break;
        } else {
          for (const Action& action : schedule.Due(now))
            Do(action, now);
        }
        // Paced connection attempts: the first ones, reconnects after a loss, and storms.
        connect_budget = std::min(connect_budget + options_.connects_per_second *
                                                       std::chrono::duration<double>(now - last_pace).count(),
                                  std::max(1.0, options_.connects_per_second));
        last_pace = now;
        for (std::size_t g = 0; g < gateways_.size(); ++g)
          if (gateways_[g]->phase == Phase::kWaiting && gateways_[g]->reconnect_at <= now) {
            gateways_[g]->phase = Phase::kIdle;
            connect_queue_.push_back(g);
          }
        while (!connect_queue_.empty() && connect_budget >= 1) {
          StartConnect(connect_queue_.front());
          connect_queue_.pop_front();
          connect_budget -= 1;
        }
        for (const MessageRef& due : receipts_.TakeDueForResend(now, options_.profile.receipt_timeout))
          SendAgain(due.gateway, due.message);
      }
      // Stop every connection before the connector and the transports go.
      for (auto& gateway : gateways_) {
        gateway->generation.fetch_add(1);
        gateway->transport->Disconnect();
      }
      connector_ = nullptr;
    }
    report_.seconds = std::chrono::duration<double>(clock_.SteadyNow() - start).count();
    report_.events_waiting = receipts_.waiting_events();
    report_.alerts_waiting = receipts_.waiting_alerts();
    WriteAlerts();
    return report_;
  }

 private:
  transport::TransportEvents Events(std::size_t index, SimulatedGateway& gateway) {
    transport::TransportEvents events;
    auto post = [this, index, &gateway](Incoming::Kind kind, std::string topic = {},
                                        std::string payload = {}) {
      inbox_.Post(
          {kind, index, gateway.generation.load(), std::move(topic), std::move(payload), clock_.Now()});
    };
    events.connected = [post](bool) { post(Incoming::Kind::kConnected); };
    events.connect_failed = [post](std::string reason) { post(Incoming::Kind::kConnectFailed, {}, reason); };
    events.connection_lost = [post](std::string reason) { post(Incoming::Kind::kLost, {}, reason); };
    events.delivered = [](std::uint64_t) {};
    // A refused or failed delivery: the receipt never comes and the message goes again after the timeout.
    events.delivery_failed = [](std::uint64_t, std::string) {};
    events.message = [post](std::string topic, std::string payload) {
      post(Incoming::Kind::kMessage, std::move(topic), std::move(payload));
    };
    return events;
  }

  void StartConnect(std::size_t g) {
    SimulatedGateway& gateway = *gateways_[g];
    gateway.phase = Phase::kConnecting;
    const std::uint64_t generation = gateway.generation.fetch_add(1) + 1;
    gateway.connected_at = clock_.Now();
    // The last will of this connection: "offline, connection lost", signed now (a real gateway does so).
    std::string will;
    if (auto signed_will = gateway.protection->SignStatus(uplink::OfflineStatusBody(
            gateway.member.gateway, gateway.member.tenant, "connection lost", nullptr, gateway.connected_at)))
      will = std::move(*signed_will);
    connector_->Submit([&gateway, generation, will = std::move(will), retained = options_.retain_status] {
      if (gateway.generation.load() != generation) return;  // superseded before it started
      if (!will.empty()) gateway.transport->SetLastWill({gateway.topics->status, will, retained});
      gateway.transport->Connect();
    });
  }

  void Handle(Incoming& incoming) {
    SimulatedGateway& gateway = *gateways_[incoming.gateway];
    if (incoming.generation != gateway.generation.load()) return;  // an earlier connection's news
    const core::SteadyTime now = clock_.SteadyNow();
    switch (incoming.kind) {
      case Incoming::Kind::kConnected: {
        gateway.phase = Phase::kConnected;
        ++gateway.connections;
        ++report_.connections;
        if (gateway.started_at == core::WallTime{}) gateway.started_at = clock_.Now();
        (void)gateway.transport->Subscribe(gateway.topics->command);  // a failure shows as a lost link
        PublishStatus(gateway);
        // Everything not yet confirmed goes again on the new connection, alerts first, as the gateway's
        // outbox does.
        std::vector<std::uint64_t> unconfirmed = receipts_.TakeUnconfirmed(incoming.gateway, now);
        std::stable_partition(unconfirmed.begin(), unconfirmed.end(), [&](std::uint64_t message) {
          auto found = gateway.unconfirmed.find(message);
          return found != gateway.unconfirmed.end() && !found->second.alert_event.empty();
        });
        for (std::uint64_t message : unconfirmed)
          Publish(incoming.gateway, gateway, message, true);
        break;
      }
      case Incoming::Kind::kConnectFailed:
      case Incoming::Kind::kLost: {
        if (incoming.kind == Incoming::Kind::kConnectFailed)
          ++report_.connect_failures;
        else
          ++report_.connections_lost;
        if (gateway.phase == Phase::kWaiting) break;
        gateway.phase = Phase::kWaiting;
        // 1 to 5 s, spread over the fleet: the gateways of a lost node do not all come back in one instant.
        gateway.reconnect_at = now + std::chrono::milliseconds(1000 + (incoming.gateway * 397) % 4000);
        break;
      }
      case Incoming::Kind::kMessage:
        OnCommand(incoming.gateway, gateway, incoming.payload, incoming.arrived, now);
        break;
    }
  }

  void OnCommand(std::size_t index, SimulatedGateway& gateway, const std::string& payload,
                 core::WallTime arrived, core::SteadyTime now) {
    auto verified = gateway.protection->OpenCommand(payload, clock_.Now());
    if (!verified) {
      ++report_.commands_refused;
      return;
    }
    auto command = wire::ParseCommand(verified->command);
    if (!command) {
      ++report_.commands_refused;
      return;
    }
    const auto* receipt = std::get_if<wire::EventReceipt>(&command->body);
    if (receipt == nullptr) return;  // other commands are not simulated
    ++report_.receipts;
    std::vector<std::string> ids;
    ids.reserve(receipt->event_ids.size());
    for (const core::EventId& id : receipt->event_ids)
      ids.push_back(id.ToString());
    const Confirmation confirmation = receipts_.Confirm(index, ids, now);
    report_.events_confirmed += confirmation.events;
    report_.receipt_repeats += confirmation.repeats;
    report_.alerts_confirmed += confirmation.alert_round_trips.size();
    report_.alert_round_trips.insert(report_.alert_round_trips.end(), confirmation.alert_round_trips.begin(),
                                     confirmation.alert_round_trips.end());
    for (const std::string& id : ids)
      if (auto alert = alerts_.find(id); alert != alerts_.end() && !alert->second.receipted) {
        alert->second.receipted = arrived;
        alert->second.handled = clock_.Now();
        alert->second.connection_changed = alert->second.connection != gateway.connections;
      }
    for (std::uint64_t message : confirmation.completed)
      gateway.unconfirmed.erase(message);
  }

  void Do(const Action& action, core::SteadyTime now) {
    SimulatedGateway& gateway = *gateways_[action.gateway];
    switch (action.kind) {
      case ActionKind::kObservations:
        NewObservations(action.gateway, gateway, now);
        break;
      case ActionKind::kAlert:
        NewAlert(action.gateway, gateway, now);
        break;
      case ActionKind::kHeartbeat:
        if (gateway.phase == Phase::kConnected) PublishStatus(gateway);
        break;
      case ActionKind::kReconnect:
        if (gateway.phase != Phase::kConnected) break;
        ++report_.storm_drops;
        gateway.phase = Phase::kIdle;
        connect_queue_.push_back(action.gateway);  // Connect ends the current session first
        break;
    }
  }

  pipeline::EventContext Context(const SimulatedGateway& gateway) const {
    return {gateway.member.gateway, options_.resident_prefix + gateway.member.gateway};
  }

  void NewObservations(std::size_t index, SimulatedGateway& gateway, core::SteadyTime now) {
    const core::WallTime at = clock_.Now();
    std::vector<std::string> bodies;
    std::vector<std::string> ids;
    for (int r = 0; r < options_.profile.readings_per_batch; ++r) {
      const core::EventId id = ids_.Next();
      ids.push_back(id.ToString());
      bodies.push_back(
          pipeline::ObservationBody(Context(gateway), id, MakeReading(index, gateway.readings++, at)));
    }
    std::vector<const std::string*> pointers;
    for (const std::string& body : bodies)
      pointers.push_back(&body);
    NewMessage(index, gateway, core::EventKind::kObservation, fhir::ObservationBundle(pointers).json, ids,
               now);
  }

  void NewAlert(std::size_t index, SimulatedGateway& gateway, core::SteadyTime now) {
    const core::WallTime at = clock_.Now();
    const core::EventId id = ids_.Next();
    const std::string body = pipeline::AlertBody(Context(gateway), id, alerts::ChangeKind::kRaised,
                                                 MakeAlert(ids_.Next().ToString(), at));
    alerts_[id.ToString()] = {};
    NewMessage(index, gateway, core::EventKind::kAlert, body, {id.ToString()}, now);
  }

  void NewMessage(std::size_t index, SimulatedGateway& gateway, core::EventKind kind, const std::string& body,
                  const std::vector<std::string>& ids, core::SteadyTime now) {
    auto sealed = gateway.protection->Seal(body);
    if (!sealed) {
      core::LogError("fleet: sealing failed", {{"reason", sealed.error().message}});
      return;
    }
    const std::uint64_t message = gateway.next_message++;
    const bool alert = kind == core::EventKind::kAlert;
    gateway.unconfirmed[message] = {gateway.topics->Event(kind), std::move(*sealed),
                                    alert ? ids.front() : ""};
    receipts_.Stored(index, message, ids, alert, now);
    ++report_.messages;
    report_.events += ids.size();
    if (kind == core::EventKind::kAlert) ++report_.alerts;
    if (events_out_)
      for (const std::string& id : ids)
        events_out_ << id << '\t' << core::ToString(kind) << '\t' << gateway.member.tenant << '\t'
                    << gateway.member.gateway << '\n';
    // Stored before it is sent, as the gateway's outbox: offline, it goes on the next connection.
    if (gateway.phase == Phase::kConnected) Publish(index, gateway, message, false);
  }

  void SendAgain(std::size_t index, std::uint64_t message) {
    SimulatedGateway& gateway = *gateways_[index];
    if (gateway.phase == Phase::kConnected) Publish(index, gateway, message, true);
  }

  void Publish(std::size_t index, SimulatedGateway& gateway, std::uint64_t message, bool again) {
    auto found = gateway.unconfirmed.find(message);
    if (found == gateway.unconfirmed.end()) return;
    // Not handed over (the link just went): the next connection or the receipt timeout sends it.
    if (!gateway.transport->Publish(found->second.topic, found->second.payload, false, message)) return;
    receipts_.Published(index, message, clock_.SteadyNow());
    if (!found->second.alert_event.empty()) {
      AlertTiming& timing = alerts_[found->second.alert_event];
      ++timing.copies;
      if (!timing.published) {
        timing.published = clock_.Now();
        timing.connection = gateway.connections;
      }
    }
    if (again) ++report_.copies_resent;
  }

  void PublishStatus(SimulatedGateway& gateway) {
    uplink::StatusInfo info;
    info.gateway_id = gateway.member.gateway;
    info.tenant = gateway.member.tenant;
    info.version = "fleet-sim";
    info.time = clock_.Now();
    info.connected_at = gateway.connected_at;
    info.uptime = std::chrono::duration_cast<std::chrono::seconds>(info.time - gateway.started_at);
    info.heartbeat_interval =
        std::chrono::duration_cast<std::chrono::seconds>(options_.profile.heartbeat_interval);
    info.events_awaiting_receipt = gateway.unconfirmed.size();
    info.reconnects = gateway.connections > 0 ? gateway.connections - 1 : 0;
    auto signed_status = gateway.protection->SignStatus(uplink::OnlineStatusBody(info));
    if (!signed_status) return;
    if (gateway.transport->Publish(gateway.topics->status, *signed_status, options_.retain_status, 0))
      ++report_.heartbeats;
  }

  void WriteAlerts() {
    if (options_.alerts_file.empty()) return;
    std::ofstream out(options_.alerts_file, std::ios::trunc);
    for (const auto& [id, timing] : alerts_) {
      // id, first publish, receipt (Unix ms), copies sent, 1 if the receipt came on a later connection,
      // when the main thread verified the receipt (Unix ms)
      if (!timing.published) {
        out << id << "\t-\t-\t0\t0\t-\n";  // never sent: the gateway never got a connection
        continue;
      }
      out << id << '\t' << timing.published->time_since_epoch().count() << '\t';
      if (timing.receipted)
        out << timing.receipted->time_since_epoch().count();
      else
        out << '-';
      out << '\t' << timing.copies << '\t' << (timing.connection_changed ? 1 : 0) << '\t';
      if (timing.handled)
        out << timing.handled->time_since_epoch().count();
      else
        out << '-';
      out << '\n';
    }
  }

  const RunOptions& options_;
  const std::atomic<bool>& stop_;
  core::SystemClock clock_;
  core::EventIdGenerator ids_{clock_};
  std::vector<std::unique_ptr<SimulatedGateway>> gateways_;
  Inbox inbox_;
  Connector* connector_ = nullptr;
  std::deque<std::size_t> connect_queue_;
  Receipts receipts_;
  std::map<std::string, AlertTiming> alerts_;
  std::ofstream events_out_;
  RunReport report_;
};

}  // namespace

Result<RunReport> RunFleet(const RunOptions& options, const std::atomic<bool>& stop) {
  Fleet fleet(options, stop);
  if (auto loaded = fleet.Load(); !loaded) return tl::unexpected(loaded.error());
  return fleet.Run();
}

std::string ReportJson(const RunReport& report) {
  auto ms = [](Micros value) { return static_cast<double>(value.count()) / 1000.0; };
  Micros worst{0};
  for (Micros sample : report.alert_round_trips)
    worst = std::max(worst, sample);
  std::ostringstream json;
  json << "{\"gateways\":" << report.gateways << ",\"seconds\":" << report.seconds
       << ",\"connections\":" << report.connections << ",\"connect_failures\":" << report.connect_failures
       << ",\"connections_lost\":" << report.connections_lost << ",\"storm_drops\":" << report.storm_drops
       << ",\"messages\":" << report.messages << ",\"copies_resent\":" << report.copies_resent
       << ",\"events\":" << report.events << ",\"events_confirmed\":" << report.events_confirmed
       << ",\"events_waiting\":" << report.events_waiting << ",\"alerts\":" << report.alerts
       << ",\"alerts_confirmed\":" << report.alerts_confirmed
       << ",\"alerts_waiting\":" << report.alerts_waiting << ",\"heartbeats\":" << report.heartbeats
       << ",\"receipts\":" << report.receipts << ",\"receipt_repeats\":" << report.receipt_repeats
       << ",\"commands_refused\":" << report.commands_refused
       << ",\"alert_round_trip_ms\":{\"samples\":" << report.alert_round_trips.size()
       << ",\"p50\":" << ms(Percentile(report.alert_round_trips, 50))
       << ",\"p99\":" << ms(Percentile(report.alert_round_trips, 99)) << ",\"max\":" << ms(worst) << "}}";
  return json.str();
}

}  // namespace ehg::fleet
