#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/result.hpp"

// Network addresses as the config and the command line write them: the status page's listening address
// and the broker's URI. One grammar for both: a host is a name or dotted quad of ASCII letters, digits,
// '-', '_' and '.', or an IPv6 literal in brackets; a port is 1-65535 in decimal digits.
namespace ehg::core {

// True for 127.0.0.0/8 (dotted quad), ::1 and "localhost"; false for 0.0.0.0, "::", LAN addresses and
// other names. Decides whether a local service may do without a token and TLS.
bool IsLoopbackHost(std::string_view host);

struct HostPort {
  std::string host;  // without brackets for IPv6
  unsigned port = 0;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};
// "127.0.0.1:8780", "[::1]:8780", "0.0.0.0:8443"; port 1..65535. nullopt for anything else.
std::optional<HostPort> ParseHostPort(std::string_view text);

// The MQTT broker's address: ssl:// and mqtts:// are TLS, tcp:// and mqtt:// plaintext (paho's spelling).
enum class BrokerScheme { kSsl, kMqtts, kTcp, kMqtt };

struct BrokerUri {
  BrokerScheme scheme = BrokerScheme::kSsl;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;

  bool tls() const { return scheme == BrokerScheme::kSsl || scheme == BrokerScheme::kMqtts; }
  std::string_view scheme_name() const;  // "ssl", "mqtts", "tcp", "mqtt"
  friend bool operator==(const BrokerUri&, const BrokerUri&) = default;
};

// What a broker URI without a port means.
enum class MissingPort {
  kRefused,        // an error: the config's form, scheme://host:port, names the port
  kSchemeDefault,  // 8883 with TLS, 1883 without, as MQTT clients do (a command line's --broker)
};

// "ssl://mqtt.example.no:8883", "mqtts://[::1]:8883", "tcp://127.0.0.1:1883". Errors, checked in this
// order: Errc::kParse when the text is not scheme://host:port (no "://", an empty or malformed host, a
// missing or invalid port, anything after the port); Errc::kUnsupported for a scheme other than the four
// above. The messages say what is wrong and quote the text.
Result<BrokerUri> ParseBrokerUri(std::string_view text, MissingPort missing_port = MissingPort::kRefused);

}  // namespace ehg::core
