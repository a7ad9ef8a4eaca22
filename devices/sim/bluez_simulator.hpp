#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

// A look-alike of bluetoothd (BlueZ 5.66) on a D-Bus bus: the org.bluez name, the ObjectManager at "/",
// AgentManager1, an adapter and virtual devices with the GATT services of the health profiles, with the
// same object paths, interfaces, properties and signals as BlueZ. The gateway cannot tell it from the
// real thing, so its BlueZ client is tested without a radio (see docs/ble.md, "Simulator").
namespace ehg::devices::sim {

struct VirtualBleDevice {
  std::string address;  // AA:BB:CC:DD:EE:FF
  std::string name;
  // blood_pressure, thermometer, heart_rate, pulse_oximeter, weight_scale, glucose, bthome
  std::string profile;
  std::string pairing = "none";  // none, just_works (asks the default agent to authorize), passkey
  std::uint32_t passkey = 0;     // the number the device shows, for "passkey"
  bool bonded = false;           // paired before the simulator started: BlueZ lists it at once
  // Cuffs and scales connect, deliver what they measured and hang up; they advertise only then.
  bool disconnect_after_measurement = false;
  bool in_range = true;
  std::optional<std::array<std::uint8_t, 16>> bthome_key;
  std::uint8_t battery = 90;  // through org.bluez.Battery1, as BlueZ's battery plugin offers it
  // How far the device clock is off until the gateway writes Current Time. Device clocks keep UTC here,
  // so tests run their gateway in the UTC zone.
  std::chrono::minutes clock_error{0};
  bool has_current_time = true;
  // A glucose meter that sends its records but never the closing response (a firmware fault): the
  // gateway has to abort the transfer.
  bool racp_never_completes = false;
};

// A device paired before the simulator started, the common case in a resident's home.
VirtualBleDevice BondedDevice(std::string address, std::string name, std::string profile,
                              bool disconnect_after_measurement);

// What a virtual device has seen, for tests.
struct VirtualDeviceLog {
  int connects = 0;
  int disconnects = 0;
  bool paired = false;
  bool trusted = false;
  int notifications = 0;                                   // values sent (notifications and indications)
  std::vector<std::vector<std::uint8_t>> record_requests;  // RACP writes
  std::vector<std::vector<std::uint8_t>> time_writes;      // Current Time / Date Time writes
  std::vector<std::string> agent_calls;                    // "RequestPasskey", "RequestAuthorization", ...
};

class BluezSimulator {
 public:
  struct Options {
    std::string bus_address;  // empty: the system bus
    std::string adapter = "hci0";
    std::string adapter_address = "00:1A:7D:DA:71:13";
    std::chrono::milliseconds advertising_interval{500};
  };

  // Takes the org.bluez name and exports the adapter. Fails when the bus cannot be reached or the name
  // is taken.
  static Result<std::unique_ptr<BluezSimulator>> Start(Options options);
  // Leaves the bus, as a stopping bluetoothd does: the name vanishes with every object.
  ~BluezSimulator();

  BluezSimulator(const BluezSimulator&) = delete;
  BluezSimulator& operator=(const BluezSimulator&) = delete;

  void AddDevice(VirtualBleDevice device);

  // Scenario actions, thread-safe. A measurement waits in the device until a client subscribes; a device
  // that disconnects after measuring starts advertising when it has something to send.
  void MeasureBloodPressure(const std::string& address, double systolic, double diastolic, double pulse,
                            std::optional<std::uint8_t> user = std::nullopt);
  void MeasureTemperature(const std::string& address, double celsius);
  void MeasureWeight(const std::string& address, double kilograms);
  void SetStream(const std::string& address, double spo2_or_heart_rate, double pulse);  // oximeter, HR strap
  // The device sends its last measurement again at the next connection, as cuffs do when they are not
  // sure it arrived (a lost confirmation, a re-sync after reconnecting).
  void RepeatLastMeasurement(const std::string& address);
  void AddGlucoseRecord(const std::string& address, std::uint16_t sequence, double mmol_per_litre,
                        std::chrono::minutes age);
  // A BTHome advertisement with these objects (plaintext object list; encrypted with the device key).
  void Advertise(const std::string& address, const std::vector<std::uint8_t>& objects,
                 bool trigger_based = false);
  // The device clock is now `error` off (a battery change, a daylight-saving step done wrong); it stays
  // so until the gateway writes Current Time. Measurements taken from now on carry the wrong time.
  void SetClockError(const std::string& address, std::chrono::minutes error);
  void SetPowered(bool powered);
  void DropLink(const std::string& address);  // the radio link is lost
  void SetInRange(const std::string& address, bool in_range);

  VirtualDeviceLog Log(const std::string& address) const;
  // Whether a client's discovery runs: advertisements are heard only then (tests wait for it).
  bool Discovering() const;
  // The device clock of a virtual device now (its error included).
  core::CivilTime DeviceClock(const std::string& address) const;

 private:
  struct Impl;
  explicit BluezSimulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ehg::devices::sim
