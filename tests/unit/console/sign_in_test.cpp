#include "care/console/sign_in.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include "tests/support/postgres/postgres.hpp"

namespace ehg::console {
namespace {

using ledger::SignInOutcome;
using std::chrono::minutes;

const accounts::HashCost kCheap{1, 8192};

struct Console {
  core::ManualClock clock{core::WallTime{std::chrono::milliseconds{1'796'300'000'000}}};
  std::string database = test::TestPostgres::Get().FreshDatabase();
  std::unique_ptr<ledger::Ledger> ledger = Open();
  StaffSignIn sign_in{*ledger, clock, {{}, {}, kCheap, 2}};

  std::unique_ptr<ledger::Ledger> Open() const {
    auto opened = ledger::Ledger::Open({database});
    REQUIRE(opened);
    return std::move(*opened);
  }
  void Add(const std::string& name, accounts::Role role = accounts::Role::kNurse) {
    auto hash = accounts::HashPassword("correct horse battery", kCheap);
    REQUIRE(hash);
    REQUIRE(ledger->CreateAccount({name, role, {"0301"}, *hash}, "admin", clock.Now()));
  }
  SignInResult Try(const std::string& name, const std::string& password,
                   const std::string& address = "192.0.2.7") {
    auto result = sign_in.SignIn({name, password, address});
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    return std::move(*result);
  }
};

TEST_CASE("sign-in: the right password opens a session its cookie finds, sign-out ends it") {
  Console console;
  console.Add("kari.nordmann");
  const SignInResult result = console.Try("kari.nordmann", "correct horse battery");
  REQUIRE(result.outcome == SignInOutcome::kOk);
  REQUIRE(result.session);
  CHECK(result.session->account.username == "kari.nordmann");
  CHECK(result.session->token != result.session->csrf_token);
  auto session = console.sign_in.Session(result.session->token);
  REQUIRE(session);
  REQUIRE(session->has_value());
  CHECK((*session)->account.tenants == std::vector<std::string>{"0301"});
  CHECK(CsrfMatches(**session, result.session->csrf_token));
  CHECK_FALSE(CsrfMatches(**session, ""));
  CHECK_FALSE(CsrfMatches(**session, result.session->token));
  // Anything else in the cookie finds nothing, without a query for odd shapes.
  for (const std::string& forged : {std::string(), std::string("x"), result.session->token + "A",
                                    result.session->token.substr(0, 42) + "*",
                                    accounts::TokenDigest(result.session->token), accounts::NewToken()}) {
    CAPTURE(forged);
    CHECK_FALSE(console.sign_in.Session(forged)->has_value());
  }
  // 31 minutes without a request: gone.
  console.clock.Advance(minutes(29));
  CHECK(console.sign_in.Session(result.session->token)->has_value());
  console.clock.Advance(minutes(31));
  CHECK_FALSE(console.sign_in.Session(result.session->token)->has_value());

  const SignInResult again = console.Try("kari.nordmann", "correct horse battery");
  REQUIRE(again.session);
  REQUIRE(console.sign_in.SignOut(again.session->token));
  CHECK_FALSE(console.sign_in.Session(again.session->token)->has_value());
}

TEST_CASE("sign-in: unknown names, wrong passwords and disabled accounts get no session and look alike") {
  Console console;
  console.Add("kari.nordmann");
  CHECK(console.Try("kari.nordmann", "correct horse batterY").outcome == SignInOutcome::kWrongPassword);
  CHECK(console.Try("nobody.here", "correct horse battery").outcome == SignInOutcome::kUnknownUser);
  CHECK(console.Try("'; DROP TABLE staff_accounts; --", "x").outcome == SignInOutcome::kUnknownUser);
  CHECK(console.Try(std::string("kari\xff\x00", 6), "x").outcome == SignInOutcome::kUnknownUser);
  REQUIRE(console.ledger->SetAccountDisabled("kari.nordmann", true, "admin", console.clock.Now()));
  const SignInResult disabled = console.Try("kari.nordmann", "correct horse battery");
  CHECK(disabled.outcome == SignInOutcome::kDisabled);
  CHECK_FALSE(disabled.session);
  CHECK_FALSE(disabled.retry_after);
}

TEST_CASE("lockout: five wrong passwords lock the account for 15 minutes, the right one included") {
  Console console;
  console.Add("kari.nordmann");
  console.Add("ola.nordmann");
  for (int i = 0; i < 5; ++i) {
    CHECK(console.Try("kari.nordmann", "guess number " + std::to_string(i)).outcome ==
          SignInOutcome::kWrongPassword);
    console.clock.Advance(minutes(1));
  }
  const core::WallTime last_failure = console.clock.Now() - minutes(1);
  SignInResult locked = console.Try("kari.nordmann", "correct horse battery");
  CHECK(locked.outcome == SignInOutcome::kLocked);
  CHECK_FALSE(locked.session);
  CHECK(locked.retry_after == last_failure + minutes(15));
  // Another account from the same address is not locked by it (four guesses an address is far from 20).
  CHECK(console.Try("ola.nordmann", "correct horse battery").outcome == SignInOutcome::kOk);
  // Refusals while locked do not extend the lock.
  console.clock.Advance(minutes(10));
  CHECK(console.Try("kari.nordmann", "still guessing").outcome == SignInOutcome::kLocked);
  console.clock.SetWall(last_failure + minutes(15));
  CHECK(console.Try("kari.nordmann", "correct horse battery").outcome == SignInOutcome::kOk);
  // The success starts the count again.
  CHECK(console.Try("kari.nordmann", "one more guess").outcome == SignInOutcome::kWrongPassword);
  CHECK(console.Try("kari.nordmann", "correct horse battery").outcome == SignInOutcome::kOk);
}

TEST_CASE("lockout: 20 failures from one address lock that address for every name, not other addresses") {
  Console console;
  console.Add("kari.nordmann");
  for (int i = 0; i < 20; ++i) {
    // A spray across names, unknown ones included: each name stays under its own limit.
    const std::string name = i % 2 ? "kari.nordmann" : "user" + std::to_string(i);
    if (name == "kari.nordmann" && i > 6) continue;
    console.Try(name, "spray " + std::to_string(i), "203.0.113.9");
  }
  for (int i = 0; i < 20; ++i)
    console.Try("user-x" + std::to_string(i), "spray", "203.0.113.9");
  CHECK(console.Try("kari.nordmann", "correct horse battery", "203.0.113.9").outcome ==
        SignInOutcome::kLocked);
  CHECK(console.Try("kari.nordmann", "correct horse battery", "192.0.2.7").outcome == SignInOutcome::kOk);
}

TEST_CASE("every sign-in of an account is in the audit log, with its outcome and address, and no password") {
  Console console;
  console.Add("kari.nordmann");
  console.Try("kari.nordmann", "wrong horse battery");
  console.Try("kari.nordmann", "correct horse battery");
  console.Try("nobody.here", "correct horse battery");
  pqxx::connection raw(console.database);
  pqxx::work tx(raw);
  std::string log;
  for (const auto& row :
       tx.exec("SELECT actor || ' ' || action || ' ' || detail FROM audit_log WHERE action LIKE "
               "'session.%' ORDER BY id"))
    log += row[0].as<std::string>() + "\n";
  CHECK(log ==
        "kari.nordmann session.sign_in_refused wrong_password from 192.0.2.7\n"
        "kari.nordmann session.sign_in ok from 192.0.2.7\n");
  CHECK(tx.exec("SELECT count(*) FROM audit_log WHERE detail LIKE '%horse%' OR actor LIKE '%horse%'")[0][0]
            .as<int>() == 0);
  CHECK(tx.exec("SELECT count(*) FROM sign_in_attempts WHERE outcome = 'unknown_user' AND account_id IS NULL")
            [0][0]
                .as<int>() == 1);
}

}  // namespace
}  // namespace ehg::console
