#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/reading_sink.hpp"
#include "gateway/core/result.hpp"
#include "gateway/core/telemetry.hpp"

// The BlueZ client: finds the configured devices through BlueZ's D-Bus API (org.bluez.Adapter1, Device1,
// GattCharacteristic1; docs/ble.md, "Connections"), keeps them connected or reconnects when they advertise
// again, subscribes to their measurements and hands readings to the pipeline. BTHome devices are only
// listened to (advertisements).
namespace ehg::devices::ble {

// What a BTHome button event means for the resident's safety.
enum class ButtonMeaning { kEmergency, kIgnore };

struct BleDeviceOptions {
  std::string device_id;
  std::string address;  // AA:BB:CC:DD:EE:FF
  std::string
      profile;  // blood_pressure, thermometer, heart_rate, pulse_oximeter, weight_scale, glucose, bthome
  std::string bthome_key_hex;  // encrypted BTHome devices
  // BTHome button events by name ("press", "double_press", "long_press", ...); absent = emergency.
  std::vector<std::pair<std::string, ButtonMeaning>> button_meanings;
  // A shared cuff or scale: only measurements of this user slot are the resident's.
  std::optional<unsigned> user;
};

struct BleOptions {
  std::string bus_address;  // empty: the system bus
  std::string adapter = "hci0";
  std::vector<BleDeviceOptions> devices;
  std::chrono::milliseconds connect_timeout{15'000};
  std::chrono::milliseconds services_timeout{30'000};
  std::chrono::milliseconds backoff_initial{1'000};
  std::chrono::milliseconds backoff_max{300'000};
  // A glucose meter that has not finished sending its records by then is told to abort.
  std::chrono::milliseconds records_timeout{60'000};
  core::LocalTimeConverter local_to_utc;                        // device clocks are local
  std::function<core::CivilTime(core::WallTime)> utc_to_local;  // for writing Current Time
  // The highest glucose record number already stored for a device (nullopt: none).
  std::function<std::optional<std::uint32_t>(const std::string& device_id)> last_sequence;
  // Where the manager's counters are declared; none: a registry of its own (tests, tools).
  core::telemetry::Registry* telemetry = nullptr;
};

struct BleDeviceStats {
  std::string device_id;
  bool connected = false;
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t values = 0;             // characteristic values and advertisements received
  std::uint64_t readings = 0;           // readings handed to the pipeline
  std::uint64_t parse_errors = 0;       // values refused by the parser
  std::uint64_t duplicates = 0;         // advertisements seen before
  std::uint64_t replays = 0;            // encrypted advertisements with an old counter
  std::uint64_t other_users = 0;        // measurements of another user slot of a shared device, skipped
  std::uint64_t time_writes = 0;        // Current Time / Date Time written
  std::uint64_t records_requested = 0;  // RACP requests sent
  std::optional<std::uint32_t> last_record_requested_from;
  std::uint64_t record_transfers_aborted = 0;
  std::optional<int> rssi;
  std::optional<int> battery;
  std::optional<core::WallTime> last_contact;  // last value, advertisement or signal strength heard
  std::string last_error;         // for the installer: what happened and what to do (bluez_errors.hpp)
  std::string last_error_detail;  // the D-Bus error behind it ("org.bluez.Error.Failed: ..."), or empty
  // The link failed in a way that does not pass by itself (pairing, the adapter, bluetoothd); cleared
  // when the device is set up again.
  bool link_needs_action = false;
};

class BleManager {
 public:
  BleManager(BleOptions options, core::ReadingSink& readings, core::DeviceStatusSink* statuses,
             const core::Clock& clock);
  ~BleManager();

  BleManager(const BleManager&) = delete;
  BleManager& operator=(const BleManager&) = delete;

  // Returns at once: connecting to the bus happens on a thread of its own and is retried every 30 s
  // while the bus cannot be reached. BlueZ missing or the adapter off are states it waits out too.
  void Start();
  void Stop();

  std::vector<BleDeviceStats> stats() const;
  bool bluez_present() const;

 private:
  bool Connect();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread starter_;
  std::mutex stop_mutex_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;
};

}  // namespace ehg::devices::ble
