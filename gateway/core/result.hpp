#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace ehg {

// What went wrong, as a code callers branch on; the message is for people and logs.
enum class Errc {
  kInvalidArgument,
  kParse,
  kNotFound,
  kIo,
  kFull,         // disk or bounded store full
  kCorrupt,      // persistent data failed its integrity check
  kUnsupported,  // e.g. a database schema newer than this build
  kClosed,       // the component is stopping or stopped
  kBusy,         // a bounded queue is full
  kRejected,     // valid syntax, refused by a rule (range, policy)
  kUnavailable,  // a peer (the broker) cannot be reached right now
  kInternal,
};

std::string_view ToString(Errc code);

struct [[nodiscard]] Error {
  Errc code;
  std::string message;

  // Prefixes the message with where the error crossed a layer ("store: open: ...").
  Error WithContext(std::string_view context) const& {
    return Error{code, std::string(context) + ": " + message};
  }
};

// A value or the Error why there is none. [[nodiscard]] on the type itself: every function returning a
// Result warns (an error in CI) when a caller drops it, so a failed write or a refused change cannot be
// ignored by forgetting to look. A caller that really has nothing to do with a failure says so with a
// (void) cast and a comment why. Everything tl::expected offers works; its monadic helpers (map,
// and_then) return plain tl::expected, which converts back.
template <typename T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using Base = tl::expected<T, Error>;
  using Base::Base;
  Result() = default;
  // Implicit on purpose: a tl::expected from map/and_then is a Result again.
  Result(Base base) : Base(std::move(base)) {}
};

inline tl::unexpected<Error> Fail(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace ehg
