// `ehealth-hub user`: its pure parts, and the whole command against a real PostgreSQL 15.
#include "care/hub/staff_command.hpp"

#include <doctest/doctest.h>

#include <sstream>

#include "care/accounts/passwords.hpp"
#include "care/ledger/ledger.hpp"
#include "tests/support/postgres/postgres.hpp"

namespace ehg::hub {
namespace {

const core::WallTime kT0{std::chrono::milliseconds{1'796'300'000'000}};

TEST_CASE("user: municipality lists, password lines and the listing") {
  CHECK(SplitTenants("0301").value() == std::vector<std::string>{"0301"});
  CHECK(SplitTenants("0301, 4601").value() == std::vector<std::string>{"0301", "4601"});
  CHECK(SplitTenants("*").value() == std::vector<std::string>{"*"});
  for (const char* bad : {"", ",", "0301,", ",0301", "0301,,4601", " "}) {
    CAPTURE(bad);
    CHECK_FALSE(SplitTenants(bad));
  }

  std::istringstream one("correct horse battery\nsecond line\n");
  CHECK(ReadPasswordLine(one).value() == "correct horse battery");
  std::istringstream crlf("correct horse battery\r\n");
  CHECK(ReadPasswordLine(crlf).value() == "correct horse battery");
  std::istringstream no_newline("correct horse battery");
  CHECK(ReadPasswordLine(no_newline).value() == "correct horse battery");
  std::istringstream spaces("  two spaces first  \n");  // kept: spaces are part of a pass phrase
  CHECK(ReadPasswordLine(spaces).value() == "  two spaces first  ");
  std::istringstream empty("\n");
  CHECK_FALSE(ReadPasswordLine(empty));
  std::istringstream nothing("");
  CHECK_FALSE(ReadPasswordLine(nothing));
  std::istringstream longest(std::string(1024, 'x') + "\n");
  CHECK(ReadPasswordLine(longest).value().size() == 1024);
  // /dev/zero on standard input: refused after 1 KiB, not read for ever.
  std::istringstream endless(std::string(1 << 20, '\0'));
  CHECK_FALSE(ReadPasswordLine(endless));
  CHECK(endless.tellg() < 2048);

  CHECK(FormatAccount({7, "kari.nordmann", accounts::Role::kNurse, {"0301", "4601"}, false}) ==
        "kari.nordmann\tnurse\t0301,4601\tenabled");
  CHECK(FormatAccount({8, "it.oslo", accounts::Role::kMunicipalIt, {"0301"}, true}) ==
        "it.oslo\tmunicipal_it\t0301\tdisabled");
}

TEST_CASE("user add, list, disable, enable, password against the hub's database") {
  auto ledger = ledger::Ledger::Open({test::TestPostgres::Get().FreshDatabase()});
  REQUIRE(ledger);
  const auto run = [&](UserRequest request, const std::string& input, std::string* out_text = nullptr) {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    request.database = "unused: the ledger is given";
    const int code = RunUserCommand(request, **ledger, in, out, err, kT0);
    if (out_text != nullptr) *out_text = out.str() + err.str();
    return code;
  };
  CHECK(run({"add", "", "kari.nordmann", "nurse", "0301,4601", "admin"}, "correct horse battery\n") == 0);
  std::string said;
  CHECK(run({"add", "", "kari.nordmann", "nurse", "0301", "admin"}, "correct horse battery\n", &said) == 1);
  CHECK(said.find("taken") != std::string::npos);
  CHECK(run({"add", "", "ola", "nurse", "0301", "admin"}, "too short\n", &said) == 1);
  CHECK(said.find("at least 12") != std::string::npos);
  CHECK(run({"add", "", "ola", "doctor", "0301", "admin"}, "correct horse battery\n") == 64);
  CHECK(run({"add", "", "ola", "nurse", "*", "admin"}, "correct horse battery\n") == 1);
  CHECK(run({"add", "", "Ola Nordmann", "nurse", "0301", "admin"}, "correct horse battery\n") == 1);
  CHECK(run({"add", "", "region.admin", "administrator", "*", "admin"}, "another long phrase\n") == 0);

  CHECK(run({"list", "", "", "", "", "admin"}, "", &said) == 0);
  CHECK(said == "kari.nordmann\tnurse\t0301,4601\tenabled\nregion.admin\tadministrator\t*\tenabled\n");
  // The hash is argon2id at the production cost, and verifies the password that was typed.
  const auto kari = (*ledger)->FindAccount("kari.nordmann").value().value();
  CHECK(accounts::VerifyPassword(kari.password_hash, "correct horse battery"));
  CHECK_FALSE(accounts::NeedsRehash(kari.password_hash));

  CHECK(run({"disable", "", "kari.nordmann", "", "", "admin"}, "") == 0);
  CHECK(run({"list", "", "", "", "", "admin"}, "", &said) == 0);
  CHECK(said.find("kari.nordmann\tnurse\t0301,4601\tdisabled") != std::string::npos);
  CHECK(run({"enable", "", "kari.nordmann", "", "", "admin"}, "") == 0);
  CHECK(run({"disable", "", "nobody", "", "", "admin"}, "") == 1);
  CHECK(run({"password", "", "kari.nordmann", "", "", "admin"}, "a brand new phrase\n") == 0);
  CHECK(accounts::VerifyPassword((*ledger)->FindAccount("kari.nordmann").value().value().password_hash,
                                 "a brand new phrase"));
  CHECK(run({"password", "", "kari.nordmann", "", "", "admin"}, "kari.nordmann\n") == 1);  // its own name
  CHECK(run({"remove", "", "kari.nordmann", "", "", "admin"}, "") == 64);
}

}  // namespace
}  // namespace ehg::hub
