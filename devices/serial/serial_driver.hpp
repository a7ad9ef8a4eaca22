#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "devices/serial_protocols/aggregator.hpp"
#include "devices/serial_protocols/decoder.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/reading_sink.hpp"
#include "gateway/core/telemetry.hpp"

namespace ehg::devices::serial {

struct SerialDeviceOptions {
  std::string device_id;
  std::filesystem::path port;  // normally /dev/serial/by-id/...; opened anew on every reconnect
  ProtocolInfo protocol;
  AggregationOptions aggregation;
  LocalTimeConverter local_to_utc;  // for device clocks without a zone (Beurer)
  unsigned user = 1;                // records of other user slots belong to someone else: skipped
  std::chrono::milliseconds reconnect_initial{500};
  std::chrono::milliseconds reconnect_max{30'000};
  std::chrono::milliseconds poll_interval{300'000};  // request/response devices: how often to ask
  std::chrono::milliseconds answer_timeout{2'000};   // request/response devices: silence = no answer
  std::chrono::milliseconds keepalive_interval{0};   // 0 = the protocol's
  // Where the driver's counters are declared; none: a registry of its own (tests, tools).
  core::telemetry::Registry* telemetry = nullptr;
};

// Counters, readable from any thread. The counts are declared once, here, on the registry the options
// name, labelled with the device (docs/status-page.md); a driver made again for the same device (a
// config reload) counts on.
struct SerialDriverStats {
  SerialDriverStats(core::telemetry::Registry& registry, const std::string& device_id);
  using Counter = core::telemetry::Counter;
  Counter bytes;
  Counter frames;
  Counter discarded_bytes;
  Counter bad_frames;
  Counter readings;  // accepted by the sink
  Counter other_user_records;
  Counter repeated_records;  // stored records read again from the device memory
  Counter connects;
  Counter disconnects;
  Counter commands_sent;  // start commands, keep-alives and requests
  std::atomic<bool> connected{false};
  // Last frame (or answer) from the device: wall clock, ms since the epoch; 0 = nothing yet.
  std::atomic<std::int64_t> last_heard_ms{0};
};

// Reads one serial device on its own thread: opens the port (retrying with backoff while it is
// missing), sends the protocol's start command and keep-alives, decodes, aggregates, and hands
// readings to the sink. An unplugged device (hangup, EIO, the node gone or replaced) closes the port,
// reports the device disconnected, and reconnects when it is back.
class SerialDriver {
 public:
  SerialDriver(SerialDeviceOptions options, core::ReadingSink& sink, core::DeviceStatusSink* status,
               const core::Clock& clock, core::ReadingDone done = {});
  ~SerialDriver();
  SerialDriver(const SerialDriver&) = delete;
  SerialDriver& operator=(const SerialDriver&) = delete;

  void Start();
  void Stop();  // idempotent; flushes the open window to the sink

  const SerialDriverStats& stats() const { return stats_; }
  const std::string& device_id() const { return options_.device_id; }

 private:
  class Session;
  void Run();
  // Waits up to `timeout` or until Stop(); false when stopping.
  bool Sleep(std::chrono::milliseconds timeout);
  void Report(bool connected, std::string detail);
  void OfferPending();
  void Submit(std::vector<core::Reading>& readings);
  bool stopping() const { return stop_.load(); }

  SerialDeviceOptions options_;
  core::ReadingSink& sink_;
  core::DeviceStatusSink* status_;
  const core::Clock& clock_;
  core::ReadingDone done_;

  // Records already delivered (a monitor's memory is read again at every poll), oldest first.
  bool FirstDelivery(const Sample& record);
  std::deque<Sample> delivered_records_;

  std::deque<core::Reading> pending_;
  std::deque<core::DeviceStatusChange> pending_status_;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::mutex start_mutex_;
  std::thread thread_;
  core::telemetry::OwnOrShared telemetry_;
  SerialDriverStats stats_;
  // Readings that waited too long for a full pipeline, the oldest given up: every driver's drops of this
  // kind count into one series (the status page shows the reason, the log names the device).
  core::telemetry::Counter readings_dropped_;
  std::uint64_t dropped_here_ = 0;  // driver thread only: this device's, for the log
};

}  // namespace ehg::devices::serial
