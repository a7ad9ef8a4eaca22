#include "care/console/web_api.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <initializer_list>
#include <map>
#include <sstream>

#include "care/ledger/rows.hpp"
#include "gateway/core/json.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/utf8.hpp"
#include "gateway/crypto/keys.hpp"
#include "gateway/wire/commands.hpp"

namespace ehg::console {
namespace {

std::int64_t Millis(core::WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

WebResponse Json(int status, const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return {status, "application/json", out.str(), {}};
}

WebResponse Problem(int status, std::string_view code, std::string_view message) {
  Poco::JSON::Object object;
  object.set("error", std::string(code));
  object.set("message", std::string(message));
  return Json(status, object);
}

// A state-changing request must come from the console's own pages: an Origin of another site is
// refused (the SameSite cookie is the first guard, this the second; a request without Origin, from a
// client that is not a browser, still needs the CSRF token where a session is involved).
bool SameOrigin(const WebRequest& request) {
  return request.origin.empty() || request.origin == "https://" + request.host;
}

// The checks every change through the API passes first: sent by the console's own page (its origin and
// the session's CSRF token), by a role allowed to make it, as JSON. nullopt: go on.
std::optional<WebResponse> RefuseChange(const WebRequest& request, const ledger::StaffSession& session,
                                        accounts::Permission permission, std::string_view not_allowed) {
  if (!SameOrigin(request) || !CsrfMatches(session, request.csrf_token))
    return Problem(403, "csrf", "the request did not come from the console's own page");
  if (!accounts::Allows(session.account.role, permission)) return Problem(403, "role", not_allowed);
  if (request.content_type.rfind("application/json", 0) != 0)
    return Problem(415, "content_type", "send it as application/json");
  return std::nullopt;
}

using Members = std::map<std::string, std::string, std::less<>>;
// The string members of a JSON object body: every one of `required`, and those of `optional` that are
// there ("" when absent). nullopt when the body is no JSON object or a member is there but no string.
std::optional<Members> StringMembers(const std::string& body, std::initializer_list<const char*> required,
                                     std::initializer_list<const char*> optional = {}) {
  try {
    Poco::JSON::Parser parser;
    const auto object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    if (!object) return std::nullopt;
    Members members;
    const auto take = [&](const char* name, bool needed) {
      if (!object->has(name)) return !needed;
      if (!object->get(name).isString()) return false;
      members[name] = object->getValue<std::string>(name);
      return true;
    };
    for (const char* name : required)
      if (!take(name, true)) return std::nullopt;
    for (const char* name : optional)
      if (!take(name, false)) return std::nullopt;
    return members;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string Member(const Members& members, std::string_view name) {
  const auto found = members.find(name);
  return found == members.end() ? std::string() : found->second;
}

Poco::JSON::Object SessionObject(const accounts::Account& account, const std::string& csrf) {
  Poco::JSON::Object object;
  object.set("username", account.username);
  object.set("role", std::string(accounts::ToString(account.role)));
  Poco::JSON::Array tenants;
  for (const std::string& tenant : account.tenants)
    tenants.add(tenant);
  object.set("tenants", tenants);
  Poco::JSON::Array permissions;
  for (accounts::Permission permission :
       {accounts::Permission::kViewAlerts, accounts::Permission::kActOnAlerts,
        accounts::Permission::kViewResidents, accounts::Permission::kViewFleet,
        accounts::Permission::kCommandGateways, accounts::Permission::kEnrolGateways,
        accounts::Permission::kManageAccounts, accounts::Permission::kViewAudit})
    if (accounts::Allows(account.role, permission))
      permissions.add(std::string(accounts::ToString(permission)));
  object.set("permissions", permissions);
  object.set("csrf", csrf);
  return object;
}

}  // namespace

std::string CookieValue(std::string_view header, std::string_view name) {
  std::size_t start = 0;
  while (start < header.size()) {
    std::size_t end = header.find(';', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(start, end - start);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name)
      return std::string(pair.substr(equals + 1));
    start = end + 1;
  }
  return {};
}

std::string SessionCookie(std::string_view token) {
  return std::string(kSessionCookie) + "=" + std::string(token) +
         "; Path=/; Secure; HttpOnly; SameSite=Strict";
}

std::string ExpiredSessionCookie() {
  return std::string(kSessionCookie) + "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0";
}

std::vector<std::pair<std::string, std::string>> SecurityHeaders() {
  return {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "media-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Strict-Transport-Security", "max-age=31536000"},
      {"Cache-Control", "no-store"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"}};
}

std::optional<std::string> QueryValue(std::string_view query, std::string_view name) {
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) == name)
      return std::string(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    start = end + 1;
  }
  return std::nullopt;
}

std::string BoardJson(const std::vector<ledger::BoardAlert>& alerts, core::WallTime now) {
  Poco::JSON::Object board;
  board.set("now", Millis(now));
  Poco::JSON::Array list;
  for (const ledger::BoardAlert& alert : alerts) {
    Poco::JSON::Object item;
    item.set("tenant", alert.tenant);
    item.set("gateway", alert.gateway);
    item.set("alert_id", alert.alert_id);
    item.set("subject", alert.subject);
    item.set("rule_id", alert.rule_id);
    item.set("metric", alert.metric);
    item.set("device", alert.device);
    item.set("severity", alert.severity);
    item.set("priority", alert.priority);
    item.set("stage", alert.stage);
    item.set("state", alert.state);
    item.set("last_change", alert.last_change);
    item.set("raised_at", Millis(alert.raised_at));
    item.set("updated_at", Millis(alert.updated_at));
    if (alert.acknowledged_at) item.set("acknowledged_at", Millis(*alert.acknowledged_at));
    item.set("acknowledged_by", alert.acknowledged_by);
    item.set("escalation_level", alert.escalation_level);
    item.set("occurrences", alert.occurrences);
    item.set("worst_value", alert.worst_value);
    for (const auto& [name, action] :
         {std::pair{"claim", &alert.claim}, std::pair{"acknowledge", &alert.acknowledge},
          std::pair{"resolve", &alert.resolve}}) {
      if (!*action) continue;
      Poco::JSON::Object done;
      done.set("by", (*action)->actor);
      done.set("at", Millis((*action)->at));
      if ((*action)->sent_at) done.set("sent_at", Millis(*(*action)->sent_at));
      if (!(*action)->result_status.empty()) done.set("gateway_result", (*action)->result_status);
      if (!(*action)->refused.empty()) done.set("refused", (*action)->refused);
      item.set(name, done);
    }
    list.add(item);
  }
  board.set("alerts", list);
  std::ostringstream out;
  board.stringify(out);
  return out.str();
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0) return std::nullopt;
    out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
    i += 2;
  }
  if (!core::IsValidUtf8(out)) return std::nullopt;
  for (const char c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  return out;
}

std::optional<ChartRange> ParseChartRange(std::string_view name) {
  using std::chrono::hours;
  using std::chrono::minutes;
  if (name == "24h") return ChartRange{"24h", hours(24), minutes(5)};
  if (name == "7d") return ChartRange{"7d", hours(24 * 7), minutes(30)};
  if (name == "90d") return ChartRange{"90d", hours(24 * 90), hours(6)};
  return std::nullopt;
}

std::vector<std::string> AttentionReasons(const ledger::FleetGateway& gateway, core::WallTime now) {
  std::vector<std::string> reasons;
  if (gateway.status == "revoked") return reasons;
  if (gateway.state.empty()) {
    reasons.emplace_back("never_heard");
  } else if (gateway.state == "offline") {
    reasons.emplace_back("offline");
  } else {
    const auto interval = std::chrono::seconds(
        gateway.heartbeat_interval_seconds > 0 ? gateway.heartbeat_interval_seconds : 60);
    if (!gateway.last_heartbeat || now - *gateway.last_heartbeat > 3 * interval)
      reasons.emplace_back("silent");
  }
  if (gateway.clock_synchronised == false) reasons.emplace_back("clock_unsynchronised");
  if (gateway.alerts_awaiting_receipt > 0) reasons.emplace_back("alerts_waiting");
  if (!gateway.last_update.empty() && gateway.last_update != "update.installed")
    reasons.emplace_back("update_failed");
  return reasons;
}

std::optional<std::string> CertificateFingerprint(std::string_view text) {
  std::string hex;
  if (text.find(':') == std::string_view::npos) {
    hex = text;
  } else {
    // "AB:CD:...", as openssl x509 -fingerprint prints it: 32 pairs, a colon between each two.
    if (text.size() != 32 * 3 - 1) return std::nullopt;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (i % 3 != 2)
        hex.push_back(text[i]);
      else if (text[i] != ':')
        return std::nullopt;
    }
  }
  if (!hex.empty() && hex.size() != 64) return std::nullopt;
  for (char& c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return hex;
}

bool ValidPackageVersion(std::string_view version) {
  if (version.empty() || version.size() > 64 || version.front() < '0' || version.front() > '9') return false;
  return std::all_of(version.begin(), version.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '+' || c == '~' || c == ':' || c == '-';
  });
}

std::string FleetJson(const std::vector<ledger::FleetGateway>& gateways, core::WallTime now) {
  Poco::JSON::Object fleet;
  fleet.set("now", Millis(now));
  Poco::JSON::Array list;
  for (const ledger::FleetGateway& gateway : gateways) {
    Poco::JSON::Object item;
    item.set("tenant", gateway.tenant);
    item.set("gateway", gateway.gateway);
    item.set("status", gateway.status);
    item.set("state", gateway.state);
    item.set("state_reason", gateway.state_reason);
    item.set("version", gateway.software_version);
    if (gateway.last_heartbeat) item.set("last_heartbeat", Millis(*gateway.last_heartbeat));
    item.set("heartbeat_interval_seconds", gateway.heartbeat_interval_seconds);
    item.set("backlog_events", gateway.backlog_events);
    item.set("backlog_alerts", gateway.backlog_alerts);
    item.set("alerts_awaiting_receipt", gateway.alerts_awaiting_receipt);
    item.set("dropped_observations", gateway.dropped_observations);
    if (gateway.clock_synchronised) item.set("clock_synchronised", *gateway.clock_synchronised);
    item.set("last_update", gateway.last_update);
    if (gateway.last_update_at) item.set("last_update_at", Millis(*gateway.last_update_at));
    if (!gateway.update_request_state.empty()) {
      Poco::JSON::Object requested;
      requested.set("version", gateway.update_requested_version);
      if (gateway.update_requested_at) requested.set("at", Millis(*gateway.update_requested_at));
      requested.set("state", gateway.update_request_state);
      item.set("update_request", requested);
    }
    if (!gateway.rules_request_state.empty()) {
      Poco::JSON::Object requested;
      if (gateway.rules_requested_at) requested.set("at", Millis(*gateway.rules_requested_at));
      requested.set("state", gateway.rules_request_state);
      requested.set("detail", gateway.rules_request_detail);
      item.set("rules_request", requested);
    }
    Poco::JSON::Array reasons;
    for (const std::string& reason : AttentionReasons(gateway, now))
      reasons.add(reason);
    item.set("attention", reasons);
    list.add(item);
  }
  fleet.set("gateways", list);
  std::ostringstream out;
  fleet.stringify(out);
  return out.str();
}

std::string AuditJson(const std::vector<ledger::AuditRow>& rows) {
  Poco::JSON::Array list;
  for (const ledger::AuditRow& row : rows) {
    Poco::JSON::Object item;
    item.set("id", row.id);
    item.set("at", Millis(row.entry.at));
    item.set("actor", row.entry.actor);
    item.set("action", row.entry.action);
    item.set("tenant", row.entry.tenant);
    item.set("gateway", row.entry.gateway);
    item.set("subject", row.entry.subject);
    item.set("detail", row.entry.detail);
    list.add(item);
  }
  Poco::JSON::Object audit;
  audit.set("rows", list);
  std::ostringstream out;
  audit.stringify(out);
  return out.str();
}

// A request for a municipality outside the account's scope: 403, and a row in the audit log (who tried
// what, where), so an attempt on another municipality's data leaves a trace where access is reviewed.
WebResponse ConsoleApi::Refused(const accounts::Account& account, std::string_view tenant,
                                std::string_view message, std::string_view subject) {
  const bool shown = ledger::ValidTenant(tenant);
  if (auto audited = ledger_.Append(
          {clock_.Now(), account.username, "access.refused", shown ? std::string(tenant) : std::string(), "",
           shown ? std::string(subject) : std::string(), "outside the account's municipalities"});
      !audited) {
    core::LogError("refusal not audited", {{"user", account.username}, {"reason", audited.error().message}});
  }
  return Problem(403, "scope", message);
}

ConsoleApi::ConsoleApi(StaffSignIn& sign_in, ledger::Ledger& ledger, core::Clock& clock)
    : sign_in_(sign_in), ledger_(ledger), clock_(clock), command_ids_(clock) {}

std::optional<ledger::StaffSession> ConsoleApi::SessionOf(const WebRequest& request, WebResponse* refusal) {
  const std::string token = CookieValue(request.cookie, kSessionCookie);
  if (token.empty()) {
    if (refusal) *refusal = Problem(401, "signed_out", "sign in first");
    return std::nullopt;
  }
  auto session = sign_in_.Session(token);
  if (!session) {
    if (refusal) *refusal = Problem(503, "unavailable", "the care system's database cannot be reached");
    return std::nullopt;
  }
  if (!*session) {
    if (refusal) {
      *refusal = Problem(401, "signed_out", "the session has ended; sign in again");
      refusal->headers.emplace_back("Set-Cookie", ExpiredSessionCookie());
    }
    return std::nullopt;
  }
  return std::move(**session);
}

WebResponse ConsoleApi::Handle(const WebRequest& request) {
  if (request.body.size() > kMaxBodyBytes) return Problem(413, "too_large", "the request is too large");
  if (request.path == "/api/session") {
    if (request.method == "POST") return SignIn(request);
    if (request.method != "GET" && request.method != "DELETE")
      return Problem(405, "method", "GET, POST or DELETE");
    WebResponse refusal;
    auto session = SessionOf(request, &refusal);
    if (!session) return refusal;
    if (request.method == "DELETE") return SignOut(request, *session);
    return Json(200, SessionObject(session->account, session->csrf_token));
  }
  using Handler = WebResponse (ConsoleApi::*)(const WebRequest&, const ledger::StaffSession&);
  for (const auto& [path, change] :
       {std::pair<std::string_view, Handler>{"/api/fleet/update", &ConsoleApi::RequestUpdate},
        {"/api/fleet/enrol", &ConsoleApi::EnrolGateway},
        {"/api/fleet/rules", &ConsoleApi::RequestRules},
        {"/api/alerts/action", &ConsoleApi::Act}}) {
    if (request.path != path) continue;
    if (request.method != "POST") return Problem(405, "method", "POST only");
    WebResponse refusal;
    auto session = SessionOf(request, &refusal);
    if (!session) return refusal;
    return (this->*change)(request, *session);
  }
  for (const auto& [path, reader] : {std::pair<std::string_view, Handler>{"/api/alerts", &ConsoleApi::Board},
                                     {"/api/resident", &ConsoleApi::Resident},
                                     {"/api/fleet", &ConsoleApi::Fleet},
                                     {"/api/audit", &ConsoleApi::Audit}}) {
    if (request.path != path) continue;
    if (request.method != "GET") return Problem(405, "method", "GET only");
    WebResponse refusal;
    auto session = SessionOf(request, &refusal);
    if (!session) return refusal;
    return (this->*reader)(request, *session);
  }
  return Problem(404, "not_found", "no such resource");
}

WebResponse ConsoleApi::SignIn(const WebRequest& request) {
  if (!SameOrigin(request)) return Problem(403, "origin", "a sign-in from another site is refused");
  if (request.content_type.rfind("application/json", 0) != 0)
    return Problem(415, "content_type", "send the sign-in as application/json");
  std::string username;
  std::string password;
  try {
    Poco::JSON::Parser parser;
    const auto object = parser.parse(request.body).extract<Poco::JSON::Object::Ptr>();
    if (!object || !object->has("username") || !object->has("password") ||
        !object->get("username").isString() || !object->get("password").isString())
      return Problem(400, "malformed", "username and password are needed, as strings");
    username = object->getValue<std::string>("username");
    password = object->getValue<std::string>("password");
  } catch (const std::exception&) {
    return Problem(400, "malformed", "the sign-in is not a JSON object");
  }
  auto result = sign_in_.SignIn({username, password, request.address});
  if (!result) {
    core::LogError("sign-in not decided", {{"reason", result.error().message}});
    return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  }
  if (result->outcome == ledger::SignInOutcome::kLocked) {
    WebResponse locked = Problem(429, "locked", "too many failed sign-ins; try again later");
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(*result->retry_after - clock_.Now()).count() + 1;
    locked.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(seconds, 1)));
    return locked;
  }
  if (result->outcome != ledger::SignInOutcome::kOk || !result->session)
    // The same answer for a wrong password, an unknown name and a disabled account.
    return Problem(401, "refused", "wrong user name or password");
  WebResponse ok = Json(200, SessionObject(result->session->account, result->session->csrf_token));
  ok.headers.emplace_back("Set-Cookie", SessionCookie(result->session->token));
  return ok;
}

