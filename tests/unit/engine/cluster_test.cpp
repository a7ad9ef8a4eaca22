// The engine adapter against the real three-node cluster (scripts/cluster): MQTT in, stream, durable
// consumer, permissions, a node killed, commands out. docs/operations-hub.md#the-engine explains what
// these show.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "care/engine/engine.hpp"
#include "care/engine/subjects.hpp"
#include "tests/support/engine/test_cluster.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using ehg::engine::Delivery;
using ehg::engine::Engine;
using ehg::test::TestCluster;
using ehg::test::TestPublisher;
using namespace std::chrono_literals;

namespace {

// A payload no other test (or earlier run against the same stream) has sent.
std::string UniquePayload(const std::string& what) {
  static int counter = 0;
  return what + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::unique_ptr<Engine> ConnectedHub(const std::string& durable, std::chrono::milliseconds ack_wait = 30s) {
  ehg::engine::EngineOptions options = TestCluster::Get().HubOptions(durable);
  options.consumer.ack_wait = ack_wait;
  auto engine = Engine::Connect(options);
  REQUIRE(engine.has_value());
  REQUIRE((*engine)->WaitConnected(10s));
  const auto stream = (*engine)->EnsureStream();
  REQUIRE_MESSAGE(stream.has_value(), (stream ? "" : stream.error().message));
  const auto consumer = (*engine)->EnsureConsumer();
  REQUIRE_MESSAGE(consumer.has_value(), (consumer ? "" : consumer.error().message));
  return std::move(*engine);
}

// Fetches until the message carrying `payload` arrives (acknowledging every other one) or `timeout`
// passes; the message is returned unacknowledged. `seen` gets every payload fetched on the way.
std::optional<Delivery> FetchPayload(Engine& hub, const std::string& payload,
                                     std::chrono::milliseconds timeout,
                                     std::vector<std::string>* seen = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<Delivery> found;
  while (!found && std::chrono::steady_clock::now() < deadline) {
    auto batch = hub.Fetch(50, 200ms);
    REQUIRE_MESSAGE(batch.has_value(), (batch ? "" : batch.error().message));
    for (Delivery& delivery : *batch) {
      if (seen != nullptr) seen->push_back(delivery.payload());
      if (!found && delivery.payload() == payload) {
        found = std::move(delivery);
      } else {
        REQUIRE(hub.Ack(delivery).has_value());
      }
    }
  }
  return found;
}

// Acknowledges everything the consumer has for now.
void Drain(Engine& hub) {
  while (true) {
    auto batch = hub.Fetch(100, 200ms);
    REQUIRE(batch.has_value());
    if (batch->empty()) return;
    for (const Delivery& delivery : *batch)
      REQUIRE(hub.Ack(delivery).has_value());
  }
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string kGatewayBase =
    std::string("ehealth/v1/") + TestCluster::kTenant + "/" + TestCluster::kGateway;

}  // namespace

TEST_CASE(
    "a gateway's MQTT 3.1.1 QoS 1 publish is stored in the stream and handed to the hub by the durable "
    "consumer") {
  TestCluster& cluster = TestCluster::Get();
  MESSAGE("cluster start took " << cluster.start_seconds() << " s");
  auto hub = ConnectedHub("hub-mqtt");
  const auto before = hub->StreamInfo();
  REQUIRE(before.has_value());
  CHECK(before->replicas == 3);
  CHECK_FALSE(before->leader.empty());

  const std::string alert = UniquePayload("alert");
  const ehg::core::WallTime before_publish = ehg::core::SystemClock().Now();
  const auto started = std::chrono::steady_clock::now();
  const auto published = cluster.MqttPublish(TestCluster::kGateway, kGatewayBase + "/event/alert", alert, 2);
  MESSAGE("first MQTT publish (connect, TLS, PUBACK) took "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s");
  REQUIRE_MESSAGE(published.exit_code == 0, published.output);
  CHECK(Contains(published.output, "received PUBACK"));

  auto delivery = FetchPayload(*hub, alert, 10s);
  REQUIRE(delivery.has_value());
  CHECK(delivery->subject() == "ehealth.v1.0301.gw-it-01.event.alert");
  CHECK(delivery->delivery_count() == 1);
  CHECK(delivery->stream_sequence() > before->last_sequence);
  // The stream's store time (same host clock): after the publish began, before the fetch returned.
  CHECK(delivery->stored_at() >= before_publish);
  CHECK(delivery->stored_at() <= ehg::core::SystemClock().Now());
  const auto parts = ehg::engine::ParseSubject(delivery->subject());
  REQUIRE(parts.has_value());
  CHECK(parts->tenant == "0301");
  CHECK(parts->gateway == "gw-it-01");
  CHECK(parts->event == ehg::core::EventKind::kAlert);
  REQUIRE(hub->Ack(*delivery).has_value());

  // The retained status and a command result are stored too.
  const std::string status = UniquePayload("status");
  REQUIRE(cluster.MqttPublish(TestCluster::kGateway, kGatewayBase + "/status", status, 3, true).exit_code ==
          0);
  auto status_delivery = FetchPayload(*hub, status, 10s);
  REQUIRE(status_delivery.has_value());
  CHECK(status_delivery->subject() == "ehealth.v1.0301.gw-it-01.status");
  REQUIRE(hub->Ack(*status_delivery).has_value());
  const std::string result = UniquePayload("result");
  REQUIRE(cluster.MqttPublish(TestCluster::kGateway, kGatewayBase + "/cmd/result", result, 1).exit_code == 0);
  auto result_delivery = FetchPayload(*hub, result, 10s);
  REQUIRE(result_delivery.has_value());
  REQUIRE(hub->Ack(*result_delivery).has_value());

  // Acknowledged means gone from the consumer: another hub instance on it does not get them again.
  auto second = ConnectedHub("hub-mqtt");
  auto again = second->Fetch(50, 300ms);
  REQUIRE(again.has_value());
  for (const Delivery& late : *again) {
    CHECK(late.payload() != alert);
    CHECK(late.payload() != status);
  }

  // NATS 2.9 speaks MQTT 3.1.1 only: an MQTT 5 CONNECT is refused.
  const auto mqtt5 =
      cluster.MqttPublish(TestCluster::kGateway, kGatewayBase + "/event/alert", "x", 1, false, "mqttv5");
  CHECK(mqtt5.exit_code != 0);
}

TEST_CASE(
    "a gateway can publish only below its own topic, never on its cmd, and subscribe only to its own cmd") {
  TestCluster& cluster = TestCluster::Get();
  auto hub = ConnectedHub("hub-permissions");
  const std::string other_base = std::string("ehealth/v1/0301/") + TestCluster::kOtherGateway;

  // MQTT 3.1.1 has no refusal in a PUBACK: NATS acknowledges a forbidden publish and drops it.
  const std::string forged = UniquePayload("forged");
  const auto forged_result = cluster.MqttPublish(TestCluster::kGateway, other_base + "/event/alert", forged);
  CHECK(forged_result.exit_code == 0);
  const std::string self_command = UniquePayload("self-command");
  CHECK(cluster.MqttPublish(TestCluster::kGateway, kGatewayBase + "/cmd", self_command).exit_code == 0);
  // Published after the refused ones on the same node: once the hub has it, they were decided.
  const std::string marker = UniquePayload("marker");
  REQUIRE(cluster.MqttPublish(TestCluster::kGateway, kGatewayBase + "/event/device", marker).exit_code == 0);
  std::vector<std::string> seen;
  auto marker_delivery = FetchPayload(*hub, marker, 10s, &seen);
  REQUIRE(marker_delivery.has_value());
  REQUIRE(hub->Ack(*marker_delivery).has_value());
  CHECK(std::find(seen.begin(), seen.end(), forged) == seen.end());
  CHECK(std::find(seen.begin(), seen.end(), self_command) == seen.end());
  CHECK(ehg::test::WaitUntil(
      [&] {
        const std::string log = cluster.Log(1);
        return Contains(log,
                        "Publish Violation - User \"urn:ehealth:gateway:gw-it-01\", Subject "
                        "\"ehealth.v1.0301.gw-it-02.event.alert\"") &&
               Contains(log,
                        "Publish Violation - User \"urn:ehealth:gateway:gw-it-01\", Subject "
                        "\"ehealth.v1.0301.gw-it-01.cmd\"");
      },
      5s));

  // Subscribing to another gateway's commands: SUBACK with the failure code 128.
  ehg::test::Process spy =
      cluster.MqttSubscribe(TestCluster::kGateway, "ehg-0301-gw-it-01-spy", other_base + "/cmd", 1);
  CHECK(spy.WaitForOutput("Subscribed (mid: 1): 128", 15s));
  ehg::test::Process wildcard =
      cluster.MqttSubscribe(TestCluster::kGateway, "ehg-0301-gw-it-01-wild", "ehealth/v1/0301/+/cmd", 1);
  CHECK(wildcard.WaitForOutput("Subscribed (mid: 1): 128", 15s));
  // Its own: granted at QoS 1.
  ehg::test::Process own =
      cluster.MqttSubscribe(TestCluster::kGateway, "ehg-0301-gw-it-01-own", kGatewayBase + "/cmd", 1);
  CHECK(own.WaitForOutput("Subscribed (mid: 1): 1", 15s));
}

TEST_CASE(
    "the engine maps a gateway by its certificate's URI: our CA's certificate without it, or another CA's "
    "with it, is refused at connect") {
  TestCluster& cluster = TestCluster::Get();
  // The enrolled gateway's id in the subject, signed by our CA, but no URI (as scripts/gen-certs issued
  // them before the engine mapped users by URI): NATS finds no user for it.
  ehg::test::TempDir made;
  const std::string key = (made / "no-uri.key").string();
  const std::string request = (made / "no-uri.csr").string();
  const std::string certificate = (made / "no-uri.crt").string();
  REQUIRE(ehg::test::RunCommand({"/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj",
                                 std::string("/CN=") + TestCluster::kGateway, "-out", request})
              .exit_code == 0);
  REQUIRE(ehg::test::RunCommand({"/usr/bin/openssl", "x509", "-req", "-in", request, "-CA",
                                 cluster.Pki("ca.crt").string(), "-CAkey", cluster.Pki("ca.key").string(),
                                 "-CAcreateserial", "-CAserial", (made / "ca.srl").string(), "-days", "1",
                                 "-out", certificate})
              .exit_code == 0);
  const auto publish = [&](const std::string& cert, const std::string& cert_key) {
    std::vector<std::string> argv{"/usr/bin/mosquitto_pub",
                                  "-V",
                                  "mqttv311",
                                  "-h",
                                  "127.0.0.1",
                                  "-i",
                                  "pub-no-uri",
                                  "-q",
                                  "1",
                                  "-d",
                                  "-m"};
    for (const std::string& arg :
         {UniquePayload("no-uri"), std::string("-p"), std::to_string(cluster.MqttPort(1)),
          std::string("--cafile"), cluster.Pki("ca.crt").string(), std::string("--cert"), cert,
          std::string("--key"), cert_key, std::string("-t"), kGatewayBase + "/event/alert"})
      argv.push_back(arg);
    return ehg::test::RunCommand(argv, std::chrono::seconds(30));
  };
  const auto without_uri = publish(certificate, key);
  CHECK(without_uri.exit_code != 0);
  CHECK_FALSE(Contains(without_uri.output, "received PUBACK"));
  CHECK_MESSAGE(Contains(without_uri.output, "received CONNACK (5)"), without_uri.output);  // not authorised
  // The right URI in a certificate of a CA the engine does not trust: the TLS handshake fails.
  const auto other_ca =
      publish(cluster.Pki("gateway-other-ca.crt").string(), cluster.Pki("gateway-other-ca.key").string());
  CHECK(other_ca.exit_code != 0);
  CHECK_FALSE(Contains(other_ca.output, "received PUBACK"));
  // The gateway's own certificate, with the URI: accepted.
  const auto own = publish(cluster.Pki("gateway.crt").string(), cluster.Pki("gateway.key").string());
  CHECK_MESSAGE(own.exit_code == 0, own.output);
  CHECK(Contains(own.output, "received PUBACK"));
}

TEST_CASE(
    "two hub instances share the durable consumer: each message goes to one, an unacknowledged one comes "
    "back after the ack wait") {
  const auto ack_wait = 1000ms;
  auto first = ConnectedHub("hub-shared", ack_wait);
  auto second = ConnectedHub("hub-shared", ack_wait);
  Drain(*first);  // earlier tests' messages, when this binary runs them all against one cluster
  TestPublisher publisher;
  const std::string subject = "ehealth.v1.0301.gw-it-01.event.observation";
  std::set<std::string> sent;
  for (int i = 0; i < 10; ++i) {
    const std::string payload = UniquePayload("shared");
    REQUIRE(publisher.Publish(subject, payload).has_value());
    sent.insert(payload);
  }

  // The first instance takes three, the second the rest; the second keeps one unacknowledged.
  std::map<std::string, int> first_deliveries;
  std::set<std::string> by_first;
  std::set<std::string> by_second;
  std::optional<Delivery> held;
  std::chrono::steady_clock::time_point held_at{};
  const auto take = [&](Engine& hub, int max, std::set<std::string>& mine) {
    auto batch = hub.Fetch(max, 500ms);
    REQUIRE(batch.has_value());
    for (Delivery& delivery : *batch) {
      if (sent.count(delivery.payload()) == 0) {
        REQUIRE(hub.Ack(delivery).has_value());  // another test's message
        continue;
      }
      if (delivery.delivery_count() == 1) ++first_deliveries[delivery.payload()];
      mine.insert(delivery.payload());
      if (!held && &mine == &by_second) {
        held_at = std::chrono::steady_clock::now();
        held = std::move(delivery);
      } else {
        REQUIRE(hub.Ack(delivery).has_value());
      }
    }
  };
  // Fetch hands out what the consumer has now, or the first message as it comes: a consumer whose
  // leader is still applying the publishes may give fewer than asked, so the first takes until it has 3.
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        take(*first, 3 - static_cast<int>(by_first.size()), by_first);
        return by_first.size() >= 3;
      },
      10s));
  CHECK(by_first.size() == 3);
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        take(*second, 10, by_second);
        return by_first.size() + by_second.size() >= sent.size();
      },
      10s));
  REQUIRE(held.has_value());
  CHECK(first_deliveries.size() == sent.size());
  for (const auto& [payload, count] : first_deliveries) {
    const auto& delivered = payload;  // clang 14 cannot capture a structured binding
    CHECK_MESSAGE(count == 1, delivered);
  }
  for (const std::string& payload : by_first)
    CHECK(by_second.count(payload) == 0);

  // The held one comes back, to either instance, after the ack wait, counted as a second delivery.
  std::optional<Delivery> back;
  REQUIRE(ehg::test::WaitUntil(
      [&] {
        for (Engine* hub : {first.get(), second.get()}) {
          auto batch = hub->Fetch(10, 100ms);
          REQUIRE(batch.has_value());
          for (Delivery& delivery : *batch) {
            if (delivery.payload() == held->payload())
              back = std::move(delivery);
            else
              REQUIRE(hub->Ack(delivery).has_value());
          }
          if (back) return true;
        }
        return false;
      },
      10s));
  const auto waited = std::chrono::steady_clock::now() - held_at;
  CHECK(waited >= ack_wait - 100ms);
  // At least the second delivery: redelivery is at least once, and under ASan on a busy machine it once
  // came a third time before this loop took it (cause not pinned down). Never lost either way.
  CHECK(back->delivery_count() >= 2);
  CHECK(back->stream_sequence() == held->stream_sequence());
  REQUIRE(first->Ack(*back).has_value());

  // Nak: back at once (well before the ack wait), to the other instance as well.
  const std::string refused = UniquePayload("nak");
  REQUIRE(publisher.Publish(subject, refused).has_value());
  auto nak = FetchPayload(*first, refused, 10s);
  REQUIRE(nak.has_value());
  const auto nak_at = std::chrono::steady_clock::now();
  REQUIRE(first->Nak(*nak, 0ms).has_value());
  auto redelivered = FetchPayload(*second, refused, 10s);
  REQUIRE(redelivered.has_value());
  CHECK(std::chrono::steady_clock::now() - nak_at < ack_wait);
  CHECK(redelivered->delivery_count() == 2);
  // Term: never again, not even after the ack wait.
  REQUIRE(second->Term(*redelivered).has_value());
  CHECK_FALSE(FetchPayload(*first, refused, ack_wait + 500ms).has_value());
}

