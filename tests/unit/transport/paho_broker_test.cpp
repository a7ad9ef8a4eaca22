// The paho adapter against a real mosquitto (tests/support/mqtt), in each MQTT version the gateway can
// speak: the client certificate, the PUBACK, a command, the last will and the persistent session. The
// broker's own log line for each connection says which version the client really spoke.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gateway/transport/paho_transport.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::transport::MqttVersion;

namespace {

constexpr MqttVersion kBothVersions[] = {MqttVersion::kV5, MqttVersion::kV3_1_1};

std::string VersionName(MqttVersion version) {
  return version == MqttVersion::kV5 ? "5" : "3.1.1";
}

// What one transport reported, from paho's threads.
struct BrokerHeard {
  std::mutex mutex;
  std::vector<bool> connects;  // session_present of each connection
  std::vector<std::string> failures;
  int lost = 0;
  std::vector<std::uint64_t> delivered;
  std::vector<std::uint64_t> delivery_failed;
  std::vector<std::pair<std::string, std::string>> messages;

  template <typename Read>
  auto Locked(Read read) {
    std::lock_guard lock(mutex);
    return read(*this);
  }
};

// The adapter as the daemon configures it (client certificate, keepalive, last will) in `version`.
struct BrokerClient {
  std::string client_id;
  std::shared_ptr<BrokerHeard> heard = std::make_shared<BrokerHeard>();
  std::unique_ptr<ehg::transport::Transport> transport;
  std::uint64_t next_tag = 1;

  BrokerClient(const ehg::test::TestBroker& broker, MqttVersion version, std::string id,
               const std::string& certificate, const std::string& will_topic, int subscription_qos = 1)
      : client_id(std::move(id)) {
    const ehg::test::TestPki& pki = ehg::test::TestPki::Get();
    ehg::transport::PahoOptions options;
    options.uri = broker.Uri("localhost");
    options.client_id = client_id;
    options.version = version;
    options.ca_file = pki.File("ca.crt");
    options.cert_file = pki.File(certificate + ".crt");
    options.key_file = pki.File(certificate + ".key");
    options.keepalive = 30s;
    options.will_topic = will_topic;
    options.will_payload = R"({"state":"offline"})";
    options.maximum_packet_bytes = 147456;
    options.subscription_qos = subscription_qos;
    ehg::transport::TransportEvents events;
    auto shared = heard;
    events.connected = [shared](bool present) {
      shared->Locked([&](BrokerHeard& h) { h.connects.push_back(present); });
    };
    events.connect_failed = [shared](std::string reason) {
      shared->Locked([&](BrokerHeard& h) { h.failures.push_back(std::move(reason)); });
    };
    events.connection_lost = [shared](std::string) { shared->Locked([](BrokerHeard& h) { ++h.lost; }); };
    events.delivered = [shared](std::uint64_t tag) {
      shared->Locked([&](BrokerHeard& h) { h.delivered.push_back(tag); });
    };
    events.delivery_failed = [shared](std::uint64_t tag, std::string) {
      shared->Locked([&](BrokerHeard& h) { h.delivery_failed.push_back(tag); });
    };
    events.message = [shared](std::string topic, std::string payload) {
      shared->Locked([&](BrokerHeard& h) { h.messages.emplace_back(std::move(topic), std::move(payload)); });
    };
    transport = ehg::transport::MakePahoTransport(options, std::move(events));
  }

  std::size_t Connects() {
    return heard->Locked([](BrokerHeard& h) { return h.connects.size(); });
  }