WebResponse ConsoleApi::SignOut(const WebRequest& request, const ledger::StaffSession& session) {
  if (!SameOrigin(request) || !CsrfMatches(session, request.csrf_token))
    return Problem(403, "csrf", "the request did not come from the console's own page");
  if (auto ended = sign_in_.SignOut(CookieValue(request.cookie, kSessionCookie)); !ended)
    return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  WebResponse done{204, "application/json", "", {}};
  done.headers.emplace_back("Set-Cookie", ExpiredSessionCookie());
  return done;
}

WebResponse ConsoleApi::Board(const WebRequest& request, const ledger::StaffSession& session) {
  const accounts::Account& account = session.account;
  if (!accounts::Allows(account.role, accounts::Permission::kViewAlerts))
    return Problem(403, "role", "this account's role does not see alerts");
  std::vector<std::string> tenants = account.tenants;
  if (const auto tenant = QueryValue(request.query, "tenant")) {
    // A municipality outside the account's scope is refused, not answered with an empty board: the
    // refusal is what the audit and the tests look for.
    if (!accounts::InScope(account, *tenant)) {
      core::LogWarning("board of a municipality outside the account's scope refused",
                       {{"user", account.username}, {"tenant", *tenant}});
      return Refused(account, *tenant, "this account does not see that municipality");
    }
    tenants = {*tenant};
  }
  const core::WallTime now = clock_.Now();
  auto alerts = ledger_.BoardAlerts(tenants, kBoardLimit, account.username, now);
  if (!alerts) return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  return {200, "application/json", BoardJson(*alerts, now), {}};
}

