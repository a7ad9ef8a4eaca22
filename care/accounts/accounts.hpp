#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

// Care staff accounts for the console: roles, what each role may do, which municipalities (tenants) an
// account sees, and the rules of signing in (password and name shapes, lockout, session lifetime). Pure:
// the password hashes and tokens are passwords.hpp, the rows care/ledger/staff.hpp.
// docs/console.md describes the model.
namespace ehg::accounts {

enum class Role {
  kNurse,          // takes alerts, reads residents' data, in her municipalities
  kCoordinator,    // the same, plus residents' trends and rules across her municipalities
  kMunicipalIt,    // the fleet: gateways' state, updates, enrolment; no resident's health data
  kAdministrator,  // accounts and the audit log; no resident's health data
};

std::string_view ToString(Role role);
std::optional<Role> ParseRole(std::string_view text);

enum class Permission {
  kViewAlerts,       // the alert board
  kActOnAlerts,      // claim, acknowledge, resolve
  kViewResidents,    // a resident's charts, NEWS2, alert timeline, devices, rules
  kViewFleet,        // gateways, their status and backlog
  kCommandGateways,  // update requests and rule changes to gateways
  kEnrolGateways,
  kManageAccounts,
  kViewAudit,
};

std::string_view ToString(Permission permission);
bool Allows(Role role, Permission permission);

// Every tenant of the region. Only an administrator may hold it (accounts of all municipalities).
inline constexpr std::string_view kAllTenants = "*";

struct Account {
  std::int64_t id = 0;
  std::string username;
  Role role = Role::kNurse;
  std::vector<std::string> tenants;  // municipality numbers ("0301"), or kAllTenants alone
  bool disabled = false;
};

// True when the account's scope includes `tenant`.
bool InScope(const Account& account, std::string_view tenant);

// 3 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit: a name that is
// the same however a log, a URL or a terminal shows it.
Result<void> CheckUsername(std::string_view username);
// 12 to 1024 bytes, valid UTF-8, no control characters, not the user name. Length, not composition
// rules (NIST SP 800-63B): staff choose a pass phrase they can type on a tablet.
Result<void> CheckPassword(std::string_view password, std::string_view username);
// A tenant list for a role: municipality numbers (four digits), at least one, no repeats; kAllTenants
// alone and only for an administrator.
Result<void> CheckTenants(Role role, const std::vector<std::string>& tenants);

// Lockout against guessing, per account and per address. A failed sign-in counts; a refused one (while
// locked) does not, so the lock ends `lock` after the last real failure.
struct LockoutPolicy {
  int account_failures = 5;   // failures of one account within `window`
  int address_failures = 20;  // failures from one address within `window`, whatever the account
  std::chrono::minutes window{15};
  std::chrono::minutes lock{15};
};

// Until when sign-in is refused, given the times of the failures that count (for an account: since its
// last success), or nullopt when it is not.
std::optional<core::WallTime> LockedUntil(std::span<const core::WallTime> failures, int limit,
                                          const LockoutPolicy& policy, core::WallTime now);

// A session ends after `idle` without a request or `absolute` after sign-in (a shift), whichever first.
struct SessionPolicy {
  std::chrono::minutes idle{30};
  std::chrono::hours absolute{12};
};

bool SessionAlive(core::WallTime created, core::WallTime last_seen, core::WallTime now,
                  const SessionPolicy& policy);

}  // namespace ehg::accounts
