#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace ehg::app {

// Exit codes of the daemon, chosen so systemd can tell "restart me" from "restarting will not help".
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 78;  // EX_CONFIG: invalid config or a database from a newer version
// Command line tools (sysexits.h): 66 EX_NOINPUT when a file named on the command line is missing,
// unreadable, not a regular file (a FIFO, a device, a directory) or larger than its kind's limit.
inline constexpr int kExitNoInput = 66;
inline constexpr int kExitUsage = 64;  // EX_USAGE: bad arguments

// Runs the gateway until SIGTERM or SIGINT; SIGHUP reloads the config. Returns the exit code.
int RunDaemon(const std::filesystem::path& config_path);

// Prints OK or every error of the config file, the files it names included (config::CheckNamedFiles;
// a missing one is a note); returns 0, 1 with errors, or 66 when the file itself cannot be read.
int CheckConfig(const std::filesystem::path& config_path);
int PrintStoreInfo(const std::filesystem::path& config_path);

struct ReplayRequest {
  std::filesystem::path config_path;
  std::filesystem::path readings_path;
  std::chrono::seconds tick{60};
  std::string until;  // ISO 8601; empty = stop at the last reading
};

// Runs the config's rules over recorded readings and care workers' actions (JSON Lines) and prints the
// alert timeline as JSON lines on stdout, bad lines and a summary on stderr. 0; 1 when a line was
// unreadable or an action named no open alert; 66 when the config or readings path is missing, not a
// regular file or too large; 78 for a bad config.
int ReplayReadings(const ReplayRequest& request);

struct DecodeRequest {
  // A serial protocol name (contec-cms50-9, nonin-df2, ..., ascii), a BLE characteristic ("ble:2A35")
  // or "bthome".
  std::string format;
  std::string hex;             // bytes as hex digits, spaces or colons between them allowed
  std::filesystem::path file;  // or raw bytes from a file (a capture)
  bool waveform = false;       // also print pleth points
  std::string key;             // bthome: the device's 32-hex-digit key for encrypted packets
  std::string address;         // bthome: the device address, part of the nonce of encrypted packets
};

// Decodes device bytes and prints one JSON object per reading on stdout, a summary on stderr. 0 when
// the bytes were decoded, 1 when they were not a frame or value of the format, 64 for bad arguments
// (unknown format, odd hex, missing key or address), 66 when --file is missing, unreadable, not a
// regular file or larger than 64 MiB.
int DecodeBytes(const DecodeRequest& request);

// Runs a simulated serial device on a pseudo-terminal reachable through `link` until SIGTERM/SIGINT.
struct SimulateSerialRequest {
  std::string protocol;
  std::filesystem::path link;
  std::uint64_t seed = 1;
  double byte_drop_rate = 0;
  std::string scenario;  // "60:spo2=86,180:spo2=95,200:finger_out=1" (seconds:parameter=value)
};
int SimulateSerial(const SimulateSerialRequest& request);

// Pairs the gateway with a BLE device (passkey typed in on the terminal, or Just Works) and marks it
// trusted. 0 when paired, 1 when pairing failed, 64 for bad arguments, 78 for a bad config.
struct PairRequest {
  std::string address;
  std::filesystem::path config;  // optional: takes the adapter and bus from its bluetooth section
  std::string adapter;           // overrides
  std::string bus_address;
  int seconds = 30;  // how long to look for the device
};
int PairBleDevice(const PairRequest& request);

// Lists the Bluetooth LE devices near the gateway (address, name, signal, advertised health services)
// with a progress line on stderr. 0 when the scan ran (even if it heard nothing), 69 when BlueZ or the
// adapter cannot be used, 78 for a bad config.
struct ScanRequest {
  std::filesystem::path config;  // optional: takes the adapter and bus from its bluetooth section
  std::string adapter;
  std::string bus_address;
  int seconds = 10;
};
int ScanBleDevices(const ScanRequest& request);

// The running daemon's summary from its local API (status_page in the config). Exit codes as monitoring
// plugins use them: 0 ok, 1 warning, 2 critical (something needs attention), 3 unknown (the daemon or
// its status page cannot be reached, or the config cannot be read).
inline constexpr int kStatusOk = 0;
inline constexpr int kStatusWarning = 1;
inline constexpr int kStatusCritical = 2;
inline constexpr int kStatusUnknown = 3;
struct StatusRequest {
  std::filesystem::path config = "/etc/ehealth-gateway/gateway.json";
  bool json = false;  // print /api/status as it came
};
int PrintStatus(const StatusRequest& request);

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

// The reference receiver for integrators: subscribes (as an MQTT v5 shared subscription when a group
// is given), opens and verifies each envelope, drops repeated event ids, prints one JSON line per event,
// confirms alerts with signed receipts and sends commands read from stdin. Runs until SIGTERM/SIGINT.
struct ReceiveRequest {
  std::string broker;  // ssl://host:port
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  std::string client_id;  // stable: the broker keeps the session (and queued events) by it
  std::string group;      // shared subscription group; empty: a plain subscription
  std::string tenant = "+";
  std::filesystem::path decryption_keys;  // the care system's private encryption key(s)
  std::filesystem::path gateway_keys;     // enrolled gateways' public keys (JWK Set)
  std::filesystem::path signing_key;      // the care system's private command key
  bool insecure_plaintext_payloads = false;
  int command_lifetime_seconds = 3600;
  bool no_receipts = false;
};
int Receive(const ReceiveRequest& request);

}  // namespace ehg::app