// The hub's turns wait in Fetch while nothing comes; an alert that comes then must be handed out at once.
// Before: a fetch whose first wait ran out asked for one message, and once it had it, topped the batch up
// with a no-wait request that NATS held for its whole expiry when nothing more came.
TEST_CASE(
    "an acknowledgement, a nak or a term without confirmation is one message out and no reply waited for, "
    "Ack waits for the server's") {
  auto hub = ConnectedHub("hub-ack-traffic", 2s);
  Drain(*hub);
  TestPublisher publisher;
  for (int i = 0; i < 4; ++i)
    REQUIRE(publisher.Publish("ehealth.v1.0301.gw-it-01.event.device", UniquePayload("traffic")).has_value());
  // One message a fetch: a request for one is done when it is answered, so nothing else comes in later.
  const auto one = [&] {
    auto batch = hub->Fetch(1, 5s);
    REQUIRE(batch.has_value());
    REQUIRE(batch->size() == 1);
    return std::move(batch->front());
  };
  const auto traffic = [&] {
    auto counted = hub->ClientTraffic();
    REQUIRE(counted.has_value());
    return *counted;
  };
  using Step = std::function<ehg::Result<void>(const Delivery&)>;
  const std::vector<std::pair<const char*, Step>> unconfirmed{
      {"ack", [&](const Delivery& d) { return hub->AckWithoutConfirmation(d); }},
      {"nak", [&](const Delivery& d) { return hub->Nak(d, 60s); }},
      {"term", [&](const Delivery& d) { return hub->Term(d); }},
  };
  for (const auto& entry : unconfirmed) {
    const char* name = entry.first;  // clang 14 cannot capture a structured binding
    CAPTURE(name);
    const Delivery delivery = one();
    const auto before = traffic();
    REQUIRE(entry.second(delivery).has_value());
    REQUIRE(hub->Flush().has_value());  // a PING's PONG: not a message
    const auto after = traffic();
    CHECK(after.messages_out == before.messages_out + 1);
    CHECK(after.messages_in == before.messages_in);
  }
  const Delivery confirmed = one();
  const auto before = traffic();
  REQUIRE(hub->Ack(confirmed).has_value());
  const auto after = traffic();
  CHECK(after.messages_out == before.messages_out + 1);
  CHECK(after.messages_in == before.messages_in + 1);  // the server's reply
}

