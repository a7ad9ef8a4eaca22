#include "gateway/core/result.hpp"

namespace ehg {

std::string_view ToString(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid_argument";
    case Errc::kParse:
      return "parse";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kIo:
      return "io";
    case Errc::kFull:
      return "full";
    case Errc::kCorrupt:
      return "corrupt";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kClosed:
      return "closed";
    case Errc::kBusy:
      return "busy";
    case Errc::kRejected:
      return "rejected";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace ehg
