#pragma once

#include <source_location>
#include <string_view>

namespace ehg::core {

// The one policy for bugs. A bug is a broken invariant of this code (a component built without what it
// must have, a table the constructor filled missing an entry), never bad input, a full disk or an
// unreachable peer: those are `Result` errors, counted and carried on. A bug is logged as an error
// naming the file and line, then the process aborts: systemd restarts the service (Restart=on-failure),
// the journal keeps the line, and a core dump keeps the state. Nothing continues on a state the code
// cannot reason about.
[[noreturn]] void Bug(std::string_view what, std::source_location where = std::source_location::current());

}  // namespace ehg::core
