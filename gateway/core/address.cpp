#include "gateway/core/address.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace ehg::core {
namespace {

// ASCII only, whatever the locale: a name with other letters cannot be resolved as it is written.
bool IsHostNameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

bool IsIpv6Character(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

struct HostAndPortText {
  std::string_view host;                 // without brackets
  std::optional<std::string_view> port;  // the text after ':', absent without ':'
};

// "host", "host:port", "[v6]", "[v6]:port". nullopt for an empty or malformed host, an IPv6 address
// without brackets (ambiguous: which colon starts the port?), or anything but ":port" after the host.
std::optional<HostAndPortText> SplitHostPort(std::string_view text) {
  HostAndPortText parts;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    parts.host = text.substr(1, close - 1);
    if (parts.host.find(':') == std::string_view::npos ||
        !std::all_of(parts.host.begin(), parts.host.end(), IsIpv6Character)) {
      return std::nullopt;
    }
    rest = text.substr(close + 1);
  } else {
    const std::size_t colon = text.find(':');
    parts.host = text.substr(0, colon);
    if (!std::all_of(parts.host.begin(), parts.host.end(), IsHostNameCharacter)) return std::nullopt;
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (parts.host.empty()) return std::nullopt;
  if (rest.empty()) return parts;
  if (rest.front() != ':') return std::nullopt;
  parts.port = rest.substr(1);
  return parts;
}

// Decimal digits only (no sign, no spaces), 1..65535.
std::optional<std::uint16_t> ParsePort(std::string_view text) {
  unsigned port = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (error != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

constexpr std::array<std::pair<std::string_view, BrokerScheme>, 4> kBrokerSchemes{{
    {"ssl", BrokerScheme::kSsl},
    {"mqtts", BrokerScheme::kMqtts},
    {"tcp", BrokerScheme::kTcp},
    {"mqtt", BrokerScheme::kMqtt},
}};

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 in dotted-quad form only: anything else (0.0.0.0, a LAN address, a name) is not loopback.
  if (!host.starts_with("127.")) return false;
  int parts = 0;
  std::size_t digits = 0;
  for (const char c : host) {
    if (c == '.') {
      if (digits == 0) return false;
      ++parts;
      digits = 0;
    } else if (std::isdigit(static_cast<unsigned char>(c)) && digits < 3) {
      ++digits;
    } else {
      return false;
    }
  }
  return parts == 3 && digits > 0;
}

std::optional<HostPort> ParseHostPort(std::string_view text) {
  const auto parts = SplitHostPort(text);
  if (!parts || !parts->port) return std::nullopt;
  const auto port = ParsePort(*parts->port);
  if (!port) return std::nullopt;
  return HostPort{std::string(parts->host), *port};
}

std::string_view BrokerUri::scheme_name() const {
  for (const auto& [name, value] : kBrokerSchemes) {
    if (value == scheme) return name;
  }
  return "ssl";  // unreachable: every scheme is in the table
}

Result<BrokerUri> ParseBrokerUri(std::string_view text, MissingPort missing_port) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  const std::size_t separator = text.find("://");
  if (separator == std::string_view::npos)
    return Fail(Errc::kParse, "broker address " + quoted + " is not scheme://host:port");
  const auto parts = SplitHostPort(text.substr(separator + 3));
  if (!parts) {
    return Fail(Errc::kParse, "broker address " + quoted +
                                  ": the host must be a name, an IPv4 address or an IPv6 address in "
                                  "brackets, followed by :port and nothing else");
  }
  std::optional<std::uint16_t> port;
  if (parts->port) {
    port = ParsePort(*parts->port);
    if (!port) return Fail(Errc::kParse, "broker address " + quoted + ": the port must be 1-65535");
  } else if (missing_port == MissingPort::kRefused) {
    return Fail(Errc::kParse, "broker address " + quoted + " names no port");
  }
  const std::string_view scheme = text.substr(0, separator);
  const auto known = std::find_if(kBrokerSchemes.begin(), kBrokerSchemes.end(),
                                  [scheme](const auto& entry) { return entry.first == scheme; });
  if (known == kBrokerSchemes.end()) {
    return Fail(Errc::kUnsupported,
                "broker address " + quoted + ": the scheme must be ssl://, mqtts://, tcp:// or mqtt://");
  }
  BrokerUri uri{known->second, std::string(parts->host), 0};
  uri.port = port ? *port : (uri.tls() ? std::uint16_t{8883} : std::uint16_t{1883});
  return uri;
}

}  // namespace ehg::core