// POST /api/alerts/action {"tenant", "gateway", "alert_id", "action": claim|acknowledge|resolve, "note"}.
WebResponse ConsoleApi::Act(const WebRequest& request, const ledger::StaffSession& session) {
  if (auto refused = RefuseChange(request, session, accounts::Permission::kActOnAlerts,
                                  "this account's role does not act on alerts"))
    return *refused;
  const accounts::Account& account = session.account;
  const auto members = StringMembers(request.body, {"tenant", "gateway", "alert_id", "action"}, {"note"});
  if (!members)
    return Problem(400, "malformed",
                   "a JSON object with tenant, gateway, alert_id and action (and a note), as strings");
  ledger::AlertAction action;
  action.tenant = Member(*members, "tenant");
  action.gateway = Member(*members, "gateway");
  action.alert_id = Member(*members, "alert_id");
  action.note = Member(*members, "note");
  const std::string kind = Member(*members, "action");
  if (kind == "claim")
    action.kind = ledger::AlertActionKind::kClaim;
  else if (kind == "acknowledge")
    action.kind = ledger::AlertActionKind::kAcknowledge;
  else if (kind == "resolve")
    action.kind = ledger::AlertActionKind::kResolve;
  else
    return Problem(400, "malformed", "the action is claim, acknowledge or resolve");
  // The gateway's id as the hub enrols it: anything else names no gateway, and must not reach the
  // database or a log as it came.
  const bool gateway_ok = ledger::ValidGateway(action.gateway);
  if (!gateway_ok)
    return Problem(400, "malformed", "the gateway id is letters, digits, '_' and '-' (1 to 64)");
  if (!accounts::InScope(account, action.tenant)) {
    core::LogWarning("action on a municipality outside the account's scope refused",
                     {{"user", account.username}, {"tenant", action.tenant}});
    return Refused(account, action.tenant, "this account does not see that municipality");
  }
  if (action.note.size() > wire::kMaxNoteBytes || !core::IsValidUtf8(action.note) ||
      (action.kind != ledger::AlertActionKind::kResolve && !action.note.empty()))
    return Problem(400, "note", "a note goes with a resolution only: UTF-8 text of at most 1000 bytes");
  action.actor = account.username;
  if (action.kind != ledger::AlertActionKind::kClaim) {
    action.command_id = command_ids_.Next().ToString();
    action.command_body = wire::AlertActionCommand(
        action.kind == ledger::AlertActionKind::kAcknowledge ? "alert.ack" : "alert.resolve",
        action.command_id, action.alert_id, action.actor, action.note);
    // What the gateway would refuse (an odd alert id, say) is refused here, before anything is recorded.
    if (auto checked = wire::ParseCommand(action.command_body); !checked)
      return Problem(400, "malformed", "the gateway would refuse this: " + checked.error().reason);
  }
  auto outcome = ledger_.RecordAlertAction(action, clock_.Now());
  if (!outcome) {
    if (outcome.error().code == Errc::kNotFound)
      return Problem(404, "not_open", "the alert is not open (any more) for this action");
    return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  }
  Poco::JSON::Object answer;
  if (!outcome->done) {
    answer.set("error", "taken");
    answer.set("message", "someone else was first");
    answer.set("by", outcome->first_actor);
    return Json(409, answer);
  }
  answer.set("done", true);
  answer.set("action", kind);
  if (!action.command_id.empty()) answer.set("command_id", action.command_id);
  return Json(200, answer);
}

