#include "care/hub/staff_command.hpp"

#include <istream>
#include <ostream>

#include "care/accounts/passwords.hpp"
#include "care/ledger/ledger.hpp"

namespace ehg::hub {
namespace {

int Refused(std::ostream& err, const std::string& what, const Error& error) {
  err << "ehealth-hub user " << what << ": " << error.message << "\n";
  return error.code == Errc::kUnavailable ? 69 : 1;  // EX_UNAVAILABLE: the database is away
}

}  // namespace

Result<std::vector<std::string>> SplitTenants(const std::string& text) {
  std::vector<std::string> tenants;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto first = item.find_first_not_of(' ');
    const auto last = item.find_last_not_of(' ');
    item = first == std::string::npos ? std::string() : item.substr(first, last - first + 1);
    if (item.empty()) return Fail(Errc::kInvalidArgument, "an empty municipality in the list");
    tenants.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return tenants;
}

Result<std::string> ReadPasswordLine(std::istream& in) {
  std::string line;
  char c = 0;
  while (in.get(c)) {
    if (c == '\n') break;
    line += c;
    if (line.size() > 1025) return Fail(Errc::kInvalidArgument, "the password is longer than 1024 bytes");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > 1024) return Fail(Errc::kInvalidArgument, "the password is longer than 1024 bytes");
  if (line.empty()) return Fail(Errc::kInvalidArgument, "no password on standard input");
  return line;
}

std::string FormatAccount(const accounts::Account& account) {
  std::string scope;
  for (const std::string& tenant : account.tenants)
    scope += (scope.empty() ? "" : ",") + tenant;
  return account.username + "\t" + std::string(accounts::ToString(account.role)) + "\t" + scope + "\t" +
         (account.disabled ? "disabled" : "enabled");
}

int RunUserCommand(const UserRequest& request, ledger::Ledger& ledger, std::istream& password_in,
                   std::ostream& out, std::ostream& err, core::WallTime now) {
  const std::string& action = request.action;
  if (action == "list") {
    auto listed = ledger.ListAccounts();
    if (!listed) return Refused(err, action, listed.error());
    for (const ledger::StaffAccount& account : *listed)
      out << FormatAccount(account.account) << "\n";
    return 0;
  }
  if (action == "disable" || action == "enable") {
    auto done = ledger.SetAccountDisabled(request.name, action == "disable", request.actor, now);
    if (!done) return Refused(err, action, done.error());
    out << request.name << " " << action << "d\n";
    return 0;
  }
  if (action != "add" && action != "password") {
    err << "ehealth-hub user: unknown action " << action << "\n";
    return 64;
  }
  std::optional<accounts::Role> role;
  std::vector<std::string> tenants;
  if (action == "add") {
    if (auto name = accounts::CheckUsername(request.name); !name) return Refused(err, action, name.error());
    role = accounts::ParseRole(request.role);
    if (!role) {
      err << "ehealth-hub user add: --role is one of nurse, coordinator, municipal_it, administrator\n";
      return 64;
    }
    auto split = SplitTenants(request.tenants);
    if (!split) return Refused(err, action, split.error());
    if (auto checked = accounts::CheckTenants(*role, *split); !checked)
      return Refused(err, action, checked.error());
    tenants = std::move(*split);
  }
  auto password = ReadPasswordLine(password_in);
  if (!password) return Refused(err, action, password.error());
  if (auto checked = accounts::CheckPassword(*password, request.name); !checked)
    return Refused(err, action, checked.error());
  auto hash = accounts::HashPassword(*password);
  if (!hash) return Refused(err, action, hash.error());
  if (action == "add") {
    auto created = ledger.CreateAccount({request.name, *role, tenants, *hash}, request.actor, now);
    if (!created) return Refused(err, action, created.error());
    out << "added " << request.name << " (" << accounts::ToString(*role) << ")\n";
    return 0;
  }
  auto changed = ledger.SetPasswordHash(request.name, *hash, request.actor, now);
  if (!changed) return Refused(err, action, changed.error());
  out << "password of " << request.name << " changed; its sessions ended\n";
  return 0;
}

}  // namespace ehg::hub
