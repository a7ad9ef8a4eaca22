// The console's API without HTTP: what a browser (or an attacker with curl) can ask of it, against the
// test PostgreSQL. The live feed's fan-out, stepped without sleeping.
#include "care/console/web_api.hpp"

#include <doctest/doctest.h>

#include <thread>

#include "care/console/live_feed.hpp"
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

  const auto [cookie, csrf] = api.SignIn("kari.nordmann");
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
