#include "gateway/app/daemon.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "devices/ble/ble_manager.hpp"
#include "devices/serial/serial_driver.hpp"
#include "gateway/app/component_options.hpp"
#include "gateway/app/remote_commands.hpp"
#include "gateway/app/security_setup.hpp"
#include "gateway/app/service_notifier.hpp"
#include "gateway/app/status_collector.hpp"
#include "gateway/app/supervisor.hpp"
#include "gateway/config/config.hpp"
#include "gateway/config/security_floor.hpp"
#include "gateway/core/atomic_file.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/file_snapshot.hpp"
#include "gateway/core/json.hpp"
#include "gateway/core/liveness.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/telemetry.hpp"
#include "gateway/core/thread_name.hpp"
#include "gateway/fhir/observation.hpp"
#include "gateway/http/server.hpp"
#include "gateway/pipeline/event_bodies.hpp"
#include "gateway/pipeline/pipeline.hpp"
#include "gateway/store/store.hpp"
#include "gateway/transport/paho_transport.hpp"
#include "gateway/tz/time_zone.hpp"
#include "gateway/uplink/messages.hpp"
#include "gateway/uplink/uplink.hpp"

namespace ehg::app {
namespace {

// Wakes the main loop for work posted to it (PostToMain).
constexpr int kMainTaskSignal = SIGUSR1;

// How often a running gateway checks the whole database file (and soon after an unclean start).
constexpr std::chrono::hours kWholeFileCheckInterval{24 * 7};

void LogConfigErrors(std::string_view message, const std::vector<config::ConfigError>& errors) {
  for (const config::ConfigError& error : errors)
    core::LogError(message, {{"error", error.ToString()}});
}

// Told on the pipeline thread once a reading is durable (or refused). Per-message detail: debug only.
void ReportReading(const core::Reading& reading, const Result<std::int64_t>& stored) {
  if (!core::LogEnabled(core::LogLevel::kDebug)) return;
  if (stored) {
    core::LogDebug("reading stored",
                   {{"reading_id", *stored},
                    {"device", reading.device_id},
                    {"metric", reading.metric},
                    {"device_time_ms", reading.EffectiveTime().time_since_epoch().count()}});
  } else {
    core::LogDebug(
        "reading not stored",
        {{"device", reading.device_id}, {"metric", reading.metric}, {"reason", stored.error().message}});
  }
}

// The remote commands' side effects on the real files and store, on the main thread.
class DaemonRemotePort : public RemoteCommandPort {
 public:
  DaemonRemotePort(std::filesystem::path config_path, std::filesystem::path storage_path)
      : config_path_(std::move(config_path)), storage_path_(std::move(storage_path)) {}

  Result<std::string> ReadLocalConfigText() override {
    return core::ReadCheckedFile(config_path_, core::kConfigFile);
  }

  std::optional<std::string> UnusableFiles(const config::Config& candidate) override {
    if (const auto errors = config::CheckNamedFiles(candidate); !errors.empty()) {
      return "a file the config names is unusable, nothing changed: " + errors.front().ToString() +
             (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : "");
    }
    if (auto protection = BuildProtection(candidate, ProtectionUse::kCheckingOnly); !protection) {
      return "keys unusable, nothing changed: " + protection.error().message;
    }
    return std::nullopt;
  }

  Result<void> WriteConfig(std::string_view text, const std::filesystem::path& previous) override {
    return core::WriteFileAtomically(config_path_, std::string(text), previous);
  }

  // The main thread reloads on SIGHUP (its sigtimedwait takes it).
  void Reload() override { ::kill(::getpid(), SIGHUP); }

  Result<std::uint64_t> CountOpenCriticalAlerts() override {
    return store::CountOpenAlerts(storage_path_, "critical");
  }

  Result<void> WriteUpdateRequest(std::string_view body) override {
    return core::WriteFileAtomically(storage_path_.parent_path() / "update-request.json", std::string(body));
  }

 private:
  std::filesystem::path config_path_;
  std::filesystem::path storage_path_;
};

class Daemon {
 public:
  Daemon(std::filesystem::path config_path, config::Config config, DaemonOptions options)
      : options_(std::move(options)),
        config_path_(std::move(config_path)),
        config_(std::move(config)),
        clock_(config_.gateway.assume_clock_synchronised),
        ids_(clock_),
        remote_port_(config_path_, config_.storage.path),
        remote_commands_(config_path_, static_cast<bool>(options_.simulated_devices), remote_port_, clock_) {}