// GET /api/resident?tenant=0301&subject=<pseudonym>&range=24h|7d|90d
WebResponse ConsoleApi::Resident(const WebRequest& request, const ledger::StaffSession& session) {
  const accounts::Account& account = session.account;
  if (!accounts::Allows(account.role, accounts::Permission::kViewResidents))
    return Problem(403, "role", "this account's role does not see residents' data");
  const auto tenant = QueryValue(request.query, "tenant");
  const auto raw_subject = QueryValue(request.query, "subject");
  const auto subject = raw_subject ? PercentDecode(*raw_subject) : std::nullopt;
  const auto range = ParseChartRange(QueryValue(request.query, "range").value_or("24h"));
  if (!tenant || !ledger::ValidTenant(*tenant))
    return Problem(400, "malformed", "tenant is the municipality number (four digits)");
  if (!subject || subject->empty() || subject->size() > 128)
    return Problem(400, "malformed", "subject is the resident's pseudonym (1 to 128 printable bytes)");
  if (!range) return Problem(400, "malformed", "range is 24h, 7d or 90d");
  if (!accounts::InScope(account, *tenant)) {
    core::LogWarning("resident of a municipality outside the account's scope refused",
                     {{"user", account.username}, {"tenant", *tenant}});
    return Refused(account, *tenant, "this account does not see that municipality", *subject);
  }
  const core::WallTime now = clock_.Now();
  // Buckets start at whole multiples of their width, so the same range read twice draws the same
  // points; the newest bucket is the one still filling.
  const auto bucket_ms = std::chrono::duration_cast<std::chrono::milliseconds>(range->bucket).count();
  const core::WallTime to{std::chrono::milliseconds((Millis(now) / bucket_ms + 1) * bucket_ms)};
  const core::WallTime from = to - range->span;
  auto view = ledger_.ReadResident({*tenant, *subject, from, to, range->bucket}, account.username, now);
  if (!view) return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  if (!view->known) return Problem(404, "unknown_resident", "nothing is stored for this resident here");
  // The parts are JSON PostgreSQL built; the rest is ours. Put together as text, not parsed again.
  Poco::JSON::Object head;
  head.set("tenant", *tenant);
  head.set("subject", *subject);
  head.set("range", range->name);
  head.set("from", Millis(from));
  head.set("to", Millis(to));
  head.set("bucket_seconds", static_cast<std::int64_t>(range->bucket.count()));
  head.set("now", Millis(now));
  if (view->rules_reported_at) head.set("rules_reported_at", Millis(*view->rules_reported_at));
  std::ostringstream out;
  head.stringify(out);
  std::string body = out.str();
  body.pop_back();  // the closing brace
  body += ",\"series\":" + view->series + ",\"alerts\":" + view->alerts + ",\"news2\":" + view->news2 +
          ",\"devices\":" + view->devices + ",\"rules\":" + view->rules + "}";
  return {200, "application/json", std::move(body), {}};
}

