#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "care/accounts/accounts.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

namespace ehg::ledger {
class Ledger;
}

// `ehealth-hub user`: the console's staff accounts from the command line (docs/console.md#accounts).
// Passwords come from standard input, never from the command line (ps and shell histories show it).
namespace ehg::hub {

struct UserRequest {
  std::string action;  // add, disable, enable, password, list
  std::string database;
  std::string name;
  std::string role;     // add: nurse, coordinator, municipal_it, administrator
  std::string tenants;  // add: "0301,4601" or "*" (an administrator of every municipality)
  std::string actor = "ehealth-hub cli";
};

// "0301,4601" -> {"0301", "4601"}; spaces around the commas are allowed, empty items are not.
Result<std::vector<std::string>> SplitTenants(const std::string& text);

// The first line of `in`, without its line end: at most 1024 bytes (longer is refused, not cut), and
// an empty line is refused. The caller turns the terminal's echo off.
Result<std::string> ReadPasswordLine(std::istream& in);

// One line per account for `user list`: name, role, municipalities, enabled or disabled. No hash.
std::string FormatAccount(const accounts::Account& account);

// Runs the request against the ledger, prints to `out`. The password is read from `password_in` for
// add and password. Returns the process's exit code.
int RunUserCommand(const UserRequest& request, ledger::Ledger& ledger, std::istream& password_in,
                   std::ostream& out, std::ostream& err, core::WallTime now);

}  // namespace ehg::hub
