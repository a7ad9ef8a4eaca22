#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "care/console/sign_in.hpp"
#include "care/ledger/ledger.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"

// The console's HTTP API, without HTTP: a request as the server read it, the answer to write back.
// server.cpp adapts Poco's requests to this and streams the live feed; everything a browser can ask of
// the console's data passes Handle, so its rules (session, role, municipality, CSRF, origin) are tested
// here without a socket (docs/console.md#the-api).
namespace ehg::console {

struct WebRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', undecoded
  std::string cookie;
  std::string origin;  // the Origin header, empty when absent
  std::string host;    // the Host header
  std::string csrf_token;
  std::string content_type;
  std::string body;
  std::string address;
};

struct WebResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides the security headers
};

// The name of the session cookie. "__Host-": the browser keeps it only when set Secure, from this host,
// for the whole path, so no other site or subdomain can plant one.
inline constexpr std::string_view kSessionCookie = "__Host-ehg_session";
// Request bodies larger than this are refused unread (a sign-in is well under 2 KiB).
inline constexpr std::size_t kMaxBodyBytes = 8 * 1024;
// The most alerts one board answer carries.
inline constexpr std::size_t kBoardLimit = 2000;
// Gateways on one fleet view (a region's thousands fit; filters narrow it in the page).
inline constexpr std::size_t kFleetLimit = 20000;
// Audit rows per page (the next page: ?before=<the last row's id>).
inline constexpr std::size_t kAuditPage = 200;

// The value of cookie `name` in a Cookie header, or empty.
std::string CookieValue(std::string_view header, std::string_view name);
// Set-Cookie for a new session, and for ending it.
std::string SessionCookie(std::string_view token);
std::string ExpiredSessionCookie();
// Headers every answer carries: a strict Content-Security-Policy (own scripts and styles only, no
// frames), no MIME sniffing, no referrer.
std::vector<std::pair<std::string, std::string>> SecurityHeaders();
// The value of `name` in a query string ("tenant=0301&x=1"), percent-decoding not needed for the
// values the API takes (digits and ids); nullopt when absent.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name);
// The board as JSON: {"now": ms, "alerts": [...]}; times in epoch milliseconds.
std::string BoardJson(const std::vector<ledger::BoardAlert>& alerts, core::WallTime now);

// A query value as the browser's encodeURIComponent wrote it ('+' is a plus); nullopt for a broken
// escape or a decoded value that is not UTF-8 or holds a control character.
std::optional<std::string> PercentDecode(std::string_view text);

// The resident view's ranges: how far back from now, and the chart bucket that keeps each under 400
// points (24 h in 5 min, 7 days in 30 min, 90 days in 6 h).
struct ChartRange {
  std::string name;
  std::chrono::seconds span;
  std::chrono::seconds bucket;
};
std::optional<ChartRange> ParseChartRange(std::string_view name);

// Why a gateway needs municipal IT's attention at `now`; empty when it does not. never_heard (no
// status since enrolment), offline, silent (online but no heartbeat for three intervals),
// clock_unsynchronised, alerts_waiting (alerts without the care system's receipt), update_failed (the
// latest update outcome reported was not "installed"). A revoked gateway is retired on purpose: none.
std::vector<std::string> AttentionReasons(const ledger::FleetGateway& gateway, core::WallTime now);
std::string FleetJson(const std::vector<ledger::FleetGateway>& gateways, core::WallTime now);
std::string AuditJson(const std::vector<ledger::AuditRow>& rows);

// A Debian package version as an update request may name it: 1 to 64 of [0-9A-Za-z.+~:-], starting with a
// digit (what the update helper will look for in the repository; anything else is refused up front).
bool ValidPackageVersion(std::string_view version);
// A client certificate's SHA-256 as the console takes it: 64 hexadecimal digits, either case, or pairs
// separated by ':' (openssl x509 -fingerprint); lower-case hex without colons, "" for none given;
// nullopt for anything else.
std::optional<std::string> CertificateFingerprint(std::string_view text);

class ConsoleApi {
 public:
  ConsoleApi(StaffSignIn& sign_in, ledger::Ledger& ledger, core::Clock& clock);
  WebResponse Handle(const WebRequest& request);
  // The session behind a request's cookie (for the live feed), or nullopt.
  std::optional<ledger::StaffSession> SessionOf(const WebRequest& request, WebResponse* refusal);

 private:
  WebResponse SignIn(const WebRequest& request);
  WebResponse SignOut(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse Board(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse Act(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse Resident(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse Fleet(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse Audit(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse RequestUpdate(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse EnrolGateway(const WebRequest& request, const ledger::StaffSession& session);
  WebResponse RequestRules(const WebRequest& request, const ledger::StaffSession& session);
  // A command for an enrolled gateway of the account's municipalities, queued for a hub to sign and
  // send: `command` builds its body from the new command id.
  WebResponse QueueCommand(const accounts::Account& account, const std::string& tenant,
                           const std::string& gateway,
                           const std::function<std::string(const std::string&)>& command);
  WebResponse Refused(const accounts::Account& account, std::string_view tenant, std::string_view message,
                      std::string_view subject = {});

  StaffSignIn& sign_in_;
  ledger::Ledger& ledger_;
  core::Clock& clock_;
  core::EventIdGenerator command_ids_;
};

}  // namespace ehg::console
