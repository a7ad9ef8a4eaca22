// The reference receiver (`ehealth-care-tools receive`): what a care system does with the gateway's
// messages, small enough to read in one sitting. See docs/integration.md.
#include "care/receive_command.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "care/command_signing.hpp"
#include "gateway/core/cli_input.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/log.hpp"
#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/transport/paho_transport.hpp"
#include "gateway/wire/commands.hpp"
#include "gateway/wire/status_check.hpp"
#include "gateway/wire/topics.hpp"

namespace ehg::care {
namespace {

using Poco::JSON::Object;

volatile std::sig_atomic_t stop_signal = 0;
void OnStopSignal(int) {
  stop_signal = 1;
}

std::string Stringify(const Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

Object::Ptr ParseObject(const std::string& text) {
  try {
    // Keeps the members in the order they came, so a printed body reads as the gateway wrote it.
    return Poco::JSON::Parser(new Poco::JSON::ParseHandler(true)).parse(text).extract<Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The largest message taken from the broker, announced as the MQTT Maximum Packet Size: every JOSE
// object larger than 4 MiB is refused anyway (gateway/crypto/jose.cpp), plus room for topic and properties.
constexpr std::size_t kMaxPacketBytes = 4 * 1024 * 1024 + 64 * 1024;
constexpr std::chrono::seconds kSilenceCheckInterval{1};

// ehealth/v1/{tenant}/{gateway}/event/{kind}, .../cmd/result or .../status
struct TopicParts {
  std::string tenant;
  std::string gateway;
  std::string kind;  // alert, observation, device, gateway, command_result, status
};

std::optional<TopicParts> ParseTopic(const std::string& topic) {
  std::vector<std::string> parts;
  std::stringstream stream(topic);
  for (std::string part; std::getline(stream, part, '/');)
    parts.push_back(part);
  if (parts.size() == 5 && parts[0] == "ehealth" && parts[1] == "v1" && parts[4] == "status")
    return TopicParts{parts[2], parts[3], "status"};
  if (parts.size() != 6 || parts[0] != "ehealth" || parts[1] != "v1") return std::nullopt;
  if (parts[4] == "event") return TopicParts{parts[2], parts[3], parts[5]};
  if (parts[4] == "cmd" && parts[5] == "result") return TopicParts{parts[2], parts[3], "command_result"};
  return std::nullopt;
}

// Event ids seen, oldest forgotten first: at-least-once delivery means repeats, and a receiver that
// restarts relies on its care system's database for older ones.
class SeenEvents {
 public:
  explicit SeenEvents(std::size_t capacity) : capacity_(capacity) {}
  bool Insert(const std::string& id) {
    if (!ids_.insert(id).second) return false;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  std::size_t capacity_;
  std::set<std::string> ids_;
  std::deque<std::string> order_;
};

class Receiver {
 public:
  Receiver(const ReceiveRequest& request, crypto::KeySet decryption_keys, crypto::KeySet gateway_keys,
           std::optional<crypto::EcKey> signing_key)
      : request_(request),
        decryption_keys_(std::move(decryption_keys)),
        gateway_keys_(std::move(gateway_keys)),
        signing_key_(std::move(signing_key)),
        ids_(clock_),
        statuses_(request_.insecure_plaintext_payloads ? nullptr : &gateway_keys_) {}

  int Run() {
    transport::PahoOptions options;
    options.uri = request_.broker;
    options.client_id = request_.client_id;
    options.ca_file = request_.ca_file;
    options.cert_file = request_.cert_file;
    options.key_file = request_.key_file;
    options.session_expiry = std::chrono::hours(24);
    options.maximum_packet_bytes = kMaxPacketBytes;
    transport::TransportEvents events;
    events.connected = [this](bool session_present) {
      Post([this, session_present] { OnConnected(session_present); });
    };
    events.connect_failed = [this](std::string reason) { Post([this, reason] { OnDisconnected(reason); }); };
    events.connection_lost = [this](std::string reason) { Post([this, reason] { OnDisconnected(reason); }); };
    events.delivered = [](std::uint64_t) {};
    events.delivery_failed = [](std::uint64_t, std::string reason) {
      core::LogWarning("command not accepted by the broker", {{"reason", reason}});
    };
    events.message = [this](std::string topic, std::string payload) {
      Post([this, topic = std::move(topic), payload = std::move(payload)] { OnMessage(topic, payload); });
    };
    events.oversized = [this](std::string topic, std::size_t bytes) {
      Post([this, topic = std::move(topic), bytes] {
        Refuse(topic, "oversized", std::to_string(bytes) + " bytes, above the maximum packet size");
      });
    };
    transport_ = transport::MakePahoTransport(options, std::move(events));
    std::thread input([this] { ReadCommands(); });
    input.detach();  // blocked in a read of stdin; it only posts tasks, and the process ends after Run

    transport_->Connect();
    std::unique_lock lock(mutex_);
    while (stop_signal == 0) {
      wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return !tasks_.empty(); });
      std::deque<std::function<void()>> tasks;
      tasks.swap(tasks_);
      lock.unlock();
      for (auto& task : tasks)
        task();
      if (reconnect_at_ && std::chrono::steady_clock::now() >= *reconnect_at_) {
        reconnect_at_.reset();
        transport_->Connect();
      }
      if (std::chrono::steady_clock::now() >= next_silence_check_) {
        next_silence_check_ = std::chrono::steady_clock::now() + kSilenceCheckInterval;
        ReportSilentGateways();
      }
      lock.lock();
    }
    lock.unlock();
    transport_->Disconnect();
    std::cerr << "receive: " << events_ << " events, " << duplicates_ << " duplicates, " << refused_
              << " refused, " << receipts_ << " receipts and " << commands_
              << " commands sent; statuses: " << statuses_taken_ << " verified, " << statuses_refused_
              << " refused\n";
    return 0;
  }

 private:
  void Post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

  void OnConnected(bool session_present) {
    core::LogInfo("receiver connected", {{"session_present", session_present}, {"group", request_.group}});
    const std::string prefix = request_.group.empty() ? "" : "$share/" + request_.group + "/";
    const wire::Topics every_gateway(request_.tenant, "+");
    // Statuses outside the shared group: a broker sends no retained message to a shared subscription,
    // and every receiver should know which gateways are online.
    for (const std::string& filter : {prefix + every_gateway.base + "event/#",
                                      prefix + every_gateway.command_result, every_gateway.status}) {
      if (auto subscribed = transport_->Subscribe(filter); !subscribed) {
        core::LogError("subscribe failed", {{"filter", filter}, {"reason", subscribed.error().message}});
      }
    }
    std::cerr << "receive: subscribed\n";
  }

  void OnDisconnected(const std::string& reason) {
    core::LogWarning("receiver disconnected; reconnecting in 2 s", {{"reason", reason}});
    reconnect_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  }

  void Refuse(const std::string& topic, std::string_view reason, const std::string& detail) {
    ++refused_;
    core::LogWarning("message refused", {{"topic", topic}, {"reason", reason}, {"detail", detail}});
  }

  void OnMessage(const std::string& topic, const std::string& payload) {
    const auto parts = ParseTopic(topic);
    if (!parts) return Refuse(topic, "topic", "not an ehealth/v1 event topic");
    if (parts->kind == "status") return OnStatus(topic, *parts, payload);
    tenants_[parts->gateway] = parts->tenant;
    std::string body;
    std::string signer;
    if (request_.insecure_plaintext_payloads) {
      body = payload;
    } else {
      auto opened = crypto::OpenEnvelope(payload, decryption_keys_, gateway_keys_);
      if (!opened) return Refuse(topic, crypto::ToString(opened.error().reason), opened.error().message);
      body = std::move(opened->body);
      signer = std::move(opened->gateway_kid);
    }
    const Object::Ptr object = ParseObject(body);
    if (!object) return Refuse(topic, "malformed", "the body is not a JSON object");
    // Every event of the message is confirmed with one receipt once it is printed (this receiver's
    // store), a repeat too: the gateway sends an event again only when no receipt reached it (the
    // broker lost the event or the receipt, or the gateway died before storing it), so a repeat left
    // unanswered would come back for ever.
    std::vector<std::string> received;
    if (object->has("resourceType")) {
      const auto entries = object->getArray("entry");
      for (std::size_t i = 0; entries && i < entries->size(); ++i) {
        const Object::Ptr entry = entries->getObject(static_cast<unsigned>(i));
        if (!entry || !entry->has("fullUrl")) continue;
        std::string id = entry->getValue<std::string>("fullUrl");
        if (id.starts_with("urn:uuid:")) id = id.substr(9);
        const Object::Ptr resource = entry->getObject("resource");
        Deliver(*parts, id, signer, resource);
        received.push_back(std::move(id));
        // A blood pressure's further parts are events of their own: confirmed with it.
        const auto identifiers = resource ? resource->getArray("identifier") : nullptr;
        for (std::size_t k = 0; identifiers && k < identifiers->size(); ++k) {
          const Object::Ptr identifier = identifiers->getObject(static_cast<unsigned>(k));
          if (!identifier || identifier->optValue<std::string>("system", "") != "urn:ietf:rfc:3986") continue;
          const std::string value = identifier->optValue<std::string>("value", "");
          if (value.starts_with("urn:uuid:")) received.push_back(value.substr(9));
        }
      }
      SendReceipt(*parts, received);
      return;
    }
    // The body names its gateway: it must be the one whose topic it came on.
    if (!object->has("gateway") || object->getValue<std::string>("gateway") != parts->gateway) {
      return Refuse(topic, "gateway_mismatch", "the body names another gateway than its topic");
    }
    if (!object->has("event_id")) return Refuse(topic, "malformed", "no event_id");
    received.push_back(object->getValue<std::string>("event_id"));
    Deliver(*parts, received.front(), signer, object);
    SendReceipt(*parts, received);
  }

  // The retained status: the gateway's own signature, fresh, newer than the last one taken. A refused
  // one changes nothing, so a gateway that falls silent is reported as such whatever the broker keeps.
  void OnStatus(const std::string& topic, const TopicParts& parts, const std::string& payload) {
    const wire::StatusVerdict verdict = statuses_.Check(parts.tenant, parts.gateway, payload, clock_.Now());
    if (!verdict.accepted) {
      ++statuses_refused_;
      core::LogWarning("status refused",
                       {{"topic", topic}, {"reason", verdict.reason}, {"detail", verdict.detail}});
      return;
    }
    ++statuses_taken_;
    const wire::GatewayStatus& status = verdict.status;
    core::LogInfo("gateway status",
                  {{"tenant", parts.tenant},
                   {"gateway", parts.gateway},
                   {"state", status.state},
                   {"reason", status.reason},
                   {"time", status.time ? core::FormatIso8601(*status.time) : "unknown (last will)"},
                   {"connected_at", core::FormatIso8601(status.connected_at)},
                   {"signed_by", status.signer.empty() ? "nobody (development plaintext)" : status.signer}});
  }

  void ReportSilentGateways() {
    for (const wire::SilentGateway& silent : statuses_.NewlySilent(clock_.Now())) {
      core::LogWarning("gateway silent", {{"tenant", silent.tenant},
                                          {"gateway", silent.gateway},
                                          {"last_status", core::FormatIso8601(silent.last_status)},
                                          {"heartbeat_interval_seconds", silent.heartbeat_interval.count()}});
    }
  }

  // Prints the event unless it was seen before; true when it was new.
  bool Deliver(const TopicParts& parts, const std::string& event_id, const std::string& signer,
               const Object::Ptr& body) {
    if (!seen_.Insert(event_id)) {
      ++duplicates_;
      return false;
    }
    ++events_;
    Object::Ptr line = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    line->set("received", core::FormatIso8601(clock_.Now()));
    line->set("tenant", parts.tenant);
    line->set("gateway", parts.gateway);
    line->set("kind", parts.kind);
    line->set("event_id", event_id);
    if (!signer.empty()) line->set("signed_by", signer);
    line->set("body", body);
    std::cout << Stringify(line) << std::endl;
    return true;
  }

  // The gateway stops resending these events and removes them from its outbox.
  void SendReceipt(const TopicParts& parts, const std::vector<std::string>& event_ids) {
    if (request_.no_receipts || event_ids.empty()) return;
    if (SendCommand(parts.tenant, parts.gateway,
                    ParseObject(wire::EventReceiptCommand("r-" + event_ids.front(), event_ids))))
      ++receipts_;
  }

  bool SendCommand(const std::string& tenant, const std::string& gateway, const Object::Ptr& command) {
    std::string payload = Stringify(command);
    if (signing_key_) {
      auto signed_command =
          SignCommand(*signing_key_, tenant, gateway, payload, ids_.Next().ToString(), clock_.Now(),
                      std::chrono::seconds(request_.command_lifetime_seconds));
      if (!signed_command) {
        core::LogError("cannot sign a command", {{"reason", signed_command.error().message}});
        return false;
      }
      payload = std::move(*signed_command);
    } else if (!request_.insecure_plaintext_payloads) {
      core::LogWarning("no --signing-key: command not sent", {{"gateway", gateway}});
      return false;
    }
    const std::string topic = wire::Topics(tenant, gateway).command;
    if (auto published = transport_->Publish(topic, payload, false, ++next_tag_); !published) {
      core::LogWarning("command not sent", {{"gateway", gateway}, {"reason", published.error().message}});
      return false;
    }
    core::LogInfo("command sent", {{"gateway", gateway},
                                   {"command_id", command->getValue<std::string>("id")},
                                   {"type", command->getValue<std::string>("type")}});
    return true;
  }

  // Commands on request, one JSON object per line on stdin:
  //   {"gateway":"gw-1","command":{"type":"alert.ack","alert_id":"...","by":"nurse-0417"}}
  // "tenant" may be given; otherwise the tenant the gateway was last heard on is used. An "id" is made
  // up when the command has none.
  void ReadCommands() {
    for (std::string line; std::getline(std::cin, line);) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Post([this, line] { HandleCommandLine(line); });
    }
  }

  void HandleCommandLine(const std::string& line) {
    const Object::Ptr request = ParseObject(line);
    Object::Ptr command = request ? request->getObject("command") : nullptr;
    if (!request || !command || !request->has("gateway")) {
      core::LogWarning("command line ignored: expected {\"gateway\":..,\"command\":{..}}");
      return;
    }
    const std::string gateway = request->getValue<std::string>("gateway");
    std::string tenant = request->has("tenant") ? request->getValue<std::string>("tenant") : "";
    if (tenant.empty() && tenants_.count(gateway)) tenant = tenants_[gateway];
    if (tenant.empty() && request_.tenant != "+") tenant = request_.tenant;
    if (tenant.empty()) {
      core::LogWarning("command line ignored: tenant unknown for this gateway", {{"gateway", gateway}});
      return;
    }
    if (!command->has("id")) command->set("id", "c-" + ids_.Next().ToString());
    if (SendCommand(tenant, gateway, command)) ++commands_;
  }

  const ReceiveRequest& request_;
  crypto::KeySet decryption_keys_;
  crypto::KeySet gateway_keys_;
  std::optional<crypto::EcKey> signing_key_;
  core::SystemClock clock_{true};
  core::EventIdGenerator ids_;
  wire::StatusTracker statuses_;
  std::unique_ptr<transport::Transport> transport_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;

  // Main thread only.
  std::optional<std::chrono::steady_clock::time_point> reconnect_at_;
  std::map<std::string, std::string> tenants_;
  SeenEvents seen_{1'000'000};
  std::uint64_t next_tag_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t receipts_ = 0;
  std::uint64_t commands_ = 0;
  std::uint64_t statuses_taken_ = 0;
  std::uint64_t statuses_refused_ = 0;
  std::chrono::steady_clock::time_point next_silence_check_{};
};

}  // namespace

int Receive(const ReceiveRequest& request) {
  // paho opens the TLS files by name on its own thread: each is checked first (a FIFO would hang it).
  for (const auto& [path, kind] :
       {std::pair{&request.ca_file, &core::kCaFile}, std::pair{&request.cert_file, &core::kCertificateFile},
        std::pair{&request.key_file, &core::kTlsKeyFile}}) {
    if (auto refused = core::RefuseUnusableInput("receive", *path, *kind, 78)) return *refused;
  }
  crypto::KeySet decryption_keys;
  crypto::KeySet gateway_keys;
  if (!request.insecure_plaintext_payloads) {
    if (request.decryption_keys.empty() || request.gateway_keys.empty()) {
      std::cerr << "receive: give --decryption-key and --gateway-keys (or --insecure-plaintext-payloads)\n";
      return 64;
    }
    auto decryption = crypto::KeySet::FromFile(request.decryption_keys);
    auto gateways = crypto::KeySet::FromFile(request.gateway_keys);
    if (!decryption || !gateways) {
      const Error& error = !decryption ? decryption.error() : gateways.error();
      std::cerr << "receive: " << error.message << "\n";
      return core::IsUnusableInput(error) ? core::kExitNoInput : 78;
    }
    decryption_keys = std::move(*decryption);
    gateway_keys = std::move(*gateways);
  }
  std::optional<crypto::EcKey> signing_key;
  if (!request.signing_key.empty()) {
    auto key = crypto::LoadKeyFile(request.signing_key);
    if (!key || !key->has_private()) {
      std::cerr << "receive: --signing-key must be a private key: "
                << (key ? "it holds none" : key.error().message) << "\n";
      return !key && core::IsUnusableInput(key.error()) ? core::kExitNoInput : 78;
    }
    signing_key = std::move(*key);
  }
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  Receiver receiver(request, std::move(decryption_keys), std::move(gateway_keys), std::move(signing_key));
  return receiver.Run();
}

}  // namespace ehg::care