TEST_CASE("a fetch that is waiting hands out a message the moment it comes, not at the fetch's expiry") {
  auto hub = ConnectedHub("hub-waiting");
  Drain(*hub);
  TestPublisher publisher;
  const std::string payload = UniquePayload("waiting");
  constexpr auto kExpiry = 3s;
  std::atomic<bool> published{false};
  std::chrono::steady_clock::time_point published_at{};
  // Published after the first fetch's wait ran out, while the hub's loop waits in its next one.
  std::thread later([&] {
    std::this_thread::sleep_for(kExpiry + 1s);
    published_at = std::chrono::steady_clock::now();
    published = publisher.Publish("ehealth.v1.0301.gw-it-01.event.alert", payload).has_value();
  });
  std::optional<Delivery> found;
  std::chrono::steady_clock::time_point handed_at{};
  const auto deadline = std::chrono::steady_clock::now() + 4 * kExpiry;
  while (!found && std::chrono::steady_clock::now() < deadline) {  // as the hub's turns do
    auto batch = hub->Fetch(50, kExpiry);
    REQUIRE(batch.has_value());
    for (Delivery& delivery : *batch) {
      handed_at = std::chrono::steady_clock::now();
      if (delivery.payload() == payload) found = std::move(delivery);
    }
  }
  later.join();
  REQUIRE(published);
  REQUIRE(found.has_value());
  // Handed out well within the expiry of the fetch that was waiting: a held request would add all 3 s.
  const auto latency = handed_at - published_at;
  MESSAGE("handed out " << std::chrono::duration_cast<std::chrono::milliseconds>(latency).count()
                        << " ms after the publish");
  CHECK(latency < kExpiry / 2);
  REQUIRE(hub->Ack(*found).has_value());
}

