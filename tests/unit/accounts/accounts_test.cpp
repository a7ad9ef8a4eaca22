#include "care/accounts/accounts.hpp"

#include <doctest/doctest.h>

namespace ehg::accounts {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const core::WallTime kT0{std::chrono::milliseconds{1'796'300'000'000}};

TEST_CASE("roles: health data for carers, the fleet for IT, accounts and audit for administrators") {
  const std::vector<Permission> all{Permission::kViewAlerts,      Permission::kActOnAlerts,
                                    Permission::kViewResidents,   Permission::kViewFleet,
                                    Permission::kCommandGateways, Permission::kEnrolGateways,
                                    Permission::kManageAccounts,  Permission::kViewAudit};
  const auto granted = [&](Role role) {
    std::string names;
    for (Permission permission : all)
      if (Allows(role, permission))
        names += std::string(names.empty() ? "" : ",") + std::string(ToString(permission));
    return names;
  };
  CHECK(granted(Role::kNurse) == "view_alerts,act_on_alerts,view_residents");
  CHECK(granted(Role::kCoordinator) == "view_alerts,act_on_alerts,view_residents,view_fleet");
  CHECK(granted(Role::kMunicipalIt) == "view_fleet,command_gateways,enrol_gateways");
  CHECK(granted(Role::kAdministrator) == "view_fleet,manage_accounts,view_audit");
  // Nobody who manages accounts reads residents' values, nobody who reads them commands gateways.
  for (Role role : {Role::kNurse, Role::kCoordinator, Role::kMunicipalIt, Role::kAdministrator}) {
    CAPTURE(ToString(role));
    CHECK_FALSE((Allows(role, Permission::kManageAccounts) && Allows(role, Permission::kViewResidents)));
    CHECK_FALSE((Allows(role, Permission::kCommandGateways) && Allows(role, Permission::kViewResidents)));
    CHECK(ParseRole(ToString(role)) == role);
  }
  CHECK_FALSE(ParseRole("Nurse"));
  CHECK_FALSE(ParseRole(""));
  CHECK_FALSE(ParseRole("admin"));
}

TEST_CASE("scope: a nurse sees her municipalities only, '*' only counts for an administrator") {
  Account nurse{1, "kari.nordmann", Role::kNurse, {"0301", "4601"}, false};
  CHECK(InScope(nurse, "0301"));
  CHECK(InScope(nurse, "4601"));
  CHECK_FALSE(InScope(nurse, "5001"));
  CHECK_FALSE(InScope(nurse, ""));
  CHECK_FALSE(InScope(nurse, "030"));
  nurse.disabled = true;
  CHECK_FALSE(InScope(nurse, "0301"));

  Account forged{
      2, "it", Role::kMunicipalIt, {std::string(kAllTenants)}, false};  // not writable by CheckTenants
  CHECK_FALSE(InScope(forged, "0301"));
  Account admin{3, "admin", Role::kAdministrator, {std::string(kAllTenants)}, false};
  CHECK(InScope(admin, "0301"));
  CHECK(InScope(admin, "5001"));
}

TEST_CASE("user names, passwords and tenant lists that are refused, and some that are not") {
  for (const char* ok : {"kari", "ola.nordmann", "n-0417", "a_b", "abc", "0abc"}) {
    CAPTURE(ok);
    CHECK(CheckUsername(ok));
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "ab", "Kari", "kari nordmann", ".kari", "-kari", "_kari", "kari\n",
                                "kåri", "kari;drop", std::string(65, 'a'), std::string("ka\0ri", 5)}) {
    CAPTURE(bad);
    CHECK_FALSE(CheckUsername(bad));
  }
  CHECK(CheckPassword("correct horse battery", "kari"));
  CHECK(CheckPassword("blåbærsyltetøy på brødskiva", "kari"));  // Norwegian letters are fine
  CHECK(CheckPassword(std::string(1024, 'x'), "kari"));
  CHECK_FALSE(CheckPassword("short pass!", "kari"));  // 11
  CHECK_FALSE(CheckPassword(std::string(1025, 'x'), "kari"));
  CHECK_FALSE(CheckPassword("twelve chars\x01", "kari"));
  CHECK_FALSE(CheckPassword("tab\tin a password", "kari"));
  CHECK_FALSE(CheckPassword("invalid \xff\xfe utf-8 bytes", "kari"));
  CHECK_FALSE(CheckPassword("ola.nordmann.1", "ola.nordmann.1"));
  CHECK_FALSE(CheckPassword(std::string("nul\0inside password", 20), "kari"));

