// The hub's ingest (issue 24) beside its two limits, in one run, on the real three-node engine
// (scripts/cluster, JetStream R3) and PostgreSQL 15 from the test fixtures:
//
//   A   JetStream consume alone: a durable consumer that fetches the backlog and acknowledges every
//       message as the hub does (Engine::Ack, which waits for the server), doing nothing else;
//   A'  the same with nats.c's asynchronous acknowledgement (natsMsg_Ack, no wait): what the stream
//       gives when acknowledgements are not one round trip each;
//   B   PostgreSQL insert alone: ledger::Ledger::Store of the same rows (ReadMessage of the bodies opened
//       beforehand; no engine, no crypto) in the hub's batch size, into a fresh database;
//   hub ehg::hub::Ingest, one instance, and two instances on two threads sharing one durable consumer
//       (each with its own Engine and Ledger), into a fresh database each: opened, verified, stored,
//       receipts published, acknowledged.
//
// The backlog is preloaded once with the test publisher (JetStream-acknowledged): sealed messages of
// several enrolled gateways, mostly observation Bundles of 50 readings written by the gateway's own code,
// every 20th an alert. Each configuration reads the whole backlog through a durable consumer of its own.
//
//   build/release/tests/bench/hub_ingest_bench [--messages N] [--gateways G] [--readings R] [--batch B]
//
// Prints a Markdown table (docs/benchmarks.md keeps the last one). Exits 1 when a configuration did not
// read or store every event: the smoke test checks counts, never times.
#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "care/engine/engine.hpp"
#include "care/hub/ingest.hpp"
#include "care/ledger/ledger.hpp"
#include "care/ledger/rows.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/log.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/crypto/keys.hpp"
#include "tests/bench/bench_support.hpp"
#include "tests/support/engine/test_cluster.hpp"
#include "tests/support/postgres/postgres.hpp"
#include "tests/unit/ledger/bodies.hpp"

