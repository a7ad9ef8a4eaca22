#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http/status.hpp"

// The request line and header fields of an HTTP/1.x request, read by the status page before anything
// else happens (RFC 9112). Strict and bounded: the page only serves GET and HEAD without a body, so
// anything that announces a body, folds a line, or grows past the limits is refused as soon as the
// bytes received so far show it, without waiting for the rest. Pure: bytes in, a verdict out.
namespace ehg::http {

struct HeadLimits {
  std::size_t max_head_bytes = 8 * 1024;    // request line, fields and the blank line
  std::size_t max_target_bytes = 2 * 1024;  // the path and query
  std::size_t max_fields = 64;
};

struct RequestHead {
  std::string method;
  std::string target;
  std::string version;                                      // "HTTP/1.1" or "HTTP/1.0"
  std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased, values trimmed
  // The value of a field that occurs once; nullopt when it is absent.
  std::optional<std::string_view> Field(std::string_view lower_case_name) const;
};

enum class HeadOutcome { kIncomplete, kComplete, kRefused };

struct HeadVerdict {
  HeadOutcome outcome = HeadOutcome::kIncomplete;
  RequestHead head;  // kComplete
  // kRefused: the status to answer (400, 413, 414, 431, 505) and the counter it goes to.
  int status = 0;
  Refusal refusal = Refusal::kMalformed;
  std::string_view reason;  // for the response body: static text, never the client's bytes
};

// `received` is everything read so far on the connection. kIncomplete means: read more (at most
// limits.max_head_bytes in all; past that the verdict is kRefused).
HeadVerdict ParseRequestHead(std::string_view received, const HeadLimits& limits = {});

}  // namespace ehg::http
