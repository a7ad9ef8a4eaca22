// Alert latency and footprint: the gateway daemon (the real binary) on six simulated devices, and the
// same serial -> threshold -> MQTT job as a Node-RED flow, fed by the same oximeter simulator, measured
// in one run against one local mosquitto with mutual TLS.
//
//   alert_latency_bench [--raised N] [--idle-seconds S] [--stream-seconds S] [--warmup-seconds S]
//                       [--node-red DIR]
//
// The oximeter is a Nonin in Data Format 2 on a pty: 75 five-byte frames a second, 25 to a packet (one
// SpO2 and pulse value set every 1/3 s). Once the measurement starts, packets alternate between a
// deteriorated resident (SpO2 80-84 %, pulse 130) and a normal one (97 %, 72): each packet is a
// transition that raises (or resolves) three alerts (SpO2 < 90, SpO2 < 85, pulse > 120). Latency is
// from the moment the simulator wrote the last byte of the packet that carried the change to the moment
// the subscriber (the care system's side) received the alert from the broker. The five other devices
// (blood pressure cuff, thermometer, scale, glucose meter, alarm button) run on the BlueZ simulator on a
// private D-Bus bus and measure every 5 s. Node-RED (DIR holds its node_modules, see scripts/bench) runs
// only the oximeter job.
//
// Prints Markdown tables; scripts/bench puts them into docs/benchmarks.md.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "devices/sim/serial_simulator.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/crypto/keys.hpp"
#include "tests/bench/bench_support.hpp"
#include "tests/bench/notify_socket.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/private_bus.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;
using ehg::bench::NotifySocket;
using ehg::test::Process;
using ehg::test::TempDir;

constexpr const char* kButtonKey = "231d39c1d7cc1ab1aee224cd096db932";

struct Settings {
  std::size_t raised = 1000;          // at least this many raised alerts (as many resolved come with them)
  std::size_t same_job_raised = 300;  // in the gateway's oximeter-only run (the Node-RED flow's job)
  int idle_seconds = 30;
  int stream_seconds = 30;
  int warmup_seconds = 10;
  std::string node_red;  // folder with node_modules/node-red and node-red-node-serialport
  std::string dump;      // a file for every matched alert: seconds since the first, rule, change, latency ms
};

// A threshold rule, as the gateway's config and the Node-RED flow both state it.
struct Rule {
  const char* id;
  const char* metric;
  const char* direction;  // "below" or "above"
  double limit;
  double hysteresis;
  const char* severity;
};
constexpr Rule kRules[] = {{"spo2-low", "spo2", "below", 90, 2, "high"},
                           {"spo2-critical", "spo2", "below", 85, 2, "critical"},
                           {"pulse-high", "pulse_rate", "above", 120, 5, "medium"}};
constexpr std::size_t kRuleCount = std::size(kRules);

int DeterioratedSpo2(std::size_t transition) {
  return 80 + static_cast<int>((transition / 2) % 5);
}
constexpr int kDeterioratedPulse = 130;

// The Nonin oximeter on a pty, with the transitions of the measurement.
class Oximeter {
 public:
  explicit Oximeter(const fs::path& link) {
    ehg::devices::sim::SerialSimulatorOptions options;
    options.protocol = "nonin-df2";
    options.link = link;
    options.seed = 7;
    options.shape = [this](std::uint64_t n, ehg::devices::sim::OximeterFrame& frame) { Shape(n, frame); };
    options.sent = [this](std::uint64_t n, Steady::time_point at) {
      std::lock_guard lock(mutex_);
      if (sent_.size() <= n) sent_.resize(n + 1);
      sent_[n] = at;
    };
    simulator_ = std::make_unique<ehg::devices::sim::SerialSimulator>(std::move(options));
    if (!simulator_->Plug()) throw std::runtime_error("cannot make the oximeter's pty");
  }

