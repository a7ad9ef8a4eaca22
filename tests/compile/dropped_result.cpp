// Compiled by the test suite, not built: a caller that drops a Result must not compile with warnings as
// errors (tests/unit/core/CMakeLists.txt). Built with -DEHG_KEEP_RESULT it must compile, so the failure
// above is the dropped Result and nothing else.
#include "gateway/core/result.hpp"

namespace {

ehg::Result<void> WriteTheAlert() { return ehg::Fail(ehg::Errc::kFull, "disk full"); }

}  // namespace

int main() {
#ifdef EHG_KEEP_RESULT
  const ehg::Result<void> written = WriteTheAlert();
  return written.has_value() ? 0 : 1;
#else
  WriteTheAlert();
  return 0;
#endif
}
