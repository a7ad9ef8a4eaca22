// The console's API without HTTP: what a browser (or an attacker with curl) can ask of it, against the
// test PostgreSQL. The live feed's fan-out, stepped without sleeping.
#include "care/console/web_api.hpp"

#include <Poco/JSON/Object.h>
#include <doctest/doctest.h>

#include <sstream>
#include <thread>

#include "care/console/live_feed.hpp"
#include "gateway/crypto/keys.hpp"
#include "gateway/wire/commands.hpp"
#include "tests/support/postgres/postgres.hpp"

namespace ehg::console {
namespace {

using std::chrono::milliseconds;

const accounts::HashCost kTestHashCost{1, 8192};

TEST_CASE("cookies, query values and the session cookie's attributes") {
  CHECK(CookieValue("__Host-ehg_session=abc", kSessionCookie) == "abc");
  CHECK(CookieValue("a=1; __Host-ehg_session=abc; b=2", kSessionCookie) == "abc");
  CHECK(CookieValue("ehg_session=abc", kSessionCookie).empty());  // without the prefix: not ours
  CHECK(CookieValue("x__Host-ehg_session=abc", kSessionCookie).empty());
  CHECK(CookieValue("", kSessionCookie).empty());
  CHECK(CookieValue(";;;", kSessionCookie).empty());
  CHECK(SessionCookie("tok") == "__Host-ehg_session=tok; Path=/; Secure; HttpOnly; SameSite=Strict");
  CHECK(ExpiredSessionCookie().find("Max-Age=0") != std::string::npos);
  CHECK(QueryValue("tenant=0301", "tenant") == "0301");
  CHECK(QueryValue("a=1&tenant=4601", "tenant") == "4601");
  CHECK(QueryValue("tenant", "tenant") == "");
  CHECK_FALSE(QueryValue("tenants=0301", "tenant"));
  CHECK_FALSE(QueryValue("", "tenant"));
  bool has_csp = false;
  for (const auto& [name, value] : SecurityHeaders())
    if (name == "Content-Security-Policy")
      has_csp = value.find("script-src 'self'") != std::string::npos &&
                value.find("unsafe") == std::string::npos &&
                value.find("frame-ancestors 'none'") != std::string::npos;
  CHECK(has_csp);
}

TEST_CASE("the board's JSON carries hostile text as text") {
  ledger::BoardAlert alert;
  alert.tenant = "0301";
  alert.subject = "</script><img src=x onerror=alert(1)>\"\\\x01";
  alert.rule_id = "r\u00e6";
  alert.raised_at = core::WallTime{milliseconds(1'796'300'000'000)};
  const std::string json = BoardJson({alert}, core::WallTime{milliseconds(1'796'300'001'000)});
  CHECK(json.find("\"now\":1796300001000") != std::string::npos);
  CHECK(json.find("\"raised_at\":1796300000000") != std::string::npos);
  CHECK(json.find("\\\"\\\\") != std::string::npos);             // the quote and backslash escaped
  CHECK(json.find('\x01') == std::string::npos);                 // a control character never raw
  CHECK(json.find("\"acknowledged_at\"") == std::string::npos);  // absent, not 0
}

struct Api {
  core::ManualClock clock{core::WallTime{milliseconds(1'796'300'000'000)}};
  std::string database = test::TestPostgres::Get().FreshDatabase();
  std::unique_ptr<ledger::Ledger> ledger = Open();
  StaffSignIn sign_in{*ledger, clock, {{}, {}, kTestHashCost, 2}};
  ConsoleApi api{sign_in, *ledger, clock};

