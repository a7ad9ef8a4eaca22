// The production binary, on a resident's gateway: the daemon and the installer's and operator's commands.
// The simulators are in ehealth-gateway-tools (tools/), the reference receiver and command signing on the
// care side (care/). This file only parses the command line.
#include <CLI/CLI.hpp>
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

int main(int argc, char** argv) {
  CLI::App app{
      "ehealth-gateway: reads home medical sensors, evaluates alert rules locally and forwards "
      "encrypted events to the municipal care system"};
  app.set_version_flag("--version", std::string("ehealth-gateway ") + EHG_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  CLI::App* run = app.add_subcommand("run", "Run the gateway until SIGTERM (SIGHUP reloads the config)");
  run->add_option("-c,--config", config_path, "Configuration file")->required();

  std::string check_path;
  CLI::App* check = app.add_subcommand("check-config", "Validate a configuration file and print every error");
  check->add_option("file", check_path, "Configuration file")->required();
  check->footer("Devices a configuration can name (devices[].type, then protocol or profile):\n" +
                ehg::app::DeviceKindsHelp());

  std::filesystem::path store_info_config = "/etc/ehealth-gateway/gateway.json";
  CLI::App* store_info = app.add_subcommand(
      "store-info", "Print the database's schema version and open critical alerts as JSON (for updates)");
  store_info->add_option("--config", store_info_config, "Configuration file naming the database");

  ehg::app::ReplayRequest replay_request;
  int tick_seconds = 60;
  CLI::App* replay = app.add_subcommand(
      "replay", "Run the config's rules over recorded readings and print the alert timeline (JSON lines)");
  replay->add_option("--config", replay_request.config_path, "Configuration file with the rules")->required();
  replay
      ->add_option("--readings", replay_request.readings_path,
                   "Readings (time, device, metric, value, unit, optional device_time and flags) and care "
                   "workers' actions (time, action, alert or rule, by), one JSON object per line")
      ->required();
  replay
      ->add_option("--tick-seconds", tick_seconds, "How often time-based rules are evaluated (reading time)")
      ->check(CLI::Range(1, 3600));
  replay->add_option("--until", replay_request.until,
                     "Keep the clock running to this ISO 8601 time after the last reading");

  ehg::app::DecodeRequest decode_request;
  CLI::App* decode = app.add_subcommand(
      "decode", "Decode device bytes and print one JSON object per reading (metric, value, unit, flags)");
  decode
      ->add_option(
          "--format", decode_request.format,
          "Serial: " + ehg::app::DeviceKindNameList(ehg::core::DeviceConnection::kSerial) +
              "; BLE: ble:2A35 (blood pressure), ble:2A36, ble:2A1C (temperature), ble:2A37 (heart rate), "
              "ble:2A5E/ble:2A5F (pulse oximeter), ble:2A9D (weight), ble:2A18/ble:2A34 (glucose), "
              "ble:2A19 (battery), bthome (advertisement service data)")
      ->required();
  auto* hex =
      decode->add_option("--hex", decode_request.hex, "Bytes as hex, e.g. \"01 E0 85 D5 9A BD E3 FF FF\"");
  auto* file = decode->add_option("--file", decode_request.file, "A file of raw bytes (a capture)");
  hex->excludes(file);
  decode->add_flag("--waveform", decode_request.waveform, "Also print the pleth waveform points");
  decode->add_option("--key", decode_request.key,
                     "bthome: the device's key (32 hex digits) for encrypted packets");
  decode->add_option("--address", decode_request.address,
                     "bthome: the device address AA:BB:CC:DD:EE:FF (part of the nonce of encrypted packets)");

  ehg::app::PairRequest pair_request;
  CLI::App* pair = app.add_subcommand(
      "pair", "Pair with a Bluetooth LE device and trust it, so the gateway reconnects to it by itself");
  pair->add_option("address", pair_request.address, "The device address, AA:BB:CC:DD:EE:FF")->required();
  pair->add_option("-c,--config", pair_request.config,
                   "Take the adapter and bus from this configuration file");
  pair->add_option("--adapter", pair_request.adapter, "Bluetooth adapter (default hci0)");
  pair->add_option("--bus", pair_request.bus_address,
                   "D-Bus address of BlueZ's bus (default: the system bus)");
  pair->add_option("--seconds", pair_request.seconds, "How long to look for the device")
      ->check(CLI::Range(1, 600));

  ehg::app::ScanRequest scan_request;
  CLI::App* scan = app.add_subcommand(
      "scan",
      "List Bluetooth LE devices near the gateway: address, signal, name, advertised health services");
  scan->add_option("-c,--config", scan_request.config,
                   "Take the adapter and bus from this configuration file");
  scan->add_option("--adapter", scan_request.adapter, "Bluetooth adapter (default hci0)");
  scan->add_option("--bus", scan_request.bus_address,
                   "D-Bus address of BlueZ's bus (default: the system bus)");
  scan->add_option("--seconds", scan_request.seconds, "How long to listen")->check(CLI::Range(1, 600));

  ehg::app::StatusRequest status_request;
  CLI::App* status = app.add_subcommand(
      "status",
      "Summary of the running gateway from its local API; exit 0 ok, 1 warning, 2 critical, 3 unreachable");
  status->add_option("-c,--config", status_request.config, "Configuration file (status_page section)");
  status->add_flag("--json", status_request.json, "Print the /api/status document");

  ehg::app::KeygenRequest keygen_request;
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Create the gateway's P-256 signing key (mode 0600) and print its public JWK for enrolment");
  keygen->add_option("--out", keygen_request.out, "Where to write the private key (never overwritten)")
      ->required();

  ehg::app::PublicKeyRequest public_key_request;
  CLI::App* public_key = app.add_subcommand("public-key", "Print the public half of a key file");
  public_key->add_option("--key", public_key_request.key, "A PEM or JWK key file")->required();
  public_key->add_option("--format", public_key_request.format, "jwk (default) or pem")
      ->check(CLI::IsMember({"jwk", "pem"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (*run) return ehg::app::RunDaemon(config_path);
  if (*check) return ehg::app::CheckConfig(check_path);
  if (*store_info) return ehg::app::PrintStoreInfo(store_info_config);
  if (*decode) {
    if (decode_request.hex.empty() && decode_request.file.empty()) {
      std::cerr << "decode: give --hex or --file\n";
      return 64;
    }
    return ehg::app::DecodeBytes(decode_request);
  }
  if (*keygen) return ehg::app::GenerateKey(keygen_request);
  if (*public_key) return ehg::app::PrintPublicKey(public_key_request);
  if (*pair) return ehg::app::PairBleDevice(pair_request);
  if (*scan) return ehg::app::ScanBleDevices(scan_request);
  if (*status) return ehg::app::PrintStatus(status_request);
  if (*replay) {
    replay_request.tick = std::chrono::seconds{tick_seconds};
    return ehg::app::ReplayReadings(replay_request);
  }
  return 1;
}