TEST_CASE(
    "a node killed with -9 while publishing: the R3 stream keeps accepting, nothing it acknowledged is lost, "
    "the node catches up") {
  TestCluster& cluster = TestCluster::Get();
  auto hub = ConnectedHub("hub-chaos");
  const auto info = hub->StreamInfo();
  REQUIRE(info.has_value());
  REQUIRE(info->leader.size() == 2);
  const int leader = info->leader[1] - '0';  // n1..n3: the hardest node to lose is the stream's leader
  REQUIRE((leader >= 1 && leader <= 3));

  // Publishes until told to stop, each message retried until the stream acknowledges it; so the
  // writes span the kill whatever the machine's speed.
  TestPublisher publisher;
  const std::string prefix = UniquePayload("chaos") + "-";
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::atomic<int> retries{0};
  std::atomic<long long> longest_gap_ms{0};
  std::thread publishing([&] {
    auto last = std::chrono::steady_clock::now();
    const auto deadline = last + 60s;
    for (int i = 0; !stop && std::chrono::steady_clock::now() < deadline; ++i) {
      const std::string payload = prefix + std::to_string(i);
      // The same message id on every try: the duplicate window drops a copy stored by a try whose
      // acknowledgement was lost.
      while (!publisher.Publish("ehealth.v1.0301.gw-it-01.event.observation", payload, payload)) {
        ++retries;
        if (std::chrono::steady_clock::now() > deadline) return;
        std::this_thread::sleep_for(20ms);  // a publisher's back-off, not a wait for a condition
      }
      const auto now = std::chrono::steady_clock::now();
      longest_gap_ms = std::max<long long>(
          longest_gap_ms, std::chrono::duration_cast<std::chrono::milliseconds>(now - last).count());
      last = now;
      ++acknowledged;
    }
  });
  REQUIRE(ehg::test::WaitUntil([&] { return acknowledged >= 50; }, 20s));
  cluster.Kill(leader);
  const int at_kill = acknowledged;
  // The stream takes writes again once a new leader is elected.
  const bool accepts_again = ehg::test::WaitUntil([&] { return acknowledged >= at_kill + 20; }, 30s);
  stop = true;
  publishing.join();
  REQUIRE(accepts_again);
  const int total = acknowledged;
  MESSAGE("killed n" << leader << " (the stream leader) after " << at_kill << " acks; " << retries.load()
                     << " publish retries, longest gap between acks " << longest_gap_ms.load() << " ms, "
                     << total << " acknowledged");

  const auto restarted_at = std::chrono::steady_clock::now();
  cluster.Restart(leader);
  // Caught up: every replica current again.
  std::string last_state = "no answer";
  const bool caught_up = ehg::test::WaitUntil(
      [&] {
        const auto state = hub->StreamInfo();
        if (!state) {
          last_state = state.error().message;
          return false;
        }
        last_state =
            "leader " + state->leader + ", current followers " + std::to_string(state->current_followers);
        return !state->leader.empty() && state->current_followers == 2;
      },
      30s);
  if (!caught_up) {
    last_state += "; the hub is connected to " + hub->connected_server() + " of";
    for (const std::string& url : cluster.Urls())
      last_state += " " + url;
    const auto flushed = hub->Publish("ehealth.v1.0301.gw-it-01.cmd", "ping");
    last_state += flushed ? "; its flush works" : "; its flush: " + flushed.error().message;
    auto fresh = Engine::Connect(cluster.HubOptions("hub-chaos"));
    if (fresh && (*fresh)->WaitConnected(5s)) {
      const auto state = (*fresh)->StreamInfo();
      last_state += state ? "; a new connection sees leader " + state->leader + ", current followers " +
                                std::to_string(state->current_followers)
                          : "; a new connection: " + state.error().message;
    }
    const std::string log = cluster.Log(leader);
    FAIL("the restarted node did not catch up: " << last_state << "\nthe end of its log:\n"
                                                 << log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  }
  MESSAGE("restarted node current after "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted_at).count() << " s");

  // Every acknowledged message is there, once.
  std::map<std::string, int> copies;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (copies.size() < static_cast<std::size_t>(total) && std::chrono::steady_clock::now() < deadline) {
    auto batch = hub->Fetch(100, 500ms);
    if (!batch) continue;  // the hub's node may be the restarted one, reconnecting
    for (const Delivery& delivery : *batch) {
      if (delivery.payload().starts_with(prefix) && delivery.delivery_count() == 1)
        ++copies[delivery.payload()];
      (void)hub->Ack(delivery);  // a lost ack only means it comes again
    }
  }
  CHECK(copies.size() == static_cast<std::size_t>(total));
  for (const auto& [payload, count] : copies) {
    const auto& delivered = payload;  // clang 14 cannot capture a structured binding
    CHECK_MESSAGE(count == 1, delivered);
  }

  // The restarted node takes MQTT again.
  const std::string after = UniquePayload("after-restart");
  REQUIRE(
      cluster.MqttPublish(TestCluster::kGateway, kGatewayBase + "/event/alert", after, leader).exit_code ==
      0);
  auto delivery = FetchPayload(*hub, after, 15s);
  REQUIRE(delivery.has_value());
  REQUIRE(hub->Ack(*delivery).has_value());
}