  // Connects and waits for the CONNACK; the failures so far in the message if it does not come.
  void ConnectAndWait() {
    const std::size_t before = Connects();
    transport->Connect();
    const bool connected = ehg::test::WaitUntil([&] { return Connects() > before; }, 10s);
    const auto failures = heard->Locked([](BrokerHeard& h) { return h.failures; });
    CAPTURE(failures.empty() ? std::string("none") : failures.back());
    REQUIRE(connected);
  }
  // QoS 1; true once the broker's PUBACK has come back.
  bool PublishAcknowledged(const std::string& topic, const std::string& payload) {
    const std::uint64_t tag = next_tag++;
    if (!transport->Publish(topic, payload, false, tag)) return false;
    return ehg::test::WaitUntil([&] {
      return heard->Locked([&](BrokerHeard& h) {
        return std::find(h.delivered.begin(), h.delivered.end(), tag) != h.delivered.end();
      });
    });
  }
  bool Received(const std::string& topic, const std::string& payload) {
    return heard->Locked([&](BrokerHeard& h) {
      return std::find(h.messages.begin(), h.messages.end(), std::pair{topic, payload}) != h.messages.end();
    });
  }
  bool WaitToReceive(const std::string& topic, const std::string& payload) {
    return ehg::test::WaitUntil([&] { return Received(topic, payload); }, 5s);
  }
};

// One broker and one care side for the whole test process: the adapter again (MQTT 5), with the
// receiver's certificate, subscribed to ehealth/v1/#. Each version's gateway has an id of its own, so
// topics and sessions never meet.
struct SharedPeers {
  ehg::test::TestBroker broker{{.certificate = "broker", .persistence = false, .tcp_nodelay = true}};
  std::unique_ptr<BrokerClient> care;  // destroyed before the broker
  SharedPeers() {
    broker.Start();
    care = std::make_unique<BrokerClient>(broker, MqttVersion::kV5, "care-side", "receiver", "");
    care->ConnectAndWait();
    REQUIRE(care->transport->Subscribe("ehealth/v1/#"));
    // The SUBACK is not reported: its own message arriving shows the subscription is in place.
    REQUIRE(ehg::test::WaitUntil(
        [&] {
          REQUIRE(care->PublishAcknowledged("ehealth/v1/probe", "care"));
          return ehg::test::WaitUntil([&] { return care->Received("ehealth/v1/probe", "care"); }, 200ms);
        },
        5s));
  }
};

SharedPeers& Peers() {
  static SharedPeers peers;
  return peers;
}

// mosquitto's line for the client's n-th connection (from 1), empty until it is logged: "New client
// connected from 127.0.0.1:PORT as CLIENT (pV, cC, kK, u'CN')." where V is mosquitto's own protocol
// number (2: MQTT 3.1.1, 5: MQTT 5.0; not the CONNECT's level byte, which is 4 for 3.1.1:
// paho_transport_test reads that one), C the clean session / clean start flag, K the keepalive and CN
// the client certificate's common name.
std::string ConnectLine(const std::string& client_id, int n) {
  const std::string log = Peers().broker.Log();
  std::size_t at = std::string::npos;
  for (int i = 0; i < n; ++i) {
    at = log.find(" as " + client_id + " (", at == std::string::npos ? 0 : at + 1);
    if (at == std::string::npos) return "";
  }
  const std::size_t start = log.rfind('\n', at) + 1;
  return log.substr(start, log.find('\n', at) - start);
}

std::string WaitForConnectLine(const std::string& client_id, int n) {
  std::string line;
  ehg::test::WaitUntil([&] { return !(line = ConnectLine(client_id, n)).empty(); }, 5s);
  return line;
}

// Cuts the client's TCP connection under paho (no DISCONNECT sent), as a dead network or a killed
// process would: the broker reads the end of the stream and must publish the will. The socket is found
// by the local port mosquitto logged for this connection.
bool CutConnection(const std::string& connect_line) {
  const std::size_t colon = connect_line.find("127.0.0.1:");
  if (colon == std::string::npos) return false;
  const int local_port = std::atoi(connect_line.c_str() + colon + 10);
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::atoi(entry.path().filename().c_str());
    sockaddr_in local{};
    socklen_t length = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 || local.sin_family != AF_INET)
      continue;
    if (ntohs(local.sin_port) == local_port) return ::shutdown(fd, SHUT_RDWR) == 0;
  }
  return false;
}

// Subscribes the gateway to `topic`. The SUBACK is not reported: a command arriving shows the
// subscription is in place.
void SubscribeToCommands(BrokerClient& gateway, BrokerClient& care, const std::string& topic) {
  REQUIRE(gateway.transport->Subscribe(topic));
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        REQUIRE(care.PublishAcknowledged(topic, "probe"));
        return ehg::test::WaitUntil([&] { return gateway.Received(topic, "probe"); }, 200ms);
      },
      5s));
}

// The gateway disconnects, "sent-while-offline" is published to `topic` meanwhile, and the gateway
// connects again to the session it had.
void SendWhileOffline(BrokerClient& gateway, BrokerClient& care, const std::string& topic) {
  gateway.transport->Disconnect();
  REQUIRE(care.PublishAcknowledged(topic, "sent-while-offline"));
  gateway.ConnectAndWait();
  CHECK(gateway.heard->Locked([](BrokerHeard& h) { return h.connects.back(); }));  // session present
}

}  // namespace

