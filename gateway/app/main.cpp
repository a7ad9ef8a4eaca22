// The production binary, on a resident's gateway: the daemon and the installer's and operator's commands.
// The simulators are in ehealth-gateway-tools (tools/), the reference receiver and command signing on the
// care side (care/). This file only parses the command line.
#include <iostream>
#include <string>

#include "gateway/app/ble_commands.hpp"
#include "gateway/app/check_config.hpp"
#include "gateway/app/daemon.hpp"
#include "gateway/app/decode_command.hpp"
#include "gateway/app/replay_command.hpp"
#include "gateway/app/security_setup.hpp"
#include "gateway/app/status_command.hpp"
#include "gateway/app/store_info_command.hpp"
#include "gateway/command_line/command_line.hpp"

namespace cli = ehg::command_line;

int main(int argc, char** argv) {
  cli::Program app{
      "ehealth-gateway: reads home medical sensors, evaluates alert rules locally and forwards "
      "encrypted events to the municipal care system",
      std::string("ehealth-gateway ") + EHG_VERSION};
  app.RequireSubcommand();

  std::string config_path;
  cli::Command run = app.Subcommand("run", "Run the gateway until SIGTERM (SIGHUP reloads the config)");
  run.Add("-c,--config", config_path, "Configuration file").Required();

  std::string check_path;
  cli::Command check = app.Subcommand("check-config", "Validate a configuration file and print every error");
  check.Add("file", check_path, "Configuration file").Required();
  check.Footer("Devices a configuration can name (devices[].type, then protocol or profile):\n" +
               ehg::app::DeviceKindsHelp());

  std::filesystem::path store_info_config = "/etc/ehealth-gateway/gateway.json";
  cli::Command store_info = app.Subcommand(
      "store-info", "Print the database's schema version and open critical alerts as JSON (for updates)");
  store_info.Add("--config", store_info_config, "Configuration file naming the database");

  ehg::app::ReplayRequest replay_request;
  int tick_seconds = 60;
  cli::Command replay = app.Subcommand(
      "replay", "Run the config's rules over recorded readings and print the alert timeline (JSON lines)");
  replay.Add("--config", replay_request.config_path, "Configuration file with the rules").Required();
  replay
      .Add("--readings", replay_request.readings_path,
           "Readings (time, device, metric, value, unit, optional device_time and flags) and care "
           "workers' actions (time, action, alert or rule, by), one JSON object per line")
      .Required();
  replay.Add("--tick-seconds", tick_seconds, "How often time-based rules are evaluated (reading time)")
      .Range(1, 3600);
  replay.Add("--until", replay_request.until,
             "Keep the clock running to this ISO 8601 time after the last reading");

  ehg::app::DecodeRequest decode_request;
  cli::Command decode = app.Subcommand(
      "decode", "Decode device bytes and print one JSON object per reading (metric, value, unit, flags)");
  decode
      .Add("--format", decode_request.format,
           "Serial: " + ehg::app::DeviceKindNameList(ehg::core::DeviceConnection::kSerial) +
               "; BLE: ble:2A35 (blood pressure), ble:2A36, ble:2A1C (temperature), ble:2A37 (heart rate), "
               "ble:2A5E/ble:2A5F (pulse oximeter), ble:2A9D (weight), ble:2A18/ble:2A34 (glucose), "
               "ble:2A19 (battery), bthome (advertisement service data)")
      .Required();
  auto hex = decode.Add("--hex", decode_request.hex, "Bytes as hex, e.g. \"01 E0 85 D5 9A BD E3 FF FF\"");
  auto file = decode.Add("--file", decode_request.file, "A file of raw bytes (a capture)");
  hex.Excludes(file);
  decode.Flag("--waveform", decode_request.waveform, "Also print the pleth waveform points");
  decode.Add("--key", decode_request.key, "bthome: the device's key (32 hex digits) for encrypted packets");
  decode.Add("--address", decode_request.address,
             "bthome: the device address AA:BB:CC:DD:EE:FF (part of the nonce of encrypted packets)");

  ehg::app::PairRequest pair_request;
  cli::Command pair = app.Subcommand(
      "pair", "Pair with a Bluetooth LE device and trust it, so the gateway reconnects to it by itself");
  pair.Add("address", pair_request.address, "The device address, AA:BB:CC:DD:EE:FF").Required();
  pair.Add("-c,--config", pair_request.config, "Take the adapter and bus from this configuration file");
  pair.Add("--adapter", pair_request.adapter, "Bluetooth adapter (default hci0)");
  pair.Add("--bus", pair_request.bus_address, "D-Bus address of BlueZ's bus (default: the system bus)");
  pair.Add("--seconds", pair_request.seconds, "How long to look for the device").Range(1, 600);

  ehg::app::ScanRequest scan_request;
  cli::Command scan = app.Subcommand(
      "scan",
      "List Bluetooth LE devices near the gateway: address, signal, name, advertised health services");
  scan.Add("-c,--config", scan_request.config, "Take the adapter and bus from this configuration file");
  scan.Add("--adapter", scan_request.adapter, "Bluetooth adapter (default hci0)");
  scan.Add("--bus", scan_request.bus_address, "D-Bus address of BlueZ's bus (default: the system bus)");
  scan.Add("--seconds", scan_request.seconds, "How long to listen").Range(1, 600);

  ehg::app::StatusRequest status_request;
  cli::Command status = app.Subcommand(
      "status",
      "Summary of the running gateway from its local API; exit 0 ok, 1 warning, 2 critical, 3 unreachable");
  status.Add("-c,--config", status_request.config, "Configuration file (status_page section)");
  status.Flag("--json", status_request.json, "Print the /api/status document");

  ehg::app::KeygenRequest keygen_request;
  cli::Command keygen = app.Subcommand(
      "keygen", "Create the gateway's P-256 signing key (mode 0600) and print its public JWK for enrolment");
  keygen.Add("--out", keygen_request.out, "Where to write the private key (never overwritten)").Required();

  ehg::app::PublicKeyRequest public_key_request;
  cli::Command public_key = app.Subcommand("public-key", "Print the public half of a key file");
  public_key.Add("--key", public_key_request.key, "A PEM or JWK key file").Required();
  public_key.Add("--format", public_key_request.format, "jwk (default) or pem").OneOf({"jwk", "pem"});

  if (const auto exit_code = app.Parse(argc, argv)) return *exit_code;
  if (run) return ehg::app::RunDaemon(config_path);
  if (check) return ehg::app::CheckConfig(check_path);
  if (store_info) return ehg::app::PrintStoreInfo(store_info_config);
  if (decode) {
    if (decode_request.hex.empty() && decode_request.file.empty()) {
      std::cerr << "decode: give --hex or --file\n";
      return 64;
    }
    return ehg::app::DecodeBytes(decode_request);
  }
  if (keygen) return ehg::app::GenerateKey(keygen_request);
  if (public_key) return ehg::app::PrintPublicKey(public_key_request);
  if (pair) return ehg::app::PairBleDevice(pair_request);
  if (scan) return ehg::app::ScanBleDevices(scan_request);
  if (status) return ehg::app::PrintStatus(status_request);
  if (replay) {
    replay_request.tick = std::chrono::seconds{tick_seconds};
    return ehg::app::ReplayReadings(replay_request);
  }
  return 1;
}