  void SetSilent(bool silent) { simulator_->SetSilent(silent); }
  // From the next packet on, `count` transitions (even: ends normal), then normal values again.
  void StartTransitions(std::size_t count) {
    transitions_ = count;
    requested_ = true;
  }
  // When the packet of transition k was completely written, if it was.
  std::optional<Steady::time_point> TransitionSent(std::size_t k) const {
    const std::int64_t first = first_packet_.load();
    if (first < 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    const auto n = static_cast<std::size_t>(first) + k;
    if (n >= sent_.size() || sent_[n] == Steady::time_point{}) return std::nullopt;
    return sent_[n];
  }

 private:
  void Shape(std::uint64_t n, ehg::devices::sim::OximeterFrame& frame) {
    if (requested_ && first_packet_ < 0) first_packet_ = static_cast<std::int64_t>(n);
    frame.spo2 = 97;
    frame.pulse_rate = 72;
    if (first_packet_ < 0) return;
    const auto k = static_cast<std::size_t>(static_cast<std::int64_t>(n) - first_packet_.load());
    if (k < transitions_ && k % 2 == 0) {
      frame.spo2 = DeterioratedSpo2(k);
      frame.pulse_rate = kDeterioratedPulse;
    }
  }

  std::atomic<bool> requested_{false};
  std::atomic<std::size_t> transitions_{0};
  std::atomic<std::int64_t> first_packet_{-1};
  mutable std::mutex mutex_;
  std::vector<Steady::time_point> sent_;  // by packet number
  std::unique_ptr<ehg::devices::sim::SerialSimulator> simulator_;
};

// An alert as the subscriber saw it.
struct ReceivedAlert {
  std::string rule;
  std::string change;  // raised, resolved (anything else is counted as unexpected)
  double value = 0;
  std::string id;  // event id (duplicates of at-least-once delivery are dropped); empty for Node-RED
  Steady::time_point arrived;
};

struct Latencies {
  std::vector<double> raised_ms;
  std::vector<double> all_ms;
  std::vector<std::string> lines;  // for --dump
  std::size_t unexpected = 0;      // events that do not fit the transitions (must be 0)
  std::size_t duplicates = 0;
};

// The i-th alert of a rule belongs to transition i: even ones raise, odd ones resolve.
Latencies Match(const std::vector<ReceivedAlert>& alerts, const Oximeter& oximeter) {
  Latencies result;
  std::map<std::string, std::size_t> next;
  std::set<std::string> seen;
  const auto first = oximeter.TransitionSent(0);
  for (const ReceivedAlert& alert : alerts) {
    if (!alert.id.empty() && !seen.insert(alert.id).second) {
      ++result.duplicates;
      continue;
    }
    const Rule* rule = nullptr;
    for (const Rule& candidate : kRules)
      if (alert.rule == candidate.id) rule = &candidate;
    if (rule == nullptr) continue;  // the other devices' rules
    const std::size_t k = next[alert.rule]++;
    const bool raise = k % 2 == 0;
    const double expected =
        std::string(rule->metric) == "spo2" ? DeterioratedSpo2(k) : static_cast<double>(kDeterioratedPulse);
    const auto sent = oximeter.TransitionSent(k);
    if (alert.change != (raise ? "raised" : "resolved") || (raise && alert.value != expected) || !sent) {
      ++result.unexpected;
      continue;
    }
    const double ms = std::chrono::duration<double, std::milli>(alert.arrived - *sent).count();
    result.lines.push_back(std::to_string(ehg::bench::Seconds(*sent - first.value_or(*sent))) + " " +
                           alert.rule + " " + alert.change + " " + std::to_string(ms));
    result.all_ms.push_back(ms);
    if (raise) result.raised_ms.push_back(ms);
  }
  return result;
}

struct Footprint {
  double startup_ms = 0;  // exec to READY (gateway) or to "Started flows" (Node-RED)
  double idle_cpu_percent = 0;
  double idle_rss_mib = 0;
  double stream_cpu_percent = 0;  // the oximeter streaming normal values, the others measuring
  double load_cpu_percent = 0;    // the same with three alerts raised or resolved per packet
  double load_seconds = 0;
  double steady_rss_mib = 0;  // median over streaming and alert phases
  double anon_rss_mib = 0;    // of which the process's own memory (RssAnon), not shared library pages
  double peak_rss_mib = 0;    // VmHWM at the end
  std::size_t transitions = 0;
};

struct RunResult {
  Footprint footprint;
  Latencies latencies;
};

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

// RSS every 500 ms while a load runs.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid)
      : thread_([this, pid] {
          while (!stop_) {
            const double rss = ehg::bench::RssMiB(pid);
            {
              std::lock_guard lock(mutex_);
              samples_.push_back(rss);
            }
            for (int i = 0; i < 50 && !stop_; ++i)
              std::this_thread::sleep_for(10ms);
          }
        }) {}
  ~RssSampler() { Stop(); }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;
  double Median() {
    Stop();
    return ehg::bench::Percentile(samples_, 50);
  }

