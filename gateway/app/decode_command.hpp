#pragma once

#include <filesystem>
#include <string>

namespace ehg::app {

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

}  // namespace ehg::app
