// The paho adapter against a broker written by hand on a loopback socket: one that reads what the
// gateway announces on CONNECT and then ignores it, as a hostile or broken broker would.
#include "gateway/transport/paho_transport.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/wait.hpp"

using namespace std::chrono_literals;

namespace {

// A one-connection MQTT 5 or 3.1.1 "broker" (whichever the client asks for): accepts, reads the
// CONNECT, answers CONNACK, then sends what the test asks for.
class RawBroker {
 public:
  RawBroker() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener_, 1) == 0);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RawBroker() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    if (thread_.joinable()) thread_.join();
    if (client_ >= 0) ::close(client_);
  }

  int port() const { return port_; }
  std::optional<std::uint32_t> announced_maximum() {
    std::lock_guard lock(mutex_);
    return maximum_;
  }
  // The CONNECT's protocol level byte: 4 is MQTT 3.1.1, 5 is MQTT 5.0.
  int protocol_level() {
    std::lock_guard lock(mutex_);
    return level_;
  }
  bool connected() {
    std::lock_guard lock(mutex_);
    return client_ >= 0 && answered_;
  }
  // A QoS 0 PUBLISH, whatever the client said it can take.
  void Publish(const std::string& topic, const std::string& payload) {
    std::string body;
    body += static_cast<char>(topic.size() >> 8);
    body += static_cast<char>(topic.size() & 0xff);
    body += topic;
    if (protocol_level() == 5) body += '\0';  // no properties (3.1.1 has no such field)
    body += payload;
    std::string packet(1, '\x30');
    AppendLength(packet, body.size());
    packet += body;
    SendAll(packet);
  }

 private:
  static void AppendLength(std::string& out, std::size_t length) {
    do {
      std::uint8_t byte = length % 128;
      length /= 128;
      if (length > 0) byte |= 0x80;
      out += static_cast<char>(byte);
    } while (length > 0);
  }
  bool ReadExact(std::uint8_t* data, std::size_t size) {
    while (size > 0) {
      const ssize_t got = ::recv(client_, data, size, 0);
      if (got <= 0) return false;
      data += got;
      size -= static_cast<std::size_t>(got);
    }
    return true;
  }
  void SendAll(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t wrote = ::send(client_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (wrote <= 0) return;
      sent += static_cast<std::size_t>(wrote);
    }
  }
  static std::uint32_t VarInt(const std::vector<std::uint8_t>& bytes, std::size_t& at) {
    std::uint32_t value = 0;
    for (int shift = 0; at < bytes.size(); shift += 7) {
      const std::uint8_t byte = bytes[at++];
      value |= static_cast<std::uint32_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    return value;
  }
  void Serve() {
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;
    {
      std::lock_guard lock(mutex_);
      client_ = client;
    }
    std::uint8_t type = 0;
    if (!ReadExact(&type, 1) || (type & 0xf0) != 0x10) return;
    std::uint32_t remaining = 0;
    for (int shift = 0;; shift += 7) {
      std::uint8_t byte = 0;
      if (!ReadExact(&byte, 1)) return;
      remaining |= static_cast<std::uint32_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    std::vector<std::uint8_t> connect(remaining);
    if (!ReadExact(connect.data(), connect.size())) return;
    // Protocol name (2 + 4), level, flags, keepalive: then, in MQTT 5 only, the properties.
    const int level = connect.size() > 6 ? connect[6] : 0;
    std::size_t at = 10;
    const std::uint32_t properties_end =
        level == 5 ? VarInt(connect, at) + static_cast<std::uint32_t>(at) : static_cast<std::uint32_t>(at);
    std::optional<std::uint32_t> maximum;
    while (at < properties_end && at < connect.size()) {
      const std::uint8_t id = connect[at++];
      const auto four = [&] {
        std::uint32_t value = 0;
        for (int i = 0; i < 4 && at < connect.size(); ++i)
          value = (value << 8) | connect[at++];
        return value;
      };
      if (id == 0x27) {
        maximum = four();
      } else if (id == 0x11) {
        four();
      } else if (id == 0x21 || id == 0x22) {
        at += 2;
      } else if (id == 0x17 || id == 0x19) {
        at += 1;
      } else {
        break;  // a property this test does not need to read
      }
    }
    {
      std::lock_guard lock(mutex_);
      maximum_ = maximum;
      level_ = level;
    }
    // CONNACK: no session, success (and in MQTT 5: no properties).
    SendAll(level == 5 ? std::string("\x20\x03\x00\x00\x00", 5) : std::string("\x20\x02\x00\x00", 4));
    std::lock_guard lock(mutex_);
    answered_ = true;
  }

  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  int client_ = -1;
  bool answered_ = false;
  std::optional<std::uint32_t> maximum_;
  int level_ = 0;
};

struct Heard {
  std::mutex mutex;
  bool connected = false;
  std::vector<std::pair<std::string, std::size_t>> messages;  // topic, bytes
  std::vector<std::pair<std::string, std::size_t>> oversized;
};

}  // namespace

