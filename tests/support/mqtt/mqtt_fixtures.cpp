#include "tests/support/mqtt/mqtt_fixtures.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <mqtt/async_client.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "gateway/wire/commands.hpp"
#include "tests/support/made_once.hpp"
#include "tests/support/ports.hpp"

namespace ehg::test {
namespace {

bool Accepts(int port) {
  const int descriptor = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(descriptor, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(descriptor);
  return ok;
}

std::string CurrentUser() {
  const passwd* entry = ::getpwuid(::getuid());
  return entry != nullptr ? entry->pw_name : "root";
}

std::string Stringify(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

}  // namespace

int FreePort() {
  return UnusedLoopbackPort();
}

const TestPki& TestPki::Get() {
  static const TestPki pki;
  return pki;
}

TestPki::TestPki() {
  CopyTestPki(directory_.path(), {kGatewayId});
}

TestBroker::TestBroker(BrokerOptions options) : options_(std::move(options)), port_(FreePort()) {
  const TestPki& pki = TestPki::Get();
  std::ofstream config(directory_ / "mosquitto.conf");
  config << "per_listener_settings true\n"
         << "persistence " << (options_.persistence ? "true" : "false") << "\n"
         << "persistence_location " << directory_.path().string() << "/\n"
         << "log_dest stderr\n"
         << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
         // Started as root, mosquitto switches to this user before reading its key: stay ourselves.
         << "user " << CurrentUser()
         << "\n"
         // The default of 1000 drops QoS 1 messages queued for a slow or absent subscriber.
         << "max_queued_messages 1000000\n"
         << "set_tcp_nodelay " << (options_.tcp_nodelay ? "true" : "false") << "\n"
         << "listener " << port_ << " 127.0.0.1\n"
         << "cafile " << pki.File("ca.crt").string() << "\n"
         << "certfile " << pki.File(options_.certificate + ".crt").string() << "\n"
         << "keyfile " << pki.File(options_.certificate + ".key").string() << "\n"
         << "require_certificate true\n"
         << "use_identity_as_username true\n"
         << "allow_anonymous false\n";
}

TestBroker::~TestBroker() {
  if (process_) {
    process_->Signal(SIGCONT);
    Stop();
  }
}

void TestBroker::Start() {
  process_.emplace(Process::Start({"/usr/sbin/mosquitto", "-c", (directory_ / "mosquitto.conf").string()}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Accepts(port_)) {
    if (std::chrono::steady_clock::now() > deadline || process_->Wait(std::chrono::milliseconds(0))) {
      throw std::runtime_error("mosquitto did not start: " + process_->Output());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void TestBroker::Stop() {
  if (!process_) return;
  process_->Signal(SIGTERM);
  if (!process_->Wait(std::chrono::seconds(10))) {
    process_->Signal(SIGKILL);
    (void)process_->Wait(std::chrono::seconds(5));
  }
  previous_logs_ += process_->Output();
  process_.reset();
}

void TestBroker::Pause() {
  if (process_) process_->Signal(SIGSTOP);
}
void TestBroker::Resume() {
  if (process_) process_->Signal(SIGCONT);
}

std::string TestBroker::Uri(const std::string& host) const {
  return "ssl://" + host + ":" + std::to_string(port_);
}

std::string TestBroker::Log() const {
  return previous_logs_ + (process_ ? process_->Output() : "");
}

struct TestReceiver::Impl {
  bool send_receipts = false;
  std::unique_ptr<mqtt::connect_options> options;
  std::unique_ptr<mqtt::async_client> client;
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<ReceivedMessage> messages;
  std::atomic<bool> connected{false};
  std::atomic<int> receipts{0};

  void OnMessage(const mqtt::const_message_ptr& message) {
    const auto arrived = std::chrono::steady_clock::now();
    ReceivedMessage received{message->get_topic(), message->get_payload_str(), message->is_retained(), 0,
                             arrived};
    {
      std::lock_guard lock(mutex);
      received.index = messages.size();
      messages.push_back(received);
    }
    changed.notify_all();
    // A care system that stored what came: every event of every event message is confirmed, a repeat
    // too (docs/mqtt.md, "End-to-end receipts").
    const auto event_topic = received.topic.find("/event/");
    const bool result_topic = received.topic.ends_with("/cmd/result");
    if (!send_receipts || (event_topic == std::string::npos && !result_topic)) return;
    const std::vector<std::string> ids = EventIdsIn(received.payload);
    if (ids.empty()) return;  // a message we cannot read gets no receipt; the test sees the resend
    const std::string base =
        received.topic.substr(0, result_topic ? received.topic.size() - 11 : event_topic);
    // QoS 0, as the hub's receipts reach a gateway (a NATS core publish), and because paho 1.3.12 frees
    // a QoS 1 publish whose write fails on a dead socket while keeping it for a retry: the retry after
    // the reconnect read freed memory (heap-use-after-free in MQTTProtocol_retries under ASan, seen when
    // the broker stopped under this callback). A receipt lost so is what the gateway's resend covers.
    try {
      client->publish(base + "/cmd",
                      ehg::wire::EventReceiptCommand("receipt-" + std::to_string(++receipts), ids), 0, false);
    } catch (const std::exception&) {
    }
  }
};

TestReceiver::TestReceiver(const TestBroker& broker, bool send_receipts) : impl_(std::make_unique<Impl>()) {
  impl_->send_receipts = send_receipts;
  const TestPki& pki = TestPki::Get();
  mqtt::create_options create(MQTTVERSION_5);
  impl_->client = std::make_unique<mqtt::async_client>(
      broker.Uri(), "care-receiver-" + std::to_string(broker.port()), create, nullptr);
  Impl* impl = impl_.get();
  impl_->client->set_message_callback([impl](mqtt::const_message_ptr message) {
    try {
      impl->OnMessage(message);
    } catch (...) {
    }
  });
  impl_->client->set_connected_handler([impl](const std::string&) {
    impl->connected = true;
    try {
      impl->client->subscribe("ehealth/v1/#", 1);
    } catch (...) {
    }
  });
  impl_->client->set_connection_lost_handler([impl](const std::string&) { impl->connected = false; });
  // Built in place and kept alive: paho-mqtt-cpp 1.2's copies may point into the original (see
  // gateway/transport/paho_transport.cpp).
  impl_->options = std::make_unique<mqtt::connect_options>();
  mqtt::connect_options& options = *impl_->options;
  options.set_mqtt_version(MQTTVERSION_5);
  options.set_clean_start(false);
  options.set_properties({{mqtt::property::SESSION_EXPIRY_INTERVAL, 3600}});
  options.set_keep_alive_interval(std::chrono::seconds(5));
  options.set_automatic_reconnect(std::chrono::milliseconds(100), std::chrono::seconds(1));
  mqtt::ssl_options ssl;
  ssl.set_trust_store(pki.File("ca.crt").string());
  ssl.set_key_store(pki.File("receiver.crt").string());
  ssl.set_private_key(pki.File("receiver.key").string());
  ssl.set_enable_server_cert_auth(true);
  ssl.set_verify(true);
  options.set_ssl(std::move(ssl));
  impl_->client->connect(*impl_->options)->wait_for(std::chrono::seconds(10));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!impl_->connected && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!impl_->connected) throw std::runtime_error("test receiver could not connect");
  // The subscription is made in the connected handler; give the broker its SUBACK.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

TestReceiver::~TestReceiver() {
  try {
    if (impl_->client->is_connected()) impl_->client->disconnect()->wait_for(std::chrono::seconds(2));
  } catch (...) {
  }
}

std::vector<ReceivedMessage> TestReceiver::Messages() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->messages;
}

std::size_t TestReceiver::CountOnTopic(const std::string& topic) const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(
      std::count_if(impl_->messages.begin(), impl_->messages.end(),
                    [&](const ReceivedMessage& message) { return message.topic == topic; }));
}

std::size_t TestReceiver::Count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->messages.size();
}

bool TestReceiver::WaitFor(const std::function<bool(const std::vector<ReceivedMessage>&)>& condition,
                           std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return condition(impl_->messages); });
}

void TestReceiver::Publish(const std::string& topic, const std::string& payload, bool retained) {
  // Returns once the broker acknowledged it; large test messages take a while on a busy machine.
  impl_->client->publish(topic, payload, 1, retained)->wait_for(std::chrono::seconds(30));
}

bool TestReceiver::connected() const {
  return impl_->connected;
}

std::vector<std::string> EventIdsIn(const std::string& payload) {
  std::vector<std::string> ids;
  try {
    const auto object = Poco::JSON::Parser().parse(payload).extract<Poco::JSON::Object::Ptr>();
    if (object->has("resourceType")) {  // a FHIR Bundle: each entry's fullUrl is urn:uuid:<event id>
      const auto entries = object->getArray("entry");
      for (std::size_t i = 0; entries && i < entries->size(); ++i) {
        const auto entry = entries->getObject(static_cast<unsigned>(i));
        ids.push_back(entry->getValue<std::string>("fullUrl").substr(9));
        // A blood pressure's further parts: identifiers of system urn:ietf:rfc:3986 (docs/integration.md).
        const auto identifiers = entry->getObject("resource")->getArray("identifier");
        for (std::size_t k = 0; identifiers && k < identifiers->size(); ++k) {
          const auto identifier = identifiers->getObject(static_cast<unsigned>(k));
          if (identifier->getValue<std::string>("system") == "urn:ietf:rfc:3986")
            ids.push_back(identifier->getValue<std::string>("value").substr(9));
        }
      }
    } else if (object->has("events")) {  // ehealth-gateway/observation-batch/v0
      const auto events = object->getArray("events");
      for (std::size_t i = 0; events && i < events->size(); ++i)
        ids.push_back(events->getObject(static_cast<unsigned>(i))->getValue<std::string>("event_id"));
    } else if (object->has("event_id")) {
      ids.push_back(object->getValue<std::string>("event_id"));
    }
  } catch (const std::exception&) {
    return {};
  }
  return ids;
}

std::vector<ReceivedEvent> DistinctEvents(const std::vector<ReceivedMessage>& messages) {
  std::vector<ReceivedEvent> events;
  std::set<std::string> seen;
  for (const ReceivedMessage& message : messages) {
    Poco::JSON::Object::Ptr object;
    try {
      object = Poco::JSON::Parser().parse(message.payload).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
      continue;
    }
    const auto slash = message.topic.find("/event/");
    const std::string kind = slash != std::string::npos ? message.topic.substr(slash + 7)
                             : message.topic.size() >= 10 && message.topic.ends_with("cmd/result")
                                 ? "cmd/result"
                                 : "";
    if (kind.empty()) continue;
    const auto add = [&](const Poco::JSON::Object::Ptr& event) {
      if (!event->has("event_id")) return;
      const std::string id = event->getValue<std::string>("event_id");
      if (seen.insert(id).second) events.push_back({id, kind, Stringify(event), message.index});
    };
    if (object->has("resourceType")) {
      // A FHIR Bundle of observations: each entry is one event, named by its fullUrl urn:uuid.
      auto entries = object->getArray("entry");
      for (std::size_t i = 0; entries && i < entries->size(); ++i) {
        auto entry = entries->getObject(static_cast<unsigned>(i));
        const std::string id = entry->getValue<std::string>("fullUrl").substr(9);
        if (seen.insert(id).second)
          events.push_back({id, kind, Stringify(entry->getObject("resource")), message.index});
      }
    } else {
      add(object);
    }
  }
  return events;
}

std::size_t CopiesOf(const std::vector<ReceivedMessage>& messages, const std::string& event_id) {
  std::size_t copies = 0;
  for (const ReceivedMessage& message : messages) {
    if (message.topic.ends_with("/cmd")) continue;  // our own receipts name the event too
    for (std::size_t at = message.payload.find(event_id); at != std::string::npos;
         at = message.payload.find(event_id, at + 1)) {
      ++copies;
    }
  }
  return copies;
}

}  // namespace ehg::test
