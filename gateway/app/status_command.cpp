// `status`: the running daemon's summary over its local API, for people on site and for scripts.
#include "gateway/app/status_command.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "gateway/config/config.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/http/client.hpp"
#include "gateway/http/server.hpp"
#include "gateway/http/status.hpp"

namespace ehg::app {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string Text(const Object::Ptr& object, const std::string& key) {
  if (!object->has(key) || object->isNull(key)) return {};
  return object->getValue<std::string>(key);
}

// "3 min ago" from an ISO time field, against the gateway's own `now` (its clock, not ours).
std::string Ago(const Object::Ptr& object, const std::string& key, core::WallTime now) {
  const auto then = core::ParseIso8601(Text(object, key));
  if (!then) return "never";
  return http::HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *then)) + " ago";
}

void PrintSummary(const Object::Ptr& status, std::ostream& out) {
  const Object::Ptr gateway = status->getObject("gateway");
  const core::WallTime now = core::ParseIso8601(Text(gateway, "now")).value_or(core::WallTime{});
  out << "gateway " << Text(gateway, "id") << " (tenant " << Text(gateway, "tenant") << "), version "
      << Text(gateway, "version") << ", up "
      << http::HumanDuration(std::chrono::seconds(gateway->getValue<std::int64_t>("uptime_seconds")))
      << ", clock " << (gateway->getValue<bool>("clock_synchronised") ? "synchronised" : "NOT synchronised")
      << "\n";

  const Object::Ptr uplink = status->getObject("uplink");
  out << "uplink " << Text(uplink, "state") << ", last publish " << Ago(uplink, "last_publish", now)
      << ", backlog " << uplink->getValue<std::uint64_t>("backlog_events") << " events ("
      << uplink->getValue<std::uint64_t>("backlog_alerts") << " alerts), "
      << uplink->getValue<std::uint64_t>("alerts_awaiting_receipt") << " alerts awaiting receipt\n";
  if (!Text(uplink, "last_error").empty()) out << "  last error: " << Text(uplink, "last_error") << "\n";

  const Array::Ptr devices = status->getArray("devices");
  out << "devices (" << devices->size() << "):\n";
  for (std::size_t i = 0; i < devices->size(); ++i) {
    const Object::Ptr device = devices->getObject(static_cast<unsigned>(i));
    out << "  " << std::left << std::setw(16) << Text(device, "id") << " " << std::setw(26)
        << (Text(device, "transport") + " " + Text(device, "type")) << " " << std::setw(12)
        << Text(device, "connection") << " last reading " << Ago(device, "last_reading", now);
    if (!device->isNull("battery_percent"))
      out << ", battery " << static_cast<int>(device->getValue<double>("battery_percent")) << " %";
    if (!device->isNull("rssi_dbm")) out << ", " << device->getValue<int>("rssi_dbm") << " dBm";
    const auto errors = device->getValue<std::uint64_t>("parse_errors");
    if (errors > 0) out << ", " << errors << " parse errors";
    out << "\n";
  }

  const Array::Ptr alerts = status->getArray("open_alerts");
  out << "open alerts (" << alerts->size() << ")" << (alerts->size() > 0 ? ":" : "") << "\n";
  for (std::size_t i = 0; i < alerts->size(); ++i) {
    const Object::Ptr alert = alerts->getObject(static_cast<unsigned>(i));
    out << "  " << std::left << std::setw(24) << Text(alert, "rule") << " " << std::setw(8)
        << Text(alert, "severity") << " " << std::setw(12) << Text(alert, "state") << " raised "
        << Ago(alert, "raised_at", now) << "\n";
  }

  const Array::Ptr attention = status->getArray("attention");
  if (attention->size() == 0) {
    out << "status: ok\n";
    return;
  }
  out << "status: " << Text(status, "level") << "\n";
  for (std::size_t i = 0; i < attention->size(); ++i) {
    const Object::Ptr item = attention->getObject(static_cast<unsigned>(i));
    out << "  [" << Text(item, "level") << "] " << Text(item, "message") << "\n";
  }
}

}  // namespace

int PrintStatus(const StatusRequest& request) {
  auto loaded = config::LoadConfig(request.config);
  if (!loaded) {
    for (const auto& error : loaded.error())
      std::cerr << request.config.string() << ": " << error.ToString() << "\n";
    return kStatusUnknown;
  }
  const config::StatusPageConfig& page = loaded->status_page;
  if (!page.enabled) {
    std::cerr << "status: the status page is disabled in " << request.config.string()
              << " (status_page.enabled): there is no local API to ask\n";
    return kStatusUnknown;
  }
  http::FetchOptions options;
  options.host = page.host;
  options.port = page.port;
  // Checked here for a message that names the config; http::Fetch reads it through the same checks.
  if (!page.tls_cert_file.empty()) {
    if (auto file = core::OpenCheckedFile(page.tls_cert_file, core::kCertificateFile); !file) {
      std::cerr << "status: cannot use the status page certificate: " << file.error().message << "\n";
      return kStatusUnknown;
    }
    options.pinned_cert_file = page.tls_cert_file;
  }
  if (!page.token_file.empty()) {
    auto token = http::ReadTokenFile(page.token_file);
    if (!token) {
      std::cerr << "status: cannot read the token: " << token.error().message
                << " (run as root or as the gateway's user)\n";
      return kStatusUnknown;
    }
    options.token = *token;
  }
  auto body = http::Fetch(options);
  if (!body) {
    std::cerr << "status: " << body.error().message << "\n";
    return kStatusUnknown;
  }
  Object::Ptr status;
  try {
    status = Poco::JSON::Parser(new Poco::JSON::ParseHandler(true)).parse(*body).extract<Object::Ptr>();
    if (request.json) {
      std::cout << *body << "\n";
    } else {
      PrintSummary(status, std::cout);
    }
    const std::string level = Text(status, "level");
    if (level == "ok") return kStatusOk;
    if (level == "warning") return kStatusWarning;
    if (level == "critical") return kStatusCritical;
    std::cerr << "status: unknown level '" << level << "'\n";
  } catch (const Poco::Exception& error) {
    std::cerr << "status: the answer was not the status document: " << error.displayText() << "\n";
  }
  return kStatusUnknown;
}

}  // namespace ehg::app
