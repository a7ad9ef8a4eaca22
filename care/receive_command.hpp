#pragma once

#include <filesystem>
#include <string>

namespace ehg::care {

// The reference receiver for integrators: subscribes (as an MQTT v5 shared subscription when a group
// is given), opens and verifies each envelope, drops repeated event ids, prints one JSON line per event,
// confirms alerts with signed receipts and sends commands read from stdin (signed with SignCommand).
// Runs until SIGTERM/SIGINT.
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

}  // namespace ehg::care