// GET /api/fleet[?tenant=0301]
WebResponse ConsoleApi::Fleet(const WebRequest& request, const ledger::StaffSession& session) {
  const accounts::Account& account = session.account;
  if (!accounts::Allows(account.role, accounts::Permission::kViewFleet))
    return Problem(403, "role", "this account's role does not see the fleet");
  std::vector<std::string> tenants = account.tenants;
  if (const auto tenant = QueryValue(request.query, "tenant")) {
    if (!accounts::InScope(account, *tenant)) {
      core::LogWarning("fleet of a municipality outside the account's scope refused",
                       {{"user", account.username}, {"tenant", *tenant}});
      return Refused(account, *tenant, "this account does not see that municipality");
    }
    tenants = {*tenant};
  }
  auto fleet = ledger_.FleetGateways(tenants, kFleetLimit);
  if (!fleet) return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  return {200, "application/json", FleetJson(*fleet, clock_.Now()), {}};
}

// GET /api/audit[?tenant=&actor=&subject=&action=&before=<id>]
WebResponse ConsoleApi::Audit(const WebRequest& request, const ledger::StaffSession& session) {
  const accounts::Account& account = session.account;
  if (!accounts::Allows(account.role, accounts::Permission::kViewAudit))
    return Problem(403, "role", "this account's role does not read the audit log");
  ledger::AuditQuery query;
  query.tenants = account.tenants;
  for (const auto& [name, field] : {std::pair<const char*, std::string*>{"tenant", &query.tenant},
                                    {"actor", &query.actor},
                                    {"subject", &query.subject},
                                    {"action", &query.action}}) {
    const auto raw = QueryValue(request.query, name);
    if (!raw) continue;
    const auto value = PercentDecode(*raw);
    if (!value || value->size() > 128)
      return Problem(400, "malformed", std::string(name) + " is printable text of at most 128 bytes");
    *field = *value;
  }
  if (!query.tenant.empty() && !accounts::InScope(account, query.tenant))
    return Refused(account, query.tenant, "this account does not see that municipality");
  if (const auto before = QueryValue(request.query, "before")) {
    try {
      std::size_t used = 0;
      query.before_id = std::stoll(*before, &used);
      if (used != before->size() || *query.before_id <= 0) throw std::invalid_argument("before");
    } catch (const std::exception&) {
      return Problem(400, "malformed", "before is the id of a row");
    }
  }
  query.limit = kAuditPage;
  auto rows = ledger_.ReadAudit(query, account.username, clock_.Now());
  if (!rows) return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  return {200, "application/json", AuditJson(*rows), {}};
}

