// The console's accounts, sessions and sign-in attempts against a real PostgreSQL 15.
#include <doctest/doctest.h>

#include "care/accounts/passwords.hpp"
#include "tests/unit/ledger/ledger_database.hpp"

namespace ehg::ledger {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

const core::WallTime kT0{std::chrono::milliseconds{1'796'300'000'000}};
const accounts::HashCost kCheap{1, 8192};

std::string Hash(const std::string& password) {
  auto hash = accounts::HashPassword(password, kCheap);
  REQUIRE(hash);
  return *hash;
}

NewStaffAccount Nurse(std::string name, std::vector<std::string> tenants = {"0301"}) {
  return {std::move(name), accounts::Role::kNurse, std::move(tenants), Hash("correct horse battery")};
}

StaffSession SessionFor(const accounts::Account& account, const std::string& token, core::WallTime at) {
  StaffSession session;
  session.token_digest = accounts::TokenDigest(token);
  session.account = account;
  session.csrf_token = accounts::NewToken();
  session.address = "192.0.2.7";
  session.created_at = at;
  session.last_seen_at = at;
  return session;
}

TEST_CASE("accounts: created once per name, read back with role and municipalities, every change audited") {
  LedgerDatabase db;
  auto id = db.ledger->CreateAccount(Nurse("kari.nordmann", {"0301", "4601"}), "admin", kT0);
  REQUIRE(id);
  CHECK(db.ledger->CreateAccount(Nurse("kari.nordmann"), "admin", kT0).error().code == Errc::kRejected);
  CHECK(db.ledger->CreateAccount(Nurse("Kari"), "admin", kT0).error().code == Errc::kInvalidArgument);
  CHECK(db.ledger->CreateAccount(Nurse("ola", {"*"}), "admin", kT0).error().code == Errc::kInvalidArgument);
  NewStaffAccount admin{"region.admin", accounts::Role::kAdministrator, {"*"}, Hash("another long pass")};
  REQUIRE(db.ledger->CreateAccount(admin, "installer", kT0));

  auto found = db.ledger->FindAccount("kari.nordmann");
  REQUIRE(found);
  REQUIRE(found->has_value());
  const StaffAccount& kari = **found;
  CHECK(kari.account.id == *id);
  CHECK(kari.account.role == accounts::Role::kNurse);
  CHECK(kari.account.tenants == std::vector<std::string>{"0301", "4601"});
  CHECK_FALSE(kari.account.disabled);
  CHECK(accounts::VerifyPassword(kari.password_hash, "correct horse battery"));
  CHECK(kari.created_at == kT0);
  CHECK_FALSE(db.ledger->FindAccount("nobody")->has_value());
  auto listed = db.ledger->ListAccounts();
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK(listed->at(1).account.tenants == std::vector<std::string>{"*"});

  REQUIRE(db.ledger->SetAccountDisabled("kari.nordmann", true, "admin", kT0 + minutes(1)));
  CHECK(db.ledger->FindAccount("kari.nordmann")->value().account.disabled);
  REQUIRE(db.ledger->SetAccountDisabled("kari.nordmann", false, "admin", kT0 + minutes(2)));
  CHECK_FALSE(db.ledger->FindAccount("kari.nordmann")->value().account.disabled);
  CHECK(db.ledger->SetAccountDisabled("nobody", true, "admin", kT0).error().code == Errc::kNotFound);
  REQUIRE(db.ledger->SetPasswordHash("kari.nordmann", Hash("a brand new phrase"), "admin", kT0 + minutes(3)));
  CHECK(accounts::VerifyPassword(db.ledger->FindAccount("kari.nordmann")->value().password_hash,
                                 "a brand new phrase"));
  CHECK(db.Scalar(
            "SELECT string_agg(actor || ':' || action || ':' || detail, ' | ' ORDER BY id) FROM audit_log") ==
        "admin:account.create:kari.nordmann nurse 0301,4601 | installer:account.create:region.admin "
        "administrator * | "
        "admin:account.disable:kari.nordmann | admin:account.enable:kari.nordmann | "
        "admin:account.password:kari.nordmann");
  // Nothing but an argon2id string is accepted as a hash, whatever the caller passes.
  CHECK(db.ledger->SetPasswordHash("kari.nordmann", "plain text", "admin", kT0).error().code ==
        Errc::kRejected);
}

TEST_CASE(
    "sessions: found by the token's digest only, kept alive by use, ended by idle time, disable and reset") {
  LedgerDatabase db;
  REQUIRE(db.ledger->CreateAccount(Nurse("kari.nordmann"), "admin", kT0));
  const accounts::Account kari = db.ledger->FindAccount("kari.nordmann")->value().account;
  const accounts::SessionPolicy policy;
  const std::string token = accounts::NewToken();
  REQUIRE(db.ledger->CreateSession(SessionFor(kari, token, kT0)));
  // The table holds the digest, never the token.
  CHECK(db.Count("staff_sessions WHERE token_digest = '" + accounts::TokenDigest(token) + "'") == 1);
  CHECK(db.Scalar("SELECT count(*) FROM staff_sessions WHERE token_digest LIKE '%" + token.substr(0, 20) +
                  "%'") == "0");

  auto touched = db.ledger->TouchSession(accounts::TokenDigest(token), kT0 + minutes(20), policy);
  REQUIRE(touched);
  REQUIRE(touched->has_value());
  CHECK((*touched)->account.username == "kari.nordmann");
  CHECK((*touched)->last_seen_at == kT0 + minutes(20));
  // 29 minutes after the last use: alive; the token itself is not a digest and opens nothing.
  CHECK(db.ledger->TouchSession(accounts::TokenDigest(token), kT0 + minutes(49), policy)->has_value());
  CHECK_FALSE(db.ledger->TouchSession(token, kT0 + minutes(49), policy)->has_value());
  // A request stamped earlier than the last (two console processes, clocks apart) never moves it back.
  CHECK(db.ledger->TouchSession(accounts::TokenDigest(token), kT0 + minutes(30), policy)->has_value());
  CHECK_FALSE(db.ledger->TouchSession(accounts::TokenDigest(token), kT0 + minutes(80), policy)->has_value());
  CHECK(db.Scalar("SELECT end_reason FROM staff_sessions") == "expired");
  CHECK_FALSE(db.ledger->TouchSession(accounts::TokenDigest(token), kT0 + minutes(81), policy)->has_value());

  // Disabling the account or resetting its password ends its open sessions at once.
  const std::string second = accounts::NewToken();
  const std::string third = accounts::NewToken();
  REQUIRE(db.ledger->CreateSession(SessionFor(kari, second, kT0 + minutes(90))));
  REQUIRE(db.ledger->SetAccountDisabled("kari.nordmann", true, "admin", kT0 + minutes(91)));
  REQUIRE(db.ledger->SetAccountDisabled("kari.nordmann", false, "admin", kT0 + minutes(92)));
  CHECK_FALSE(db.ledger->TouchSession(accounts::TokenDigest(second), kT0 + minutes(93), policy)->has_value());
  REQUIRE(db.ledger->CreateSession(SessionFor(kari, third, kT0 + minutes(94))));
  REQUIRE(
      db.ledger->SetPasswordHash("kari.nordmann", Hash("a brand new phrase"), "admin", kT0 + minutes(95)));
  CHECK_FALSE(db.ledger->TouchSession(accounts::TokenDigest(third), kT0 + minutes(96), policy)->has_value());
  CHECK(db.Scalar("SELECT string_agg(end_reason, ',' ORDER BY created_at) FROM staff_sessions") ==
        "expired,account disabled,password changed");

  // Signing out ends it.
  const std::string fourth = accounts::NewToken();
  REQUIRE(db.ledger->CreateSession(SessionFor(kari, fourth, kT0 + minutes(100))));
  REQUIRE(db.ledger->EndSession(accounts::TokenDigest(fourth), "signed out", kT0 + minutes(101)));
  CHECK_FALSE(
      db.ledger->TouchSession(accounts::TokenDigest(fourth), kT0 + minutes(102), policy)->has_value());
}

TEST_CASE("sign-in attempts: failures count per account since its last success and per address, audited") {
  LedgerDatabase db;
  REQUIRE(db.ledger->CreateAccount(Nurse("kari.nordmann"), "admin", kT0));
  const std::int64_t kari = db.ledger->FindAccount("kari.nordmann")->value().account.id;
  const auto record = [&](std::optional<std::int64_t> id, const char* address, SignInOutcome outcome,
                          int minute) {
    REQUIRE(db.ledger->RecordSignIn(id, id ? "kari.nordmann" : "typed-name", address, outcome,
                                    kT0 + minutes(minute)));
  };
  record(kari, "192.0.2.7", SignInOutcome::kWrongPassword, 0);
  record(kari, "192.0.2.7", SignInOutcome::kWrongPassword, 1);
  record(kari, "192.0.2.7", SignInOutcome::kOk, 2);
  record(kari, "198.51.100.9", SignInOutcome::kWrongPassword, 3);
  record(kari, "198.51.100.9", SignInOutcome::kLocked, 4);  // a refusal while locked is not a failure
  record(std::nullopt, "198.51.100.9", SignInOutcome::kUnknownUser, 5);

  auto failures = db.ledger->RecentSignInFailures(kari, "198.51.100.9", kT0 - minutes(10));
  REQUIRE(failures);
  CHECK(failures->account == std::vector<core::WallTime>{kT0 + minutes(3)});  // since the success at 2
  CHECK(failures->address == std::vector<core::WallTime>{kT0 + minutes(3), kT0 + minutes(5)});
  failures = db.ledger->RecentSignInFailures(kari, "192.0.2.7", kT0 + minutes(1));
  CHECK(failures->address == std::vector<core::WallTime>{kT0 + minutes(1)});
  CHECK(db.ledger->RecentSignInFailures(std::nullopt, "203.0.113.1", kT0)->account.empty());

  // An unknown name is not kept anywhere (it may be a password typed into the name field).
  CHECK(db.Count("sign_in_attempts WHERE account_id IS NULL") == 1);
  CHECK(db.Count("audit_log WHERE detail LIKE '%typed-name%' OR actor = 'typed-name'") == 0);
  CHECK(
      db.Scalar("SELECT string_agg(action || ':' || detail, ' | ' ORDER BY id) FROM audit_log WHERE actor = "
                "'kari.nordmann'") ==
      "session.sign_in_refused:wrong_password from 192.0.2.7 | session.sign_in_refused:wrong_password from "
      "192.0.2.7 | session.sign_in:ok from 192.0.2.7 | session.sign_in_refused:wrong_password from "
      "198.51.100.9 | "
      "session.sign_in_refused:locked from 198.51.100.9");
}

}  // namespace
}  // namespace ehg::ledger