  int Run() {
    core::SetLogLevel(config_.gateway.log_level);
    core::LogInfo("gateway starting", {{"version", EHG_VERSION}, {"config", config_path_.string()}});
    if (config_.gateway.assume_clock_synchronised) {
      core::LogWarning(
          "wall clock assumed synchronised by configuration (gateway.assume_clock_synchronised)");
    }
    if (config_.broker.insecure_plaintext_for_development) {
      core::LogWarning(
          "broker.insecure_plaintext_for_development is set: MQTT without TLS, development only");
    }
    if (!clock_.WallClockSynchronised()) {
      core::LogWarning("wall clock not synchronised; readings are marked time_uncertain until it is");
    }

    auto protection = BuildProtection(config_, ProtectionUse::kStarting);
    if (!protection) {
      core::LogError("cannot set up end-to-end protection", {{"reason", protection.error().message}});
      return kExitConfig;
    }
    // Read here, on the main thread, and never by name on the uplink's: paho opens only these copies.
    if (auto copied = CopyTlsFiles(); !copied) {
      core::LogError("cannot copy the broker's TLS files", {{"reason", copied.error().message}});
      return kExitFailure;
    }

    std::error_code error;
    std::filesystem::create_directories(config_.storage.path.parent_path(), error);
    store::OpenReport report;
    store::StoreOptions store_options;
    store_options.path = config_.storage.path;
    store_options.outbox_budget_bytes = config_.storage.outbox_budget_bytes;
    store_options.max_database_bytes = config_.storage.max_database_bytes;
    store_options.keep_free_disk_bytes = config_.storage.keep_free_disk_bytes;
    // A check in the background (or a failed write) found the file damaged: check all of it now.
    store_options.full_check = std::filesystem::exists(WholeFileCheckMarker(), error);
    auto opened = store::Store::Open(store_options, clock_, &report);
    if (!opened) {
      core::LogError("cannot open the database",
                     {{"code", ToString(opened.error().code)}, {"reason", opened.error().message}});
      return opened.error().code == Errc::kUnsupported ? kExitConfig : kExitFailure;
    }
    store_ = std::move(*opened);
    if (report.corrupt_file_moved_to) ReportCorruptDatabase(report);
    if (auto settings = store_->LoadSettings(); settings) {
      if (auto found = settings->find(std::string(pipeline::kRulesReportedSetting)); found != settings->end())
        rules_reported_ = found->second;
    }
    if (store_options.full_check) {
      core::LogInfo("database checked whole at start",
                    {{"moved_aside", report.corrupt_file_moved_to.has_value()}});
      std::filesystem::remove(WholeFileCheckMarker(), error);
    }
    // After a kill or a power cut, the whole file is checked soon, beside the running gateway; otherwise
    // once a week (start-up checks only what it cannot run without, so it stays fast with months of data).
    next_whole_file_check_ =
        clock_.SteadyNow() + (report.unclean_shutdown ? std::chrono::seconds(3) : kWholeFileCheckInterval);
    if (report.unclean_shutdown)
      core::LogInfo("the last run did not close the database; a full check follows");

    auto settings = store_->LoadSettings();
    if (!settings) {
      core::LogError("cannot read stored settings", {{"reason", settings.error().message}});
      return kExitFailure;
    }
    auto reader = store::OutboxReader::Open(config_.storage.path);
    if (!reader) {
      core::LogError("cannot open the outbox for reading", {{"reason", reader.error().message}});
      return kExitFailure;
    }

    auto zone = tz::LoadTimeZone(config_.resident.time_zone);
    if (!zone) {
      core::LogError("cannot load the resident's time zone", {{"reason", zone.error().message}});
      return kExitConfig;
    }
    zone_ = *zone;
    pipeline::PipelineOptions pipeline_options = PipelineOptionsFor(config_);
    pipeline_options.telemetry = &telemetry_;
    pipeline_ = std::make_unique<pipeline::Pipeline>(*store_, clock_, ids_, std::move(pipeline_options),
                                                     config_.rules, zone_);
    outbox_ = std::make_unique<uplink::ReaderOutbox>(std::move(*reader), *pipeline_);
    uplink::UplinkOptions uplink_options = UplinkOptionsFor(config_, *settings);
    uplink_options.protection = *protection;
    uplink_options.telemetry = &telemetry_;
    uplink_options.observation_batch = [](std::string_view, const std::vector<const std::string*>& bodies) {
      fhir::BundleResult bundle = fhir::ObservationBundle(bodies);
      if (bundle.unreadable > 0) {
        core::LogError("stored observations that are not observation events were left out of a bundle",
                       {{"unreadable", bundle.unreadable}});
      }
      return std::move(bundle.json);
    };
    // Carried out on the main thread (which owns the config and reloads it), never on the uplink's.
    uplink_options.apply_config = [this](const wire::ConfigChange& change, uplink::CommandDone done) {
      PostToMain([this, change, done = std::move(done)] { done(remote_commands_.Apply(change)); });
    };
    uplink_options.request_update = [this](const wire::UpdateRequest& update, const std::string& command_id,
                                           uplink::CommandDone done) {
      PostToMain([this, update, command_id, done = std::move(done)] {
        done(remote_commands_.RequestUpdate(update, command_id));
      });
    };
    uplink_ = std::make_unique<uplink::Uplink>(std::move(uplink_options), TransportFactory(), *outbox_,
                                               clock_, ids_);
    pipeline_->SetOutboxListener([this](core::Priority most_urgent) { uplink_->NotifyOutbox(most_urgent); });
    if (auto started = pipeline_->Start(); !started) {
      core::LogError("cannot start the pipeline", {{"reason", started.error().message}});
      return kExitFailure;
    }
    uplink_->Start();
    ReportRulesInForce();
    StartDevices();
    StartStatusPage();
    core::LogInfo("gateway running", {{"devices", config_.devices.size()}, {"rules", config_.rules.size()}});
    notifier_.Ready(ServiceStatus());

    const bool damaged = WaitForSignals();
    notifier_.Stopping();
    StopWholeFileCheck();
    status_page_.reset();

    // Stop intake first; the uplink hands its last acknowledgements to the pipeline, which commits
    // everything it holds.
    StopDevices();
    uplink_->Stop();
    pipeline_->Stop();
    const auto& counters = pipeline_->counters();
    core::LogInfo("gateway stopped", {{"stored", counters.stored.load()},
                                      {"rejected", counters.rejected_invalid.load()},
                                      {"alerts_raised", counters.alerts_raised.load()},
                                      {"outbox_rows", store_->outbox_stats().rows}});
    // systemd starts the gateway again (Restart=on-failure): the marker makes that start check the whole
    // file, move a damaged one aside and begin a fresh one, loudly (docs/storage.md, "Corruption").
    return damaged ? kExitFailure : kExitOk;
  }

