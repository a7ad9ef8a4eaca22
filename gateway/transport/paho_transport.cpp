#include "gateway/transport/paho_transport.hpp"

#include <mqtt/async_client.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/core/log.hpp"
#include "gateway/transport/tcp_nodelay.hpp"
#include "gateway/transport/tls_diagnosis.hpp"

namespace ehg::transport {
namespace {

constexpr std::chrono::seconds kConnectTimeout{10};
constexpr std::chrono::seconds kDisconnectTimeout{2};
constexpr std::chrono::milliseconds kDiagnosisTimeout{2000};
// Only AEAD suites with forward secrecy. They exist only in TLS 1.2 and later, so they also keep
// TLS 1.0/1.1 out whatever the system's OpenSSL policy says (TLS 1.3 suites are configured apart).
constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL";

int PahoVersion(MqttVersion version) {
  return version == MqttVersion::kV3_1_1 ? MQTTVERSION_3_1_1 : MQTTVERSION_5;
}

std::string TokenError(const mqtt::token& token) {
  return mqtt::exception::printable_error(token.get_return_code(), token.get_reason_code());
}

class PahoTransport;
struct Session;

// paho calls into this from its own threads through C code: nothing may throw out of it. The session
// counts callbacks in progress so it is never destroyed under one.
template <typename Function>
void Guarded(Session* session, const char* what, Function&& function) noexcept;

// One connection attempt's client. A new one per attempt, so nothing in flight or buffered in paho
// survives into the next connection; events from an older session are dropped by their generation.
struct Session {
  struct ConnectListener final : mqtt::iaction_listener {
    Session* session = nullptr;
    void on_success(const mqtt::token& token) override;
    void on_failure(const mqtt::token& token) override;
  };
  struct DeliveryListener final : mqtt::iaction_listener {
    Session* session = nullptr;
    void on_success(const mqtt::token& token) override;
    void on_failure(const mqtt::token& token) override;
  };

  PahoTransport* owner = nullptr;
  std::uint64_t generation = 0;
  std::atomic<int> callbacks_running{0};
  std::chrono::steady_clock::time_point retired_at{};
  std::unique_ptr<mqtt::connect_options> connect_options;
  ConnectListener connect_listener;
  DeliveryListener delivery_listener;
  // The DISCONNECT's token, kept with the retired session. paho-mqtt-cpp 1.2 wakes a waiter on a token
  // and then still broadcasts on the token's condition variable from its own thread: a token dropped as
  // soon as wait_for returns could be destroyed under that broadcast (ThreadSanitizer showed it). The
  // retired session outlives the broadcast by its grace period.
  mqtt::token_ptr disconnect_token;
  // Declared last: destroyed first, while the listeners and the token it may still call are alive.
  std::unique_ptr<mqtt::async_client> client;
};

template <typename Function>
void Guarded(Session* session, const char* what, Function&& function) noexcept {
  ++session->callbacks_running;
  try {
    function();
  } catch (const std::exception& exception) {
    core::LogError("MQTT callback failed", {{"callback", what}, {"reason", exception.what()}});
  } catch (...) {
    core::LogError("MQTT callback failed", {{"callback", what}});
  }
  --session->callbacks_running;
}

// paho frees a client's state under its own lock, which it drops while it calls us; destroying a client
// from our thread right after its last callback can free memory paho is about to touch again (seen
// under ASan). Retired clients are therefore kept until none of their callbacks runs and this much
// time has passed since they were retired.
constexpr std::chrono::milliseconds kRetiredClientGrace{2000};
constexpr std::chrono::milliseconds kFinalClientGrace{200};

class PahoTransport final : public Transport {
 public:
  PahoTransport(PahoOptions options, TransportEvents events)
      : options_(std::move(options)), events_(std::move(events)) {
    will_ = LastWill{options_.will_topic, options_.will_payload, true};
    auto address = core::ParseBrokerUri(options_.uri, core::MissingPort::kSchemeDefault);
    if (address) address_ = *address;
  }

  int broker_port() const { return address_ ? address_->port : 0; }