 private:
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<double> samples_;
  std::thread thread_;
};

double CpuPercent(pid_t pid, std::chrono::seconds duration) {
  const double before = ehg::bench::CpuSeconds(pid);
  const auto started = Steady::now();
  std::this_thread::sleep_for(duration);
  return 100.0 * (ehg::bench::CpuSeconds(pid) - before) / ehg::bench::Seconds(Steady::now() - started);
}

// Measures the streaming phase, then runs the transitions and measures the process meanwhile; returns
// `footprint` (start-up and idle already measured) completed, once every expected alert arrived or a
// minute after the last transition.
Footprint DriveLoad(pid_t pid, Oximeter& oximeter, const Settings& settings, Footprint footprint,
                    const std::function<std::size_t()>& alerts_so_far) {
  // Three raised alerts per deterioration; an even count ends on a normal packet.
  const std::size_t deteriorations = (settings.raised + kRuleCount - 1) / kRuleCount;
  footprint.transitions = deteriorations * 2;
  RssSampler rss(pid);
  footprint.stream_cpu_percent = CpuPercent(pid, std::chrono::seconds(settings.stream_seconds));
  const double cpu_before = ehg::bench::CpuSeconds(pid);
  const auto started = Steady::now();
  oximeter.StartTransitions(footprint.transitions);
  const std::size_t expected = footprint.transitions * kRuleCount;
  // 3 packets a second; then a minute of grace.
  const auto deadline = started + std::chrono::seconds(footprint.transitions / 3 + 60);
  while (alerts_so_far() < expected && Steady::now() < deadline)
    std::this_thread::sleep_for(100ms);
  footprint.load_seconds = ehg::bench::Seconds(Steady::now() - started);
  footprint.load_cpu_percent = 100.0 * (ehg::bench::CpuSeconds(pid) - cpu_before) / footprint.load_seconds;
  footprint.steady_rss_mib = rss.Median();
  footprint.anon_rss_mib = ehg::bench::StatusMiB(pid, "RssAnon").value_or(0);
  footprint.peak_rss_mib = ehg::bench::PeakRssMiB(pid);
  return footprint;
}

std::vector<ReceivedAlert> GatewayAlerts(const ehg::test::TestReceiver& receiver,
                                         const ehg::crypto::KeySet& care_keys,
                                         const ehg::crypto::KeySet& gateway_keys) {
  std::vector<ReceivedAlert> alerts;
  for (const auto& message : receiver.Messages()) {
    if (message.topic != "ehealth/v1/0301/gw-it-01/event/alert") continue;
    auto opened = ehg::crypto::OpenEnvelope(message.payload, care_keys, gateway_keys);
    if (!opened) throw std::runtime_error("an alert could not be opened: " + opened.error().message);
    const auto body = Poco::JSON::Parser().parse(opened->body).extract<Poco::JSON::Object::Ptr>();
    alerts.push_back({body->getValue<std::string>("rule_id"), body->getValue<std::string>("change"),
                      body->getValue<double>("worst_value"), body->getValue<std::string>("event_id"),
                      message.arrived});
  }
  return alerts;
}

// Six devices (the oximeter and five BLE devices), or the oximeter alone: the Node-RED flow's job.
enum class Scope { kSixDevices, kOximeterOnly };

