// Drain of an outbox backlog to a local mosquitto over mutual TLS, beside a bare paho-mqtt-cpp publisher
// sending the same number of messages of the same size with the same in-flight window, in the same run.
// The bare publisher has no store, no outbox reads, no deletes and no envelope: it is the limit of our
// uplink path. The gateway seals every message end to end as in production (ECDH-ES + A256GCM JWE,
// signed with ES256); the bare publisher sends payloads of the sealed size.
//
//   build/release/tests/bench/uplink_drain_bench [--events N] [--window W] [--rounds R] [--plaintext]
//
// Prints a Markdown table (docs/benchmarks.md keeps the last one).
#include <mqtt/async_client.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/log.hpp"
#include "gateway/crypto/keys.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/pipeline/pipeline.hpp"
#include "gateway/store/store.hpp"
#include "gateway/transport/paho_transport.hpp"
#include "gateway/uplink/messages.hpp"
#include "gateway/uplink/uplink.hpp"
#include "tests/bench/bench_support.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ehg::test::TestBroker;
using ehg::test::TestPki;

struct Settings {
  std::size_t events = 100'000;
  std::size_t window = 32;
  int rounds = 2;
  bool plaintext = false;  // the development setting: bodies as plain JSON
};

// The production protection with throw-away keys: the gateway's signing key, the care system's
// encryption key.
std::shared_ptr<const ehg::crypto::PayloadProtection> Protection(const Settings& settings) {
  if (settings.plaintext) return std::make_shared<ehg::crypto::PlaintextForDevelopment>();
  return std::make_shared<ehg::crypto::JoseProtection>(
      ehg::crypto::EcKey::Generate().value(), ehg::crypto::EcKey::Generate().value(), ehg::crypto::KeySet{},
      ehg::crypto::CommandPolicy{"gw-it-01", "0301"});
}

// An observation body of realistic size (what the pipeline writes for one SpO2 reading).
std::string Body(const ehg::core::EventId& id, std::size_t n) {
  return R"({"schema":"ehealth-gateway/observation/v0","event_id":")" + id.ToString() +
         R"(","gateway":"gw-it-01","subject":"r-bench-0001","device":"oximeter","metric":"spo2","value":)" +
         std::to_string(90 + n % 9) +
         R"(,"unit":"%","effective":"2026-11-26T15:38:05.504Z","received":"2026-11-26T15:38:05.510Z",)"
         R"("time_uncertain":false,"flags":[],"sequence":)" +
         std::to_string(n) + "}";
}

ehg::transport::PahoOptions TransportOptions(const TestBroker& broker, const std::string& client_id) {
  const TestPki& pki = TestPki::Get();
  ehg::transport::PahoOptions options;
  options.uri = broker.Uri();
  options.client_id = client_id;
  options.ca_file = pki.File("ca.crt");
  options.cert_file = pki.File("gateway.crt");
  options.key_file = pki.File("gateway.key");
  options.will_topic = "ehealth/v1/0301/gw-it-01/status";
  options.will_payload = R"({"state":"offline"})";
  return options;
}

struct Result {
  double seconds = 0;
  std::size_t messages = 0;
  std::size_t events = 0;
  std::size_t message_bytes = 0;
};