// One case, so the steps share a broker and connections (paho takes about 2 s to connect with TLS): the
// PUBACK, a command, a command queued in the persistent session while offline, and the will.
TEST_CASE("Against mosquitto, in MQTT 5 and 3.1.1: PUBACK, commands, the session kept offline, the will") {
  for (const MqttVersion version : kBothVersions) {
    CAPTURE(VersionName(version));
    BrokerClient& care = *Peers().care;
    const std::string base =
        std::string("ehealth/v1/0301/gw-mosquitto-v") + (version == MqttVersion::kV5 ? "5" : "311") + "/";
    const std::string client_id =
        "ehg-0301-gw-mosquitto-v" + std::string(version == MqttVersion::kV5 ? "5" : "311");
    BrokerClient gateway(Peers().broker, version, client_id, "gateway", base + "status");
    gateway.ConnectAndWait();
    {
      const std::string line = WaitForConnectLine(client_id, 1);
      CAPTURE(line);
      // The version asked for, a persistent session, half the keepalive (PahoKeepalive), and the
      // identity the broker took from the client certificate.
      CHECK(line.find(version == MqttVersion::kV5 ? "(p5, c0, k15, u'gw-it-01')"
                                                  : "(p2, c0, k15, u'gw-it-01')") != std::string::npos);
    }

    // A QoS 1 publish: the PUBACK completes it as delivered (MQTT 3.1.1: no reason code to read).
    REQUIRE(gateway.transport->Publish(base + "event/alert", "alert-1", false, 41));
    REQUIRE(ehg::test::WaitUntil(
        [&] { return gateway.heard->Locked([](BrokerHeard& h) { return !h.delivered.empty(); }); }, 5s));
    gateway.heard->Locked([](BrokerHeard& h) {
      CHECK(h.delivered == std::vector<std::uint64_t>{41});
      CHECK(h.delivery_failed.empty());
    });
    CHECK(care.WaitToReceive(base + "event/alert", "alert-1"));

    SubscribeToCommands(gateway, care, base + "cmd");

    // A command sent while the gateway is offline: the broker kept the session (MQTT 5: the session
    // expiry; 3.1.1: clean session off), so the subscription holds without a new SUBSCRIBE and the
    // queued QoS 1 command is delivered on the next connection.
    SendWhileOffline(gateway, care, base + "cmd");
    CHECK(gateway.WaitToReceive(base + "cmd", "sent-while-offline"));

    // The connection dies without a DISCONNECT: the broker publishes the last will.
    const std::string line = WaitForConnectLine(client_id, 2);
    CAPTURE(line);
    REQUIRE(CutConnection(line));
    CHECK(ehg::test::WaitUntil(
        [&] { return gateway.heard->Locked([](BrokerHeard& h) { return h.lost; }) == 1; }, 10s));
    CHECK(care.WaitToReceive(base + "status", R"({"state":"offline"})"));
  }
}

// broker.command_qos 0, as on the NATS engine: commands arrive while connected, and the broker keeps
// none for the gateway while it is away, though the session is kept. That is what the hub's resending
// is for (docs/mqtt.md#command-qos). The command sent after the reconnection arriving alone shows it: a
// QoS 1 subscription would have had the one sent while offline delivered first.
TEST_CASE("Against mosquitto, a QoS 0 command subscription: commands while connected, none kept offline") {
  for (const MqttVersion version : kBothVersions) {
    CAPTURE(VersionName(version));
    BrokerClient& care = *Peers().care;
    const std::string suffix = version == MqttVersion::kV5 ? "5" : "311";
    const std::string base = "ehealth/v1/0301/gw-qos0-v" + suffix + "/";
    BrokerClient gateway(Peers().broker, version, "ehg-0301-gw-qos0-v" + suffix, "gateway", "", 0);
    gateway.ConnectAndWait();
    SubscribeToCommands(gateway, care, base + "cmd");
    SendWhileOffline(gateway, care, base + "cmd");
    REQUIRE(care.PublishAcknowledged(base + "cmd", "sent-after-reconnecting"));
    CHECK(gateway.WaitToReceive(base + "cmd", "sent-after-reconnecting"));
    CHECK_FALSE(gateway.Received(base + "cmd", "sent-while-offline"));
  }
}
