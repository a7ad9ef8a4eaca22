#include "care/console/sign_in.hpp"

#include <semaphore>

namespace ehg::console {

struct StaffSignIn::Impl {
  ledger::Ledger& ledger;
  core::Clock& clock;
  SignInOptions options;
  std::counting_semaphore<64> verifications;

  Impl(ledger::Ledger& l, core::Clock& c, SignInOptions o)
      : ledger(l), clock(c), options(o), verifications(std::clamp(o.concurrent_verifications, 1, 64)) {}

  bool Verify(std::string_view hash, std::string_view password) {
    verifications.acquire();
    const bool ok = accounts::VerifyPassword(hash, password);
    verifications.release();
    return ok;
  }
};

StaffSignIn::StaffSignIn(ledger::Ledger& ledger, core::Clock& clock, SignInOptions options)
    : impl_(std::make_unique<Impl>(ledger, clock, options)) {}
StaffSignIn::~StaffSignIn() = default;

Result<SignInResult> StaffSignIn::SignIn(const SignInRequest& request) {
  const core::WallTime now = impl_->clock.Now();
  const accounts::LockoutPolicy& lockout = impl_->options.lockout;
  // A name that cannot be an account is not looked up (nor kept); it is treated as unknown.
  std::optional<ledger::StaffAccount> account;
  if (accounts::CheckUsername(request.username)) {
    auto found = impl_->ledger.FindAccount(request.username);
    if (!found) return tl::unexpected(found.error());
    account = std::move(*found);
  }
  const std::optional<std::int64_t> account_id =
      account ? std::optional<std::int64_t>(account->account.id) : std::nullopt;
  const auto record = [&](ledger::SignInOutcome outcome) -> Result<void> {
    return impl_->ledger.RecordSignIn(account_id, request.username, request.address, outcome, now);
  };

  auto failures =
      impl_->ledger.RecentSignInFailures(account_id, request.address, now - lockout.window - lockout.lock);
  if (!failures) return tl::unexpected(failures.error());
  std::optional<core::WallTime> locked =
      accounts::LockedUntil(failures->address, lockout.address_failures, lockout, now);
  if (const auto account_locked =
          accounts::LockedUntil(failures->account, lockout.account_failures, lockout, now))
    locked = locked ? std::max(*locked, *account_locked) : *account_locked;
  if (locked) {
    // Not even verified: a locked account gives a guesser nothing, right or wrong.
    if (auto recorded = record(ledger::SignInOutcome::kLocked); !recorded)
      return tl::unexpected(recorded.error());
    return SignInResult{ledger::SignInOutcome::kLocked, std::nullopt, locked};
  }

  // An unknown name costs the same verification as a real one (the decoy), so the time of the answer
  // does not say which names exist.
  const bool password_ok = impl_->Verify(
      account ? account->password_hash : accounts::DecoyHash(impl_->options.hash_cost), request.password);
  ledger::SignInOutcome outcome = ledger::SignInOutcome::kOk;
  if (!account)
    outcome = ledger::SignInOutcome::kUnknownUser;
  else if (!password_ok)
    outcome = ledger::SignInOutcome::kWrongPassword;
  else if (account->account.disabled)
    outcome = ledger::SignInOutcome::kDisabled;
  if (auto recorded = record(outcome); !recorded) return tl::unexpected(recorded.error());
  if (outcome != ledger::SignInOutcome::kOk) return SignInResult{outcome, std::nullopt, std::nullopt};

  SignedIn signed_in{accounts::NewToken(), accounts::NewToken(), account->account};
  ledger::StaffSession session;
  session.token_digest = accounts::TokenDigest(signed_in.token);
  session.account = account->account;
  session.csrf_token = signed_in.csrf_token;
  session.address = request.address;
  session.created_at = now;
  session.last_seen_at = now;
  if (auto created = impl_->ledger.CreateSession(session); !created) return tl::unexpected(created.error());
  return SignInResult{outcome, std::move(signed_in), std::nullopt};
}

Result<std::optional<ledger::StaffSession>> StaffSignIn::Session(std::string_view token) {
  // A token of the wrong shape is not looked up: nothing but 43 base64url characters was ever issued.
  if (token.size() != 43 ||
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
          std::string_view::npos)
    return std::optional<ledger::StaffSession>();
  return impl_->ledger.TouchSession(accounts::TokenDigest(token), impl_->clock.Now(), impl_->options.session);
}

Result<void> StaffSignIn::SignOut(std::string_view token) {
  return impl_->ledger.EndSession(accounts::TokenDigest(token), "signed out", impl_->clock.Now());
}

bool CsrfMatches(const ledger::StaffSession& session, std::string_view header_token) {
  return !header_token.empty() && accounts::SameToken(session.csrf_token, header_token);
}

}  // namespace ehg::console