  CHECK(CheckTenants(Role::kNurse, {"0301"}));
  CHECK(CheckTenants(Role::kCoordinator, {"0301", "4601"}));
  CHECK(CheckTenants(Role::kAdministrator, {"*"}));
  CHECK_FALSE(CheckTenants(Role::kNurse, {}));
  CHECK_FALSE(CheckTenants(Role::kNurse, {"*"}));
  CHECK_FALSE(CheckTenants(Role::kMunicipalIt, {"*"}));
  CHECK_FALSE(CheckTenants(Role::kAdministrator, {"*", "0301"}));
  CHECK_FALSE(CheckTenants(Role::kNurse, {"301"}));
  CHECK_FALSE(CheckTenants(Role::kNurse, {"03010"}));
  CHECK_FALSE(CheckTenants(Role::kNurse, {"03a1"}));
  CHECK_FALSE(CheckTenants(Role::kNurse, {"0301", "0301"}));
}

TEST_CASE(
    "lockout: five failures in 15 minutes lock for 15 minutes after the last, older ones do not count") {
  const LockoutPolicy policy;
  std::vector<core::WallTime> failures;
  for (int i = 0; i < 4; ++i)
    failures.push_back(kT0 + minutes(i));
  CHECK_FALSE(LockedUntil(failures, policy.account_failures, policy, kT0 + minutes(4)));
  failures.push_back(kT0 + minutes(4));
  CHECK(LockedUntil(failures, policy.account_failures, policy, kT0 + minutes(4)) == kT0 + minutes(19));
  // Still locked just before the end, free at it.
  CHECK(LockedUntil(failures, 5, policy, kT0 + minutes(19) - seconds(1)).has_value());
  CHECK_FALSE(LockedUntil(failures, 5, policy, kT0 + minutes(19)));
  // Spread out: never five inside one window.
  const std::vector<core::WallTime> spread{kT0, kT0 + minutes(4), kT0 + minutes(8), kT0 + minutes(12),
                                           kT0 + minutes(16)};
  CHECK_FALSE(LockedUntil(spread, 5, policy, kT0 + minutes(16)));
  // A failure stamped ahead of now (a clock stepped back) counts as now: it neither unlocks early nor
  // locks for longer than the lock time from now.
  std::vector<core::WallTime> ahead(5, kT0 + std::chrono::hours(5));
  CHECK(LockedUntil(ahead, 5, policy, kT0) == kT0 + minutes(15));
  // The address limit is its own number.
  std::vector<core::WallTime> many(19, kT0);
  CHECK_FALSE(LockedUntil(many, policy.address_failures, policy, kT0));
  many.push_back(kT0);
  CHECK(LockedUntil(many, policy.address_failures, policy, kT0));
  CHECK_FALSE(LockedUntil(many, 0, policy, kT0));
}

TEST_CASE("sessions end after 30 idle minutes or 12 hours, and when the clock goes back past the sign-in") {
  const SessionPolicy policy;
  CHECK(SessionAlive(kT0, kT0, kT0, policy));
  CHECK(SessionAlive(kT0, kT0, kT0 + minutes(29), policy));
  CHECK_FALSE(SessionAlive(kT0, kT0, kT0 + minutes(30), policy));
  // Kept alive by requests, but never past the shift.
  CHECK(SessionAlive(kT0, kT0 + std::chrono::hours(11) + minutes(50),
                     kT0 + std::chrono::hours(11) + minutes(59), policy));
  CHECK_FALSE(
      SessionAlive(kT0, kT0 + std::chrono::hours(11) + minutes(59), kT0 + std::chrono::hours(12), policy));
  CHECK_FALSE(SessionAlive(kT0, kT0, kT0 - seconds(1), policy));
  // A last_seen before the sign-in (a bad row) does not stretch anything.
  CHECK_FALSE(SessionAlive(kT0, kT0 - std::chrono::hours(1), kT0 + minutes(31), policy));
}

}  // namespace
}  // namespace ehg::accounts