  // Blocks these signals in every thread (threads inherit the mask), so only sigtimedwait sees them.
  static sigset_t BlockSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, kMainTaskSignal);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
  }

 private:
  // One TLS file's checked copy (core::FileSnapshot), or an empty one with the reason when the file
  // cannot be used: the gateway then runs, stores and alerts locally, and the uplink cannot connect
  // until the file is fixed and the gateway reloaded.
  static Result<core::FileSnapshot> CopyTlsFile(std::string_view key, const std::filesystem::path& path,
                                                const core::FileKind& kind, std::string& problems) {
    auto copy = core::FileSnapshot::Take(path, kind);
    if (copy) return copy;
    problems += (problems.empty() ? "" : "; ") + std::string(key) + ": " + copy.error().message;
    return core::FileSnapshot::Empty(path.filename().string());
  }

  // Start: copies of tls.ca_file, cert_file and key_file for paho. Reload: fresh copies of the same
  // files (a renewed certificate), put in place only when all three could be read again.
  Result<void> CopyTlsFiles() {
    if (config_.broker.insecure_plaintext_for_development) return {};
    // Before reading: a change made while they are read is noticed at the next check.
    tls_identity_ = TlsFileIdentity();
    tls_checked_at_ = clock_.SteadyNow();
    const config::TlsConfig& tls = config_.tls;
    std::string problems;
    auto ca = CopyTlsFile("tls.ca_file", tls.ca_file, core::kCaFile, problems);
    auto cert = CopyTlsFile("tls.cert_file", tls.cert_file, core::kCertificateFile, problems);
    auto key = CopyTlsFile("tls.key_file", tls.key_file, core::kTlsKeyFile, problems);
    if (!ca) return tl::unexpected(ca.error());
    if (!cert) return tl::unexpected(cert.error());
    if (!key) return tl::unexpected(key.error());
    if (!tls_copies_) {
      tls_copies_.emplace(TlsCopies{std::move(*ca), std::move(*cert), std::move(*key)});
      if (!problems.empty()) {
        core::LogError(
            "broker TLS files unusable: the uplink cannot connect until they are fixed and the "
            "gateway reloaded",
            {{"reason", problems}});
      }
      return {};
    }
    if (!problems.empty()) {
      core::LogError("broker TLS files not read again, the uplink keeps the ones it has",
                     {{"reason", problems}});
      return {};
    }
    for (auto [target, newer] : {std::pair{&tls_copies_->ca, &*ca}, std::pair{&tls_copies_->cert, &*cert},
                                 std::pair{&tls_copies_->key, &*key}}) {
      if (auto replaced = target->ReplaceWith(std::move(*newer)); !replaced) return replaced;
    }
    core::LogInfo("broker TLS files read again; the next connection uses them");
    return {};
  }