namespace {

using SteadyClock = std::chrono::steady_clock;
using ehg::test::TestCluster;
using ehg::test::TestPostgres;
namespace bodies = ehg::ledger_test;

struct HubBenchSettings {
  std::size_t messages = 4000;
  std::size_t gateways = 4;
  std::size_t readings = 50;  // per observation Bundle (the gateway's uplink.observation_batch_max)
  int batch = 200;            // messages per turn / per Store (IngestOptions' default)
};

// A line of /proc/<pid>/status as a number ("PPid").
long StatusField(const std::filesystem::path& process, const std::string& key) {
  std::ifstream file(process / "status");
  for (std::string line; std::getline(file, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return 0;
}

// CPU seconds of the fixtures' processes: the nodes of this run's cluster (their command line names its
// directory; other test processes on the machine may run clusters of their own), and this process's
// PostgreSQL server and its backends (its children and grandchildren). Backends that ended before the
// snapshot are not counted: each configuration keeps its connections until after its last snapshot.
struct FixtureCpu {
  double nats = 0, postgres = 0;
};
FixtureCpu CpuOfFixtures() {
  FixtureCpu cpu;
  const std::string cluster = TestCluster::Get().directory().string();
  const long self = static_cast<long>(::getpid());
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::ifstream comm(entry.path() / "comm");
    std::string command;
    std::getline(comm, command);
    const auto id = static_cast<pid_t>(std::stol(pid));
    if (command == "nats-server") {
      std::ifstream file(entry.path() / "cmdline");
      const std::string arguments((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      if (arguments.find(cluster) != std::string::npos) cpu.nats += ehg::bench::CpuSeconds(id);
    } else if (command == "postgres") {
      const long parent = StatusField(entry.path(), "PPid");
      if (parent == self ||
          StatusField(std::filesystem::path("/proc") / std::to_string(parent), "PPid") == self)
        cpu.postgres += ehg::bench::CpuSeconds(id);
    }
  }
  return cpu;
}

struct CpuSnapshot {
  double bench = 0, nats = 0, postgres = 0;
  static CpuSnapshot Now() {
    const FixtureCpu fixtures = CpuOfFixtures();
    return {ehg::bench::CpuSeconds(::getpid()), fixtures.nats, fixtures.postgres};
  }
  CpuSnapshot operator-(const CpuSnapshot& earlier) const {
    return {bench - earlier.bench, nats - earlier.nats, postgres - earlier.postgres};
  }
};

struct RunResult {
  std::string name;
  std::size_t messages = 0;
  std::size_t events = 0;
  double seconds = 0;
  CpuSnapshot cpu;
  bool complete = false;  // every message read / every event stored, as expected
  std::string note;
};

// The gateways' keys and the care system's, and the backlog as published.
struct Backlog {
  ehg::crypto::EcKey care_encryption = *ehg::crypto::EcKey::Generate();
  ehg::crypto::EcKey care_commands = *ehg::crypto::EcKey::Generate();
  std::vector<std::string> gateway_names;
  std::vector<ehg::crypto::EcKey> gateway_keys;
  struct Item {
    std::size_t gateway = 0;
    ehg::ledger::Kind kind = ehg::ledger::Kind::kObservation;
    std::string payload;  // sealed
    std::size_t events = 0;
  };
  std::vector<Item> items;
  std::size_t events = 0;
  std::size_t payload_bytes = 0;
};

std::string EventSubject(const Backlog& backlog, const Backlog::Item& item) {
  return std::string("ehealth.v1.") + bodies::kTenant + "." + backlog.gateway_names[item.gateway] +
         ".event." + (item.kind == ehg::ledger::Kind::kAlert ? "alert" : "observation");
}

Backlog MakeBacklog(const HubBenchSettings& settings) {
  Backlog backlog;
  for (std::size_t g = 0; g < settings.gateways; ++g) {
    backlog.gateway_names.push_back("gw-bench-" + std::to_string(g + 1));
    backlog.gateway_keys.push_back(*ehg::crypto::EcKey::Generate());
  }
  std::uint64_t n = 1;
  for (std::size_t m = 0; m < settings.messages; ++m) {
    Backlog::Item item;
    item.gateway = m % settings.gateways;
    const std::string& gateway = backlog.gateway_names[item.gateway];
    std::string body;
    if (m % 20 == 19) {
      item.kind = ehg::ledger::Kind::kAlert;
      ehg::alerts::Alert alert = bodies::SpO2Alert();
      alert.alert_id = bodies::Id(1'000'000'000 + m).ToString();
      body = bodies::AlertBody(n++, ehg::alerts::ChangeKind::kRaised, alert, gateway);
      item.events = 1;
    } else {
      std::vector<std::string> observations;
      for (std::size_t r = 0; r < settings.readings; ++r) {
        const auto at = bodies::kT0 + std::chrono::seconds(static_cast<long>(m * settings.readings + r));
        const bool spo2 = r % 2 == 0;
        observations.push_back(bodies::ObservationBody(
            n++,
            bodies::Reading(spo2 ? "spo2" : "pulse_rate", spo2 ? 90.0 + static_cast<double>(r % 9) : 72.0,
                            spo2 ? "%" : "/min", at),
            gateway));
      }
      body = bodies::Bundle(observations);
      item.events = settings.readings;
    }
    item.payload =
        ehg::crypto::SealEnvelope(body, backlog.gateway_keys[item.gateway], backlog.care_encryption).value();
    backlog.events += item.events;
    backlog.payload_bytes += item.payload.size();
    backlog.items.push_back(std::move(item));
  }
  return backlog;
}

std::unique_ptr<ehg::engine::Engine> ConnectEngine(const std::string& durable) {
  auto options = TestCluster::Get().HubOptions(durable);
  options.stream.max_bytes = std::int64_t{4} * 1024 * 1024 * 1024;  // the backlog, whatever its size
  auto engine = ehg::engine::Engine::Connect(options);
  if (!engine) throw std::runtime_error("engine: " + engine.error().message);
  if (!(*engine)->WaitConnected(std::chrono::seconds(10))) throw std::runtime_error("engine: not connected");
  if (auto stream = (*engine)->EnsureStream(); !stream) throw std::runtime_error(stream.error().message);
  if (auto consumer = (*engine)->EnsureConsumer(); !consumer)
    throw std::runtime_error(consumer.error().message);
  return std::move(*engine);
}

std::unique_ptr<ehg::ledger::Ledger> OpenLedger(const std::string& database, const Backlog& backlog,
                                                ehg::core::Clock& clock) {
  auto ledger = ehg::ledger::Ledger::Open({database});
  if (!ledger) throw std::runtime_error("ledger: " + ledger.error().message);
  for (std::size_t g = 0; g < backlog.gateway_names.size(); ++g) {
    const ehg::ledger::Enrolment enrolment{bodies::kTenant,
                                           backlog.gateway_names[g],
                                           {backlog.gateway_keys[g].id(), backlog.gateway_keys[g].Jwk(false)},
                                           std::string(64, 'a')};
    (void)(*ledger)->Enrol(enrolment, "bench", clock.Now());  // the second Ledger on a database: enrolled
  }
  return std::move(*ledger);
}

long CountEvents(const std::string& database) {
  pqxx::connection connection(database);
  pqxx::work work(connection);
  return work.exec1("SELECT count(*) FROM events")[0].as<long>();
}

void Preload(const Backlog& backlog) {
  // The stream exists with room for the backlog before the first message (TestCluster's default is
  // 256 MiB, and the stream refuses new messages when full).
  (void)ConnectEngine("hub-bench-setup");
  ehg::test::TestPublisher publisher;
  for (const Backlog::Item& item : backlog.items) {
    if (!publisher.Publish(EventSubject(backlog, item), item.payload))
      throw std::runtime_error("preload: the stream did not acknowledge a message");
  }
}

std::size_t EventsOfSubject(const std::string& subject, std::size_t readings) {
  return subject.ends_with(".alert") ? 1 : readings;
}

// A: fetch and Engine::Ack (waits for the server), nothing else. Also the time in Fetch and in Ack.
RunResult ConsumeAlone(const Backlog& backlog, const HubBenchSettings& settings, double& fetch_seconds,
                       double& ack_seconds) {
  auto engine = ConnectEngine("hub-bench-consume");
  RunResult result;
  result.name = "A: JetStream consume alone (fetch, Engine::Ack waits for the server)";
  const CpuSnapshot before = CpuSnapshot::Now();
  const auto started = SteadyClock::now();
  while (result.messages < backlog.items.size()) {
    const auto fetch_start = SteadyClock::now();
    auto fetched = engine->Fetch(settings.batch, std::chrono::milliseconds(2000));
    fetch_seconds += ehg::bench::Seconds(SteadyClock::now() - fetch_start);
    if (!fetched || fetched->empty()) {
      result.note = fetched ? "the backlog ended early" : fetched.error().message;
      break;
    }
    const auto ack_start = SteadyClock::now();
    for (const auto& delivery : *fetched) {
      if (!engine->Ack(delivery)) result.note = "an acknowledgement failed";
      result.events += EventsOfSubject(delivery.subject(), settings.readings);
    }
    ack_seconds += ehg::bench::Seconds(SteadyClock::now() - ack_start);
    result.messages += fetched->size();
  }
  result.seconds = ehg::bench::Seconds(SteadyClock::now() - started);
  result.cpu = CpuSnapshot::Now() - before;
  result.complete = result.messages == backlog.items.size() && result.events == backlog.events;
  return result;
}

// A': the same consumer with nats.c directly and asynchronous acknowledgements (one flush at the end).
RunResult ConsumeAsyncAcks(const Backlog& backlog, const HubBenchSettings& settings) {
  const std::string durable = "hub-bench-consume-async";
  auto engine = ConnectEngine(durable);  // creates the durable consumer as the hub's settings want it
  RunResult result;
  result.name = "A': JetStream consume alone, asynchronous acks (natsMsg_Ack)";
  const TestCluster& cluster = TestCluster::Get();
  std::vector<std::string> urls = cluster.Urls();
  std::vector<const char*> servers;
  for (const std::string& url : urls)
    servers.push_back(url.c_str());
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* jetstream = nullptr;
  natsSubscription* subscription = nullptr;
  natsStatus status = natsOptions_Create(&options);
  if (status == NATS_OK)
    status = natsOptions_SetServers(options, servers.data(), static_cast<int>(servers.size()));
  if (status == NATS_OK) status = natsOptions_SetSecure(options, true);
  if (status == NATS_OK)
    status = natsOptions_LoadCATrustedCertificates(options, cluster.Pki("ca.crt").c_str());
  if (status == NATS_OK)
    status = natsOptions_LoadCertificatesChain(options, cluster.Pki("hub.crt").c_str(),
                                               cluster.Pki("hub.key").c_str());
  if (status == NATS_OK) status = natsConnection_Connect(&connection, options);
  if (status == NATS_OK) status = natsConnection_JetStream(&jetstream, connection, nullptr);
  if (status == NATS_OK) {
    jsSubOptions sub_options;
    jsSubOptions_Init(&sub_options);
    sub_options.Stream = "EHEALTH_EVENTS";
    sub_options.Consumer = durable.c_str();
    jsErrCode js_error = static_cast<jsErrCode>(0);
    status = js_PullSubscribe(&subscription, jetstream, nullptr, durable.c_str(), nullptr, &sub_options,
                              &js_error);
  }
  if (status != NATS_OK) {
    result.note = std::string("nats.c: ") + natsStatus_GetText(status);
  } else {
    const CpuSnapshot before = CpuSnapshot::Now();
    const auto started = SteadyClock::now();
    while (result.messages < backlog.items.size()) {
      natsMsgList list{nullptr, 0};
      jsErrCode js_error = static_cast<jsErrCode>(0);
      status = natsSubscription_Fetch(&list, subscription, settings.batch, 2000, &js_error);
      if (list.Count == 0) {
        natsMsgList_Destroy(&list);
        result.note = "the backlog ended early";
        break;
      }
      for (int i = 0; i < list.Count; ++i) {
        if (natsMsg_Ack(list.Msgs[i], nullptr) != NATS_OK) result.note = "an acknowledgement failed";
        result.events += EventsOfSubject(natsMsg_GetSubject(list.Msgs[i]), settings.readings);
      }
      result.messages += static_cast<std::size_t>(list.Count);
      natsMsgList_Destroy(&list);
    }
    // The acknowledgements are on their way; a flush round trip says the server has them all.
    (void)natsConnection_FlushTimeout(connection, 10000);
    result.seconds = ehg::bench::Seconds(SteadyClock::now() - started);
    result.cpu = CpuSnapshot::Now() - before;
  }
  if (subscription != nullptr) natsSubscription_Destroy(subscription);
  if (jetstream != nullptr) jsCtx_Destroy(jetstream);
  if (connection != nullptr) natsConnection_Destroy(connection);
  if (options != nullptr) natsOptions_Destroy(options);
  result.complete = result.messages == backlog.items.size() && result.events == backlog.events;
  return result;
}

// B: the rows alone. Opening and reading the bodies happens first and is timed on its own (the split).
RunResult StoreAlone(const Backlog& backlog, const HubBenchSettings& settings, double& open_seconds,
                     double& read_seconds) {
  ehg::core::SystemClock clock{true};
  ehg::crypto::KeySet decryption;
  decryption.Add(backlog.care_encryption);
  std::vector<ehg::crypto::KeySet> verification(backlog.gateway_names.size());
  for (std::size_t g = 0; g < backlog.gateway_keys.size(); ++g)
    verification[g].Add(backlog.gateway_keys[g]);
  std::vector<ehg::ledger::Message> messages;
  messages.reserve(backlog.items.size());
  for (const Backlog::Item& item : backlog.items) {
    const auto open_start = SteadyClock::now();
    auto opened = ehg::crypto::OpenEnvelope(item.payload, decryption, verification[item.gateway]);
    const auto read_start = SteadyClock::now();
    open_seconds += ehg::bench::Seconds(read_start - open_start);
    if (!opened) throw std::runtime_error("open: " + opened.error().message);
    auto message = ehg::ledger::ReadMessage(bodies::kTenant, backlog.gateway_names[item.gateway], item.kind,
                                            opened->body);
    read_seconds += ehg::bench::Seconds(SteadyClock::now() - read_start);
    if (!message) throw std::runtime_error("read: " + message.error().message);
    messages.push_back(std::move(*message));
  }

  const std::string database = TestPostgres::Get().FreshDatabase();
  auto ledger = OpenLedger(database, backlog, clock);
  RunResult result;
  result.name = "B: PostgreSQL insert alone (Ledger::Store of the read rows)";
  const CpuSnapshot before = CpuSnapshot::Now();
  const auto started = SteadyClock::now();
  const auto batch = static_cast<std::size_t>(settings.batch);
  for (std::size_t first = 0; first < messages.size(); first += batch) {
    const std::vector<ehg::ledger::Message> part(
        messages.begin() + static_cast<std::ptrdiff_t>(first),
        messages.begin() + static_cast<std::ptrdiff_t>(std::min(messages.size(), first + batch)));
    auto stored = ledger->Store(part);
    if (!stored) {
      result.note = stored.error().message;
      break;
    }
    result.messages += part.size();
    for (const auto& outcome : *stored)
      for (const auto& event : outcome.events)
        if (event.outcome == ehg::ledger::Outcome::kNew) ++result.events;
  }
  result.seconds = ehg::bench::Seconds(SteadyClock::now() - started);
  result.cpu = CpuSnapshot::Now() - before;
  result.complete =
      result.events == backlog.events && CountEvents(database) == static_cast<long>(backlog.events);
  return result;
}

// The hub: `instances` Ingest objects on as many threads, one durable consumer, one fresh database.
RunResult Hub(const Backlog& backlog, const HubBenchSettings& settings, int instances) {
  const std::string durable = "hub-bench-hub-" + std::to_string(instances);
  const std::string database = TestPostgres::Get().FreshDatabase();
  ehg::core::SystemClock clock{true};
  struct Instance {
    std::unique_ptr<ehg::engine::Engine> engine;
    std::unique_ptr<ehg::ledger::Ledger> ledger;
    std::unique_ptr<ehg::ledger::Ledger> lookahead;  // the pipeline's, as the hub's main lane has it
    std::unique_ptr<ehg::hub::Ingest> ingest;
  };
  std::vector<Instance> hubs;
  for (int i = 0; i < instances; ++i) {
    Instance hub;
    hub.engine = ConnectEngine(durable);
    hub.ledger = OpenLedger(database, backlog, clock);
    hub.lookahead = OpenLedger(database, backlog, clock);
    ehg::crypto::KeySet decryption;
    decryption.Add(backlog.care_encryption);
    ehg::hub::IngestOptions options;
    options.batch = settings.batch;
    options.fetch_wait = std::chrono::milliseconds(200);
    hub.ingest = std::make_unique<ehg::hub::Ingest>(options, *hub.engine, *hub.ledger, std::move(decryption),
                                                    backlog.care_commands, clock, hub.lookahead.get());
    hubs.push_back(std::move(hub));
  }
  RunResult result;
  result.name = instances == 1 ? "hub, one instance (ehg::hub::Ingest)"
                               : "hub, " + std::to_string(instances) +
                                     " instances on one durable consumer (a thread, Engine and Ledger each)";
  std::atomic<std::size_t> stored{0};
  std::atomic<bool> failed{false};
  const auto deadline_after = std::chrono::seconds(120) + std::chrono::milliseconds(backlog.events);
  const CpuSnapshot before = CpuSnapshot::Now();
  const auto started = SteadyClock::now();
  std::vector<std::thread> threads;
  for (Instance& hub : hubs) {
    threads.emplace_back([&, ingest = hub.ingest.get()] {
      std::size_t counted = 0;
      while (stored.load() < backlog.events && !failed.load()) {
        if (SteadyClock::now() - started > deadline_after) {
          failed = true;
          break;
        }
        auto turn = ingest->Turn();
        if (!turn) {
          failed = true;
          break;
        }
        const auto& counters = ingest->counters();
        const std::size_t now = counters.events_new + counters.events_duplicate;
        stored += now - counted;
        counted = now;
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  result.seconds = ehg::bench::Seconds(SteadyClock::now() - started);
  result.cpu = CpuSnapshot::Now() - before;
  std::uint64_t events_new = 0, refused = 0, receipts = 0, receipts_failed = 0;
  for (const Instance& hub : hubs) {
    const auto& counters = hub.ingest->counters();
    result.messages += counters.messages;
    events_new += counters.events_new;
    refused += counters.refused;
    receipts += counters.receipts_sent;
    receipts_failed += counters.receipts_failed;
  }
  result.events = events_new;
  const long in_database = CountEvents(database);
  result.complete = !failed && events_new == backlog.events && refused == 0 && receipts_failed == 0 &&
                    in_database == static_cast<long>(backlog.events);
  result.note = std::to_string(receipts) + " receipts";
  if (!result.complete)
    result.note += ", " + std::to_string(in_database) + " events in PostgreSQL, " + std::to_string(refused) +
                   " refused" + (failed ? ", a turn failed or the deadline passed" : "");
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  HubBenchSettings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const auto value = static_cast<std::size_t>(std::stoull(argv[i + 1]));
    if (flag == "--messages") settings.messages = value;
    if (flag == "--gateways") settings.gateways = std::max<std::size_t>(value, 1);
    if (flag == "--readings") settings.readings = std::max<std::size_t>(value, 1);
    if (flag == "--batch") settings.batch = static_cast<int>(std::max<std::size_t>(value, 1));
  }
  ehg::core::SetLogLevel(ehg::core::LogLevel::kError);
  try {
    const auto fixtures_start = SteadyClock::now();
    (void)TestCluster::Get();
    (void)TestPostgres::Get();
    const double fixtures_seconds = ehg::bench::Seconds(SteadyClock::now() - fixtures_start);
    const auto made_start = SteadyClock::now();
    std::fprintf(stderr, "hub_ingest_bench: making and sealing %zu messages\n", settings.messages);
    const Backlog backlog = MakeBacklog(settings);
    const double made_seconds = ehg::bench::Seconds(SteadyClock::now() - made_start);
    const auto preload_start = SteadyClock::now();
    std::fprintf(stderr, "hub_ingest_bench: preloading the stream\n");
    Preload(backlog);
    const double preload_seconds = ehg::bench::Seconds(SteadyClock::now() - preload_start);

    double fetch_seconds = 0, ack_seconds = 0, open_seconds = 0, read_seconds = 0;
    std::vector<RunResult> results;
    const auto run = [&](const std::function<RunResult()>& configuration) {
      results.push_back(configuration());
      std::fprintf(stderr, "hub_ingest_bench: %s: %zu events in %.1f s\n", results.back().name.c_str(),
                   results.back().events, results.back().seconds);
    };
    run([&] { return ConsumeAlone(backlog, settings, fetch_seconds, ack_seconds); });
    run([&] { return ConsumeAsyncAcks(backlog, settings); });
    run([&] { return StoreAlone(backlog, settings, open_seconds, read_seconds); });
    run([&] { return Hub(backlog, settings, 1); });
    run([&] { return Hub(backlog, settings, 2); });

    const auto rate = [](const RunResult& r) {
      return r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0.0;
    };
    const double limit = std::min(rate(results[0]), rate(results[2]));
    const double messages = static_cast<double>(backlog.items.size());
    std::printf(
        "Hub ingest: %zu messages (%zu events) from %zu gateways, observation Bundles of %zu readings and "
        "every "
        "20th an alert, sealed (JWE + JWS), %.0f bytes/message, preloaded with JetStream acks in %.1f s "
        "(made in "
        "%.1f s; fixtures started in %.1f s); three-node NATS 2.9 cluster (JetStream R3, TLS) and PostgreSQL "
        "15 "
        "(fsync off) from the test fixtures; %d messages per fetch and per Store; one run\n",
        backlog.items.size(), backlog.events, settings.gateways, settings.readings,
        static_cast<double>(backlog.payload_bytes) / messages, preload_seconds, made_seconds,
        fixtures_seconds, settings.batch);
    std::printf("Machine: %s\n\n", ehg::bench::Machine().c_str());
    std::printf(
        "| path | messages | events | seconds | messages/s | events/s | vs slower of A and B | CPU s: bench "
        "| "
        "nats-server | postgres | note |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    bool complete = true;
    for (const RunResult& r : results) {
      complete = complete && r.complete;
      std::printf("| %s | %zu | %zu | %.2f | %.0f | %.0f | %.2f | %.1f | %.1f | %.1f | %s%s |\n",
                  r.name.c_str(), r.messages, r.events, r.seconds,
                  r.seconds > 0 ? static_cast<double>(r.messages) / r.seconds : 0.0, rate(r),
                  limit > 0 ? rate(r) / limit : 0.0, r.cpu.bench, r.cpu.nats, r.cpu.postgres,
                  r.complete ? "" : "**incomplete** ", r.note.c_str());
    }
    std::printf(
        "\nPer message (wall time of each step measured alone, in ms): open and verify (OpenEnvelope) %.3f, "
        "read the rows (ReadMessage) %.3f, store (Ledger::Store, B) %.3f, fetch (A) %.3f, Engine::Ack (A) "
        "%.3f\n",
        1000 * open_seconds / messages, 1000 * read_seconds / messages, 1000 * results[2].seconds / messages,
        1000 * fetch_seconds / messages, 1000 * ack_seconds / messages);
    return complete ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hub_ingest_bench: %s\n", error.what());
    return 1;
  }
}
