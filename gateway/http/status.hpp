#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/histogram.hpp"
#include "gateway/core/liveness.hpp"
#include "gateway/core/telemetry.hpp"

// What the installer's status page, /api/status, /metrics and `ehealth-gateway status` show: one
// snapshot of the running gateway, rendered by pure functions. No measurement value is in a snapshot
// unless the config allows showing values (status_page.show_values); see docs/status-page.md.
namespace ehg::http {

struct LastValue {
  std::string metric;
  double value = 0;
  std::string unit;
  core::WallTime received_at{};
};

struct DeviceView {
  std::string id;
  std::string transport;  // ble, serial, simulated
  std::string type;       // the BLE profile, the serial protocol or the simulated profile
  // connected; idle (a cuff, thermometer, scale or glucose meter between measurements: it hung up, as it
  // should); disconnected (missing: see core::JudgeLink); listening (BTHome: advertisements only);
  // simulated; unknown
  std::string connection = "unknown";
  std::optional<core::WallTime> last_seen;     // anything heard: a value, an advertisement, a frame
  std::optional<core::WallTime> last_reading;  // last reading stored (durable across restarts)
  std::optional<double> battery_percent;
  std::optional<int> rssi_dbm;
  std::chrono::seconds expected_interval{0};                // silence beyond this needs attention
  std::map<std::string, std::uint64_t> readings_by_metric;  // stored since start
  std::uint64_t parse_errors = 0;      // frames or values the parser refused, readings the catalogue refused
  std::string last_error;              // for the installer: what happened and what to do
  std::string last_error_detail;       // the technical cause behind it (a BlueZ D-Bus error), empty if none
  std::vector<LastValue> last_values;  // empty unless values are shown
};

struct AlertView {
  std::string rule_id;
  std::string severity;  // info, low, medium, high, critical
  std::string state;     // raised, delivered (to the care system), acknowledged
  core::WallTime raised_at{};
  core::WallTime updated_at{};
  std::string detail_json;  // the alert's values: empty unless values are shown
};

struct UplinkView {
  std::string state = "stopped";  // stopped, disconnected, connecting, connected
  std::optional<core::WallTime> connected_since;
  std::optional<core::WallTime> last_publish;  // last event the broker acknowledged
  std::string last_error;
  std::uint64_t backlog_rows = 0;
  std::uint64_t backlog_bytes = 0;
  std::uint64_t backlog_alerts = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t alerts_awaiting_receipt = 0;
  // The uplink's counters (connects, receipts, ...) are in StatusSnapshot::telemetry.
  core::HistogramSnapshot publish_latency;
};

// Why the status page refused a connection or a request (docs/status-page.md, "Limits"). The names are
// the `reason` label of ehg_http_refusals_total and the keys of /api/status' status_page.refusals.
enum class Refusal : std::size_t {
  kNoToken,          // 401: no credentials (how every browser starts; not a failure)
  kWrongToken,       // 401: a wrong token
  kLockedOut,        // 429: the address is locked out after wrong tokens
  kHeaderTimeout,    // closed: the TLS handshake and request head did not arrive in time
  kPerAddressLimit,  // closed: one address already had its maximum of connections
  kConnectionLimit,  // closed: the page had its maximum of connections
  kHeadTooLarge,     // 414/431: request line or head over its limit
  kBody,             // 413: the request announced a body
  kMalformed,        // 400/505: not an HTTP/1.x request the page takes
  kMethod,           // 405: not GET or HEAD
  kTlsHandshake,     // closed: the TLS handshake failed (no shared suite or version, not TLS)
  kBusy,             // 503: every worker busy and the queue full
  kSlowReader,       // closed: the response was not taken within its deadline
  kCount
};
inline constexpr std::size_t kRefusalKinds = static_cast<std::size_t>(Refusal::kCount);
using RefusalCounts = std::array<std::uint64_t, kRefusalKinds>;
std::string_view ToString(Refusal refusal);

// One kind of problem (one log message): its latest line, and how often it was logged since first_at.
struct Problem {
  core::WallTime at{};
  std::string level;  // warning, error
  std::string line;   // the latest log line (no values above debug)
  core::WallTime first_at{};
  std::uint64_t count = 1;
};

struct StatusSnapshot {
  std::string gateway_id;
  std::string tenant;
  std::string version;
  core::WallTime now{};
  std::chrono::seconds uptime{0};
  bool clock_synchronised = false;
  bool values_shown = false;
  UplinkView uplink;
  std::vector<DeviceView> devices;
  std::vector<AlertView> open_alerts;
  // (severity, change: raised, escalated, acknowledged, ...) -> count since start
  std::map<std::pair<std::string, std::string>, std::uint64_t> alert_changes;
  // Every counter and gauge family the components declared (core/telemetry.hpp): /metrics and the
  // `telemetry` section of /api/status render all of them, the other sections read theirs from here.
  core::telemetry::Snapshot telemetry;
  std::vector<Problem> recent_problems;
  RefusalCounts page_refusals{};  // the status page's own refusals since start
};

// What someone should look at, worst first. `status` exits with the worst level (0 none, 1 warning,
// 2 critical) so scripts and monitoring can use it.
enum class Level { kOk = 0, kWarning = 1, kCritical = 2 };
struct Attention {
  Level level = Level::kWarning;
  std::string code;     // stable, for scripts: uplink_down, device_silent, ...
  std::string message;  // for people
};
std::vector<Attention> NeedsAttention(const StatusSnapshot& status);
Level WorstLevel(const std::vector<Attention>& attention);
std::string_view ToString(Level level);

// The `connection` of a device whose link the gateway judged: connected, idle or disconnected.
std::string ConnectionName(core::LinkShown shown);

// GET /api/status: the schema is docs/status-api.schema.json.
std::string StatusJson(const StatusSnapshot& status);
// GET /metrics: Prometheus text exposition format 0.0.4.
std::string MetricsText(const StatusSnapshot& status);
// GET /: the page for installers (phone-sized, refreshes itself, no external assets).
std::string StatusPageHtml(const StatusSnapshot& status, std::chrono::seconds refresh);

// "42 s", "3 min", "2 h 5 min", "4 d 3 h": for ages and uptime.
std::string HumanDuration(std::chrono::seconds duration);

}  // namespace ehg::http
