// ehealth-gateway-tools: the simulators (demos, installer training, tests) and the daemon with simulated
// devices. Never installed on a resident's gateway: `ehealth-gateway` links no simulator
// (docs/architecture.md).
#include <string>
#include <vector>

#include "gateway/app/check_config.hpp"
#include "gateway/app/daemon.hpp"
#include "gateway/command_line/command_line.hpp"
#include "gateway/core/device_catalog.hpp"
#include "tools/simulate_commands.hpp"
#include "tools/simulated_devices.hpp"

namespace cli = ehg::command_line;

int main(int argc, char** argv) {
  cli::Program app{
      "ehealth-gateway-tools: simulated serial and Bluetooth LE devices, and the gateway daemon with "
      "simulated devices, for demos, training and tests",
      std::string("ehealth-gateway-tools ") + EHG_VERSION};
  app.RequireSubcommand();

  std::string config_path;
  cli::Command run = app.Subcommand(
      "run", "Run the gateway like `ehealth-gateway run`, with the config's simulated (\"sim\") devices");
  run.Add("-c,--config", config_path, "Configuration file").Required();

  ehg::tools::SimulateSerialRequest simulate_request;
  cli::Command simulate =
      app.Subcommand("simulate-serial",
                     "Run a simulated serial device on a pseudo-terminal (for demos, training and tests)");
  const auto protocols = ehg::core::DeviceKindNames(ehg::core::DeviceConnection::kSerial);
  simulate
      .Add("--protocol", simulate_request.protocol,
           "The byte stream to send: " + ehg::app::DeviceKindNameList(ehg::core::DeviceConnection::kSerial))
      .Required()
      .OneOf(std::vector<std::string>(protocols.begin(), protocols.end()));
  simulate
      .Add("--link", simulate_request.link,
           "Path of the symbolic link to the pty, like a /dev/serial/by-id name")
      .Required();
  simulate.Add("--seed", simulate_request.seed, "Noise seed");
  simulate.Add("--drop-rate", simulate_request.byte_drop_rate, "Share of bytes lost on the wire")
      .Range(0.0, 0.5);
  simulate.Add("--scenario", simulate_request.scenario,
               "Changes over time: \"60:spo2=86,180:spo2=95,200:finger_out=1\" (seconds:parameter=value)");

  ehg::tools::SimulateBleRequest simulate_ble_request;
  cli::Command simulate_ble = app.Subcommand(
      "simulate-ble",
      "Run a simulated BlueZ with virtual health devices on a D-Bus bus (demos, training, tests)");
  simulate_ble.Add("--bus", simulate_ble_request.bus_address, "D-Bus address (default: the system bus)");
  simulate_ble
      .Add("--interval", simulate_ble_request.interval_seconds,
           "Seconds between measurements of the cuff, thermometer and scale (0: never)")
      .Range(0, 86400);
  simulate_ble.Add("--bthome-key", simulate_ble_request.bthome_key,
                   "Key of the alarm button (32 hex digits)");
  simulate_ble.Add("--press-button-after", simulate_ble_request.button_press_seconds,
                   "Press the alarm button this many seconds after start");
  simulate_ble.Add("--scenario", simulate_ble_request.scenario,
                   "Oximeter changes: \"60:spo2=86,180:spo2=95\" (seconds:spo2|pulse=value)");

  if (const auto exit_code = app.Parse(argc, argv)) return *exit_code;
  if (run) return ehg::app::RunDaemon(config_path, {ehg::tools::StartSimulatedDevices});
  if (simulate) return ehg::tools::SimulateSerial(simulate_request);
  if (simulate_ble) return ehg::tools::SimulateBle(simulate_ble_request);
  return 1;
}