// MQTT 3.1.1 has no Maximum Packet Size property: nothing is announced, the drop protects all the same.
TEST_CASE(
    "The gateway announces its maximum packet size (MQTT 5) and drops, unread, a larger message sent "
    "anyway") {
  for (const auto version : {ehg::transport::MqttVersion::kV5, ehg::transport::MqttVersion::kV3_1_1}) {
    const bool v5 = version == ehg::transport::MqttVersion::kV5;
    CAPTURE(v5);
    RawBroker broker;
    auto heard = std::make_shared<Heard>();
    ehg::transport::TransportEvents events;
    events.connected = [heard](bool) {
      std::lock_guard lock(heard->mutex);
      heard->connected = true;
    };
    events.connect_failed = [](std::string) {};
    events.connection_lost = [](std::string) {};
    events.delivered = [](std::uint64_t) {};
    events.delivery_failed = [](std::uint64_t, std::string) {};
    events.message = [heard](std::string topic, std::string payload) {
      std::lock_guard lock(heard->mutex);
      heard->messages.emplace_back(std::move(topic), payload.size());
    };
    events.oversized = [heard](std::string topic, std::size_t bytes) {
      std::lock_guard lock(heard->mutex);
      heard->oversized.emplace_back(std::move(topic), bytes);
    };
    ehg::transport::PahoOptions options;
    options.uri = "tcp://127.0.0.1:" + std::to_string(broker.port());
    options.client_id = "ehg-0301-gw-1";
    options.insecure_plaintext = true;
    options.maximum_packet_bytes = 4096;
    options.version = version;
    auto transport = ehg::transport::MakePahoTransport(options, events);
    transport->Connect();
    REQUIRE(ehg::test::WaitUntil([&] {
      std::lock_guard lock(heard->mutex);
      return heard->connected;
    }));
    CHECK(broker.protocol_level() == (v5 ? 5 : 4));
    CHECK(broker.announced_maximum() == (v5 ? std::optional<std::uint32_t>(4096) : std::nullopt));

    broker.Publish("ehealth/v1/0301/gw-1/cmd", std::string(1'000'000, 'x'));
    broker.Publish("ehealth/v1/0301/gw-1/cmd", std::string(4096, 'y'));  // the payload alone may be this big
    broker.Publish("ehealth/v1/0301/gw-1/cmd", std::string(4097, 'z'));
    broker.Publish("ehealth/v1/0301/gw-1/cmd", "{}");
    REQUIRE(ehg::test::WaitUntil([&] {
      std::lock_guard lock(heard->mutex);
      return heard->messages.size() + heard->oversized.size() == 4;
    }));
    std::lock_guard lock(heard->mutex);
    CHECK(heard->oversized ==
          std::vector<std::pair<std::string, std::size_t>>{{"ehealth/v1/0301/gw-1/cmd", 1'000'000},
                                                           {"ehealth/v1/0301/gw-1/cmd", 4097}});
    CHECK(heard->messages == std::vector<std::pair<std::string, std::size_t>>{
                                 {"ehealth/v1/0301/gw-1/cmd", 4096}, {"ehealth/v1/0301/gw-1/cmd", 2}});
  }
}