  ~PahoTransport() override {
    Disconnect();
    // Last chance: wait (briefly) until each retired client is quiet, then destroy it.
    for (auto& session : retired_) {
      while (session->callbacks_running.load() > 0 ||
             std::chrono::steady_clock::now() - session->retired_at < kFinalClientGrace) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    retired_.clear();
  }

  void Connect() override {
    Disconnect();
    ReapRetired();
    // Defence in depth behind the config check: never plaintext unless the config says so by name.
    if (!options_.insecure_plaintext && (!address_ || !address_->tls())) {
      events_.connect_failed(
          "refused: " + options_.uri +
          " is not a TLS address and broker.insecure_plaintext_for_development is not set");
      return;
    }
    auto session = std::make_unique<Session>();
    session->owner = this;
    session->generation = ++generation_;
    session->connect_listener.session = session.get();
    session->delivery_listener.session = session.get();
    try {
      mqtt::create_options create(PahoVersion(options_.version));
      create.set_send_while_disconnected(false);
      // No persistence: the outbox is the only durable copy.
      session->client =
          std::make_unique<mqtt::async_client>(options_.uri, options_.client_id, create, nullptr);
      Session* raw = session.get();
      session->client->set_connection_lost_handler([this, raw](const std::string& cause) {
        Guarded(raw, "connection_lost", [&] {
          if (Current(raw)) events_.connection_lost(cause.empty() ? "no reason given" : cause);
        });
      });
      session->client->set_disconnected_handler([this, raw](const mqtt::properties&, mqtt::ReasonCode code) {
        Guarded(raw, "disconnected", [&] {
          if (Current(raw)) {
            events_.connection_lost("broker sent DISCONNECT: " + mqtt::exception::reason_code_str(code));
          }
        });
      });
      session->client->set_message_callback([this, raw](mqtt::const_message_ptr message) {
        Guarded(raw, "message", [&] {
          if (!Current(raw) || !message) return;
          // Measured on paho's own copy, by reference: an oversized message is never copied again.
          const std::size_t bytes = message->get_payload_ref().size();
          if (options_.maximum_packet_bytes > 0 && bytes > options_.maximum_packet_bytes) {
            if (events_.oversized) events_.oversized(message->get_topic(), bytes);
            return;
          }
          events_.message(message->get_topic(), message->get_payload_str());
        });
      });

      // Built in place and kept with the session: paho-mqtt-cpp 1.2 copies these options into the
      // client, and the copy's C structure may still point at the original's properties, will and TLS
      // settings (with a builder temporary, the session expiry read as 0 under ASan and the broker
      // dropped the session). An original that lives as long as the client keeps those pointers valid.
      session->connect_options = std::make_unique<mqtt::connect_options>();
      mqtt::connect_options& connect = *session->connect_options;
      connect.set_mqtt_version(PahoVersion(options_.version));
      if (options_.version == MqttVersion::kV3_1_1) {
        // A persistent session without an expiry interval: 3.1.1 has none, the broker keeps the
        // session until its own policy removes it. No properties either (no Maximum Packet Size):
        // 3.1.1 has none.
        connect.set_clean_session(false);
      } else {
        connect.set_clean_start(false);
        mqtt::properties properties{
            {mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int>(options_.session_expiry.count())}};
        if (options_.maximum_packet_bytes > 0) {
          properties.add(
              {mqtt::property::MAXIMUM_PACKET_SIZE, static_cast<int>(options_.maximum_packet_bytes)});
        }
        connect.set_properties(properties);
      }
      connect.set_keep_alive_interval(PahoKeepalive(options_.keepalive));
      connect.set_connect_timeout(kConnectTimeout);
      connect.set_automatic_reconnect(false);
      if (LastWill will = CurrentWill(); !will.topic.empty()) {
        connect.set_will(mqtt::will_options(will.topic, will.payload, 1, will.retained));
      }
      if (!options_.insecure_plaintext) {
        mqtt::ssl_options ssl;
        ssl.set_trust_store(options_.ca_file.string());
        // Always set in production (the config requires it); empty only in the test that shows the
        // broker refusing a gateway without one.
        if (!options_.cert_file.empty()) {
          ssl.set_key_store(options_.cert_file.string());
          ssl.set_private_key(options_.key_file.string());
        }
        ssl.set_enable_server_cert_auth(true);
        ssl.set_verify(true);  // host name (or IP) checked against the certificate
        ssl.set_enabled_cipher_suites(kTls12Ciphers);
        // No error handler: paho-mqtt-cpp 1.2 hands the C library a pointer to one copy of these
        // options as its context, which may be gone when a handshake fails (a wild jump under ASan).
        // DiagnoseConnectFailure says more anyway.
        connect.set_ssl(std::move(ssl));
      }
      {
        std::lock_guard lock(mutex_);
        session_ = std::move(session);
      }
      raw->client->connect(*raw->connect_options, nullptr, raw->connect_listener);
    } catch (const std::exception& exception) {
      const std::string reason = exception.what();
      events_.connect_failed("cannot start the connection: " + reason);
    }
  }

  void SetLastWill(LastWill will) override {
    std::lock_guard lock(mutex_);
    will_ = std::move(will);
  }

  Result<void> Publish(const std::string& topic, const std::string& payload, bool retained,
                       std::uint64_t tag) override {
    std::lock_guard lock(mutex_);
    if (!session_ || !session_->client) return Fail(Errc::kUnavailable, "not connected");
    try {
      auto message = mqtt::make_message(topic, payload, 1, retained);
      // The tag travels as the token's user context and comes back in the delivery listener.
      session_->client->publish(message, reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag)),
                                session_->delivery_listener);
      return {};
    } catch (const mqtt::exception& exception) {
      return Fail(Errc::kUnavailable, exception.what());
    }
  }

