#include "devices/serial/serial_driver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>

#include "devices/serial_protocols/beurer_session.hpp"
#include "devices/serial/serial_port.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/thread_name.hpp"

namespace ehg::devices::serial {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

// A device's memory is finite too: beyond this many unaccepted readings the oldest are lost (counted).
constexpr std::size_t kMaxPending = 10'000;
constexpr milliseconds kRetryRefused{20};
constexpr milliseconds kIdentityCheck{2'000};
// Upper bound on a poll so that a window is closed soon after its end even when the device went quiet.
constexpr milliseconds kMaxPoll{200};
constexpr auto kRefusedFrameLogInterval = std::chrono::seconds(60);

milliseconds Until(Steady::time_point deadline, Steady::time_point now) {
  return std::max(milliseconds{0}, std::chrono::ceil<milliseconds>(deadline - now));
}

}  // namespace

// One open port: from the start command to the hangup.
class SerialDriver::Session {
 public:
  Session(SerialDriver& driver, SerialPort port)
      : driver_(driver),
        options_(driver.options_),
        port_(std::move(port)),
        decoder_(MakeDecoder(options_.protocol.name)),
        aggregator_(options_.device_id, options_.aggregation, options_.local_to_utc) {}

  // Returns why the session ended.
  std::string Run() {
    const auto started = Steady::now();
    std::optional<std::string> failed;
    if (options_.protocol.request_response) {
      next_poll_ = started;
    } else if (!options_.protocol.start_command.empty()) {
      failed = Send(options_.protocol.start_command, "start command");
    }
    if (options_.keepalive_interval.count() > 0) next_keepalive_ = started + options_.keepalive_interval;
    next_identity_check_ = started + kIdentityCheck;

    std::array<std::uint8_t, 4096> buffer{};
    while (!failed && !driver_.stopping()) {
      const auto now = Steady::now();
      pollfd fds[2] = {{port_.fd(), POLLIN, 0}, {driver_.wake_pipe_[0], POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(NextTimeout(now).count()));
      if (ready < 0 && errno != EINTR) failed = "poll failed";
      if (driver_.stopping()) break;
      if (ready > 0 && fds[0].revents != 0) {
        // Read what is there even on a hangup: the last frames before an unplug still count.
        while (!failed) {
          auto count = port_.Read(buffer);
          if (!count) {
            failed = "port closed: " + count.error().message;
          } else if (*count == 0) {
            break;
          } else {
            OnBytes(std::span<const std::uint8_t>(buffer.data(), *count));
          }
        }
        if (!failed && (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
          failed = "port closed: hangup (device unplugged)";
        }
      }
      if (!failed) failed = OnTimers(Steady::now());
    }
    std::vector<core::Reading> readings;
    aggregator_.Flush(driver_.clock_.Now(), true, readings);
    driver_.Submit(readings);
    return failed.value_or("gateway stopping");
  }

 private:
  milliseconds NextTimeout(Steady::time_point now) const {
    Steady::time_point next = now + kMaxPoll;
    if (next_keepalive_) next = std::min(next, *next_keepalive_);
    if (answer_deadline_) next = std::min(next, *answer_deadline_);
    if (next_poll_ && !beurer_.active()) next = std::min(next, *next_poll_);
    next = std::min(next, next_identity_check_);
    if (!driver_.pending_.empty() || !driver_.pending_status_.empty())
      next = std::min(next, now + kRetryRefused);
    return Until(next, now);
  }

  std::optional<std::string> Send(std::span<const std::uint8_t> bytes, std::string_view what) {
    if (auto written = port_.Write(bytes); !written) {
      return "port closed: sending the " + std::string(what) + " failed: " + written.error().message;
    }
    ++driver_.stats_.commands_sent;
    core::LogDebug("serial command sent", {{"device", options_.device_id}, {"command", what}});
    return std::nullopt;
  }

  void OnBytes(std::span<const std::uint8_t> bytes) {
    samples_.clear();
    if (options_.protocol.request_response) {
      driver_.stats_.bytes += bytes.size();
      driver_.stats_.last_heard_ms.store(driver_.clock_.Now().time_since_epoch().count());
      HandleStep(beurer_.OnBytes(bytes));
    } else {
      decoder_->Feed(bytes, samples_);
      CountDecoder();
    }
    frames_since_keepalive_ += samples_.size();
    Deliver();
  }

  void HandleStep(BeurerSession::Step step) {
    for (Sample& record : step.records)
      samples_.push_back(std::move(record));
    driver_.stats_.frames += step.records.size();
    if (!step.error.empty()) {
      // A monitor is switched off most of the day: an unanswered hello is routine.
      const bool routine = step.finished && step.records.empty() && beurer_.records_expected() == 0;
      (routine ? core::LogDebug : core::LogInfo)("blood pressure monitor download",
                                                 {{"device", options_.device_id}, {"problem", step.error}});
    }
    if (!step.send.empty()) {
      if (auto failed = Send(step.send, "memory request")) {
        send_failure_ = failed;
        return;
      }
    }
    // Any answer, even part of a record, gives the monitor another timeout to finish.
    if (beurer_.active()) {
      answer_deadline_ = Steady::now() + options_.answer_timeout;
    } else {
      answer_deadline_.reset();
    }
    if (step.finished) {
      next_poll_ = Steady::now() + options_.poll_interval;
      if (step.error.empty()) {
        core::LogInfo("blood pressure monitor memory read",
                      {{"device", options_.device_id}, {"records", beurer_.records_expected()}});
      }
    }
  }

  void CountDecoder() {
    const DecoderStats& now = decoder_->stats();
    SerialDriverStats& stats = driver_.stats_;
    stats.bytes += now.bytes - seen_.bytes;
    if (now.frames > seen_.frames) stats.last_heard_ms.store(driver_.clock_.Now().time_since_epoch().count());
    stats.frames += now.frames - seen_.frames;
    stats.discarded_bytes += now.discarded_bytes - seen_.discarded_bytes;
    stats.bad_frames += now.bad_frames - seen_.bad_frames;
    if (now.bad_frames > logged_bad_frames_ &&
        (!last_bad_frame_log_ || Steady::now() - *last_bad_frame_log_ >= kRefusedFrameLogInterval)) {
      core::LogWarning("serial frames refused", {{"device", options_.device_id},
                                                 {"refused_total", now.bad_frames},
                                                 {"discarded_bytes_total", now.discarded_bytes},
                                                 {"last_problem", now.last_error}});
      logged_bad_frames_ = now.bad_frames;
      last_bad_frame_log_ = Steady::now();
    }
    seen_ = now;
  }

  void Deliver() {
    if (samples_.empty()) return;
    const core::WallTime wall = driver_.clock_.Now();
    const bool uncertain = !driver_.clock_.WallClockSynchronised();
    // Samples of one read arrived over the last few waveform periods: spread them back from now.
    const double period_us = options_.protocol.waveform_hz > 0 ? 1e6 / options_.protocol.waveform_hz : 0;
    std::vector<core::Reading> readings;
    for (std::size_t i = 0; i < samples_.size(); ++i) {
      const Sample& sample = samples_[i];
      if (sample.user != options_.user) {
        ++driver_.stats_.other_user_records;
        continue;
      }
      if (sample.IsRecord() && !driver_.FirstDelivery(sample)) {
        ++driver_.stats_.repeated_records;
        continue;
      }
      if (sample.battery_low != battery_low_) {
        battery_low_ = sample.battery_low;
        core::LogInfo(battery_low_ ? "device reports a low battery" : "device battery no longer low",
                      {{"device", options_.device_id}});
      }
      const auto back = std::chrono::microseconds(
          static_cast<std::int64_t>(period_us * static_cast<double>(samples_.size() - 1 - i)));
      aggregator_.Add(sample, wall - std::chrono::duration_cast<milliseconds>(back), uncertain, readings);
    }
    driver_.Submit(readings);
  }

  std::optional<std::string> OnTimers(Steady::time_point now) {
    if (send_failure_) return send_failure_;
    std::vector<core::Reading> readings;
    aggregator_.Flush(driver_.clock_.Now(), false, readings);
    driver_.Submit(readings);
    driver_.OfferPending();

    if (next_keepalive_ && now >= *next_keepalive_) {
      next_keepalive_ = now + options_.keepalive_interval;
      // A device that stopped streaming (switched off and on, or it missed a keep-alive) needs the
      // start command again; a streaming one only the keep-alive.
      const bool silent = frames_since_keepalive_ == 0 && !options_.protocol.start_command.empty();
      frames_since_keepalive_ = 0;
      if (auto failed = silent ? Send(options_.protocol.start_command, "start command")
                               : Send(options_.protocol.keepalive, "keep-alive")) {
        return failed;
      }
    }
    if (answer_deadline_ && now >= *answer_deadline_) {
      samples_.clear();
      HandleStep(beurer_.OnTimeout());
    }
    if (next_poll_ && !beurer_.active() && now >= *next_poll_) {
      next_poll_.reset();
      samples_.clear();
      HandleStep(beurer_.Begin());
    }
    if (now >= next_identity_check_) {
      next_identity_check_ = now + kIdentityCheck;
      if (!port_.StillNamesThisDevice()) return "port closed: the device node was removed or replaced";
    }
    return send_failure_;
  }

  SerialDriver& driver_;
  const SerialDeviceOptions& options_;
  SerialPort port_;
  std::unique_ptr<Decoder> decoder_;
  Aggregator aggregator_;
  BeurerSession beurer_;
  std::vector<Sample> samples_;
  DecoderStats seen_;
  std::uint64_t logged_bad_frames_ = 0;
  std::optional<Steady::time_point> last_bad_frame_log_;
  std::optional<Steady::time_point> next_keepalive_;
  std::optional<Steady::time_point> answer_deadline_;
  std::optional<Steady::time_point> next_poll_;
  Steady::time_point next_identity_check_;
  std::size_t frames_since_keepalive_ = 0;
  bool battery_low_ = false;
  std::optional<std::string> send_failure_;
};

SerialDriverStats::SerialDriverStats(core::telemetry::Registry& registry, const std::string& device_id)
    : bytes(registry.AddCounter(
          {"ehg_serial_bytes_total", "Bytes read from the serial device since start.", {"device"}},
          {device_id})),
      frames(registry.AddCounter(
          {"ehg_serial_frames_total", "Frames decoded from the serial device since start.", {"device"}},
          {device_id})),
      discarded_bytes(registry.AddCounter({"ehg_serial_discarded_bytes_total",
                                           "Bytes outside any frame, skipped while finding the next frame.",
                                           {"device"}},
                                          {device_id})),
      bad_frames(registry.AddCounter(
          {"ehg_serial_bad_frames_total", "Frames the decoder refused since start.", {"device"}},
          {device_id})),
      readings(registry.AddCounter({"ehg_serial_readings_accepted_total",
                                    "Readings of the serial device the pipeline accepted since start.",
                                    {"device"}},
                                   {device_id})),
      other_user_records(registry.AddCounter({"ehg_serial_other_user_records_total",
                                              "Stored records of another user slot of the device, skipped.",
                                              {"device"}},
                                             {device_id})),
      repeated_records(registry.AddCounter(
          {"ehg_serial_repeated_records_total",
           "Stored records read again from the device memory since start (delivered once).",
           {"device"}},
          {device_id})),
      connects(registry.AddCounter(
          {"ehg_serial_connects_total", "Times the serial port was opened since start.", {"device"}},
          {device_id})),
      disconnects(registry.AddCounter(
          {"ehg_serial_disconnects_total", "Times the serial device went away since start.", {"device"}},
          {device_id})),
      commands_sent(
          registry.AddCounter({"ehg_serial_commands_sent_total",
                               "Start commands, keep-alives and requests sent to the device since start.",
                               {"device"}},
                              {device_id})) {}

SerialDriver::SerialDriver(SerialDeviceOptions options, core::ReadingSink& sink,
                           core::DeviceStatusSink* status, const core::Clock& clock, core::ReadingDone done)
    : options_(std::move(options)),
      sink_(sink),
      status_(status),
      clock_(clock),
      done_(std::move(done)),
      telemetry_(options_.telemetry),
      stats_(telemetry_.get(), options_.device_id),
      readings_dropped_(telemetry_.get().AddCounter(core::telemetry::DroppedFamily(), {"queue_full"})) {
  if (options_.keepalive_interval.count() == 0)
    options_.keepalive_interval = options_.protocol.keepalive_interval;
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    core::LogError("serial driver cannot create its wake-up pipe", {{"device", options_.device_id}});
  }
}

SerialDriver::~SerialDriver() {
  Stop();
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void SerialDriver::Start() {
  std::lock_guard lock(start_mutex_);
  if (thread_.joinable()) return;
  stop_ = false;
  std::array<char, 64> drain{};
  while (::read(wake_pipe_[0], drain.data(), drain.size()) > 0) {
  }
  thread_ = std::thread([this] { Run(); });
}

void SerialDriver::Stop() {
  std::lock_guard lock(start_mutex_);
  stop_ = true;
  const char wake = 1;
  [[maybe_unused]] const auto ignored = ::write(wake_pipe_[1], &wake, 1);
  if (thread_.joinable()) thread_.join();
}

bool SerialDriver::Sleep(milliseconds timeout) {
  const auto deadline = Steady::now() + timeout;
  while (!stopping()) {
    const auto now = Steady::now();
    if (now >= deadline) return true;
    milliseconds step = Until(deadline, now);
    if (!pending_.empty() || !pending_status_.empty()) step = std::min(step, kRetryRefused);
    pollfd wake{wake_pipe_[0], POLLIN, 0};
    ::poll(&wake, 1, static_cast<int>(step.count()));
    OfferPending();
  }
  return false;
}

void SerialDriver::Report(bool connected, std::string detail) {
  stats_.connected = connected;
  pending_status_.push_back({options_.device_id, connected, std::move(detail), clock_.Now()});
  OfferPending();
}

bool SerialDriver::FirstDelivery(const Sample& record) {
  // Far more than any monitor's memory; records are rare, so a linear search is cheap.
  constexpr std::size_t kRemembered = 1'000;
  if (std::find(delivered_records_.begin(), delivered_records_.end(), record) != delivered_records_.end()) {
    return false;
  }
  delivered_records_.push_back(record);
  if (delivered_records_.size() > kRemembered) delivered_records_.pop_front();
  return true;
}

void SerialDriver::OfferPending() {
  while (status_ != nullptr && !pending_status_.empty()) {
    if (!status_->ReportDeviceStatus(pending_status_.front())) break;
    pending_status_.pop_front();
  }
  if (status_ == nullptr) pending_status_.clear();
  while (!pending_.empty()) {
    if (!sink_.Submit(pending_.front(), done_)) break;
    pending_.pop_front();
    ++stats_.readings;
  }
}

void SerialDriver::Submit(std::vector<core::Reading>& readings) {
  for (core::Reading& reading : readings)
    pending_.push_back(std::move(reading));
  readings.clear();
  while (pending_.size() > kMaxPending) {
    pending_.pop_front();
    ++dropped_here_;
    readings_dropped_.Add();
    if (dropped_here_ % 1000 == 1) {
      core::LogError("pipeline not taking readings; oldest dropped",
                     {{"device", options_.device_id}, {"dropped_total", dropped_here_}});
    }
  }
  OfferPending();
}

void SerialDriver::Run() {
  core::NameThisThread("ehg-serial");
  milliseconds backoff = options_.reconnect_initial;
  std::string last_failure;
  bool reported_absent = false;
  while (!stopping()) {
    auto port = SerialPort::Open(options_.port, options_.protocol);
    if (!port) {
      if (port.error().message != last_failure) {
        core::LogWarning("serial port not available; retrying", {{"device", options_.device_id},
                                                                 {"port", options_.port.string()},
                                                                 {"reason", port.error().message}});
        last_failure = port.error().message;
      }
      if (!reported_absent) {
        Report(false, "port not available: " + port.error().message);
        reported_absent = true;
      }
      if (!Sleep(backoff)) break;
      backoff = std::min(backoff * 2, options_.reconnect_max);
      continue;
    }
    last_failure.clear();
    backoff = options_.reconnect_initial;
    reported_absent = false;
    core::LogInfo("serial device connected", {{"device", options_.device_id},
                                              {"port", options_.port.string()},
                                              {"protocol", options_.protocol.name}});
    Report(true, "port opened");
    ++stats_.connects;
    const std::string reason = Session(*this, std::move(*port)).Run();
    if (stopping()) break;
    core::LogWarning("serial device disconnected", {{"device", options_.device_id}, {"reason", reason}});
    Report(false, reason);
    ++stats_.disconnects;  // after `connected` is false: a reader that sees the count sees the state
    reported_absent = true;
    if (!Sleep(options_.reconnect_initial)) break;
  }
  stats_.connected = false;
  OfferPending();
  core::LogInfo("serial driver stopped", {{"device", options_.device_id},
                                          {"frames", stats_.frames.load()},
                                          {"readings", stats_.readings.load()},
                                          {"refused_frames", stats_.bad_frames.load()},
                                          {"discarded_bytes", stats_.discarded_bytes.load()},
                                          {"disconnects", stats_.disconnects.load()}});
  if (!pending_.empty()) {
    core::LogWarning("serial readings not handed over at stop",
                     {{"device", options_.device_id}, {"readings", pending_.size()}});
  }
}

}  // namespace ehg::devices::serial
