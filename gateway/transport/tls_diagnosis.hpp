#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "gateway/core/address.hpp"
#include "gateway/core/result.hpp"
#include "gateway/transport/transport.hpp"

namespace ehg::transport {

// Parsed by core::ParseBrokerUri, the parser the config checks broker.uri with.
using BrokerAddress = core::BrokerUri;

struct TlsFiles {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
};

// Probes the broker directly with OpenSSL, using the same files and checks as the MQTT client, to say
// in plain words why a connection failed: broker unreachable, a file unreadable, the server
// certificate expired / from an unknown CA / for another host name, or our client certificate refused
// by the broker. `tls` is empty for a plaintext broker. Blocks for at most about `timeout`.
ConnectDiagnosis DiagnoseBrokerConnection(const BrokerAddress& address, const std::optional<TlsFiles>& tls,
                                          std::chrono::milliseconds timeout);

}  // namespace ehg::transport
