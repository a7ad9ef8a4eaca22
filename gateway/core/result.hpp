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

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> Fail(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace ehg
