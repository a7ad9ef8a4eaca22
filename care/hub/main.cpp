// ehealth-hub: the region's care hub (docs/operations-hub.md). `run` takes the gateways' events from the
// engine's durable consumer into PostgreSQL and answers them with signed receipts; `enrol`, `rotate-key`
// and `revoke` manage which gateway keys it accepts. Any number of `run` instances share the work.
#include <signal.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "care/engine/engine.hpp"
#include "care/hub/ingest.hpp"
#include "care/hub/run_options.hpp"
#include "care/hub/send_command.hpp"
#include "care/hub/staff_command.hpp"
#include "care/ledger/ledger.hpp"
#include "gateway/command_line/command_line.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/log.hpp"
#include "gateway/crypto/keys.hpp"

namespace cli = ehg::command_line;

namespace {

volatile std::sig_atomic_t stop_signal = 0;
void OnStopSignal(int) {
  stop_signal = 1;
}

using RunRequest = ehg::hub::RunSettings;

struct KeyRequest {
  std::string database;
  std::string tenant;
  std::string gateway;
  std::string key_file;
  std::string certificate_fingerprint;
  std::string actor = "ehealth-hub cli";
};

int Fail(const std::string& what, const ehg::Error& error) {
  std::cerr << "ehealth-hub: " << what << ": " << error.message << "\n";
  return 1;
}

// EX_CONFIG: the command line, the config file or a key file is wrong; systemd does not restart a `run` that
// exits with it (systemd/ehealth-hub.service), since only the operator can help. Other failures (the
// database or the engine not reachable yet) exit 1 and are retried.
constexpr int kExitConfig = 78;

int FailConfig(const std::string& what, const ehg::Error& error) {
  Fail(what, error);
  return kExitConfig;
}

// systemd's side of `run` (Type=notify, WatchdogSec= in systemd/ehealth-hub.service); without a notify
// socket (run by hand, in tests) every call does nothing.
class ServiceManager {
 public:
  ServiceManager() {
    std::uint64_t usec = 0;
    // Pinging at a third of the interval leaves two pings' slack; it honours WATCHDOG_PID.
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) ping_every_ = std::chrono::microseconds(usec / 3);
  }
  void Ready(const std::string& status) { Send("READY=1\nSTATUS=" + status); }
  void Stopping() { Send("STOPPING=1\nSTATUS=stopping"); }
  // Called on every turn of the run loop; sends at most one ping per third of the watchdog interval.
  void Alive() {
    if (ping_every_.count() == 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ping_ < ping_every_) return;
    last_ping_ = now;
    Send("WATCHDOG=1");
  }

 private:
  static void Send(const std::string& message) {
    if (const int sent = sd_notify(0, message.c_str()); sent < 0)
      // A lost watchdog ping makes systemd restart the hub: this line says why.
      ehg::core::LogError("cannot notify systemd", {{"reason", std::strerror(-sent)}});
  }
  std::chrono::microseconds ping_every_{0};
  std::chrono::steady_clock::time_point last_ping_{};
};

// One consumer's worth of the hub: its own engine connection, database connection and ingest turn.
struct Lane {
  std::unique_ptr<ehg::ledger::Ledger> ledger;
  // A second database connection for the pipeline's key lookups (Ingest's `lookahead`), or null.
  std::unique_ptr<ehg::ledger::Ledger> lookahead;
  std::unique_ptr<ehg::engine::Engine> engine;
  std::unique_ptr<ehg::hub::Ingest> ingest;
};