std::string GatewayConfig(const fs::path& dir, const ehg::test::TestBroker& broker, const std::string& bus,
                          const fs::path& oximeter, Scope scope) {
  const auto& pki = ehg::test::TestPki::Get();
  std::string rules;
  for (const Rule& rule : kRules) {
    rules += std::string(R"({"id": ")") + rule.id + R"(", "kind": "threshold", "metric": ")" + rule.metric +
             R"(", ")" + rule.direction + R"(": )" + std::to_string(rule.limit) + R"(, "hysteresis": )" +
             std::to_string(rule.hysteresis) + R"(, "severity": ")" + rule.severity + "\"},\n";
  }
  const std::string bluetooth_devices = scope == Scope::kOximeterOnly ? "" : R"(,
    {"id": "bp-cuff", "type": "ble", "address": "5C:31:3E:00:4B:6B", "profile": "blood_pressure"},
    {"id": "thermometer", "type": "ble", "address": "A4:C1:38:00:11:22", "profile": "thermometer"},
    {"id": "scale", "type": "ble", "address": "D0:39:72:B8:0A:99", "profile": "weight_scale"},
    {"id": "glucose-meter", "type": "ble", "address": "C4:7C:8D:6A:2B:01", "profile": "glucose"},
    {"id": "alarm-button", "type": "ble", "address": "54:48:E6:8F:80:A5", "profile": "bthome",
     "bthome_key": ")" + std::string(kButtonKey) + R"("})";
  const std::string bluetooth = scope == Scope::kOximeterOnly ? "" : R"(
  "bluetooth": {"bus_address": ")" + bus + R"("},)";
  return R"({
  "gateway": {"id": "gw-it-01", "tenant": "0301", "log_level": "info", "assume_clock_synchronised": true},
  "resident": {"pseudonym": "r-bench-0001", "time_zone": "Europe/Oslo"},
  "broker": {"uri": ")" +
         broker.Uri() + R"("},
  "tls": {"ca_file": ")" +
         pki.File("ca.crt").string() + R"(", "cert_file": ")" + pki.File("gateway.crt").string() +
         R"(", "key_file": ")" + pki.File("gateway.key").string() + R"("},
  "security": {"gateway_key_file": ")" +
         (dir / "gateway-signing.key").string() + R"(", "recipient_key_file": ")" +
         (dir / "care-encryption.jwk").string() + R"(", "command_keys_file": ")" +
         (dir / "care-commands.jwks").string() + R"("},
  "storage": {"path": ")" +
         (dir / "data" / "gateway.db").string() + R"("},
  "uplink": {"receipt_resend_seconds": 3600},
  "devices": [
    {"id": "oximeter", "type": "serial", "port": ")" +
         oximeter.string() + R"(", "protocol": "nonin-df2", "window_seconds": 0})" + bluetooth_devices + R"(
  ],)" + bluetooth +
         R"(
  "status_page": {"listen": "127.0.0.1:)" +
         std::to_string(ehg::test::FreePort()) + R"("},
  "rules": [
    )" + rules +
         R"(    {"id": "fever", "kind": "threshold", "metric": "body_temperature", "above": 38.5, "severity": "medium"},
    {"id": "emergency-button", "kind": "event", "metric": "button", "severity": "critical"}
  ]
})";
}

// The gateway's keys (ehealth-gateway keygen, as an installer does) and the care system's.
void MakeKeys(const std::string& gateway, const fs::path& dir) {
  const auto public_of = [&](const fs::path& key) {
    const auto made = ehg::test::RunCommand({gateway, "keygen", "--out", key.string()});
    if (made.exit_code != 0) throw std::runtime_error("keygen failed: " + made.output);
    std::string jwk = made.output.substr(made.output.find('{'));
    while (!jwk.empty() && (jwk.back() == '\n' || jwk.back() == ' '))
      jwk.pop_back();
    return jwk;
  };
  const std::string gateway_public = public_of(dir / "gateway-signing.key");
  WriteFile(dir / "gateways.jwks", "{\"keys\":[" + gateway_public + "]}");
  WriteFile(dir / "care-encryption.jwk", public_of(dir / "care-encryption.key"));
  WriteFile(dir / "care-commands.jwks", "{\"keys\":[" + public_of(dir / "care-commands.key") + "]}");
}