  Result<void> Subscribe(const std::string& topic) override {
    std::lock_guard lock(mutex_);
    if (!session_ || !session_->client) return Fail(Errc::kUnavailable, "not connected");
    try {
      session_->client->subscribe(topic, options_.subscription_qos);
      return {};
    } catch (const mqtt::exception& exception) {
      return Fail(Errc::kUnavailable, exception.what());
    }
  }

  void Disconnect() override {
    std::unique_ptr<Session> session;
    {
      std::lock_guard lock(mutex_);
      session = std::move(session_);
      ++generation_;  // whatever this session still reports is stale from now on
    }
    if (!session) return;
    try {
      if (session->client && session->client->is_connected()) {
        session->disconnect_token = session->client->disconnect();
        session->disconnect_token->wait_for(kDisconnectTimeout);
      }
    } catch (const std::exception& exception) {
      core::LogDebug("MQTT disconnect did not complete cleanly", {{"reason", exception.what()}});
    }
    session->retired_at = std::chrono::steady_clock::now();
    retired_.push_back(std::move(session));
  }

  // Destroys retired clients that are quiet and old enough; the others wait for a later call.
  void ReapRetired() {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(retired_, [&](const std::unique_ptr<Session>& session) {
      return session->callbacks_running.load() == 0 && now - session->retired_at >= kRetiredClientGrace;
    });
  }

  ConnectDiagnosis DiagnoseConnectFailure() override {
    if (!address_) return {"broker.uri cannot be parsed: " + options_.uri, true};
    if (!options_.insecure_plaintext && !address_->tls()) {
      return {"plaintext refused: " + options_.uri + " is not a TLS address", true};
    }
    std::optional<TlsFiles> files;
    if (address_->tls()) files = TlsFiles{options_.ca_file, options_.cert_file, options_.key_file};
    return DiagnoseBrokerConnection(*address_, files, kDiagnosisTimeout);
  }

  bool Current(const Session* session) const { return session->generation == generation_.load(); }
  LastWill CurrentWill() {
    std::lock_guard lock(mutex_);
    return will_;
  }
  const TransportEvents& events() const { return events_; }
  MqttVersion version() const { return options_.version; }

 private:
  PahoOptions options_;
  TransportEvents events_;
  std::optional<BrokerAddress> address_;
  std::mutex mutex_;
  std::unique_ptr<Session> session_;
  LastWill will_;
  std::vector<std::unique_ptr<Session>> retired_;  // uplink thread only
  std::atomic<std::uint64_t> generation_{0};
};

void Session::ConnectListener::on_success(const mqtt::token& token) {
  Guarded(session, "connect", [&] {
    if (!session->owner->Current(session)) return;
    bool session_present = false;
    try {
      session_present = token.get_connect_response().is_session_present();
    } catch (const std::exception&) {
      // Not every paho build fills the response in; the flag is informational only.
    }
    if (const int port = session->owner->broker_port(); port > 0) {
      const int changed = DisableNagleOnConnectionsToPort(port);
      core::LogDebug("TCP_NODELAY set on the broker connection", {{"sockets", changed}});
    }
    session->owner->events().connected(session_present);
  });
}

void Session::ConnectListener::on_failure(const mqtt::token& token) {
  Guarded(session, "connect", [&] {
    if (session->owner->Current(session)) session->owner->events().connect_failed(TokenError(token));
  });
}

void Session::DeliveryListener::on_success(const mqtt::token& token) {
  Guarded(session, "delivery", [&] {
    if (!session->owner->Current(session)) return;
    const auto tag = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(token.get_user_context()));
    // MQTT v5: a PUBACK may carry a failure reason code (>= 0x80), which is not a delivery. A 3.1.1
    // PUBACK has no reason code: the completed token is the delivery.
    if (session->owner->version() == MqttVersion::kV5 && token.get_reason_code() >= 0x80) {
      session->owner->events().delivery_failed(tag, TokenError(token));
    } else {
      session->owner->events().delivered(tag);
    }
  });
}

void Session::DeliveryListener::on_failure(const mqtt::token& token) {
  Guarded(session, "delivery", [&] {
    if (!session->owner->Current(session)) return;
    const auto tag = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(token.get_user_context()));
    session->owner->events().delivery_failed(tag, TokenError(token));
  });
}

}  // namespace

std::chrono::seconds PahoKeepalive(std::chrono::seconds configured) {
  return std::max(std::chrono::seconds{1}, configured / 2);
}

std::unique_ptr<Transport> MakePahoTransport(PahoOptions options, TransportEvents events) {
  return std::make_unique<PahoTransport>(std::move(options), std::move(events));
}

}  // namespace ehg::transport
