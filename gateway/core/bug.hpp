#pragma once

#include <string_view>

namespace ehg::core {

// Where a bug was found. std::source_location would do, but Debian 12's clang 14 (the fuzz and TSan
// builds) cannot compile libstdc++'s <source_location>; the builtins behind it work in GCC and clang.
struct CodeLocation {
  const char* file;
  unsigned line;
  static constexpr CodeLocation Here(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE()) {
    return {file, line};
  }
};

// The one policy for bugs. A bug is a broken invariant of this code (a component built without what it
// must have, a table the constructor filled missing an entry), never bad input, a full disk or an
// unreachable peer: those are `Result` errors, counted and carried on. A bug is logged as an error
// naming the file and line, then the process aborts: systemd restarts the service (Restart=on-failure),
// the journal keeps the line, and a core dump keeps the state. Nothing continues on a state the code
// cannot reason about.
[[noreturn]] void Bug(std::string_view what, CodeLocation where = CodeLocation::Here());

}  // namespace ehg::core
