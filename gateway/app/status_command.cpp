// `status`: the running daemon's summary over its local API, for people on site and for scripts.
#include "gateway/app/status_command.hpp"

#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "gateway/config/config.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/json.hpp"
#include "gateway/http/client.hpp"
#include "gateway/http/server.hpp"
#include "gateway/http/status.hpp"

namespace ehg::app {
namespace {

// A value of the status document, read leniently for printing: a missing or mistyped field reads as empty,
// zero or false (the document's shape is checked once, before printing: MissingPart).
class Field {
 public:
  explicit Field(const core::JsonValue* value) : value_(value) {}
  Field operator[](std::string_view key) const {
    return Field(value_ != nullptr && value_->type == core::JsonValue::Type::kObject ? value_->Find(key)
                                                                                     : nullptr);
  }
  Field Item(std::size_t index) const { return Field(index < Size() ? &value_->items[index] : nullptr); }
  std::size_t Size() const {
    return value_ != nullptr && value_->type == core::JsonValue::Type::kArray ? value_->items.size() : 0;
  }
  std::string Text() const {
    return value_ != nullptr && value_->type == core::JsonValue::Type::kString ? value_->text : std::string();
  }
  double Number() const {
    return value_ != nullptr && value_->type == core::JsonValue::Type::kNumber ? value_->number : 0.0;
  }
  bool Bool() const {
    return value_ != nullptr && value_->type == core::JsonValue::Type::kBool && value_->boolean;
  }
  bool IsNumber() const { return value_ != nullptr && value_->type == core::JsonValue::Type::kNumber; }

 private:
  const core::JsonValue* value_;
};

// The parts PrintSummary reads, with their types: an answer without one is not the status document.
std::optional<std::string> MissingPart(const core::JsonValue& status) {
  using Type = core::JsonValue::Type;
  if (status.type != Type::kObject) return "not a JSON object";
  const std::pair<const char*, Type> parts[] = {{"level", Type::kString},      {"gateway", Type::kObject},
                                                {"uplink", Type::kObject},     {"devices", Type::kArray},
                                                {"open_alerts", Type::kArray}, {"attention", Type::kArray}};
  for (const auto& [name, type] : parts) {
    const core::JsonValue* part = status.Find(name);
    if (part == nullptr || part->type != type) return std::string("no \"") + name + "\" of the right type";
  }
  return std::nullopt;
}

// "3 min ago" from an ISO time field, against the gateway's own `now` (its clock, not ours).
std::string Ago(Field time, core::WallTime now) {
  const auto then = core::ParseIso8601(time.Text());
  if (!then) return "never";
  return http::HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *then)) + " ago";
}

std::uint64_t Count(Field value) {
  const double number = value.Number();
  return number > 0 ? static_cast<std::uint64_t>(number) : 0;
}

void PrintSummary(Field status, std::ostream& out) {
  const Field gateway = status["gateway"];
  const core::WallTime now = core::ParseIso8601(gateway["now"].Text()).value_or(core::WallTime{});
  out << "gateway " << gateway["id"].Text() << " (tenant " << gateway["tenant"].Text() << "), version "
      << gateway["version"].Text() << ", up "
      << http::HumanDuration(
             std::chrono::seconds(static_cast<std::int64_t>(gateway["uptime_seconds"].Number())))
      << ", clock " << (gateway["clock_synchronised"].Bool() ? "synchronised" : "NOT synchronised") << "\n";

  const Field uplink = status["uplink"];
  out << "uplink " << uplink["state"].Text() << ", last publish " << Ago(uplink["last_publish"], now)
      << ", backlog " << Count(uplink["backlog_events"]) << " events (" << Count(uplink["backlog_alerts"])
      << " alerts), " << Count(uplink["alerts_awaiting_receipt"]) << " alerts awaiting receipt\n";
  if (!uplink["last_error"].Text().empty()) out << "  last error: " << uplink["last_error"].Text() << "\n";

  const Field devices = status["devices"];
  out << "devices (" << devices.Size() << "):\n";
  for (std::size_t i = 0; i < devices.Size(); ++i) {
    const Field device = devices.Item(i);
    out << "  " << std::left << std::setw(16) << device["id"].Text() << " " << std::setw(26)
        << (device["transport"].Text() + " " + device["type"].Text()) << " " << std::setw(12)
        << device["connection"].Text() << " last reading " << Ago(device["last_reading"], now);
    if (device["battery_percent"].IsNumber())
      out << ", battery " << static_cast<int>(device["battery_percent"].Number()) << " %";
    if (device["rssi_dbm"].IsNumber()) out << ", " << static_cast<int>(device["rssi_dbm"].Number()) << " dBm";
    const std::uint64_t errors = Count(device["parse_errors"]);
    if (errors > 0) out << ", " << errors << " parse errors";
    out << "\n";
  }

  const Field alerts = status["open_alerts"];
  out << "open alerts (" << alerts.Size() << ")" << (alerts.Size() > 0 ? ":" : "") << "\n";
  for (std::size_t i = 0; i < alerts.Size(); ++i) {
    const Field alert = alerts.Item(i);
    out << "  " << std::left << std::setw(24) << alert["rule"].Text() << " " << std::setw(8)
        << alert["severity"].Text() << " " << std::setw(12) << alert["state"].Text() << " raised "
        << Ago(alert["raised_at"], now) << "\n";
  }

  const Field attention = status["attention"];
  if (attention.Size() == 0) {
    out << "status: ok\n";
    return;
  }
  out << "status: " << status["level"].Text() << "\n";
  for (std::size_t i = 0; i < attention.Size(); ++i) {
    const Field item = attention.Item(i);
    out << "  [" << item["level"].Text() << "] " << item["message"].Text() << "\n";
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
  const auto status = core::ParseJson(*body);
  const std::optional<std::string> missing =
      status ? MissingPart(*status) : std::optional<std::string>(status.error().message);
  if (missing) {
    std::cerr << "status: the answer was not the status document: " << *missing << "\n";
    return kStatusUnknown;
  }
  if (request.json) {
    std::cout << *body << "\n";
  } else {
    PrintSummary(Field(&*status), std::cout);
  }
  const std::string level = Field(&*status)["level"].Text();
  if (level == "ok") return kStatusOk;
  if (level == "warning") return kStatusWarning;
  if (level == "critical") return kStatusCritical;
  std::cerr << "status: unknown level '" << level << "'\n";
  return kStatusUnknown;
}

}  // namespace ehg::app