  // What identifies the current content of the three TLS files (device, inode, size, modification
  // time), for noticing a renewed certificate without a reload. stat() opens nothing and never blocks.
  std::vector<std::int64_t> TlsFileIdentity() const {
    std::vector<std::int64_t> identity;
    for (const std::filesystem::path* path :
         {&config_.tls.ca_file, &config_.tls.cert_file, &config_.tls.key_file}) {
      struct stat status {};
      if (::stat(path->c_str(), &status) != 0) {
        identity.insert(identity.end(), {-1, -1, -1, -1, -1});
        continue;
      }
      identity.insert(
          identity.end(),
          {static_cast<std::int64_t>(status.st_dev), static_cast<std::int64_t>(status.st_ino),
           static_cast<std::int64_t>(status.st_size), static_cast<std::int64_t>(status.st_mtim.tv_sec),
           static_cast<std::int64_t>(status.st_mtim.tv_nsec)});
    }
    return identity;
  }

  // Main thread, every turn: a certificate renewed in place (a new file, or new content) is copied for
  // the next connection within kTlsFileCheckInterval, as paho's own reads by name did before the copies.
  void RefreshTlsFilesIfChanged() {
    static constexpr auto kTlsFileCheckInterval = std::chrono::seconds(30);
    if (config_.broker.insecure_plaintext_for_development) return;
    const core::SteadyTime now = clock_.SteadyNow();
    if (now - tls_checked_at_ < kTlsFileCheckInterval) return;
    tls_checked_at_ = now;
    if (TlsFileIdentity() == tls_identity_) return;
    if (auto copied = CopyTlsFiles(); !copied) {
      core::LogError("broker TLS files not read again", {{"reason", copied.error().message}});
    }
  }

  transport::TransportFactory TransportFactory() const {
    const config::Config& config = config_;
    transport::PahoOptions options;
    options.uri = config.broker.uri;
    options.client_id = "ehg-" + config.gateway.tenant + "-" + config.gateway.id;
    options.insecure_plaintext = config.broker.insecure_plaintext_for_development;
    if (tls_copies_) {
      options.ca_file = tls_copies_->ca.path();
      options.cert_file = tls_copies_->cert.path();
      options.key_file = tls_copies_->key.path();
    }
    options.version = config.broker.protocol == config::MqttProtocol::kV3_1_1
                          ? transport::MqttVersion::kV3_1_1
                          : transport::MqttVersion::kV5;
    options.keepalive = config.broker.keepalive;
    options.session_expiry = config.uplink.session_expiry;  // MQTT 5 only
    // The last will is the uplink's: signed anew before each connection.
    options.maximum_packet_bytes = uplink::kMaxIncomingPacketBytes;
    options.subscription_qos = config.broker.command_qos;
    return [options](transport::TransportEvents events) {
      return transport::MakePahoTransport(options, std::move(events));
    };
  }

  void ReportCorruptDatabase(const store::OpenReport& report) {
    RecordGatewayEvent("storage.corrupt_database_replaced", "error",
                       "the database failed its integrity check and was moved to " +
                           report.corrupt_file_moved_to->string() + ": " + report.corruption_reason);
  }

  // The update helper (root, packaging/update-helper) leaves its outcome beside the database, after the
  // gateway it checked is up: the running gateway looks for it every turn of the main loop, records it as
  // a gateway event for the care system through the pipeline, and marks the file reported once committed.
  void ReportUpdateOutcome() {
    if (update_outcome_in_flight_) return;
    const std::filesystem::path outcome_file = config_.storage.path.parent_path() / "update-result.json";
    // Checked every second on the main thread: a FIFO here would stop the watchdog pings.
    auto text = core::ReadCheckedFile(outcome_file, core::kOutcomeFile);
    if (!text) {
      if (text.error().code != Errc::kNotFound && !outcome_refusal_logged_) {
        core::LogError("update outcome unreadable", {{"reason", text.error().message}});
        outcome_refusal_logged_ = true;
      }
      return;
    }
    outcome_refusal_logged_ = false;
    std::string outcome = "unknown";
    std::string detail = std::move(*text);
    if (const auto parsed = core::ParseJson(detail);
        parsed && parsed->type == core::JsonValue::Type::kObject) {
      const auto text_of = [&parsed](std::string_view key) -> std::optional<std::string> {
        const core::JsonValue* value = parsed->Find(key);
        if (value == nullptr || value->type != core::JsonValue::Type::kString) return std::nullopt;
        return value->text;
      };
      outcome = text_of("outcome").value_or("unknown");
      detail = text_of("detail").value_or("");
    } else {
      core::LogError("update outcome unreadable",
                     {{"file", outcome_file.string()},
                      {"reason", parsed ? std::string("not a JSON object") : parsed.error().message}});
    }
    store::OutboxChange change;
    change.events.push_back(
        GatewayEvent("update." + outcome, outcome == "installed" ? "info" : "error", detail));
    update_outcome_in_flight_ = true;
    const bool queued = pipeline_->ApplyOutboxChange(
        std::move(change), [this, outcome_file, outcome](const Result<store::WriteOutcome>& written) {
          if (!written) {
            core::LogError("cannot record the update outcome", {{"reason", written.error().message}});
            update_outcome_in_flight_ = false;
            return;
          }
          std::error_code error;
          std::filesystem::rename(outcome_file, outcome_file.string() + ".reported", error);
          if (error) {
            core::LogError("cannot mark the update outcome reported",
                           {{"file", outcome_file.string()}, {"reason", error.message()}});
          }
          core::LogInfo("update outcome reported", {{"outcome", outcome}});
          update_outcome_in_flight_ = false;
        });
    if (!queued) update_outcome_in_flight_ = false;
  }