// The gateway's path: rows in SQLite, read by the uplink, published, deleted through the pipeline.
Result DrainGateway(const TestBroker& broker, const Settings& settings, std::size_t batch_max) {
  ehg::test::TempDir dir;
  ehg::core::SystemClock clock(true);
  ehg::core::EventIdGenerator ids(clock);
  auto store = std::move(ehg::store::Store::Open({dir / "gateway.db", 1ull << 32}, clock).value());
  std::size_t body_bytes = 0;
  for (std::size_t written = 0; written < settings.events;) {
    ehg::store::WriteBatch batch;
    for (std::size_t i = 0; i < 5000 && written < settings.events; ++i, ++written) {
      ehg::core::Event event{
          ids.Next(), ehg::core::EventKind::kObservation, ehg::core::Priority::kBulk, clock.Now(), {}};
      event.body = Body(event.id, written);
      body_bytes = event.body.size();
      batch.events.push_back(std::move(event));
    }
    if (!store->Write(batch)) throw std::runtime_error("filling the outbox failed");
  }
  ehg::pipeline::PipelineOptions pipeline_options;
  pipeline_options.gateway_id = "gw-it-01";
  pipeline_options.resident_pseudonym = "r-bench-0001";
  ehg::pipeline::Pipeline pipeline(*store, clock, ids, pipeline_options, {});
  ehg::uplink::ReaderOutbox outbox(std::move(ehg::store::OutboxReader::Open(dir / "gateway.db").value()),
                                   pipeline);
  ehg::uplink::UplinkOptions options;
  options.protection = Protection(settings);
  options.tenant = "0301";
  options.gateway_id = "gw-it-01";
  options.version = "bench";
  options.in_flight_window = settings.window;
  options.observation_batch_max = batch_max;
  options.observation_batch_window = std::chrono::milliseconds(0);
  // The gateway-to-broker path, as the bare publisher beside it: nothing here sends receipts, so rows
  // leave at the broker's PUBACK (the care system's receipts are the hub benchmark's part).
  options.receipt_scope = ehg::uplink::ReceiptScope::kAlertsOnly;
  const auto transport = TransportOptions(broker, "bench-gateway");
  ehg::uplink::Uplink uplink(
      options,
      [&](ehg::transport::TransportEvents events) {
        return ehg::transport::MakePahoTransport(transport, std::move(events));
      },
      outbox, clock, ids);
  if (!pipeline.Start()) throw std::runtime_error("pipeline did not start");
  const auto started = Clock::now();
  uplink.Start();
  while (pipeline.outbox().rows > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (Clock::now() - started > std::chrono::minutes(5)) throw std::runtime_error("drain did not finish");
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const std::size_t messages = uplink.counters().messages_acknowledged.load() - 1;  // minus the birth message
  uplink.Stop();
  pipeline.Stop();
  const std::string one_body(body_bytes, 'x');
  std::vector<const std::string*> bodies(batch_max, &one_body);
  const std::size_t message_bytes =
      Protection(settings)->Seal(ehg::uplink::ObservationBatchBody("gw-it-01", bodies)).value().size();
  return {seconds, messages, settings.events, message_bytes};
}

// The limit: paho publishing the same number of equal-size QoS 1 messages with the same window,
// publishing again as soon as an acknowledgement frees a slot. (Refilling only at half a window was
// tried and is pathological with paho 1.3.12: about 550 messages/s.)
Result BarePaho(const TestBroker& broker, const Settings& settings, std::size_t payload_bytes) {
  const TestPki& pki = TestPki::Get();
  mqtt::async_client client(broker.Uri(), "bench-bare", mqtt::create_options(MQTTVERSION_5), nullptr);
  // Built in place, as the gateway does (paho-mqtt-cpp 1.2 copies may point into the original).
  mqtt::connect_options options;
  options.set_mqtt_version(MQTTVERSION_5);
  options.set_clean_start(true);
  mqtt::ssl_options ssl;
  ssl.set_trust_store(pki.File("ca.crt").string());
  ssl.set_key_store(pki.File("gateway.crt").string());
  ssl.set_private_key(pki.File("gateway.key").string());
  ssl.set_enable_server_cert_auth(true);
  ssl.set_verify(true);
  options.set_ssl(std::move(ssl));
  client.connect(options)->wait();
  const std::string payload(payload_bytes, 'x');
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t in_flight = 0;
  std::size_t acknowledged = 0;
  struct Listener final : mqtt::iaction_listener {
    std::function<void()> done;
    void on_success(const mqtt::token&) override { done(); }
    void on_failure(const mqtt::token&) override { done(); }
  } listener;
  listener.done = [&] {
    {
      std::lock_guard lock(mutex);
      --in_flight;
      ++acknowledged;
    }
    changed.notify_one();
  };
  const auto started = Clock::now();
  for (std::size_t i = 0; i < settings.events; ++i) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return in_flight < settings.window; });
      ++in_flight;
    }
    client.publish(mqtt::make_message("ehealth/v1/0301/gw-it-01/event/observation", payload, 1, false),
                   nullptr, listener);
  }
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return acknowledged == settings.events; });
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  client.disconnect()->wait();
  return {seconds, settings.events, settings.events, payload_bytes};
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--plaintext") {
      settings.plaintext = true;
      continue;
    }
    if (i + 1 >= argc) break;
    const std::string flag = argv[i++];
    const auto value = static_cast<std::size_t>(std::stoull(argv[i]));
    if (flag == "--events") settings.events = value;
    if (flag == "--window") settings.window = value;
    if (flag == "--rounds") settings.rounds = static_cast<int>(value);
  }
  ehg::core::SetLogLevel(ehg::core::LogLevel::kError);
  TestBroker broker({"broker", false});
  broker.Start();

  std::vector<Result> bare, single, batched;
  for (int round = 0; round < settings.rounds; ++round) {
    const Result gateway_single = DrainGateway(broker, settings, 1);
    bare.push_back(BarePaho(broker, settings, gateway_single.message_bytes));
    single.push_back(gateway_single);
    batched.push_back(DrainGateway(broker, settings, 50));
  }
  const auto best = [](const std::vector<Result>& results) {
    return *std::min_element(results.begin(), results.end(),
                             [](const Result& a, const Result& b) { return a.seconds < b.seconds; });
  };
  const Result b = best(bare), s = best(single), m = best(batched);
  const double bare_rate = static_cast<double>(b.messages) / b.seconds;
  const auto row = [&](const char* name, const Result& r) {
    const double rate = static_cast<double>(r.messages) / r.seconds;
    std::printf("| %s | %zu | %zu | %zu | %.2f | %.0f | %.0f | %.2f |\n", name, r.events, r.messages,
                r.message_bytes, r.seconds, rate, static_cast<double>(r.events) / r.seconds,
                static_cast<double>(r.events) / r.seconds / bare_rate);
  };
  std::printf(
      "Uplink drain: %zu events, QoS 1, mutual TLS to mosquitto on 127.0.0.1, in-flight window %zu, %s, best "
      "of %d rounds\n",
      settings.events, settings.window,
      settings.plaintext ? "plain JSON bodies (development setting)" : "every message sealed (JWE + JWS)",
      settings.rounds);
  std::printf("Machine: %s\n\n", ehg::bench::Machine().c_str());
  std::printf(
      "| path | events | messages | bytes/message | seconds | messages/s | events/s | events/s vs bare paho "
      "|\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  row("bare paho-mqtt-cpp publisher (no store)", b);
  row("gateway outbox drain, 1 observation/message", s);
  row("gateway outbox drain, 50 observations/message", m);
  return 0;
}
