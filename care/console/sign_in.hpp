#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "care/accounts/accounts.hpp"
#include "care/accounts/passwords.hpp"
#include "care/ledger/ledger.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

// Signing care staff in and out of the console, and finding the session behind a request's cookie
// (docs/console.md#signing-in). The console's web processes keep nothing of it in memory: sessions and
// attempts are rows in the hub's PostgreSQL, so any process answers any request.
namespace ehg::console {

struct SignInRequest {
  std::string username;
  std::string password;
  std::string address;  // the client's address as the console sees it
};

struct SignedIn {
  std::string token;       // the session cookie's value; only its digest is stored
  std::string csrf_token;  // sent back with every state-changing request (X-CSRF-Token)
  accounts::Account account;
};

struct SignInResult {
  ledger::SignInOutcome outcome = ledger::SignInOutcome::kWrongPassword;
  std::optional<SignedIn> session;            // for kOk
  std::optional<core::WallTime> retry_after;  // for kLocked
};

struct SignInOptions {
  accounts::LockoutPolicy lockout;
  accounts::SessionPolicy session;
  accounts::HashCost hash_cost;
  // argon2id takes hash_cost.memory_bytes per verification: at most this many at once per process, so
  // a burst of sign-ins (or an attack) cannot take the host's memory.
  int concurrent_verifications = 2;
};

class StaffSignIn {
 public:
  StaffSignIn(ledger::Ledger& ledger, core::Clock& clock, SignInOptions options = {});
  ~StaffSignIn();
  StaffSignIn(const StaffSignIn&) = delete;
  StaffSignIn& operator=(const StaffSignIn&) = delete;

  // Errc::kUnavailable when the database cannot be reached (nothing was decided). What the caller shows
  // must not tell an unknown name, a wrong password and a disabled account apart (docs/console.md).
  Result<SignInResult> SignIn(const SignInRequest& request);
  // The live session of a cookie's token (its last use moved to now), or nullopt.
  Result<std::optional<ledger::StaffSession>> Session(std::string_view token);
  Result<void> SignOut(std::string_view token);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The CSRF check of a state-changing request: the session's token, compared in constant time. An
// empty header never matches.
bool CsrfMatches(const ledger::StaffSession& session, std::string_view header_token);

}  // namespace ehg::console
