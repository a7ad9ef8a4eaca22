#include "care/console/web_api.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <sstream>

#include "care/ledger/rows.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/utf8.hpp"
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
  if (request.path == "/api/alerts/action") {
    if (request.method != "POST") return Problem(405, "method", "POST only");
    WebResponse refusal;
    auto session = SessionOf(request, &refusal);
    if (!session) return refusal;
    return Act(request, *session);
  }
  if (request.path == "/api/alerts") {
    if (request.method != "GET") return Problem(405, "method", "GET only");
    WebResponse refusal;
    auto session = SessionOf(request, &refusal);
    if (!session) return refusal;
    return Board(request, *session);
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
      return Problem(403, "scope", "this account does not see that municipality");
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
  if (!SameOrigin(request) || !CsrfMatches(session, request.csrf_token))
    return Problem(403, "csrf", "the request did not come from the console's own page");
  const accounts::Account& account = session.account;
  if (!accounts::Allows(account.role, accounts::Permission::kActOnAlerts))
    return Problem(403, "role", "this account's role does not act on alerts");
  if (request.content_type.rfind("application/json", 0) != 0)
    return Problem(415, "content_type", "send the action as application/json");
  ledger::AlertAction action;
  std::string kind;
  try {
    Poco::JSON::Parser parser;
    const auto object = parser.parse(request.body).extract<Poco::JSON::Object::Ptr>();
    const auto text = [&](const char* key) -> std::optional<std::string> {
      if (!object || !object->has(key) || !object->get(key).isString()) return std::nullopt;
      return object->getValue<std::string>(key);
    };
    const auto tenant = text("tenant");
    const auto gateway = text("gateway");
    const auto alert_id = text("alert_id");
    const auto what = text("action");
    if (!tenant || !gateway || !alert_id || !what)
      return Problem(400, "malformed", "tenant, gateway, alert_id and action are needed, as strings");
    action.tenant = *tenant;
    action.gateway = *gateway;
    action.alert_id = *alert_id;
    action.note = text("note").value_or("");
    kind = *what;
  } catch (const std::exception&) {
    return Problem(400, "malformed", "the action is not a JSON object");
  }
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
    return Problem(403, "scope", "this account does not see that municipality");
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

}  // namespace ehg::console