  // The care system learns the rules in force (to draw their limits on the resident's charts) when they
  // differ from those last reported: at the first start, after a reload or a config.apply that changed
  // them. Remembered in the store with the event, so a restart with the same rules sends nothing.
  void ReportRulesInForce() {
    // Remembered with the gateway and the resident it was for: a gateway moved to another resident
    // reports its rules again, for the new pseudonym, even when they are the same rules.
    const std::string summary =
        config_.gateway.id + "\n" + config_.resident.pseudonym + "\n" + pipeline::RulesSummary(config_.rules);
    if (summary == rules_reported_ || rules_report_in_flight_) return;
    const pipeline::EventContext context{config_.gateway.id, config_.resident.pseudonym};
    core::Event event{ids_.Next(), core::EventKind::kGateway, core::Priority::kHigh, clock_.Now(), {}};
    event.body = pipeline::RulesInForceBody(context, event.id, event.created, config_.rules);
    store::OutboxChange change;
    change.events.push_back(std::move(event));
    change.settings[std::string(pipeline::kRulesReportedSetting)] = summary;
    rules_report_in_flight_ = true;
    // The answer comes on the pipeline's thread: the main loop picks it up (rules_report_done_).
    const bool queued = pipeline_->ApplyOutboxChange(
        std::move(change), [this, summary](const Result<store::WriteOutcome>& written) {
          std::lock_guard lock(rules_report_mutex_);
          rules_report_done_ = written ? std::optional<std::string>(summary) : std::optional<std::string>("");
        });
    if (!queued) rules_report_in_flight_ = false;
  }

  // Main loop: the outcome of ReportRulesInForce, and another try when it failed or the rules changed
  // meanwhile.
  void CheckRulesReported() {
    {
      std::lock_guard lock(rules_report_mutex_);
      if (rules_report_done_) {
        if (!rules_report_done_->empty()) {
          rules_reported_ = *rules_report_done_;
        } else {
          core::LogError("cannot record the rules in force; trying again in a minute");
          rules_report_retry_at_ = clock_.SteadyNow() + std::chrono::minutes(1);
        }
        rules_report_done_.reset();
        rules_report_in_flight_ = false;
      }
    }
    if (clock_.SteadyNow() >= rules_report_retry_at_) ReportRulesInForce();
  }

  core::Event GatewayEvent(const std::string& code, std::string_view severity, const std::string& detail) {
    const pipeline::EventContext context{config_.gateway.id, config_.resident.pseudonym};
    core::Event event{ids_.Next(), core::EventKind::kGateway, core::Priority::kHigh, clock_.Now(), {}};
    event.body = pipeline::GatewayEventBody(context, event.id, event.created, code, severity, detail);
    return event;
  }

  // Before the pipeline starts only: the store is the pipeline thread's after that.
  void RecordGatewayEvent(const std::string& code, std::string_view severity, const std::string& detail) {
    store::WriteBatch batch;
    batch.events.push_back(GatewayEvent(code, severity, detail));
    if (auto written = store_->Write(batch); !written) {
      core::LogError("cannot record a gateway event", {{"code", code}, {"reason", written.error().message}});
    }
  }

  void StartDevices() {
    StartBluetooth();
    for (devices::serial::SerialDeviceOptions& options : SerialDevices(config_, zone_)) {
      options.telemetry = &telemetry_;
      serial_.push_back(std::make_unique<devices::serial::SerialDriver>(
          std::move(options), *pipeline_, pipeline_.get(), clock_, ReportReading));
      serial_.back()->Start();
    }
    if (options_.simulated_devices) {
      source_ = options_.simulated_devices(config_, *pipeline_, clock_, ReportReading);
    }
  }

  // BLE needs BlueZ's bus; the manager connects in the background and keeps trying while it cannot.
  void StartBluetooth() {
    auto options = BleDevices(config_, zone_);
    if (!options) return;
    options->telemetry = &telemetry_;
    ble_ =
        std::make_unique<devices::ble::BleManager>(std::move(*options), *pipeline_, pipeline_.get(), clock_);
    ble_->Start();
  }

