#include "gateway/app/daemon.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "devices/ble/ble_manager.hpp"
#include "devices/serial/serial_driver.hpp"
#include "devices/sim/simulated_source.hpp"
#include "gateway/app/atomic_file.hpp"
#include "gateway/app/security_setup.hpp"
#include "gateway/app/service_notifier.hpp"
#include "gateway/config/config.hpp"
#include "gateway/config/security_floor.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/file_snapshot.hpp"
#include "gateway/core/liveness.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/telemetry.hpp"
#include "gateway/core/thread_name.hpp"
#include "gateway/fhir/observation.hpp"
#include "gateway/http/server.hpp"
#include "gateway/pipeline/event_bodies.hpp"
#include "gateway/pipeline/pipeline.hpp"
#include "gateway/store/store.hpp"
#include "gateway/uplink/messages.hpp"
#include "gateway/uplink/paho_transport.hpp"
#include "gateway/uplink/uplink.hpp"

namespace ehg::app {
namespace {

// How often a running gateway checks the whole database file (and soon after an unclean start).
constexpr std::chrono::hours kWholeFileCheckInterval{24 * 7};

void LogConfigErrors(std::string_view message, const std::vector<config::ConfigError>& errors) {
  for (const config::ConfigError& error : errors)
    core::LogError(message, {{"error", error.ToString()}});
}

std::vector<devices::sim::SimulatedDevice> SimulatedDevices(const config::Config& config) {
  std::vector<devices::sim::SimulatedDevice> simulated;
  for (const config::DeviceConfig& device : config.devices) {
    if (const auto* settings = std::get_if<config::SimulatedDeviceConfig>(&device.settings)) {
      // The config accepts exactly the profile names the simulator knows (tested), so this is set.
      const auto profile = devices::sim::ParseProfile(settings->profile);
      std::vector<devices::sim::ScenarioChange> scenario;
      for (const config::ScenarioStep& step : settings->scenario)
        scenario.push_back({step.after, step.parameter, step.value});
      simulated.push_back({device.id, profile.value(), settings->interval, settings->seed,
                           settings->artefact_rate, std::move(scenario)});
    }
  }
  return simulated;
}

// A device clock's local time (no zone) in the resident's zone; nullopt for a date that does not exist.
devices::serial::LocalTimeConverter LocalToUtc(std::shared_ptr<const alerts::TimeZone> zone) {
  return [zone = std::move(zone)](const devices::serial::CivilTime& time) -> std::optional<core::WallTime> {
    const auto since_epoch = core::FromCivilTime(time);
    if (!since_epoch) return std::nullopt;
    return zone->ToUtc(alerts::LocalTime{*since_epoch});
  };
}

std::vector<devices::serial::SerialDeviceOptions> SerialDevices(
    const config::Config& config, std::shared_ptr<const alerts::TimeZone> zone) {
  std::vector<devices::serial::SerialDeviceOptions> serial;
  for (const config::DeviceConfig& device : config.devices) {
    const auto* settings = std::get_if<config::SerialDeviceConfig>(&device.settings);
    if (settings == nullptr) continue;
    devices::serial::SerialDeviceOptions options;
    options.device_id = device.id;
    options.port = settings->port;
    // The config accepts exactly the protocol names the decoders implement (tested), so this is set.
    options.protocol = devices::serial::FindProtocol(settings->protocol).value();
    options.aggregation = {settings->window, settings->forward_waveform};
    options.local_to_utc = LocalToUtc(zone);
    options.user = settings->user;
    options.poll_interval = settings->poll_interval;
    serial.push_back(std::move(options));
  }
  return serial;
}

// A UTC instant as the resident's wall clock shows it: what BLE devices want written into their clocks.
std::function<core::CivilTime(core::WallTime)> UtcToLocal(std::shared_ptr<const alerts::TimeZone> zone) {
  return [zone = std::move(zone)](core::WallTime utc) {
    return core::ToCivilTime(zone->ToLocal(utc).time_since_epoch());
  };
}

std::optional<devices::ble::BleOptions> BleDevices(const config::Config& config,
                                                   std::shared_ptr<const alerts::TimeZone> zone) {
  devices::ble::BleOptions options;
  options.adapter = config.bluetooth.adapter;
  options.bus_address = config.bluetooth.bus_address;
  for (const config::DeviceConfig& device : config.devices) {
    const auto* settings = std::get_if<config::BleDeviceConfig>(&device.settings);
    if (settings == nullptr) continue;
    devices::ble::BleDeviceOptions ble;
    ble.device_id = device.id;
    ble.address = settings->address;
    ble.profile = settings->profile;
    ble.bthome_key_hex = settings->bthome_key_hex;
    ble.user = settings->user;
    for (const auto& [event, meaning] : settings->buttons) {
      ble.button_meanings.emplace_back(event, meaning == "ignore" ? devices::ble::ButtonMeaning::kIgnore
                                                                  : devices::ble::ButtonMeaning::kEmergency);
    }
    options.devices.push_back(std::move(ble));
  }
  if (options.devices.empty()) return std::nullopt;
  options.local_to_utc = LocalToUtc(zone);
  options.utc_to_local = UtcToLocal(zone);
  options.last_sequence =
      [path = config.storage.path](const std::string& device_id) -> std::optional<std::uint32_t> {
    auto last = store::LastStoredSequence(path, device_id, "glucose");
    if (!last) {
      core::LogWarning("last stored record unknown; the meter is asked for all records",
                       {{"device", device_id}, {"reason", last.error().message}});
      return std::nullopt;
    }
    return *last;
  };
  return options;
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

std::chrono::seconds HeartbeatInterval(const config::Config& config,
                                       const std::map<std::string, std::string>& settings) {
  const auto stored = settings.find(std::string(uplink::kHeartbeatSetting));
  if (stored == settings.end()) return config.uplink.heartbeat_interval;
  try {
    const std::chrono::seconds interval{std::stoll(stored->second)};
    if (interval >= uplink::kMinHeartbeat && interval <= uplink::kMaxHeartbeat) return interval;
  } catch (const std::exception&) {
  }
  core::LogWarning("stored heartbeat interval unusable; using the configured one",
                   {{"stored", stored->second}});
  return config.uplink.heartbeat_interval;
}

class Daemon {
 public:
  Daemon(std::filesystem::path config_path, config::Config config)
      : config_path_(std::move(config_path)),
        config_(std::move(config)),
        clock_(config_.gateway.assume_clock_synchronised),
        ids_(clock_) {}

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

    auto zone = config::LoadTimeZone(config_.resident.time_zone);
    if (!zone) {
      core::LogError("cannot load the resident's time zone", {{"reason", zone.error().message}});
      return kExitConfig;
    }
    zone_ = *zone;
    pipeline::PipelineOptions pipeline_options = PipelineOptions(config_);
    pipeline_options.telemetry = &telemetry_;
    pipeline_ = std::make_unique<pipeline::Pipeline>(*store_, clock_, ids_, std::move(pipeline_options),
                                                     config_.rules, zone_);
    outbox_ = std::make_unique<uplink::ReaderOutbox>(std::move(*reader), *pipeline_);
    uplink::UplinkOptions uplink_options = UplinkOptions(config_, *settings);
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
    uplink_options.apply_config = [this](const uplink::ConfigApply& apply) { return ApplyConfig(apply); };
    uplink_options.request_update = [this](const uplink::UpdateRequest& update,
                                           const std::string& command_id) {
      return RequestUpdate(update, command_id);
    };
    uplink_ = std::make_unique<uplink::Uplink>(std::move(uplink_options), TransportFactory(), *outbox_,
                                               clock_, ids_);
    pipeline_->SetOutboxListener([this](core::Priority most_urgent) { uplink_->NotifyOutbox(most_urgent); });
    if (auto started = pipeline_->Start(); !started) {
      core::LogError("cannot start the pipeline", {{"reason", started.error().message}});
      return kExitFailure;
    }
    uplink_->Start();
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
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
  }

 private:
  static pipeline::PipelineOptions PipelineOptions(const config::Config& config) {
    pipeline::PipelineOptions options;
    options.gateway_id = config.gateway.id;
    options.resident_pseudonym = config.resident.pseudonym;
    options.queue_capacity = config.pipeline.queue_capacity;
    options.batch_window = config.pipeline.batch_window;
    options.batch_max = config.pipeline.batch_max;
    options.readings_retention = config.storage.readings_retention;
    options.raw_readings_retention = config.storage.raw_readings_retention;
    options.outbox_budget_bytes = config.storage.outbox_budget_bytes;
    for (const config::DeviceConfig& device : config.devices)
      options.clock_tolerances[device.id] = config::ClockTolerance(device);
    return options;
  }

  static uplink::UplinkOptions UplinkOptions(const config::Config& config,
                                             const std::map<std::string, std::string>& settings) {
    uplink::UplinkOptions options;
    options.tenant = config.gateway.tenant;
    options.gateway_id = config.gateway.id;
    options.version = EHG_VERSION;
    options.in_flight_window = config.uplink.in_flight_window;
    options.observation_batch_max = config.uplink.observation_batch_max;
    options.observation_batch_window = config.uplink.observation_batch_window;
    options.receipt_resend_interval = config.uplink.receipt_resend_interval;
    options.heartbeat_interval = HeartbeatInterval(config, settings);
    options.reconnect_max = config.broker.reconnect_max;
    return options;
  }

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

  uplink::TransportFactory TransportFactory() const {
    const config::Config& config = config_;
    uplink::PahoOptions options;
    options.uri = config.broker.uri;
    options.client_id = "ehg-" + config.gateway.tenant + "-" + config.gateway.id;
    options.insecure_plaintext = config.broker.insecure_plaintext_for_development;
    if (tls_copies_) {
      options.ca_file = tls_copies_->ca.path();
      options.cert_file = tls_copies_->cert.path();
      options.key_file = tls_copies_->key.path();
    }
    options.keepalive = config.broker.keepalive;
    options.session_expiry = config.uplink.session_expiry;
    // The last will is the uplink's: signed anew before each connection.
    options.maximum_packet_bytes = uplink::kMaxIncomingPacketBytes;
    return [options](uplink::TransportEvents events) {
      return uplink::MakePahoTransport(options, std::move(events));
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
    try {
      const auto parsed = Poco::JSON::Parser().parse(detail).extract<Poco::JSON::Object::Ptr>();
      outcome = parsed->optValue<std::string>("outcome", "unknown");
      detail = parsed->optValue<std::string>("detail", "");
    } catch (const Poco::Exception& error) {
      core::LogError("update outcome unreadable",
                     {{"file", outcome_file.string()}, {"reason", error.displayText()}});
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
    auto simulated = SimulatedDevices(config_);
    if (simulated.empty()) return;
    source_ = std::make_unique<devices::sim::SimulatedSource>(std::move(simulated), *pipeline_, clock_,
                                                              ReportReading);
    source_->Start();
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
    // Poco reads the certificate and key by name while the server starts: it gets checked copies.
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
    options.snapshot = [this] { return CollectStatus(); };
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

  // On a status page thread: atomics, thread-safe getters and the database's own read connection.
  http::StatusSnapshot CollectStatus() {
    http::StatusSnapshot status;
    status.gateway_id = config_.gateway.id;
    status.tenant = config_.gateway.tenant;
    status.version = EHG_VERSION;
    status.now = clock_.Now();
    status.uptime = std::chrono::duration_cast<std::chrono::seconds>(clock_.SteadyNow() - started_);
    status.clock_synchronised = clock_.WallClockSynchronised();
    status.values_shown = config_.status_page.show_values;

    const uplink::UplinkStatus link = uplink_->status();
    const store::OutboxSnapshot outbox = pipeline_->outbox();
    http::UplinkView& view = status.uplink;
    view.state = std::string(uplink::ToString(link.state));
    view.connected_since = link.connected_since;
    view.last_publish = link.last_acknowledged;
    view.last_error = link.last_error;
    view.backlog_rows = outbox.rows;
    view.backlog_bytes = outbox.bytes;
    view.backlog_alerts = outbox.alert_rows;
    view.in_flight = link.in_flight;
    view.alerts_awaiting_receipt = link.alerts_awaiting_receipt;
    view.publish_latency = uplink_->publish_latency().Snapshot();
    status.telemetry = telemetry_.Collect();
    const pipeline::ActivityReport activity = pipeline_->activity();
    status.alert_changes = activity.alert_changes;

    auto stored = store::ReadStatusView(config_.storage.path);
    if (!stored) core::LogWarning("status page: database unreadable", {{"reason", stored.error().message}});
    if (stored) {
      for (const store::AlertRecord& alert : stored->open_alerts) {
        status.open_alerts.push_back({alert.rule_id, alert.severity, alert.state, alert.raised_at,
                                      alert.updated_at, status.values_shown ? alert.detail : std::string()});
      }
    }
    {
      std::lock_guard lock(devices_mutex_);
      // Each of these is a round trip to the Bluetooth thread: once per request, not once per device.
      const std::vector<devices::ble::BleDeviceStats> ble_stats =
          ble_ ? ble_->stats() : std::vector<devices::ble::BleDeviceStats>{};
      const bool bluez_present = ble_ && ble_->bluez_present();
      for (const config::DeviceConfig& device : config_.devices) {
        status.devices.push_back(DeviceStatus(device, activity, stored ? &stored->devices : nullptr,
                                              ble_stats, bluez_present, status));
      }
    }
    for (const core::LoggedProblem& problem : core::RecentProblems()) {
      http::Problem shown;
      shown.at = std::chrono::time_point_cast<std::chrono::milliseconds>(problem.at);
      shown.first_at = std::chrono::time_point_cast<std::chrono::milliseconds>(problem.first_at);
      shown.level = std::string(core::ToString(problem.level));
      shown.line = problem.line;
      shown.count = problem.count;
      status.recent_problems.push_back(std::move(shown));
    }
    return status;
  }

  // devices_mutex_ held.
  http::DeviceView DeviceStatus(const config::DeviceConfig& device, const pipeline::ActivityReport& activity,
                                const std::vector<store::DeviceRecord>* stored,
                                const std::vector<devices::ble::BleDeviceStats>& ble_stats,
                                bool bluez_present, http::StatusSnapshot& status) {
    http::DeviceView view;
    view.id = device.id;
    view.expected_interval = config::ExpectedInterval(device);
    if (const auto found = activity.devices.find(device.id); found != activity.devices.end()) {
      view.readings_by_metric = found->second.stored_by_metric;
      view.parse_errors += found->second.rejected;
      if (status.values_shown) {
        for (const auto& [metric, last] : found->second.last_values)
          view.last_values.push_back({metric, last.value, last.unit, last.received_at});
      }
    }
    if (stored != nullptr) {
      for (const store::DeviceRecord& record : *stored) {
        if (record.device_id != device.id) continue;
        view.last_reading = record.last_seen;
        view.last_seen = record.last_seen;
        view.battery_percent = record.battery_percent;
        view.last_error = record.last_error;
      }
    }
    const auto heard = [&view](std::optional<core::WallTime> contact) {
      if (contact && (!view.last_seen || *contact > *view.last_seen)) view.last_seen = contact;
    };
    if (const auto* simulated = std::get_if<config::SimulatedDeviceConfig>(&device.settings)) {
      view.transport = "simulated";
      view.type = simulated->profile;
      view.connection = "simulated";
    } else if (const auto* serial = std::get_if<config::SerialDeviceConfig>(&device.settings)) {
      view.transport = "serial";
      view.type = serial->protocol;
      view.connection = "disconnected";
      for (const auto& driver : serial_) {
        if (driver->device_id() != device.id) continue;
        const devices::serial::SerialDriverStats& stats = driver->stats();
        view.connection = stats.connected.load() ? "connected" : "disconnected";
        view.parse_errors += stats.bad_frames.load();
        if (const std::int64_t ms = stats.last_heard_ms.load(); ms != 0)
          heard(core::WallTime(std::chrono::milliseconds(ms)));
      }
    } else if (const auto* ble = std::get_if<config::BleDeviceConfig>(&device.settings)) {
      view.transport = "ble";
      view.type = ble->profile;
      view.connection = "disconnected";
      for (const devices::ble::BleDeviceStats& stats : ble_stats) {
        if (stats.device_id != device.id) continue;
        if (ble->profile == "bthome") {
          view.connection = bluez_present ? "listening" : "disconnected";
        } else {
          view.connection = stats.connected ? "connected" : "disconnected";
        }
        view.parse_errors += stats.parse_errors;
        view.rssi_dbm = stats.rssi;
        if (stats.battery) view.battery_percent = *stats.battery;
        if (!stats.last_error.empty()) view.last_error = stats.last_error;
        heard(stats.last_contact);
      }
    }
    return view;
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
    std::chrono::microseconds turn = std::chrono::seconds(1);
    if (const auto interval = notifier_.watchdog_interval()) turn = std::min(turn, *interval / 4);
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
      FeedWatchdog();
      notifier_.Status(ServiceStatus());
      ReportUpdateOutcome();
      RefreshTlsFilesIfChanged();
      if (CheckWholeFileInBackground()) return true;
    }
  }

  // WATCHDOG=1 only while the pipeline and uplink threads turn: a hung thread stops the pings and
  // systemd restarts the service (Restart=on-failure), which recovers from the store.
  void FeedWatchdog() {
    if (!notifier_.watchdog_interval()) return;
    const auto limit = std::max<std::chrono::milliseconds>(
        std::chrono::seconds(5),
        std::chrono::duration_cast<std::chrono::milliseconds>(*notifier_.watchdog_interval() / 2));
    const std::vector<std::string> stalled = core::StalledThreads(
        clock_.SteadyNow(), {{"pipeline", pipeline_->LastHeartbeat()}, {"uplink", uplink_->LastHeartbeat()}},
        limit);
    if (stalled.empty()) {
      notifier_.Watchdog();
      stall_logged_ = false;
      return;
    }
    if (!stall_logged_) {
      std::string names;
      for (const std::string& thread : stalled)
        names += (names.empty() ? "" : ",") + thread;
      core::LogError("worker thread stalled: watchdog pings stopped, systemd will restart the gateway",
                     {{"threads", names}, {"limit_ms", limit.count()}});
      stall_logged_ = true;
    }
  }

  // For `systemctl status` and the update helper's health check; no health data.
  std::string ServiceStatus() const {
    return "uplink " + std::string(uplink::ToString(uplink_->status().state)) + ", " +
           std::to_string(config_.devices.size()) + " devices, " + std::to_string(config_.rules.size()) +
           " rules";
  }

  // config.apply, on the uplink thread: the new file is validated as a whole (keys included), written
  // atomically with the old one kept beside it, then loaded like a SIGHUP reload on the main thread.
  uplink::CommandOutcome ApplyConfig(const uplink::ConfigApply& apply) {
    // Relative paths resolve as LoadConfig resolves them in the local file, so equal texts compare equal.
    config::ConfigResult parsed =
        config::ParseConfig(apply.text, std::filesystem::absolute(config_path_).parent_path());
    if (!parsed) {
      const auto& errors = parsed.error();
      return {false, "invalid config, nothing changed: " + errors.front().ToString() +
                         (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : "")};
    }
    // The floor is what the local file says now (what the next start takes, local edits included); a
    // remote config may differ from it only in care settings. When the local file does not read, nothing
    // remote replaces it: the installer fixes it on site (and config_ belongs to the main thread).
    const config::ConfigResult on_disk = config::LoadConfig(config_path_);
    if (!on_disk) {
      return {false,
              "the local config file does not read, nothing changed: " + on_disk.error().front().ToString()};
    }
    const std::vector<std::string> touched = config::SecurityFloorViolations(*on_disk, *parsed);
    if (!touched.empty()) {
      std::string keys;
      for (const std::string& key : touched)
        keys += (keys.empty() ? "" : ", ") + key;
      core::LogWarning("remote config refused: it touches the security floor", {{"keys", keys}});
      return {false,
              "refused, nothing changed: only the local config file may set " + keys +
                  " (a remote config may change rules, devices on the serial ports the local file names, "
                  "resident.time_zone, uplink.heartbeat_seconds and gateway.log_level between info and "
                  "warning; docs/security.md)"};
    }
    if (const auto errors = config::CheckNamedFiles(*parsed); !errors.empty()) {
      return {false, "a file the config names is unusable, nothing changed: " + errors.front().ToString() +
                         (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : "")};
    }
    if (auto protection = BuildProtection(*parsed, ProtectionUse::kCheckingOnly); !protection) {
      return {false, "keys unusable, nothing changed: " + protection.error().message};
    }
    const std::filesystem::path previous = config_path_.string() + ".previous";
    if (auto written = WriteFileAtomically(config_path_, apply.text, previous); !written) {
      return {false, "could not write the config, the previous one stays: " + written.error().message};
    }
    core::LogInfo("config replaced by command",
                  {{"config", config_path_.string()}, {"previous", previous.string()}});
    ::kill(::getpid(), SIGHUP);
    return {true, "config written (previous kept as " + previous.filename().string() +
                      ") and reloading; broker, uplink, storage and security changes apply after a restart"};
  }

  // update.request, on the uplink thread: the request file is the only thing the (root) update helper
  // takes from the daemon.
  uplink::CommandOutcome RequestUpdate(const uplink::UpdateRequest& update, const std::string& command_id) {
    auto critical = store::CountOpenAlerts(config_.storage.path, "critical");
    if (!critical) return {false, "cannot check for open critical alerts: " + critical.error().message};
    if (*critical > 0) {
      return {false, "a critical alert is open: no update starts until it is resolved"};
    }
    const std::filesystem::path request = config_.storage.path.parent_path() / "update-request.json";
    Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
    body.set("version", update.version);
    body.set("command_id", command_id);
    body.set("requested_at", core::FormatIso8601(clock_.Now()));
    std::ostringstream text;
    body.stringify(text);
    text << "\n";
    if (auto written = WriteFileAtomically(request, text.str()); !written) {
      return {false, "could not write the update request: " + written.error().message};
    }
    core::LogInfo("update requested", {{"version", update.version}, {"request", request.string()}});
    return {true, "update to " + update.version + " requested; the update helper reports the outcome"};
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

  std::filesystem::path config_path_;
  config::Config config_;
  core::SystemClock clock_;
  core::EventIdGenerator ids_;
  // Every component's counters (/metrics, /api/status); before the components, so it outlives them.
  core::telemetry::Registry telemetry_;
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
  std::unique_ptr<devices::sim::SimulatedSource> source_;
  std::vector<std::unique_ptr<devices::serial::SerialDriver>> serial_;
  std::unique_ptr<devices::ble::BleManager> ble_;
  std::shared_ptr<const alerts::TimeZone> zone_;
  ServiceNotifier notifier_;
  core::SteadyTime started_ = std::chrono::steady_clock::now();
  // Held while devices are replaced (reload) and while the status page reads them.
  std::mutex devices_mutex_;
  bool stall_logged_ = false;
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

}  // namespace

int RunDaemon(const std::filesystem::path& config_path) {
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
  Daemon daemon(config_path, std::move(*loaded));
  return daemon.Run();
}

}  // namespace ehg::app