struct GatewayRun {
  std::optional<Process> bluetooth;
  Process gateway;
  double startup_ms = 0;
};

// The BLE simulator measures every `measure_every_seconds` (0: never); none for the oximeter alone.
GatewayRun StartGateway(const std::string& binary, const fs::path& dir, const ehg::test::PrivateBus& bus,
                        Scope scope, int measure_every_seconds) {
  std::optional<Process> bluetooth;
  if (scope == Scope::kSixDevices) {
    bluetooth = Process::Start({EHG_TOOLS_BINARY, "simulate-ble", "--bus", bus.address(), "--interval",
                                std::to_string(measure_every_seconds), "--bthome-key", kButtonKey});
    if (!bluetooth->WaitForOutput("simulate-ble: BlueZ look-alike", 10s))
      throw std::runtime_error("simulate-ble did not start: " + bluetooth->Output());
  }
  fs::remove_all(dir / "data");
  fs::remove(dir / "notify");
  NotifySocket notify(dir / "notify");
  const auto started = Steady::now();
  // BENCH_GATEWAY_WRAPPER runs the daemon under a profiler, e.g. "valgrind --tool=callgrind".
  std::vector<std::string> command;
  if (const char* wrapper = std::getenv("BENCH_GATEWAY_WRAPPER")) {
    std::istringstream words(wrapper);
    for (std::string word; words >> word;)
      command.push_back(word);
  }
  for (const std::string& word :
       {binary, std::string("run"), std::string("--config"), (dir / "gateway.json").string()})
    command.push_back(word);
  auto gateway = Process::Start(command, {notify.Environment()});
  const auto ready = notify.WaitForReady(30s);
  if (!ready) throw std::runtime_error("the gateway never said READY: " + gateway.Output());
  return {std::move(bluetooth), std::move(gateway),
          std::chrono::duration<double, std::milli>(*ready - started).count()};
}

void StopProcess(Process& process) {
  process.Signal(SIGTERM);
  if (!process.Wait(15s)) {
    process.Signal(SIGKILL);
    (void)process.Wait(5s);
  }
}

void StopGateway(GatewayRun& run) {
  StopProcess(run.gateway);
  if (run.bluetooth) StopProcess(*run.bluetooth);
}