  std::unique_ptr<ledger::Ledger> Open() const {
    auto opened = ledger::Ledger::Open({database});
    REQUIRE(opened);
    return std::move(*opened);
  }
  void Add(const std::string& name, accounts::Role role, std::vector<std::string> tenants) {
    auto hash = accounts::HashPassword("correct horse battery", kTestHashCost);
    REQUIRE(hash);
    REQUIRE(ledger->CreateAccount({name, role, std::move(tenants), *hash}, "admin", clock.Now()));
  }
  static WebRequest Request(std::string method, std::string path, std::string body = {}) {
    WebRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.body = std::move(body);
    request.host = "console.example:8443";
    request.content_type = "application/json";
    request.address = "192.0.2.7";
    return request;
  }
  // The bodies of the commands waiting for a hub (each then marked refused, so a second call finds none).
  std::vector<std::string> WaitingCommands() {
    std::vector<std::string> bodies;
    auto handled = ledger->SendRequestedCommands(
        10,
        [&](const ledger::CommandRequest& request) -> Result<ledger::SentCommand> {
          bodies.push_back(request.body);
          return tl::unexpected(Error{Errc::kRejected, "test: not sent"});
        },
        clock.Now());
    REQUIRE(handled);
    return bodies;
  }
  // A JSON POST from the page of a signed-in account (cookie header, csrf token).
  WebResponse Post(const std::string& path, const Poco::JSON::Object& body,
                   const std::pair<std::string, std::string>& who) {
    std::ostringstream text;
    body.stringify(text);
    WebRequest request = Request("POST", path, text.str());
    request.cookie = who.first;
    request.csrf_token = who.second;
    return api.Handle(request);
  }
  // Signs in and returns (cookie header, csrf token).
  std::pair<std::string, std::string> SignIn(const std::string& name) {
    const WebResponse response = api.Handle(Request(
        "POST", "/api/session", R"({"username":")" + name + R"(","password":"correct horse battery"})"));
    REQUIRE(response.status == 200);
    std::string cookie;
    for (const auto& [header, value] : response.headers)
      if (header == "Set-Cookie") cookie = value.substr(0, value.find(';'));
    const std::string marker = "\"csrf\":\"";
    const std::size_t at = response.body.find(marker) + marker.size();
    return {cookie, response.body.substr(at, response.body.find('"', at) - at)};
  }
};

TEST_CASE("the API: sign-in answers, sessions, roles, municipalities, CSRF and origin") {
  Api api;
  api.Add("kari.nordmann", accounts::Role::kNurse, {"0301"});
  api.Add("it.oslo", accounts::Role::kMunicipalIt, {"0301"});
  const auto status = [&](const WebRequest& request) { return api.api.Handle(request).status; };

  // Malformed sign-ins: each a clear 4xx, none a 500, and no session.
  CHECK(status(Api::Request("POST", "/api/session", "not json")) == 400);
  CHECK(status(Api::Request("POST", "/api/session", "[]")) == 400);
  CHECK(status(Api::Request("POST", "/api/session", R"({"username":1,"password":"x"})")) == 400);
  CHECK(status(Api::Request("POST", "/api/session", R"({"username":"kari.nordmann"})")) == 400);
  CHECK(status(Api::Request("POST", "/api/session", std::string(kMaxBodyBytes + 1, '{'))) == 413);
  CHECK(status(Api::Request("POST", "/api/session",
                            std::string("{\"username\":\"\xff\xfe\",\"password\":\"x\"}"))) == 400);
  WebRequest form = Api::Request("POST", "/api/session", "username=kari.nordmann&password=x");
  form.content_type = "application/x-www-form-urlencoded";  // what a cross-site form can send
  CHECK(status(form) == 415);
  WebRequest foreign = Api::Request("POST", "/api/session",
                                    R"({"username":"kari.nordmann","password":"correct horse battery"})");
  foreign.origin = "https://evil.example";
  CHECK(status(foreign) == 403);
  CHECK(status(Api::Request("POST", "/api/session", R"({"username":"kari.nordmann","password":"wrong"})")) ==
        401);
  CHECK(status(Api::Request("POST", "/api/session", R"({"username":"nobody.x","password":"wrong"})")) == 401);
  CHECK(api.api.Handle(Api::Request("POST", "/api/session", R"({"username":"nobody.x","password":"wrong"})"))
            .body == api.api
                         .Handle(Api::Request("POST", "/api/session",
                                              R"({"username":"kari.nordmann","password":"wrong"})"))
                         .body);

  // Without a session: 401 everywhere.
  CHECK(status(Api::Request("GET", "/api/session")) == 401);
  CHECK(status(Api::Request("GET", "/api/alerts")) == 401);
  WebRequest forged = Api::Request("GET", "/api/alerts");
  forged.cookie = std::string(kSessionCookie) + "=" + accounts::NewToken();
  CHECK(status(forged) == 401);

  // Named, not a structured binding: the lambdas below capture them (clang 14 cannot capture a binding).
  const auto kari = api.SignIn("kari.nordmann");
  const std::string& cookie = kari.first;
  const std::string& csrf = kari.second;
  WebRequest board = Api::Request("GET", "/api/alerts");
  board.cookie = cookie;
  CHECK(status(board) == 200);
  board.query = "tenant=0301";
  CHECK(status(board) == 200);
  board.query = "tenant=4601";
  CHECK(status(board) == 403);
  board.query = "tenant=*";
  CHECK(status(board) == 403);
  CHECK(status(Api::Request("PUT", "/api/session")) == 405);
  CHECK(status(Api::Request("GET", "/api/unknown")) == 404);

  // Actions: a gateway id of the wrong shape, bytes that are not UTF-8 or a municipality outside the scope
  // are refused before the database; an alert that does not exist is 404, not 500.
  const auto action = [&](const std::string& body) {
    WebRequest request = Api::Request("POST", "/api/alerts/action", body);
    request.cookie = cookie;
    request.csrf_token = csrf;
    return status(request);
  };
  CHECK(action(R"({"tenant":"0301","gateway":"gw a","alert_id":"a1","action":"claim"})") == 400);
  CHECK(action(std::string(
            "{\"tenant\":\"0301\",\"gateway\":\"gw-\xff\",\"alert_id\":\"a1\",\"action\":\"claim\"}")) ==
        400);
  CHECK(action(R"({"tenant":"4601","gateway":"gw-a","alert_id":"a1","action":"claim"})") == 403);
  CHECK(action(R"({"tenant":"0301","gateway":"gw-a","alert_id":"a1","action":"delete"})") == 400);
  CHECK(action(R"({"tenant":"0301","gateway":"gw-a","alert_id":"a1","action":"claim","note":"x"})") == 400);
  CHECK(action(R"({"tenant":"0301","gateway":"gw-a","alert_id":"a1","action":"claim"})") == 404);
  CHECK(action(R"({"tenant":"0301","gateway":"gw-a","alert_id":"a1","action":"acknowledge"})") == 404);
  CHECK(action(R"({"tenant":"0301","gateway":"gw-a","alert_id":"bad id","action":"acknowledge"})") == 400);

  // IT sees the fleet, not residents' alerts.
  const auto [it_cookie, it_csrf] = api.SignIn("it.oslo");
  WebRequest it_board = Api::Request("GET", "/api/alerts");
  it_board.cookie = it_cookie;
  CHECK(status(it_board) == 403);

  // Signing out needs the session's CSRF token and the console's origin.
  WebRequest sign_out = Api::Request("DELETE", "/api/session");
  sign_out.cookie = cookie;
  CHECK(status(sign_out) == 403);
  sign_out.csrf_token = it_csrf;  // another session's token
  CHECK(status(sign_out) == 403);
  sign_out.csrf_token = csrf;
  sign_out.origin = "https://evil.example";
  CHECK(status(sign_out) == 403);
  sign_out.origin = "https://console.example:8443";
  CHECK(status(sign_out) == 204);
  board.query.clear();
  CHECK(status(board) == 401);

  // Locked: 429 with Retry-After.
  api.clock.Advance(milliseconds(1000));
  for (int i = 0; i < 5; ++i)
    status(Api::Request("POST", "/api/session", R"({"username":"it.oslo","password":"wrong"})"));
  const WebResponse locked = api.api.Handle(
      Api::Request("POST", "/api/session", R"({"username":"it.oslo","password":"correct horse battery"})"));
  CHECK(locked.status == 429);
  bool retry_after = false;
  for (const auto& [header, value] : locked.headers)
    retry_after |= header == "Retry-After" && std::stoi(value) > 0;
  CHECK(retry_after);
}

TEST_CASE("query values are percent-decoded to printable UTF-8 or refused") {
  CHECK(PercentDecode("demo-resident-7f3a") == "demo-resident-7f3a");
  CHECK(PercentDecode("r%C3%A6%20x") == "r\u00e6 x");
  CHECK(PercentDecode("a+b") == "a+b");  // encodeURIComponent writes a plus as %2B, a space as %20
  CHECK(PercentDecode("%27%22%5C") == "'\"\\");
  CHECK_FALSE(PercentDecode("%"));
  CHECK_FALSE(PercentDecode("%4"));
  CHECK_FALSE(PercentDecode("%zz"));
  CHECK_FALSE(PercentDecode("%FF%FE"));  // not UTF-8
  CHECK_FALSE(PercentDecode("a%0Ab"));   // a line break would forge a log line
  CHECK_FALSE(PercentDecode("%00"));
  CHECK(PercentDecode("") == "");
}

TEST_CASE("chart ranges and the buckets that keep each under 400 points") {
  for (const char* name : {"24h", "7d", "90d"}) {
    const auto range = ParseChartRange(name);
    REQUIRE(range);
    CHECK(range->span / range->bucket <= 400);
    CHECK(range->span / range->bucket >= 200);
  }
  CHECK_FALSE(ParseChartRange("1y"));
  CHECK_FALSE(ParseChartRange(""));
}

TEST_CASE(
    "a gateway needs attention when silent, offline, unsynchronised, holding alerts or failing updates") {
  const core::WallTime now{milliseconds(1'796'300'000'000)};
  ledger::FleetGateway fine;
  fine.status = "enrolled";
  fine.state = "online";
  fine.heartbeat_interval_seconds = 60;
  fine.last_heartbeat = now - std::chrono::seconds(90);
  fine.clock_synchronised = true;
  fine.last_update = "update.installed";
  CHECK(AttentionReasons(fine, now).empty());

  ledger::FleetGateway silent = fine;
  silent.last_heartbeat = now - std::chrono::seconds(181);  // three intervals and a second
  CHECK(AttentionReasons(silent, now) == std::vector<std::string>{"silent"});
  ledger::FleetGateway offline = fine;
  offline.state = "offline";
  offline.last_heartbeat = now - std::chrono::hours(5);
  CHECK(AttentionReasons(offline, now) == std::vector<std::string>{"offline"});
  ledger::FleetGateway never = fine;
  never.state.clear();
  never.last_heartbeat.reset();
  never.clock_synchronised.reset();
  CHECK(AttentionReasons(never, now) == std::vector<std::string>{"never_heard"});
  ledger::FleetGateway troubled = fine;
  troubled.clock_synchronised = false;
  troubled.alerts_awaiting_receipt = 2;
  troubled.last_update = "update.rolled_back";
  CHECK(AttentionReasons(troubled, now) ==
        std::vector<std::string>{"clock_unsynchronised", "alerts_waiting", "update_failed"});
  ledger::FleetGateway revoked = offline;
  revoked.status = "revoked";
  CHECK(AttentionReasons(revoked, now).empty());

  const std::string json = FleetJson({troubled, never}, now);
  CHECK(json.find(R"("attention":["clock_unsynchronised","alerts_waiting","update_failed"])") !=
        std::string::npos);
  CHECK(json.find(R"("attention":["never_heard"])") != std::string::npos);
}

TEST_CASE("the resident, fleet and audit views: each role its own, each municipality its own") {
  Api api;
  api.Add("kari.nordmann", accounts::Role::kNurse, {"0301"});
  api.Add("it.oslo", accounts::Role::kMunicipalIt, {"0301"});
  api.Add("admin.oslo", accounts::Role::kAdministrator, {"0301"});
  const auto get = [&](const std::string& cookie, const std::string& path, const std::string& query) {
    WebRequest request = Api::Request("GET", path);
    request.cookie = cookie;
    request.query = query;
    return api.api.Handle(request);
  };
  const auto nurse = api.SignIn("kari.nordmann").first;
  const auto it = api.SignIn("it.oslo").first;
  const auto admin = api.SignIn("admin.oslo").first;

  // The resident view: a nurse of the municipality; not IT, not an administrator, not another town.
  CHECK(get(nurse, "/api/resident", "tenant=0301&subject=demo-resident-7f3a&range=24h").status == 404);
  CHECK(get(nurse, "/api/resident", "tenant=4601&subject=demo-resident-7f3a&range=24h").status == 403);
  CHECK(get(it, "/api/resident", "tenant=0301&subject=demo-resident-7f3a").status == 403);
  CHECK(get(admin, "/api/resident", "tenant=0301&subject=demo-resident-7f3a").status == 403);
  CHECK(get(nurse, "/api/resident", "tenant=0301&subject=x&range=1y").status == 400);
  CHECK(get(nurse, "/api/resident", "tenant=03O1&subject=x").status == 400);
  CHECK(get(nurse, "/api/resident", "tenant=0301&subject=%0A%0Aforged").status == 400);
  CHECK(get(nurse, "/api/resident", "tenant=0301").status == 400);
  CHECK(get(nurse, "/api/resident", "tenant=0301&subject=" + std::string(129, 'x')).status == 400);
  // The refusal for another municipality is in its audit log, with who tried which resident.
  auto refused = api.ledger->ReadAudit({{"*"}, "4601", "kari.nordmann", "", "access.refused", {}, 10}, "test",
                                       api.clock.Now());
  REQUIRE(refused);
  REQUIRE(refused->size() == 1);
  CHECK(refused->front().entry.subject == "demo-resident-7f3a");
  // The 404 was a read of the resident all the same: audited.
  auto audited = api.ledger->ReadAudit({{"*"}, "", "kari.nordmann", "", "resident.read", {}, 10}, "test",
                                       api.clock.Now());
  REQUIRE(audited);
  CHECK(audited->size() == 1);

  // The fleet: IT and administrators; not a nurse.
  CHECK(get(it, "/api/fleet", "").status == 200);
  CHECK(get(it, "/api/fleet", "tenant=4601").status == 403);
  CHECK(get(admin, "/api/fleet", "").status == 200);
  CHECK(get(nurse, "/api/fleet", "").status == 403);

  // The audit log: administrators only, in their own municipality.
  const WebResponse log = get(admin, "/api/audit", "actor=kari.nordmann");
  CHECK(log.status == 200);
  CHECK(log.body.find("\"action\":\"resident.read\"") != std::string::npos);
  CHECK(get(admin, "/api/audit", "tenant=4601").status == 403);
  CHECK(get(admin, "/api/audit", "before=12x").status == 400);
  CHECK(get(admin, "/api/audit", "before=-1").status == 400);
  CHECK(get(admin, "/api/audit", "subject=%FF").status == 400);
  CHECK(get(nurse, "/api/audit", "").status == 403);
  CHECK(get(it, "/api/audit", "").status == 403);
}

TEST_CASE("an update request: municipal IT only, confirmed by CSRF and origin, an enrolled gateway of hers") {
  CHECK(ValidPackageVersion("0.5.0-1"));
  CHECK(ValidPackageVersion("1:2.3~rc1+deb12u1"));
  CHECK_FALSE(ValidPackageVersion(""));
  CHECK_FALSE(ValidPackageVersion("latest"));
  CHECK_FALSE(ValidPackageVersion("1.0; rm -rf /"));
  CHECK_FALSE(ValidPackageVersion("1.0\n"));
  CHECK_FALSE(ValidPackageVersion(std::string(65, '1')));

  Api api;
  api.Add("it.oslo", accounts::Role::kMunicipalIt, {"0301"});
  api.Add("kari.nordmann", accounts::Role::kNurse, {"0301"});
  REQUIRE(api.ledger->Enrol({"0301", "gw-a", {"kid-a", "ka"}, "aa"}, "test", api.clock.Now()));
  REQUIRE(api.ledger->Enrol({"4601", "gw-far", {"kid-b", "kb"}, "bb"}, "test", api.clock.Now()));
  const auto it = api.SignIn("it.oslo");
  const std::string& cookie = it.first;
  const std::string& csrf = it.second;
  const auto post = [&](const std::string& body, const std::string& token, const std::string& who_cookie) {
    WebRequest request = Api::Request("POST", "/api/fleet/update", body);
    request.cookie = who_cookie;
    request.csrf_token = token;
    return api.api.Handle(request);
  };
  CHECK(post(R"({"tenant":"0301","gateway":"gw-a","version":"0.5.0-1"})", "", cookie).status ==
        403);  // no CSRF
  CHECK(post(R"({"tenant":"0301","gateway":"gw-a","version":"latest"})", csrf, cookie).status == 400);
  CHECK(post(R"({"tenant":"0301","gateway":"gw a","version":"0.5.0-1"})", csrf, cookie).status == 400);
  CHECK(post(R"({"tenant":"4601","gateway":"gw-far","version":"0.5.0-1"})", csrf, cookie).status == 403);
  CHECK(post(R"({"tenant":"0301","gateway":"gw-none","version":"0.5.0-1"})", csrf, cookie).status == 404);
  const auto nurse = api.SignIn("kari.nordmann");
  CHECK(post(R"({"tenant":"0301","gateway":"gw-a","version":"0.5.0-1"})", nurse.second, nurse.first).status ==
        403);
  const WebResponse done = post(R"({"tenant":"0301","gateway":"gw-a","version":"0.5.0-1"})", csrf, cookie);
  CHECK(done.status == 200);
  auto gateway = api.ledger->FindGateway("0301", "gw-a");
  REQUIRE(gateway);
  REQUIRE(gateway->has_value());
  CHECK((*gateway)->update_requested_version == "0.5.0-1");
  CHECK((*gateway)->update_request_state == "requested");
  // Only the one accepted request is waiting for a hub.
  const std::vector<std::string> bodies = api.WaitingCommands();
  REQUIRE(bodies.size() == 1);
  CHECK(bodies[0].find(R"("type":"update.request","version":"0.5.0-1")") != std::string::npos);
}

TEST_CASE(
    "a rules change: municipal IT, a non-empty JSON list, an enrolled gateway of hers, as rules.apply") {
  Api api;
  api.Add("it.oslo", accounts::Role::kMunicipalIt, {"0301"});
  api.Add("kari.nordmann", accounts::Role::kNurse, {"0301"});
  REQUIRE(api.ledger->Enrol({"0301", "gw-a", {"kid-a", "ka"}, "aa"}, "test", api.clock.Now()));
  REQUIRE(api.ledger->Enrol({"4601", "gw-far", {"kid-b", "kb"}, "bb"}, "test", api.clock.Now()));
  const auto it = api.SignIn("it.oslo");
  const auto post = [&](const std::string& tenant, const std::string& gateway, const std::string& rules,
                        const std::pair<std::string, std::string>& who) {
    Poco::JSON::Object body;
    body.set("tenant", tenant);
    body.set("gateway", gateway);
    body.set("rules", rules);
    return api.Post("/api/fleet/rules", body, who);
  };
  const std::string rules =
      "[ // SpO2 for a COPD resident\n {\"id\": \"spo2-low\", \"kind\": \"threshold\", \"metric\": \"spo2\", "
      "\"below\": 88, \"severity\": \"high\"} ]";
  CHECK(post("0301", "gw-a", rules, {it.first, ""}).status == 403);               // no CSRF token
  CHECK(post("0301", "gw-a", rules, api.SignIn("kari.nordmann")).status == 403);  // a nurse
  CHECK(post("0301", "gw-a", "{\"id\": \"x\"}", it).status == 400);               // not a list
  CHECK(post("0301", "gw-a", "[", it).status == 400);                             // not JSON
  const WebResponse empty = post("0301", "gw-a", "[]", it);                       // no rule at all
  CHECK(empty.status == 400);
  CHECK(empty.body.find("no_rules") != std::string::npos);
  CHECK(post("4601", "gw-far", rules, it).status == 403);  // not hers
  CHECK(post("0301", "gw-none", rules, it).status == 404);
  const WebResponse done = post("0301", "gw-a", rules, it);
  CHECK(done.status == 200);
  auto gateway = api.ledger->FindGateway("0301", "gw-a");
  REQUIRE(gateway);
  REQUIRE(gateway->has_value());
  CHECK((*gateway)->rules_request_state == "requested");
  CHECK((*gateway)->update_request_state.empty());
  const std::vector<std::string> bodies = api.WaitingCommands();
  REQUIRE(bodies.size() == 1);
  // The list as the gateway reads it: compact, the comment gone.
  auto command = wire::ParseCommand(bodies[0]);
  REQUIRE(command);
  CHECK(std::get<wire::RulesApply>(command->body).rules ==
        R"([{"id":"spo2-low","kind":"threshold","metric":"spo2","below":88,"severity":"high"}])");
}

TEST_CASE("certificate fingerprints: 64 hex digits or openssl's colon pairs, lower-cased, or nothing") {
  const std::string hex(64, 'a');
  CHECK(CertificateFingerprint(hex) == hex);
  CHECK(CertificateFingerprint(std::string(64, 'F')) == std::string(64, 'f'));
  std::string paired;
  for (int i = 0; i < 32; ++i)
    paired += (i ? ":" : "") + std::string("Ab");
  CHECK(CertificateFingerprint(paired) == [] {
    std::string out;
    for (int i = 0; i < 32; ++i)
      out += "ab";
    return out;
  }());
  CHECK(CertificateFingerprint("") == std::string());
  CHECK_FALSE(CertificateFingerprint(std::string(63, 'a')));
  CHECK_FALSE(CertificateFingerprint(std::string(65, 'a')));
  CHECK_FALSE(CertificateFingerprint(std::string(63, 'a') + "g"));
  CHECK_FALSE(CertificateFingerprint(":" + paired.substr(1)));
  CHECK_FALSE(CertificateFingerprint(paired.substr(0, 94) + ":"));
  CHECK_FALSE(CertificateFingerprint(std::string(95, ':')));
  CHECK_FALSE(CertificateFingerprint(std::string(62, 'a') + "\n"));
}

TEST_CASE(
    "enrolment from the console: municipal IT, a public key, a gateway never known, never a key change") {
  Api api;
  api.Add("it.oslo", accounts::Role::kMunicipalIt, {"0301"});
  api.Add("kari.nordmann", accounts::Role::kNurse, {"0301"});
  REQUIRE(api.ledger->Enrol({"0301", "gw-old", {"kid-old", "k-old"}, ""}, "test", api.clock.Now()));
  REQUIRE(api.ledger->Enrol({"0301", "gw-gone", {"kid-gone", "k-gone"}, ""}, "test", api.clock.Now()));
  REQUIRE(api.ledger->Revoke("0301", "gw-gone", "test", api.clock.Now()));
  auto key = crypto::EcKey::Generate();
  REQUIRE(key);
  const std::string public_jwk = key->Jwk(false);
  const auto it = api.SignIn("it.oslo");
  const auto post = [&](const Poco::JSON::Object& body, const std::pair<std::string, std::string>& who) {
    return api.Post("/api/fleet/enrol", body, who);
  };
  const auto enrolment = [&](std::string tenant, std::string gateway, std::string public_key,
                             std::string fingerprint = std::string(64, 'c')) {
    Poco::JSON::Object body;
    body.set("tenant", tenant);
    body.set("gateway", gateway);
    body.set("public_key", public_key);
    body.set("certificate_sha256", fingerprint);
    return body;
  };
  const auto audited = [&](const std::string& gateway) {
    auto rows = api.ledger->ReadAudit({{"*"}, "", "", "", "", {}, 100}, "admin", api.clock.Now());
    REQUIRE(rows);
    int count = 0;
    for (const ledger::AuditRow& row : *rows)
      if (row.entry.action == "gateway.enrol" && row.entry.gateway == gateway) ++count;
    return count;
  };

  // Refused before anything is written.
  CHECK(post(enrolment("0301", "gw-new", public_jwk), {it.first, ""}).status == 403);  // no CSRF token
  CHECK(post(enrolment("0301", "gw-new", public_jwk), api.SignIn("kari.nordmann")).status == 403);
  CHECK(post(enrolment("0301", "gw new", public_jwk), it).status == 400);
  CHECK(post(enrolment("0301", "gw-new", "not a key"), it).status == 400);
  CHECK(post(enrolment("0301", "gw-new", public_jwk, "abc"), it).status == 400);
  const WebResponse pasted_private = post(enrolment("0301", "gw-new", key->Jwk(true)), it);
  CHECK(pasted_private.status == 400);
  CHECK(pasted_private.body.find("private_key") != std::string::npos);
  {
    auto rows = api.ledger->ReadAudit({{"*"}, "", "", "", "gateway.private_key_refused", {}, 10}, "admin",
                                      api.clock.Now());
    REQUIRE(rows);
    REQUIRE(rows->size() == 1);
    CHECK((*rows)[0].entry.actor == "it.oslo");
    CHECK((*rows)[0].entry.gateway == "gw-new");
    CHECK((*rows)[0].entry.detail.find("\"d\"") == std::string::npos);
  }
  CHECK(pasted_private.body.find(key->Jwk(true).substr(key->Jwk(true).find("\"d\""), 20)) ==
        std::string::npos);
  CHECK(post(enrolment("4601", "gw-new", public_jwk), it).status == 403);  // not her municipality
  {
    WebRequest wrong_type = Api::Request("POST", "/api/fleet/enrol", "tenant=0301");
    wrong_type.cookie = it.first;
    wrong_type.csrf_token = it.second;
    wrong_type.content_type = "application/x-www-form-urlencoded";
    CHECK(api.api.Handle(wrong_type).status == 415);
  }
  auto none = api.ledger->FindGateway("0301", "gw-new");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());