  // The page is a help, not the gateway's job: when it cannot start, that is logged and the gateway runs on.
  void StartStatusPage() {
    const config::StatusPageConfig& page = config_.status_page;
    if (!page.enabled) return;
    http::ServerOptions options;
    options.host = page.host;
    options.port = static_cast<std::uint16_t>(page.port);
    options.refresh = page.refresh;
    // OpenSSL reads the certificate and key by name while the server starts: it gets checked copies.
    std::optional<core::FileSnapshot> tls_cert;
    std::optional<core::FileSnapshot> tls_key;
    if (!page.tls_cert_file.empty()) {
      auto cert = core::FileSnapshot::Take(page.tls_cert_file, core::kCertificateFile);
      auto key = core::FileSnapshot::Take(page.tls_key_file, core::kTlsKeyFile);
      if (!cert || !key) {
        core::LogError("status page not started: its TLS files are unusable",
                       {{"reason", !cert ? cert.error().message : key.error().message}});
        return;
      }
      tls_cert.emplace(std::move(*cert));
      tls_key.emplace(std::move(*key));
      options.tls_cert_file = tls_cert->path();
      options.tls_key_file = tls_key->path();
    }
    if (!page.token_file.empty()) {
      auto token = http::ReadTokenFile(page.token_file);
      if (!token) {
        core::LogError("status page not started: its token is unreadable",
                       {{"token_file", page.token_file.string()}, {"reason", token.error().message}});
        return;
      }
      options.token = *token;
    }
    options.snapshot = [this] { return status_collector_.CollectStatus(); };
    auto server = http::StatusServer::Start(std::move(options));
    if (!server) {
      core::LogError("status page not started", {{"reason", server.error().message}});
      return;
    }
    status_page_ = std::move(*server);
    core::LogInfo(
        "status page listening",
        {{"url", std::string(status_page_->tls() ? "https://" : "http://") +
                     (page.host.find(':') != std::string::npos ? "[" + page.host + "]" : page.host) + ":" +
                     std::to_string(status_page_->port()) + "/"}});
  }

  void StopDevices() {
    if (ble_) ble_->Stop();
    ble_.reset();
    if (source_) source_->Stop();
    source_.reset();
    for (auto& driver : serial_)
      driver->Stop();
    serial_.clear();
  }

  // Beside the database: its presence makes the next start check the whole file.
  std::filesystem::path WholeFileCheckMarker() const {
    std::filesystem::path marker = config_.storage.path;
    marker += ".check-whole-file";
    return marker;
  }

