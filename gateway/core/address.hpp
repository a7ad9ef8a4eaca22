#pragma once

#include <optional>
#include <string>
#include <string_view>

// Listening addresses as the config writes them.
namespace ehg::core {

// True for 127.0.0.0/8 (dotted quad), ::1 and "localhost"; false for 0.0.0.0, "::", LAN addresses and
// other names. Decides whether a local service may do without a token and TLS.
bool IsLoopbackHost(std::string_view host);

struct HostPort {
  std::string host;  // without brackets for IPv6
  unsigned port = 0;
};
// "127.0.0.1:8780", "[::1]:8780", "0.0.0.0:8443"; port 1..65535. nullopt for anything else.
std::optional<HostPort> ParseHostPort(std::string_view text);

}  // namespace ehg::core
