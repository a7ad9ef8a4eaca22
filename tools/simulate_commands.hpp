#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

// The simulators of `ehealth-gateway-tools` (demos, training, tests); never on a resident's gateway.
namespace ehg::tools {

// Runs a simulated serial device on a pseudo-terminal reachable through `link` until SIGTERM/SIGINT.
struct SimulateSerialRequest {
  std::string protocol;
  std::filesystem::path link;
  std::uint64_t seed = 1;
  double byte_drop_rate = 0;
  std::string scenario;  // "60:spo2=86,180:spo2=95,200:finger_out=1" (seconds:parameter=value)
};
int SimulateSerial(const SimulateSerialRequest& request);

// Runs the BlueZ simulator on a D-Bus bus (for demos and training; tests start it in-process) until
// SIGTERM/SIGINT: a BP cuff, a thermometer and a scale that measure every `interval_seconds`, a
// streaming oximeter, a glucose meter with stored records, a BTHome alarm button and a motion sensor.
struct SimulateBleRequest {
  std::string bus_address;
  int interval_seconds = 60;
  std::string bthome_key;        // the alarm button's key (32 hex digits); empty: unencrypted
  int button_press_seconds = 0;  // press the alarm button this many seconds after start (0: never)
  std::string scenario;          // oximeter: "60:spo2=86,180:spo2=95" (seconds:spo2|pulse=value)
};
int SimulateBle(const SimulateBleRequest& request);

}  // namespace ehg::tools