// Connects a lane on the durable consumer `consumer` (its filter empty: the whole stream), taking at most
// `ingest_options.batch` messages a turn; `pipeline`: the next turn is opened while one stores.
// The failure's exit code and message, or the lane.
tl::expected<Lane, int> OpenLane(const RunRequest& request, const ehg::engine::ConsumerSettings& consumer,
                                 ehg::hub::IngestOptions ingest_options, bool pipeline,
                                 const ehg::crypto::KeySet& decryption_keys,
                                 const ehg::crypto::EcKey& signing_key, ehg::core::Clock& clock) {
  Lane lane;
  auto ledger = ehg::ledger::Ledger::Open({request.database});
  if (!ledger) return tl::unexpected(Fail("the database", ledger.error()));
  lane.ledger = std::move(*ledger);
  if (pipeline) {
    auto lookahead = ehg::ledger::Ledger::Open({request.database});
    if (!lookahead) return tl::unexpected(Fail("the database", lookahead.error()));
    lane.lookahead = std::move(*lookahead);
  }
  ehg::engine::EngineOptions options;
  options.servers = request.servers;
  options.ca_file = request.ca_file;
  options.cert_file = request.cert_file;
  options.key_file = request.key_file;
  options.consumer = consumer;
  auto engine = ehg::engine::Engine::Connect(options);
  if (!engine) return tl::unexpected(Fail("the engine", engine.error()));
  lane.engine = std::move(*engine);
  if (!lane.engine->WaitConnected(std::chrono::seconds(30))) {
    std::cerr << "ehealth-hub: no engine node answered within 30 s\n";
    return tl::unexpected(1);
  }
  if (auto stream = lane.engine->EnsureStream(); !stream)
    return tl::unexpected(Fail("the event stream", stream.error()));
  if (auto ensured = lane.engine->EnsureConsumer(); !ensured)
    return tl::unexpected(Fail("the consumer " + consumer.durable, ensured.error()));
  lane.ingest = std::make_unique<ehg::hub::Ingest>(ingest_options, *lane.engine, *lane.ledger,
                                                   decryption_keys, signing_key, clock, lane.lookahead.get());
  return lane;
}