// POST /api/fleet/update {"tenant", "gateway", "version"}: municipal IT asks a gateway to install a
// package version. The page asks for a confirmation first; the hub signs and sends the command, and the
// gateway refuses it while a critical alert is open (its result says so).
WebResponse ConsoleApi::RequestUpdate(const WebRequest& request, const ledger::StaffSession& session) {
  if (auto refused = RefuseChange(request, session, accounts::Permission::kCommandGateways,
                                  "this account's role does not command gateways"))
    return *refused;
  const auto members = StringMembers(request.body, {"tenant", "gateway", "version"});
  if (!members)
    return Problem(400, "malformed", "a JSON object with tenant, gateway and version, as strings");
  const std::string version = Member(*members, "version");
  if (!ValidPackageVersion(version))
    return Problem(400, "version", "a package version: a digit first, then digits, letters and . + ~ : -");
  return QueueCommand(session.account, Member(*members, "tenant"), Member(*members, "gateway"),
                      [&](const std::string& id) { return wire::UpdateRequestCommand(id, version); });
}

// POST /api/fleet/rules {"tenant", "gateway", "rules": the list of rules as JSON text}: a rules.apply
// for a hub to sign and send. The gateway checks the rules as it checks its own config file and answers;
// the fleet view shows the answer (docs/console.md#changing-a-residents-rules).
WebResponse ConsoleApi::RequestRules(const WebRequest& request, const ledger::StaffSession& session) {
  if (auto refused = RefuseChange(request, session, accounts::Permission::kCommandGateways,
                                  "this account's role does not command gateways"))
    return *refused;
  const auto members = StringMembers(request.body, {"tenant", "gateway", "rules"});
  if (!members) return Problem(400, "malformed", "a JSON object with tenant, gateway and rules, as strings");
  const auto list = core::ParseJson(Member(*members, "rules"));
  if (!list || list->type != core::JsonValue::Type::kArray)
    return Problem(400, "rules", "the rules are a JSON list, as in the gateway's config file");
  if (list->items.empty())
    return Problem(400, "no_rules",
                   "an empty list would leave the resident without any alert rule: that is done on site, in "
                   "the gateway's own file");
  const std::string rules = core::WriteJson(*list);
  return QueueCommand(session.account, Member(*members, "tenant"), Member(*members, "gateway"),
                      [&](const std::string& id) { return wire::RulesApplyCommand(id, rules); });
}