  // Starts the whole-file check when due (or at once when a write met a damaged page), and takes its
  // outcome. true: the file is damaged, the gateway stops so that its next start recovers.
  bool CheckWholeFileInBackground() {
    const core::SteadyTime now = clock_.SteadyNow();
    const std::uint64_t corruption = pipeline_->counters().corruption_seen.load();
    if (!whole_file_check_.joinable()) {
      if (corruption > corruption_seen_ || now >= next_whole_file_check_) {
        corruption_seen_ = corruption;
        whole_file_check_done_ = false;
        whole_file_check_ = std::thread([this] {
          core::NameThisThread("ehg-check");
          const auto started = std::chrono::steady_clock::now();
          whole_file_check_result_ =
              store::QuickCheckWholeFile(config_.storage.path, &stop_whole_file_check_);
          whole_file_check_took_ = std::chrono::steady_clock::now() - started;
          whole_file_check_done_ = true;
        });
      }
      return false;
    }
    if (!whole_file_check_done_) return false;
    whole_file_check_.join();
    const Result<std::string> result = std::move(whole_file_check_result_);
    const auto took_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(whole_file_check_took_).count();
    if (!result) {
      core::LogWarning("whole-file database check could not run; retried in an hour",
                       {{"reason", result.error().message}});
      next_whole_file_check_ = now + std::chrono::hours(1);
      return false;
    }
    if (*result == "ok") {
      core::LogInfo("whole-file database check passed", {{"took_ms", took_ms}});
      next_whole_file_check_ = now + kWholeFileCheckInterval;
      return false;
    }
    core::LogError(
        "database damaged: the gateway stops; its next start moves the file aside and begins "
        "a fresh one",
        {{"problems", *result}, {"took_ms", took_ms}});
    const int marker =
        ::open(WholeFileCheckMarker().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (marker >= 0) {
      (void)::fsync(marker);
      ::close(marker);
    }
    return true;
  }

  void StopWholeFileCheck() {
    stop_whole_file_check_ = true;
    if (whole_file_check_.joinable()) whole_file_check_.join();
  }

  // true when the loop ended because the database was found damaged.
  bool WaitForSignals() {
    const sigset_t signals = BlockSignals();
    // Pings at a quarter of systemd's watchdog interval (at least every second), so one late turn of
    // this loop never costs a restart.
    const std::chrono::microseconds turn = MainLoopTurn(notifier_.watchdog_interval());
    const timespec timeout{static_cast<time_t>(turn.count() / 1'000'000),
                           static_cast<long>(turn.count() % 1'000'000) * 1000};
    while (true) {
      siginfo_t info{};
      const int signal_number = sigtimedwait(&signals, &info, &timeout);
      if (signal_number == SIGTERM || signal_number == SIGINT) {
        core::LogInfo("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
        return false;
      }
      if (signal_number == SIGHUP) {
        notifier_.Reloading();
        Reload();
        notifier_.Ready(ServiceStatus());
      }
      RunMainTasks();
      FeedWatchdog();
      notifier_.Status(ServiceStatus());
      ReportUpdateOutcome();
      CheckRulesReported();
      RefreshTlsFilesIfChanged();
      if (CheckWholeFileInBackground()) return true;
    }
  }

  // From any thread: runs `task` on the main thread at its next turn, woken at once by kMainTaskSignal.
  void PostToMain(std::function<void()> task) {
    {
      std::lock_guard lock(main_tasks_mutex_);
      main_tasks_.push_back(std::move(task));
    }
    // Blocked in every thread: only the main loop's sigtimedwait takes it.
    ::kill(::getpid(), kMainTaskSignal);
  }

  void RunMainTasks() {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard lock(main_tasks_mutex_);
      tasks.swap(main_tasks_);
    }
    for (auto& task : tasks)
      task();
  }

  // WATCHDOG=1 only while the pipeline and uplink threads turn: a hung thread stops the pings and
  // systemd restarts the service (Restart=on-failure), which recovers from the store.
  void FeedWatchdog() {
    if (!notifier_.watchdog_interval()) return;
    if (!watchdog_) watchdog_.emplace(*notifier_.watchdog_interval());
    const WatchdogGuard::Decision decision = watchdog_->Decide(
        clock_.SteadyNow(), {{"pipeline", pipeline_->LastHeartbeat()}, {"uplink", uplink_->LastHeartbeat()}});
    if (decision.ping) notifier_.Watchdog();
    if (!decision.log_stalled.empty()) {
      core::LogError("worker thread stalled: watchdog pings stopped, systemd will restart the gateway",
                     {{"threads", decision.log_stalled}, {"limit_ms", watchdog_->limit().count()}});
    }
  }

  // For `systemctl status` and the update helper's health check; no health data.
  std::string ServiceStatus() const {
    return "uplink " + std::string(uplink::ToString(uplink_->status().state)) + ", " +
           std::to_string(config_.devices.size()) + " devices, " + std::to_string(config_.rules.size()) +
           " rules";
  }

  void Reload() {
    core::LogInfo("reloading config", {{"config", config_path_.string()}});
    config::ConfigResult loaded = config::LoadConfig(config_path_);
    if (!loaded) {
      LogConfigErrors("reload refused, keeping the running config", loaded.error());
      return;
    }
    if (const auto errors = config::CheckNamedFiles(*loaded); !errors.empty()) {
      LogConfigErrors("reload refused, keeping the running config", errors);
      return;
    }
    if (const auto unsupported =
            UnsupportedSimulatedDevice(*loaded, static_cast<bool>(options_.simulated_devices))) {
      core::LogError("reload refused, keeping the running config", {{"error", *unsupported}});
      return;
    }
    if (auto copied = CopyTlsFiles(); !copied) {
      core::LogError("broker TLS files not read again", {{"reason", copied.error().message}});
    }
    config::Config next = std::move(*loaded);
    if (next.gateway.id != config_.gateway.id || next.gateway.tenant != config_.gateway.tenant ||
        next.resident != config_.resident || next.storage != config_.storage ||
        next.broker != config_.broker || next.tls != config_.tls || next.pipeline != config_.pipeline ||
        next.uplink != config_.uplink || next.security != config_.security ||
        next.gateway.assume_clock_synchronised != config_.gateway.assume_clock_synchronised) {
      core::LogWarning(
          "identity, broker, uplink, security, storage, pipeline or clock settings changed: they apply after "
          "a restart");
    }
    core::SetLogLevel(next.gateway.log_level);
    config_.gateway.log_level = next.gateway.log_level;
    if (next.rules != config_.rules) {
      pipeline_->ReplaceRules(next.rules);
      config_.rules = next.rules;
    }
    if (next.devices != config_.devices || next.bluetooth != config_.bluetooth) {
      std::lock_guard lock(devices_mutex_);
      StopDevices();
      config_.devices = next.devices;
      config_.bluetooth = next.bluetooth;
      StartDevices();
    }
    if (next.status_page != config_.status_page) {
      status_page_.reset();
      config_.status_page = next.status_page;
      StartStatusPage();
    }
    core::LogInfo("config reloaded", {{"devices", config_.devices.size()}, {"rules", config_.rules.size()}});
  }

  // The rules summary the care system was last sent (kRulesReportedSetting); main thread only. The
  // pipeline's answer to a report passes through rules_report_done_ (empty string: it failed).
  std::string rules_reported_;
  bool rules_report_in_flight_ = false;
  core::SteadyTime rules_report_retry_at_{};
  std::mutex rules_report_mutex_;
  std::optional<std::string> rules_report_done_;
  DaemonOptions options_;
  std::filesystem::path config_path_;
  config::Config config_;
  core::SystemClock clock_;
  core::EventIdGenerator ids_;
  // Every component's counters (/metrics, /api/status); before the components, so it outlives them.
  core::telemetry::Registry telemetry_;
  DaemonRemotePort remote_port_;
  RemoteCommands remote_commands_;
  // Work other threads hand to the main thread (remote commands); before uplink_, which posts here.
  std::mutex main_tasks_mutex_;
  std::deque<std::function<void()>> main_tasks_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<uplink::ReaderOutbox> outbox_;
  // Before uplink_: the copies outlive the transport that opens them.
  struct TlsCopies {
    core::FileSnapshot ca;
    core::FileSnapshot cert;
    core::FileSnapshot key;
  };
  std::optional<TlsCopies> tls_copies_;
  std::vector<std::int64_t> tls_identity_;  // of the files behind tls_copies_ (RefreshTlsFilesIfChanged)
  core::SteadyTime tls_checked_at_{};
  std::unique_ptr<uplink::Uplink> uplink_;
  std::unique_ptr<DeviceSource> source_;
  std::vector<std::unique_ptr<devices::serial::SerialDriver>> serial_;
  std::unique_ptr<devices::ble::BleManager> ble_;
  std::shared_ptr<const alerts::TimeZone> zone_;
  ServiceNotifier notifier_;
  core::SteadyTime started_ = std::chrono::steady_clock::now();
  // Held while devices are replaced (reload) and while the status page reads them.
  std::mutex devices_mutex_;
  StatusCollector status_collector_{config_, clock_, started_,       uplink_,   pipeline_,
                                    serial_, ble_,   devices_mutex_, telemetry_};
  std::optional<WatchdogGuard> watchdog_;  // once systemd asked for a watchdog
  // The whole-file integrity check (CheckWholeFileInBackground): its thread writes the result and the
  // time it took, then sets done; the main thread reads them only after that.
  std::thread whole_file_check_;
  std::atomic<bool> whole_file_check_done_{false};
  std::atomic<bool> stop_whole_file_check_{false};
  Result<std::string> whole_file_check_result_{std::string()};
  std::chrono::steady_clock::duration whole_file_check_took_{};
  core::SteadyTime next_whole_file_check_{};
  std::uint64_t corruption_seen_ = 0;
  std::atomic<bool> update_outcome_in_flight_{false};
  bool outcome_refusal_logged_ = false;  // once per unusable outcome file, not every second
  // Last member: destroyed first, so no request runs into what is gone.
  std::unique_ptr<http::StatusServer> status_page_;
};

// glibc gives each thread that allocates an arena of its own (up to eight per core), and every arena keeps
// pages of its own resident: with the daemon's ten threads, about 0.4 MiB of the steady RSS. The daemon
// allocates little and rarely (a few per cent of one core), so one shared arena costs nothing measurable.
// Done before the first thread starts; an operator's MALLOC_ARENA_MAX or GLIBC_TUNABLES wins.
void LimitMallocArenas() {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr || std::getenv("GLIBC_TUNABLES") != nullptr) return;
  ::mallopt(M_ARENA_MAX, 1);
}

}  // namespace

int RunDaemon(const std::filesystem::path& config_path, const DaemonOptions& options) {
  LimitMallocArenas();
  // Health data: files and directories we create are for the service user only, whatever the caller's umask.
  ::umask(0077);
  // Before any thread exists, so that every thread inherits the blocked mask.
  Daemon::BlockSignals();
  config::ConfigResult loaded = config::LoadConfig(config_path);
  if (!loaded) {
    LogConfigErrors("config invalid", loaded.error());
    return kExitConfig;
  }
  // A FIFO, a device, a directory, an oversized file or a secret others may read, named in the config,
  // stops the start here rather than blocking or misleading a component later.
  if (const auto errors = config::CheckNamedFiles(*loaded); !errors.empty()) {
    LogConfigErrors("config invalid", errors);
    return kExitConfig;
  }
  if (const auto unsupported =
          UnsupportedSimulatedDevice(*loaded, static_cast<bool>(options.simulated_devices))) {
    core::LogError("config invalid", {{"error", *unsupported}});
    return kExitConfig;
  }
  Daemon daemon(config_path, std::move(*loaded), options);
  return daemon.Run();
}

}  // namespace ehg::app