// One turn of a lane; a failure (the engine away, a node restarting: the client reconnects by itself)
// is logged and waited out briefly.
void TurnOnce(Lane& lane, const char* name) {
  auto turn = lane.ingest->Turn();
  if (!turn) {
    ehg::core::LogWarning("fetching from the engine failed",
                          {{"lane", name}, {"reason", turn.error().message}});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

void PrintCounters(const char* name, const ehg::hub::IngestCounters& counters) {
  std::cerr << "ehealth-hub: " << name << ": " << counters.messages << " messages, " << counters.events_new
            << " events new, " << counters.events_duplicate << " duplicates, " << counters.refused
            << " refused, " << counters.receipts_sent << " receipts sent, " << counters.left_to_another_lane
            << " left to the other lane\n";
}

// How much lower the main lane's priority is than the alert lane's (see Run), and Linux's lowest.
constexpr int kMainLaneNice = 10;
constexpr int kLowestPriority = 19;

int Run(const RunRequest& request) {
  // The option's check admits only names ParseLogLevel knows.
  if (auto level = ehg::core::ParseLogLevel(request.log_level)) ehg::core::SetLogLevel(*level);
  ehg::core::SystemClock clock;
  auto decryption_keys = ehg::crypto::KeySet::FromFile(request.decryption_key);
  if (!decryption_keys) return FailConfig("the decryption key", decryption_keys.error());
  auto signing_key = ehg::crypto::LoadKeyFile(request.signing_key);
  if (!signing_key) return FailConfig("the command signing key", signing_key.error());
  if (!signing_key->has_private()) {
    std::cerr << "ehealth-hub: --signing-key must be a private key\n";
    return kExitConfig;
  }
  // Two lanes. The alert lane stores alerts, from a consumer of their own, so an alert never waits behind
  // a backlog of observations (measured: a burst of batches from 2,000 gateways held alerts 12 s in the
  // main lane's queue). The main one stores everything else in the stream's order. Its consumer (one
  // filter in NATS 2.9) delivers alerts too: it acknowledges them unopened, as the alert consumer keeps
  // each until an alert lane stored it. When both stored them, a main-lane transaction of a burst that
  // had inserted an alert first held the alert lane's insert of it until that transaction committed
  // (measured: up to 850 ms).
  ehg::engine::ConsumerSettings main_consumer;
  main_consumer.durable = request.durable;
  ehg::hub::IngestOptions main_options;
  main_options.batch = request.batch;
  main_options.left_to_another_lane = ehg::engine::kAlertSubjects;
  auto main_lane =
      OpenLane(request, main_consumer, main_options, true, *decryption_keys, *signing_key, clock);
  if (!main_lane) return main_lane.error();
  ehg::hub::IngestOptions alert_options;
  alert_options.lane = "alerts";
  // Its fetch asks again every 100 ms instead of 500: NATS 2.9 handed a waiting pull request an alert
  // stored meanwhile often only when the request expired (alerts up to 500 ms late in a burst; up to 100
  // ms with this). Each request costs the consumer's Raft group two small proposals; 20 a second with two
  // hub instances.
  alert_options.fetch_wait = std::chrono::milliseconds(100);
  // Short turns: a gateway back from an outage brings its alerts together (the real gateway in
  // scripts/hub-fleet: 230), and one turn that takes them all holds every alert that arrives meanwhile
  // until it commits (measured: 150 in one turn, 300 ms, while the other instance's alert lane idled).
  // With 32 the instances share such a backlog, and a new alert waits for a shorter turn.
  alert_options.batch = std::min(request.batch, 32);
  alert_options.confirm_turn = false;
  // Its turns are short and its messages small: a second thread, to open or to run ahead (the main
  // lane's pipeline), would cost more than it saves.
  alert_options.open_threads = 1;
  ehg::engine::ConsumerSettings alert_consumer;
  alert_consumer.durable = request.durable + "-alerts";
  alert_consumer.filter_subject = ehg::engine::kAlertSubjects;
  alert_consumer.ack_wait = ehg::engine::kAlertAckWait;
  auto alert_lane =
      OpenLane(request, alert_consumer, alert_options, false, *decryption_keys, *signing_key, clock);
  if (!alert_lane) return alert_lane.error();

  signal(SIGTERM, OnStopSignal);
  signal(SIGINT, OnStopSignal);
  ehg::core::LogInfo("hub running", {{"durable", request.durable}});
  std::cerr << "ehealth-hub: running\n";
  // The alert lane's last turn, for the watchdog: a lane stuck in the database or the engine stops the
  // pings, and systemd restarts the hub.
  std::atomic<std::int64_t> alert_lane_turned{std::chrono::steady_clock::now().time_since_epoch().count()};
  // The alert lane also sends the commands care staff asked for on the console (an acknowledgement, a
  // resolution): at most every 200 ms, so a nurse's action reaches the gateway within a turn or two. And
  // every 2 s it sends again the commands whose gateway came back online without having answered
  // (ResendCommands): one small query when none is due.
  ehg::core::EventIdGenerator command_ids(clock);
  std::thread alerts([&] {
    auto next_commands = std::chrono::steady_clock::now();
    auto next_resend = std::chrono::steady_clock::now();
    while (stop_signal == 0) {
      TurnOnce(*alert_lane, "alerts");
      alert_lane_turned = std::chrono::steady_clock::now().time_since_epoch().count();
      if (std::chrono::steady_clock::now() < next_commands) continue;
      next_commands = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      auto sent = ehg::hub::SendRequestedCommands(*alert_lane->ledger, *alert_lane->engine, *signing_key,
                                                  clock, command_ids);
      if (!sent)
        ehg::core::LogWarning("requested commands not sent; tried again", {{"reason", sent.error().message}});
      if (std::chrono::steady_clock::now() < next_resend) continue;
      next_resend = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      auto resent = ehg::hub::ResendCommands(*alert_lane->ledger, *alert_lane->engine, clock.Now(), {});
      if (!resent)
        ehg::core::LogWarning("commands not sent again; tried again", {{"reason", resent.error().message}});
      else if (*resent > 0)
        ehg::core::LogInfo("commands sent again to gateways back online",
                           {{"count", std::to_string(*resent)}});
    }
  });
  // The main lane (this thread, from here on) gives the processor to the alert lane when both want it:
  // in a burst or a gateway's catch-up it opens and stores thousands of events, and on a saturated
  // machine an alert's turn waited behind that work (measured in scripts/hub-fleet: an alert lane's turn
  // 400 to 750 ms while the main lane stored a catch-up, the database idle). Observations can wait.
  // Linux keeps a nice value per thread: this lowers only this one, by 10 from what the service manager
  // gave the process (Nice=), at most to 19. The alert lane and the client libraries' threads were
  // started before and keep theirs.
  const auto main_thread = static_cast<id_t>(gettid());
  errno = 0;
  const int nice_now = getpriority(PRIO_PROCESS, main_thread);
  if (errno != 0 ||
      setpriority(PRIO_PROCESS, main_thread, std::min(nice_now + kMainLaneNice, kLowestPriority)) != 0)
    ehg::core::LogWarning("the main lane's lower priority was not set; both lanes share the processor",
                          {{"reason", std::strerror(errno)}});
  // Observation partitions: this month's and the next two, made ahead so that rows never wait in the
  // default partition; at start and every 6 hours (cheap when they exist, one instance at a time under
  // the ledger's lock).
  auto next_partitions = std::chrono::steady_clock::now();
  const auto ensure_partitions = [&] {
    if (std::chrono::steady_clock::now() < next_partitions) return;
    next_partitions = std::chrono::steady_clock::now() + std::chrono::hours(6);
    const auto now = clock.Now();
    auto created = main_lane->ledger->EnsurePartitions(now, now + std::chrono::days(62));
    if (!created)
      ehg::core::LogWarning("making observation partitions failed; tried again in 6 hours",
                            {{"reason", created.error().message}});
    else if (*created > 0)
      ehg::core::LogInfo("observation partitions made", {{"count", std::to_string(*created)}});
  };
  ServiceManager service_manager;
  service_manager.Ready("running, durable consumers " + request.durable + " and " + request.durable +
                        "-alerts");
  while (stop_signal == 0) {
    // A turn waits at most the fetch timeout for its first message, so this pings at least that often;
    // a lane stuck for longer than WatchdogSec= gets the hub restarted.
    const auto alert_lane_quiet = std::chrono::steady_clock::now().time_since_epoch() -
                                  std::chrono::steady_clock::duration(alert_lane_turned.load());
    if (alert_lane_quiet < std::chrono::seconds(10)) service_manager.Alive();
    ensure_partitions();
    TurnOnce(*main_lane, "main");
  }
  service_manager.Stopping();
  alerts.join();
  PrintCounters("main lane", main_lane->ingest->counters());
  PrintCounters("alert lane", alert_lane->ingest->counters());
  return 0;
}

struct CommandOptions {
  std::string tenant;
  std::string gateway;
  std::string command;
  int lifetime_seconds = 3600;
  int wait_seconds = 0;
};

// `ehealth-hub command`: one signed command to one gateway, with the hub's own settings (--config),
// printed as "sent <id>"; with --wait, also its result once the hub's turn has stored it. Exit 0 when
// sent (and, waiting, when the gateway said ok), 1 when refused or failed, 2 when no result came in time.
int Command(const RunRequest& settings, const CommandOptions& options) {
  ehg::core::SystemClock clock;
  auto signing_key = ehg::crypto::LoadKeyFile(settings.signing_key);
  if (!signing_key) return FailConfig("the command signing key", signing_key.error());
  ehg::core::EventIdGenerator ids(clock);
  auto prepared = ehg::hub::PrepareCommand(
      {options.tenant, options.gateway, options.command, std::chrono::seconds(options.lifetime_seconds)},
      *signing_key, clock.Now(), ids.Next().ToString());
  if (!prepared) return Fail("the command", prepared.error());
  auto ledger = ehg::ledger::Ledger::Open({settings.database});
  if (!ledger) return Fail("the database", ledger.error());
  ehg::engine::EngineOptions engine_options;
  engine_options.servers = settings.servers;
  engine_options.ca_file = settings.ca_file;
  engine_options.cert_file = settings.cert_file;
  engine_options.key_file = settings.key_file;
  auto engine = ehg::engine::Engine::Connect(engine_options);
  if (!engine) return Fail("the engine", engine.error());
  if (!(*engine)->WaitConnected(std::chrono::seconds(30))) {
    std::cerr << "ehealth-hub: no engine node answered within 30 s\n";
    return 1;
  }
  if (auto sent = ehg::hub::SendCommand(*prepared, **ledger, **engine); !sent)
    return Fail("sending", sent.error());
  ehg::core::LogInfo("command sent", {{"tenant", prepared->tenant},
                                      {"gateway", prepared->gateway},
                                      {"command_id", prepared->command_id},
                                      {"type", prepared->type}});
  std::cout << "sent " << prepared->command_id << "\n" << std::flush;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.wait_seconds);
  while (options.wait_seconds > 0) {
    auto state = (*ledger)->LookupCommand(prepared->tenant, prepared->gateway, prepared->command_id);
    if (state && *state && (*state)->result_status) {
      std::cout << "result " << *(*state)->result_status << ": " << (*state)->result_detail.value_or("")
                << "\n";
      return *(*state)->result_status == "ok" ? 0 : 1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "ehealth-hub: no result within " << options.wait_seconds
                << " s (the command stays queued)\n";
      return 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return 0;
}

// Files an operator names decide which gateways the hub trusts: only a regular file is read (a FIFO
// would block, /dev/zero never ends), bounded, and refused when others may write it.
constexpr ehg::core::FileKind kGatewayKeyFile{"gateway public key", ehg::core::kMaxKeyFileBytes, false, true};
// 100,000 gateways at about 300 bytes a line, with room to spare.
constexpr ehg::core::FileKind kEnrolmentList{"enrolment list", 64 * ehg::core::kMiB, false, true};

int Keys(const std::string& action, const KeyRequest& request) {
  ehg::core::SystemClock clock;
  auto ledger = ehg::ledger::Ledger::Open({request.database});
  if (!ledger) return Fail("the database", ledger.error());
  if (action == "revoke") {
    if (auto revoked = (*ledger)->Revoke(request.tenant, request.gateway, request.actor, clock.Now());
        !revoked)
      return Fail("revoke", revoked.error());
    std::cout << "revoked " << request.tenant << "/" << request.gateway << "\n";
    return 0;
  }
  auto key_text = ehg::core::ReadCheckedFile(request.key_file, kGatewayKeyFile);
  if (!key_text) return Fail("the gateway's public key", key_text.error());
  auto key = ehg::crypto::EcKey::FromText(*key_text);
  if (!key) return Fail("the gateway's public key", key.error());
  const ehg::ledger::GatewayKey gateway_key{key->id(), key->Jwk(false)};
  if (action == "enrol") {
    ehg::ledger::Enrolment enrolment{request.tenant, request.gateway, gateway_key,
                                     request.certificate_fingerprint};
    if (auto enrolled = (*ledger)->Enrol(enrolment, request.actor, clock.Now()); !enrolled)
      return Fail("enrol", enrolled.error());
    std::cout << "enrolled " << request.tenant << "/" << request.gateway << " key " << key->id() << "\n";
    return 0;
  }
  if (auto rotated = (*ledger)->RotateKey(request.tenant, request.gateway, gateway_key,
                                          request.certificate_fingerprint, request.actor, clock.Now());
      !rotated)
    return Fail("rotate-key", rotated.error());
  std::cout << "rotated " << request.tenant << "/" << request.gateway << " to key " << key->id() << "\n";
  return 0;
}

// `enrol-batch`: many gateways from one file, as ehealth-fleet-sim provision writes it (enrol.tsv) and a
// municipality's installer list can: "tenant<TAB>gateway<TAB>public key (JWK or PEM on one line)<TAB>
// certificate SHA-256" per line, # comments and blank lines skipped. Enrolling a gateway again with the
// same key changes nothing; the first failing line stops the batch with its line number.
int EnrolBatch(const std::string& database, const std::string& file, const std::string& actor) {
  ehg::core::SystemClock clock;
  auto text = ehg::core::ReadCheckedFile(file, kEnrolmentList);
  if (!text) return Fail("the enrolment list", text.error());
  auto ledger = ehg::ledger::Ledger::Open({database});
  if (!ledger) return Fail("the database", ledger.error());
  std::istringstream in(*text);
  std::string line;
  std::size_t number = 0, enrolled = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, '\t');)
      fields.push_back(field);
    const std::string where = file + " line " + std::to_string(number);
    if (fields.size() != 4) {
      std::cerr << "ehealth-hub: " << where
                << ": expected tenant, gateway, key and fingerprint, tab-separated\n";
      return 1;
    }
    auto key = ehg::crypto::EcKey::FromText(fields[2]);
    if (!key) return Fail(where, key.error());
    const ehg::ledger::Enrolment enrolment{fields[0], fields[1], {key->id(), key->Jwk(false)}, fields[3]};
    if (auto done = (*ledger)->Enrol(enrolment, actor, clock.Now()); !done) return Fail(where, done.error());
    ++enrolled;
  }
  std::cout << "enrolled " << enrolled << " gateways from " << file << "\n";
  return 0;
}