WebResponse ConsoleApi::QueueCommand(const accounts::Account& account, const std::string& tenant,
                                     const std::string& gateway,
                                     const std::function<std::string(const std::string&)>& command) {
  if (!ledger::ValidTenant(tenant) || !ledger::ValidGateway(gateway))
    return Problem(400, "malformed", "tenant is four digits, gateway letters, digits, '_' and '-'");
  if (!accounts::InScope(account, tenant)) {
    core::LogWarning("command for a municipality outside the account's scope refused",
                     {{"user", account.username}, {"tenant", tenant}});
    return Refused(account, tenant, "this account does not see that municipality");
  }
  auto found = ledger_.FindGateway(tenant, gateway);
  if (!found) return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  if (!*found || (*found)->status != "enrolled")
    return Problem(404, "unknown_gateway", "no enrolled gateway with this id in that municipality");
  const std::string command_id = command_ids_.Next().ToString();
  const std::string body = command(command_id);
  if (auto checked = wire::ParseCommand(body); !checked)
    return Problem(400, "malformed", "the gateway would refuse this: " + checked.error().reason);
  if (!ledger_.RequestCommand({tenant, gateway, command_id, body, account.username}, clock_.Now()))
    return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  Poco::JSON::Object answer;
  answer.set("done", true);
  answer.set("command_id", command_id);
  return Json(200, answer);
}

