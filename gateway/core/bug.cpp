#include "gateway/core/bug.hpp"

#include <cstdlib>
#include <string>

#include "gateway/core/log.hpp"

namespace ehg::core {

void Bug(std::string_view what, CodeLocation where) {
  LogError("bug: " + std::string(what) + " (" + where.file + ":" + std::to_string(where.line) + ")");
  std::abort();
}

}  // namespace ehg::core