RunResult BenchGateway(const std::string& binary, const ehg::test::TestBroker& broker, Settings settings,
                       Scope scope) {
  TempDir dir;
  MakeKeys(binary, dir.path());
  ehg::test::PrivateBus bus;
  Oximeter oximeter(dir / "oximeter");
  WriteFile(dir / "gateway.json", GatewayConfig(dir.path(), broker, bus.address(), dir / "oximeter", scope));
  RunResult result;

  // Idle: every device configured, none measuring, the oximeter switched off.
  oximeter.SetSilent(true);
  if (scope == Scope::kSixDevices) {
    GatewayRun run = StartGateway(binary, dir.path(), bus, scope, 0);
    result.footprint.startup_ms = run.startup_ms;
    std::this_thread::sleep_for(std::chrono::seconds(settings.warmup_seconds));
    result.footprint.idle_cpu_percent =
        CpuPercent(run.gateway.pid(), std::chrono::seconds(settings.idle_seconds));
    result.footprint.idle_rss_mib = ehg::bench::RssMiB(run.gateway.pid());
    StopGateway(run);
  } else {
    settings.raised = settings.same_job_raised;
  }

  // Load: the oximeter streaming, the five others measuring every 5 s, the alerts. The reference
  // receiver plays the care system (decrypts, verifies, confirms every alert with a signed receipt, so
  // the gateway can forget it); the bench's own subscriber only notes arrival times.
  oximeter.SetSilent(false);
  const auto& pki = ehg::test::TestPki::Get();
  auto care_system = Process::Start(
      {EHG_CARE_BINARY, "receive", "--broker", broker.Uri(), "--cafile", pki.File("ca.crt").string(), "--cert",
       pki.File("receiver.crt").string(), "--key", pki.File("receiver.key").string(), "--client-id",
       "bench-care", "--decryption-key", (dir / "care-encryption.key").string(), "--gateway-keys",
       (dir / "gateways.jwks").string(), "--signing-key", (dir / "care-commands.key").string()});
  if (!care_system.WaitForOutput("receive: subscribed", 10s))
    throw std::runtime_error("the reference receiver did not start: " + care_system.Output());
  ehg::test::TestReceiver receiver(broker, false);
  GatewayRun run = StartGateway(binary, dir.path(), bus, scope, 5);
  if (scope == Scope::kOximeterOnly) result.footprint.startup_ms = run.startup_ms;
  std::this_thread::sleep_for(std::chrono::seconds(settings.warmup_seconds));
  const std::string topic = "ehealth/v1/0301/gw-it-01/event/alert";
  result.footprint = DriveLoad(run.gateway.pid(), oximeter, settings, result.footprint,
                               [&] { return receiver.CountOnTopic(topic); });
  StopGateway(run);
  StopProcess(care_system);

  auto care_keys = ehg::crypto::KeySet::FromFile(dir / "care-encryption.key");
  auto gateway_keys = ehg::crypto::KeySet::FromFile(dir / "gateways.jwks");
  if (!care_keys || !gateway_keys) throw std::runtime_error("cannot read the care system's keys");
  result.latencies = Match(GatewayAlerts(receiver, *care_keys, *gateway_keys), oximeter);
  if (const auto first = oximeter.TransitionSent(0)) {
    for (const auto& message : receiver.Messages())  // what else arrived, for --dump
      result.latencies.lines.push_back("message " +
                                       std::to_string(ehg::bench::Seconds(message.arrived - *first)) + " " +
                                       message.topic + " " + std::to_string(message.payload.size()));
  }
  return result;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// A JSON string literal of `text`.
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

RunResult BenchNodeRed(const Settings& settings, const ehg::test::TestBroker& broker) {
  TempDir dir;
  const fs::path templates = fs::path(EHG_SOURCE_DIR) / "tests/bench/node-red";
  const auto& pki = ehg::test::TestPki::Get();
  Oximeter oximeter(dir / "oximeter");
  std::string flows = ReadFile(templates / "flows.json");
  flows = Replace(flows, "@SERIAL_PORT@", (dir / "oximeter").string());
  flows = Replace(flows, "@BROKER_PORT@", std::to_string(broker.port()));
  flows = Replace(flows, "@CA_FILE@", pki.File("ca.crt").string());
  flows = Replace(flows, "@CERT_FILE@", pki.File("gateway.crt").string());
  flows = Replace(flows, "@KEY_FILE@", pki.File("gateway.key").string());
  flows = Replace(flows, "@FUNCTION@", JsonString(ReadFile(templates / "nonin-thresholds.js")));
  WriteFile(dir / "flows.json", flows);
  fs::copy_file(templates / "settings.js", dir / "settings.js");
  RunResult result;

  oximeter.SetSilent(true);
  const auto started = Steady::now();
  auto node_red =
      Process::Start({"/usr/bin/env", "node", settings.node_red + "/node_modules/node-red/red.js",
                      "--userDir", dir.path().string(), "--settings", (dir / "settings.js").string(),
                      "--port", std::to_string(ehg::test::FreePort()), "flows.json"});
  if (!node_red.WaitForOutput("Started flows", 60s))
    throw std::runtime_error("Node-RED did not start: " + node_red.Output());
  result.footprint.startup_ms = std::chrono::duration<double, std::milli>(Steady::now() - started).count();
  if (!node_red.WaitForOutput("Connected to broker", 30s))
    throw std::runtime_error("Node-RED did not reach the broker: " + node_red.Output());
  std::this_thread::sleep_for(std::chrono::seconds(settings.warmup_seconds));
  result.footprint.idle_cpu_percent = CpuPercent(node_red.pid(), std::chrono::seconds(settings.idle_seconds));
  result.footprint.idle_rss_mib = ehg::bench::RssMiB(node_red.pid());

  oximeter.SetSilent(false);
  ehg::test::TestReceiver receiver(broker, false);
  std::this_thread::sleep_for(std::chrono::seconds(settings.warmup_seconds));
  const std::string topic = "ehealth/v1/0301/node-red/event/alert";
  result.footprint = DriveLoad(node_red.pid(), oximeter, settings, result.footprint,
                               [&] { return receiver.CountOnTopic(topic); });
  StopProcess(node_red);

  std::vector<ReceivedAlert> alerts;
  for (const auto& message : receiver.Messages()) {
    if (message.topic != topic) continue;
    const auto body = Poco::JSON::Parser().parse(message.payload).extract<Poco::JSON::Object::Ptr>();
    alerts.push_back({body->getValue<std::string>("rule"), body->getValue<std::string>("change"),
                      body->getValue<double>("value"), "", message.arrived});
  }
  result.latencies = Match(alerts, oximeter);
  return result;
}

double StrippedSize(const std::string& binary) {
  TempDir dir;
  const auto stripped = dir / "stripped";
  if (ehg::test::RunCommand({"/usr/bin/objcopy", "--strip-all", binary, stripped.string()}).exit_code != 0)
    return 0;
  return static_cast<double>(fs::file_size(stripped)) / (1024.0 * 1024.0);
}

void PrintLatency(const char* name, const Latencies& latencies) {
  using ehg::bench::Percentile;
  std::printf("| %s | %zu | %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %zu |\n", name,
              latencies.raised_ms.size(), latencies.all_ms.size(), Percentile(latencies.raised_ms, 50),
              Percentile(latencies.raised_ms, 95), Percentile(latencies.raised_ms, 99),
              Percentile(latencies.all_ms, 50), Percentile(latencies.all_ms, 99),
              Percentile(latencies.all_ms, 100), latencies.unexpected);
}

int Bench(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--raised") settings.raised = std::stoul(value);
    if (flag == "--same-job-raised") settings.same_job_raised = std::stoul(value);
    if (flag == "--idle-seconds") settings.idle_seconds = std::stoi(value);
    if (flag == "--stream-seconds") settings.stream_seconds = std::stoi(value);
    if (flag == "--warmup-seconds") settings.warmup_seconds = std::stoi(value);
    if (flag == "--node-red") settings.node_red = value;
    if (flag == "--dump") settings.dump = value;
  }
  signal(SIGPIPE, SIG_IGN);
  const std::string gateway = EHG_GATEWAY_BINARY;
  // As the care system's broker should be set up for alerts: no Nagle delay on its sends
  // (docs/benchmarks.md).
  ehg::test::TestBroker broker({"broker", false, true});
  broker.Start();

  std::fprintf(stderr, "alert latency: gateway run, six devices...\n");
  const RunResult ours = BenchGateway(gateway, broker, settings, Scope::kSixDevices);
  std::optional<RunResult> same_job;
  std::optional<RunResult> node_red;
  if (!settings.node_red.empty()) {
    std::fprintf(stderr, "alert latency: gateway run, the oximeter alone...\n");
    same_job = BenchGateway(gateway, broker, settings, Scope::kOximeterOnly);
    std::fprintf(stderr, "alert latency: Node-RED run...\n");
    node_red = BenchNodeRed(settings, broker);
  }

  std::printf(
      "Alert latency: Nonin DF2 oximeter on a pty (75 frames/s), %zu transitions (3 alerts each), subscriber "
      "on mosquitto with mutual TLS on 127.0.0.1\n",
      ours.footprint.transitions);
  std::printf("Machine: %s\n\n", ehg::bench::Machine().c_str());
  std::printf(
      "| path | raised alerts | all alert events | raised p50 ms | raised p95 ms | raised p99 ms | all p50 "
      "ms | "
      "all p99 ms | max ms | unmatched |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  PrintLatency("ehealth-gateway (6 devices, stored, encrypted + signed)", ours.latencies);
  if (same_job) PrintLatency("ehealth-gateway, the oximeter alone", same_job->latencies);
  if (node_red) PrintLatency("Node-RED flow (the oximeter, plain JSON)", node_red->latencies);

  std::printf("\nFootprint (same run)\n\n");
  std::printf(
      "| path | start-up ms | idle CPU %% | streaming CPU %% | alerting CPU %% | CPU s/hour streaming | CPU "
      "s/hour "
      "alerting | idle RSS MiB | steady RSS MiB | of which own (anon) MiB | peak RSS MiB |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  const auto row = [](const char* name, const Footprint& f) {
    char idle_cpu[16] = "-", idle_rss[16] = "-";  // the oximeter-only run has no idle phase
    if (f.idle_rss_mib > 0) {
      std::snprintf(idle_cpu, sizeof idle_cpu, "%.2f", f.idle_cpu_percent);
      std::snprintf(idle_rss, sizeof idle_rss, "%.1f", f.idle_rss_mib);
    }
    std::printf("| %s | %.0f | %s | %.2f | %.2f | %.0f | %.0f | %s | %.1f | %.1f | %.1f |\n", name,
                f.startup_ms, idle_cpu, f.stream_cpu_percent, f.load_cpu_percent, f.stream_cpu_percent * 36.0,
                f.load_cpu_percent * 36.0, idle_rss, f.steady_rss_mib, f.anon_rss_mib, f.peak_rss_mib);
  };
  row("ehealth-gateway, six devices (to READY)", ours.footprint);
  if (same_job) row("ehealth-gateway, the oximeter alone (to READY)", same_job->footprint);
  if (node_red) row("Node-RED flow, the oximeter (to \"Started flows\")", node_red->footprint);
  std::printf(
      "\nPhases: idle %d s (devices configured, none measuring, the oximeter off), streaming %d s (the "
      "oximeter at "
      "75 frames/s with normal values; with six devices the five BLE devices measure every 5 s), alerting "
      "%.0f s "
      "with six devices (three alerts raised or resolved every 1/3 s). ehealth-gateway binary: %.1f MiB "
      "stripped "
      "(%.1f MiB with debug info).\n",
      settings.idle_seconds, settings.stream_seconds, ours.footprint.load_seconds, StrippedSize(gateway),
      static_cast<double>(fs::file_size(gateway)) / (1024.0 * 1024.0));
  if (node_red && same_job) {
    const auto& n = node_red->footprint;
    const auto& g = same_job->footprint;
    const auto& g_latencies = same_job->latencies;
    const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    std::printf(
        "\nNode-RED / gateway on the same job (the oximeter alone), same run: steady RSS %.1fx, own memory "
        "%.1fx, "
        "streaming CPU %.1fx, alerting CPU %.1fx, raised-alert p99 %.2fx\n",
        ratio(n.steady_rss_mib, g.steady_rss_mib), ratio(n.anon_rss_mib, g.anon_rss_mib),
        ratio(n.stream_cpu_percent, g.stream_cpu_percent), ratio(n.load_cpu_percent, g.load_cpu_percent),
        ratio(ehg::bench::Percentile(node_red->latencies.raised_ms, 99),
              ehg::bench::Percentile(g_latencies.raised_ms, 99)));
  }
  if (!settings.dump.empty()) {
    std::ofstream dump(settings.dump);
    for (const std::string& line : ours.latencies.lines)
      dump << "gateway " << line << "\n";
    if (same_job)
      for (const std::string& line : same_job->latencies.lines)
        dump << "same-job " << line << "\n";
    if (node_red)
      for (const std::string& line : node_red->latencies.lines)
        dump << "node-red " << line << "\n";
  }
  const bool complete =
      ours.latencies.unexpected == 0 && ours.latencies.raised_ms.size() >= settings.raised &&
      (!same_job || (same_job->latencies.unexpected == 0 &&
                     same_job->latencies.raised_ms.size() >= settings.same_job_raised)) &&
      (!node_red ||
       (node_red->latencies.unexpected == 0 && node_red->latencies.raised_ms.size() >= settings.raised));
  if (!complete) std::fprintf(stderr, "alert latency: alerts missing or unmatched\n");
  return complete ? 0 : 1;
}

}  // namespace

// Every failure ends here, so that the processes and temporary folders of the run are cleaned up.
int main(int argc, char** argv) {
  try {
    return Bench(argc, argv);
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "alert latency: %s\n", failure.what());
    return 1;
  }
}