// POST /api/fleet/enrol {"tenant", "gateway", "public_key": JWK or PEM, "certificate_sha256"}: a new
// gateway of one of the account's municipalities. The hub accepts its messages from then on; the engine
// still has to let its certificate in (docs/console.md#enrolling-a-gateway).
WebResponse ConsoleApi::EnrolGateway(const WebRequest& request, const ledger::StaffSession& session) {
  if (auto refused = RefuseChange(request, session, accounts::Permission::kEnrolGateways,
                                  "this account's role does not enrol gateways"))
    return *refused;
  const accounts::Account& account = session.account;
  const auto members =
      StringMembers(request.body, {"tenant", "gateway", "public_key"}, {"certificate_sha256"});
  if (!members)
    return Problem(400, "malformed",
                   "a JSON object with tenant, gateway and public_key (and certificate_sha256), as strings");
  const std::string tenant = Member(*members, "tenant");
  const std::string gateway = Member(*members, "gateway");
  if (!ledger::ValidTenant(tenant) || !ledger::ValidGateway(gateway))
    return Problem(400, "malformed", "tenant is four digits, gateway letters, digits, '_' and '-'");
  const auto fingerprint = CertificateFingerprint(Member(*members, "certificate_sha256"));
  if (!fingerprint)
    return Problem(400, "certificate",
                   "certificate_sha256 is the SHA-256 of the gateway's client certificate: 64 hexadecimal "
                   "digits, ':' between pairs allowed");
  auto key = crypto::EcKey::FromText(Member(*members, "public_key"));
  if (!key) return Problem(400, "key", "the public key is not a P-256 key as JWK or PEM");
  // Nothing of a private key is kept or logged; the person who pasted it is told to use the public one,
  // and the audit log says it happened (someone should see that the gateway gets a new key).
  if (key->has_private()) {
    const bool ours = accounts::InScope(account, tenant);
    if (auto audited = ledger_.Append({clock_.Now(), account.username, "gateway.private_key_refused",
                                       ours ? tenant : std::string(), ours ? gateway : std::string(), "",
                                       "a private key was sent to the console and refused, nothing of it "
                                       "kept: the gateway needs a new key"});
        !audited) {
      core::LogError("refused private key not audited",
                     {{"user", account.username}, {"reason", audited.error().message}});
    }
    return Problem(400, "private_key",
                   "that is the gateway's private key: paste its public key (the private key never leaves "
                   "the gateway; make a new one there, this one has been shown)");
  }
  if (!accounts::InScope(account, tenant)) {
    core::LogWarning("enrolment for a municipality outside the account's scope refused",
                     {{"user", account.username}, {"tenant", tenant}});
    return Refused(account, tenant, "this account does not see that municipality");
  }
  auto enrolled = ledger_.EnrolNew({tenant, gateway, {key->id(), key->Jwk(false)}, *fingerprint},
                                   account.username, clock_.Now());
  if (!enrolled) {
    if (enrolled.error().code == Errc::kInvalidArgument)
      return Problem(400, "key", "the key's id (its kid) must be 1 to 128 visible characters");
    if (enrolled.error().code == Errc::kRejected)
      return Problem(409, "known",
                     "this gateway is enrolled with another key or was revoked: a key rotation or a new "
                     "enrolment goes through ehealth-hub on a hub host");
    return Problem(503, "unavailable", "the care system's database cannot be reached; try again");
  }
  Poco::JSON::Object answer;
  answer.set("done", true);
  answer.set("already", !*enrolled);
  answer.set("key_id", key->id());
  return Json(200, answer);
}

}  // namespace ehg::console