// `user add` and `user password` read the password from standard input; typed at a terminal it is not
// echoed.
int User(const ehg::hub::UserRequest& request) {
  ehg::core::SystemClock clock;
  auto ledger = ehg::ledger::Ledger::Open({request.database});
  if (!ledger) return Fail("the database", ledger.error());
  const bool terminal = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal && (request.action == "add" || request.action == "password") &&
      ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::cerr << "password for " << request.name << ": " << std::flush;
    const int code = ehg::hub::RunUserCommand(request, **ledger, std::cin, std::cout, std::cerr, clock.Now());
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << "\n";
    return code;
  }
  return ehg::hub::RunUserCommand(request, **ledger, std::cin, std::cout, std::cerr, clock.Now());
}

}  // namespace

int main(int argc, char** argv) {
  cli::Program app{"ehealth-hub: the region's care hub on NATS JetStream and PostgreSQL",
                   std::string("ehealth-hub ") + EHG_VERSION};
  app.RequireSubcommand();

  RunRequest run_request;
  cli::Command run =
      app.Subcommand("run", "Take the gateways' events into PostgreSQL and answer with receipts");
  ehg::hub::DeclareRunOptions(run, run_request);

  KeyRequest key_request;
  std::vector<cli::Command> key_commands;
  for (const auto& [name, help] : std::vector<std::pair<std::string, std::string>>{
           {"enrol", "Accept a gateway's messages, signed with this key"},
           {"rotate-key",
            "Make this the gateway's key; the previous one stays accepted for the grace period"},
           {"revoke", "Accept no key of the gateway any more"}}) {
    cli::Command key_command = app.Subcommand(name, help);
    key_command.Add("--database", key_request.database, "libpq connection string").Required();
    key_command.Add("--tenant", key_request.tenant, "The municipality number").Required();
    key_command.Add("--gateway", key_request.gateway, "The gateway id").Required();
    key_command.Add("--actor", key_request.actor, "Who does it (the audit log names them)");
    if (name != "revoke") {
      key_command.Add("--key", key_request.key_file, "The gateway's public key (JWK or PEM)").Required();
      key_command.Add("--cert-fingerprint", key_request.certificate_fingerprint,
                      "SHA-256 of the gateway's client certificate (DER), hex");
    }
    key_commands.push_back(key_command);
  }

  std::string batch_database, batch_file, batch_actor = "ehealth-hub cli";
  cli::Command enrol_batch = app.Subcommand("enrol-batch", "Enrol many gateways from a tab-separated file");
  enrol_batch.Add("--database", batch_database, "libpq connection string").Required();
  enrol_batch.Add("--from", batch_file, "tenant, gateway, public key, certificate SHA-256 per line")
      .Required();
  enrol_batch.Add("--actor", batch_actor, "Who does it (the audit log names them)");

  RunRequest command_settings;
  CommandOptions command_options;
  cli::Command send_command =
      app.Subcommand("command", "Send one signed command to a gateway (the hub's settings)");
  ehg::hub::DeclareRunOptions(send_command, command_settings);
  send_command.Add("--tenant", command_options.tenant, "The municipality number").Required();
  send_command.Add("--gateway", command_options.gateway, "The gateway id").Required();
  send_command.Add("--command", command_options.command, R"(The command object, e.g. {"type":"ping"})")
      .Required();
  send_command.Add("--lifetime", command_options.lifetime_seconds, "Seconds the gateway may still take it")
      .Range(60, 7 * 24 * 3600);
  send_command.Add("--wait", command_options.wait_seconds, "Seconds to wait for its result (a hub must run)")
      .Range(0, 3600);

  ehg::hub::UserRequest user_request;
  cli::Command user = app.Subcommand("user", "The console's staff accounts (passwords from standard input)");
  user.RequireSubcommand();
  user.Fallthrough();  // --database and --actor also after the action
  user.Add("--database", user_request.database, "libpq connection string").Required();
  user.Add("--actor", user_request.actor, "Who does it (the audit log names them)");
  for (const auto& [name, help] : std::vector<std::pair<std::string, std::string>>{
           {"add", "Create an account: --name, --role, --tenants; its password from standard input"},
           {"disable", "Refuse the account's sign-in and end its sessions"},
           {"enable", "Allow the account's sign-in again"},
           {"password", "Set the account's password from standard input; its sessions end"},
           {"list", "Every account: name, role, municipalities, enabled or disabled"}}) {
    cli::Command action = user.Subcommand(name, help);
    action.OnParsed([&user_request, action_name = name] { user_request.action = action_name; });
    if (name == "list") continue;
    action.Add("--name", user_request.name, "The user name").Required();
    if (name == "add") {
      action.Add("--role", user_request.role, "nurse, coordinator, municipal_it or administrator").Required();
      action
          .Add("--tenants", user_request.tenants,
               "Municipality numbers, comma-separated; '*': every one (administrator)")
          .Required();
    }
  }

  std::string grants_role;
  std::string grants_for = "hub";
  cli::Command grants = app.Subcommand(
      "grants",
      "Print the SQL that gives a login role what the hub or the console needs (run it as the owner)");
  grants.Add("--role", grants_role, "The login role (lower-case letters, digits and _)").Required();
  grants.Add("--for", grants_for, "hub or console").OneOf({"hub", "console"});

  if (const auto exit_code = app.Parse(argc, argv))
    // A `run` that cannot start as configured: the unit does not restart it (RestartPreventExitStatus).
    return *exit_code != 0 && run.Parsed() ? kExitConfig : *exit_code;
  if (run) return Run(run_request);
  if (enrol_batch) return EnrolBatch(batch_database, batch_file, batch_actor);
  if (send_command) return Command(command_settings, command_options);
  if (user) return User(user_request);
  if (grants) {
    auto sql = grants_for == "console" ? ehg::ledger::ConsoleGrants(grants_role)
                                       : ehg::ledger::HubGrants(grants_role);
    if (!sql) {
      std::cerr << "ehealth-hub grants: " << sql.error().message << "\n";
      return 64;  // EX_USAGE
    }
    std::cout << *sql;
    return 0;
  }
  for (const cli::Command& key_command : key_commands)
    if (key_command) return Keys(key_command.Name(), key_request);
  return 1;
}
