#include "care/accounts/accounts.hpp"

#include <algorithm>
#include <array>

#include "gateway/core/utf8.hpp"

namespace ehg::accounts {
namespace {

struct RoleName {
  Role role;
  std::string_view name;
};
constexpr std::array kRoles{RoleName{Role::kNurse, "nurse"}, RoleName{Role::kCoordinator, "coordinator"},
                            RoleName{Role::kMunicipalIt, "municipal_it"},
                            RoleName{Role::kAdministrator, "administrator"}};

bool Digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::string_view ToString(Role role) {
  for (const RoleName& entry : kRoles)
    if (entry.role == role) return entry.name;
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view text) {
  for (const RoleName& entry : kRoles)
    if (entry.name == text) return entry.role;
  return std::nullopt;
}

std::string_view ToString(Permission permission) {
  switch (permission) {
    case Permission::kViewAlerts:
      return "view_alerts";
    case Permission::kActOnAlerts:
      return "act_on_alerts";
    case Permission::kViewResidents:
      return "view_residents";
    case Permission::kViewFleet:
      return "view_fleet";
    case Permission::kCommandGateways:
      return "command_gateways";
    case Permission::kEnrolGateways:
      return "enrol_gateways";
    case Permission::kManageAccounts:
      return "manage_accounts";
    case Permission::kViewAudit:
      return "view_audit";
  }
  return "unknown";
}

// Health data for those who care for the resident; the fleet for IT; accounts and the audit log for
// administrators. Nobody gets everything: an administrator reads who looked at a resident, not the
// resident's values.
bool Allows(Role role, Permission permission) {
  switch (role) {
    case Role::kNurse:
      return permission == Permission::kViewAlerts || permission == Permission::kActOnAlerts ||
             permission == Permission::kViewResidents;
    case Role::kCoordinator:
      return permission == Permission::kViewAlerts || permission == Permission::kActOnAlerts ||
             permission == Permission::kViewResidents || permission == Permission::kViewFleet;
    case Role::kMunicipalIt:
      return permission == Permission::kViewFleet || permission == Permission::kCommandGateways ||
             permission == Permission::kEnrolGateways;
    case Role::kAdministrator:
      return permission == Permission::kManageAccounts || permission == Permission::kViewAudit ||
             permission == Permission::kViewFleet;
  }
  return false;
}

bool InScope(const Account& account, std::string_view tenant) {
  if (account.disabled) return false;
  return std::any_of(account.tenants.begin(), account.tenants.end(), [&](const std::string& scope) {
    return scope == tenant || (scope == kAllTenants && account.role == Role::kAdministrator);
  });
}

Result<void> CheckUsername(std::string_view username) {
  if (username.size() < 3 || username.size() > 64)
    return Fail(Errc::kInvalidArgument, "a user name has 3 to 64 characters");
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || Digit(c) || c == '.' || c == '_' || c == '-';
  };
  if (!std::all_of(username.begin(), username.end(), allowed))
    return Fail(Errc::kInvalidArgument, "a user name has only a-z, 0-9, '.', '_' and '-'");
  if (!allowed(username.front()) || username.front() == '.' || username.front() == '_' ||
      username.front() == '-')
    return Fail(Errc::kInvalidArgument, "a user name starts with a letter or a digit");
  return {};
}

Result<void> CheckPassword(std::string_view password, std::string_view username) {
  if (password.size() < 12) return Fail(Errc::kInvalidArgument, "a password has at least 12 characters");
  if (password.size() > 1024) return Fail(Errc::kInvalidArgument, "a password has at most 1024 bytes");
  if (!core::IsValidUtf8(password)) return Fail(Errc::kInvalidArgument, "a password is UTF-8 text");
  if (std::any_of(password.begin(), password.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return Fail(Errc::kInvalidArgument, "a password has no control characters");
  if (password == username) return Fail(Errc::kInvalidArgument, "a password is not the user name");
  return {};
}

Result<void> CheckTenants(Role role, const std::vector<std::string>& tenants) {
  if (tenants.empty()) return Fail(Errc::kInvalidArgument, "an account sees at least one municipality");
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    const std::string& tenant = tenants[i];
    if (tenant == kAllTenants) {
      if (role != Role::kAdministrator || tenants.size() != 1)
        return Fail(Errc::kInvalidArgument, "'*' (every municipality) is for an administrator, alone");
      continue;
    }
    if (tenant.size() != 4 || !std::all_of(tenant.begin(), tenant.end(), Digit))
      return Fail(Errc::kInvalidArgument, "a municipality is its four-digit number");
    if (std::find(tenants.begin(), tenants.begin() + static_cast<std::ptrdiff_t>(i), tenant) !=
        tenants.begin() + static_cast<std::ptrdiff_t>(i))
      return Fail(Errc::kInvalidArgument, "a municipality is named twice");
  }
  return {};
}

std::optional<core::WallTime> LockedUntil(std::span<const core::WallTime> failures, int limit,
                                          const LockoutPolicy& policy, core::WallTime now) {
  if (limit < 1) return std::nullopt;
  // A failure "in the future" (a clock stepped back) counts as now: it must not unlock anything early,
  // nor lock for longer than `lock` from now.
  std::vector<core::WallTime> times;
  times.reserve(failures.size());
  for (const core::WallTime failure : failures)
    times.push_back(std::min(failure, now));
  std::sort(times.begin(), times.end());
  // A failure that was the limit-th within one window locks until `lock` after it.
  std::optional<core::WallTime> until;
  for (std::size_t i = 0; i < times.size(); ++i) {
    const auto first = std::lower_bound(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                        times[i] - policy.window);
    const auto in_window = times.begin() + static_cast<std::ptrdiff_t>(i) + 1 - first;
    if (in_window >= limit) until = times[i] + policy.lock;
  }
  if (!until || *until <= now) return std::nullopt;
  return until;
}

bool SessionAlive(core::WallTime created, core::WallTime last_seen, core::WallTime now,
                  const SessionPolicy& policy) {
  if (now < created) return false;  // a clock stepped back past the sign-in: sign in again
  return now - created < policy.absolute && now - std::max(last_seen, created) < policy.idle;
}

}  // namespace ehg::accounts