TEST_CASE(
    "a core publish on a gateway's cmd subject reaches its MQTT subscriber at QoS 0 while online, and "
    "nothing keeps it while the subscriber is away") {
  TestCluster& cluster = TestCluster::Get();
  auto hub = ConnectedHub("hub-commands");
  const auto subject = ehg::engine::CommandSubject(TestCluster::kTenant, TestCluster::kGateway);
  REQUIRE(subject.has_value());
  const std::string topic = kGatewayBase + "/cmd";
  const std::string client = "ehg-0301-gw-it-01";
  const auto before = hub->StreamInfo();
  REQUIRE(before.has_value());
  {
    ehg::test::Process online = cluster.MqttSubscribe(TestCluster::kGateway, client, topic, 1, 3);
    REQUIRE(online.WaitForOutput("Subscribed (mid: 1): 1", 15s));
    const std::string receipt = UniquePayload("receipt");
    REQUIRE(hub->Publish(*subject, receipt).has_value());
    REQUIRE(online.Wait(10s).has_value());
    CHECK(Contains(online.Output(), topic + " " + receipt));
    // A core NATS message reaches an MQTT QoS 1 subscription at QoS 0 (mqttDeliverMsgCbQos0).
    CHECK(Contains(online.Output(), "received PUBLISH (d0, q0, r0, m0, '" + topic + "'"));
  }
  // The hub's commands are not events: the stream did not take the one above.
  TestPublisher publisher;
  const auto sequence = publisher.Publish("ehealth.v1.0301.gw-it-01.event.device", UniquePayload("next"));
  REQUIRE(sequence.has_value());
  CHECK(*sequence == before->last_sequence + 1);

  // Offline (the session persists: clean session off): a core publish has no receiver and is gone. The
  // gateway comes back subscribed at QoS 0, as gateways on the engine are (broker.command_qos), and
  // gets what is published from then on. That loss is why the hub sends a command again until its
  // result comes (hub::ResendCommands, tested in hub/ingest_test against the real gateway).
  const std::string lost = UniquePayload("core-while-offline");
  REQUIRE(hub->Publish(*subject, lost).has_value());
  ehg::test::Process back = cluster.MqttSubscribe(TestCluster::kGateway, client, topic, 1, 1, 0);
  REQUIRE(back.WaitForOutput("Subscribed (mid: 1): 0", 15s));
  const std::string marker = UniquePayload("online-again");
  REQUIRE(hub->Publish(*subject, marker).has_value());
  REQUIRE(back.Wait(10s).has_value());
  const std::string output = back.Output();
  CHECK(Contains(output, topic + " " + marker));
  CHECK_FALSE(Contains(output, lost));
}