  // Enrolled, with the key as its public half only; a retry changes nothing.
  const WebResponse done = post(enrolment("0301", "gw-new", key->PublicPem()), it);
  CHECK(done.status == 200);
  CHECK(done.body.find(key->id()) != std::string::npos);
  auto keys = api.ledger->LookupKeys("0301", "gw-new", api.clock.Now());
  REQUIRE(keys);
  REQUIRE(keys->size() == 1);
  CHECK((*keys)[0].key_id == key->id());
  CHECK((*keys)[0].public_key.find("\"d\"") == std::string::npos);
  const WebResponse again = post(enrolment("0301", "gw-new", public_jwk), it);
  CHECK(again.status == 200);
  CHECK(again.body.find("\"already\":true") != std::string::npos);
  CHECK(audited("gw-new") == 1);

  // A gateway already known keeps its key: no new key for an enrolled one, no return for a revoked one.
  auto other = crypto::EcKey::Generate();
  REQUIRE(other);
  CHECK(post(enrolment("0301", "gw-old", other->Jwk(false)), it).status == 409);
  CHECK(post(enrolment("0301", "gw-gone", other->Jwk(false)), it).status == 409);
  CHECK(post(enrolment("0301", "gw-new", other->Jwk(false)), it).status == 409);
  auto old_keys = api.ledger->LookupKeys("0301", "gw-old", api.clock.Now());
  REQUIRE(old_keys);
  REQUIRE(old_keys->size() == 1);
  CHECK((*old_keys)[0].key_id == "kid-old");
  CHECK_FALSE(api.ledger->LookupKeys("0301", "gw-gone", api.clock.Now()));
  CHECK(audited("gw-old") == 1);
}

TEST_CASE("the live feed wakes a board for its municipalities only, '*' for all, and lets go at close") {
  LiveFeed feed;
  const accounts::Account oslo{1, "kari", accounts::Role::kNurse, {"0301"}, false};
  std::uint64_t seen = feed.Latest();
  CHECK_FALSE(feed.WaitAfter(seen, oslo, milliseconds(0)).changed);
  feed.Publish({"4601"});
  LiveFeed::Wake wake = feed.WaitAfter(seen, oslo, milliseconds(0));
  CHECK_FALSE(wake.changed);  // another municipality's change
  seen = wake.latest;
  feed.Publish({"4601", "0301"});
  wake = feed.WaitAfter(seen, oslo, milliseconds(0));
  CHECK(wake.changed);
  seen = wake.latest;
  feed.Publish({"*"});
  CHECK(feed.WaitAfter(seen, oslo, milliseconds(0)).changed);
  // A board far behind (more changes than kept) reads again rather than miss one.
  const std::uint64_t old = feed.Latest();
  for (int i = 0; i < 2000; ++i)
    feed.Publish({"4601"});
  CHECK(feed.WaitAfter(old, oslo, milliseconds(0)).changed);
  // A waiter is woken by a change from another thread, and by Close.
  seen = feed.Latest();
  std::thread publisher([&] { feed.Publish({"0301"}); });
  CHECK(feed.WaitAfter(seen, oslo, std::chrono::seconds(30)).changed);
  publisher.join();
  seen = feed.Latest();
  std::thread closer([&] { feed.Close(); });
  CHECK(feed.WaitAfter(seen, oslo, std::chrono::seconds(30)).closed);
  closer.join();
}

}  // namespace
}  // namespace ehg::console
