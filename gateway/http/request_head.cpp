#include "gateway/http/request_head.hpp"

#include <algorithm>

#include "gateway/http/access.hpp"

namespace ehg::http {
namespace {

// The longest method worth reading: every method HTTP defines is shorter.
constexpr std::size_t kMaxMethodBytes = 20;

// tchar (RFC 9110, 5.6.2).
bool IsTokenByte(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// field-vchar, SP and HTAB; obs-text (0x80 and above) is opaque but allowed (RFC 9110, 5.5). A CR inside
// a line, NUL and other controls are not: they are how requests are smuggled past other parsers.
bool IsFieldValueByte(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}

// A request target in origin form is visible ASCII; anything else must be percent-encoded.
bool IsTargetByte(unsigned char c) {
  return c > 0x20 && c < 0x7F;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return lower;
}

HeadVerdict Refuse(int status, Refusal refusal, std::string_view reason) {
  HeadVerdict verdict;
  verdict.outcome = HeadOutcome::kRefused;
  verdict.status = status;
  verdict.refusal = refusal;
  verdict.reason = reason;
  return verdict;
}

HeadVerdict TooLarge() {
  return Refuse(431, Refusal::kHeadTooLarge, "the request head is too large");
}

// Checks the request line as far as it has arrived, so junk (a TLS handshake on the plain port, binary
// noise) and an endless target are refused at once. nullopt: fine so far.
std::optional<HeadVerdict> CheckPartialRequestLine(std::string_view line, const HeadLimits& limits) {
  const std::size_t method_end = line.find(' ');
  const std::string_view method = line.substr(0, method_end);
  if (method.size() > kMaxMethodBytes || !std::all_of(method.begin(), method.end(), [](char c) {
        return IsTokenByte(static_cast<unsigned char>(c));
      }))
    return Refuse(400, Refusal::kMalformed, "not an HTTP request");
  if (method_end == std::string_view::npos) return std::nullopt;
  const std::string_view rest = line.substr(method_end + 1);
  const std::string_view target = rest.substr(0, rest.find(' '));
  if (!std::all_of(target.begin(), target.end(),
                   [](char c) { return IsTargetByte(static_cast<unsigned char>(c)); }))
    return Refuse(400, Refusal::kMalformed, "the request target is not visible ASCII");
  if (target.size() > limits.max_target_bytes)
    return Refuse(414, Refusal::kHeadTooLarge, "the URI is too long");
  return std::nullopt;
}

std::optional<HeadVerdict> ParseRequestLine(std::string_view line, RequestHead& head) {
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos)
    return Refuse(400, Refusal::kMalformed, "the request line is not METHOD TARGET VERSION");
  head.method = std::string(line.substr(0, first));
  head.target = std::string(line.substr(first + 1, second - first - 1));
  head.version = std::string(line.substr(second + 1));
  if (head.method.empty()) return Refuse(400, Refusal::kMalformed, "no method");
  if (head.version != "HTTP/1.1" && head.version != "HTTP/1.0") {
    const std::string_view version = head.version;
    const bool http = version.size() == 8 && version.starts_with("HTTP/") && version[5] >= '0' &&
                      version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9';
    return http ? Refuse(505, Refusal::kMalformed, "HTTP/1.1 only")
                : Refuse(400, Refusal::kMalformed, "not an HTTP version");
  }
  if (head.target.empty() || head.target.front() != '/')
    return Refuse(400, Refusal::kMalformed, "the request target must be a path");
  return std::nullopt;
}

std::optional<HeadVerdict> ParseField(std::string_view line, RequestHead& head) {
  if (line.front() == ' ' || line.front() == '\t')
    return Refuse(400, Refusal::kMalformed, "folded header lines are not taken");
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return Refuse(400, Refusal::kMalformed, "a header line without a name");
  const std::string_view name = line.substr(0, colon);
  // No whitespace before the colon either (RFC 9112, 5.1): that is a token check.
  if (!std::all_of(name.begin(), name.end(),
                   [](char c) { return IsTokenByte(static_cast<unsigned char>(c)); }))
    return Refuse(400, Refusal::kMalformed, "a header name that is not a token");
  const std::string_view value = TrimOptionalWhitespace(line.substr(colon + 1));
  if (!std::all_of(value.begin(), value.end(),
                   [](char c) { return IsFieldValueByte(static_cast<unsigned char>(c)); }))
    return Refuse(400, Refusal::kMalformed, "a control character in a header value");
  head.fields.emplace_back(Lower(name), std::string(value));
  return std::nullopt;
}

std::size_t Occurrences(const RequestHead& head, std::string_view name) {
  return static_cast<std::size_t>(std::count_if(head.fields.begin(), head.fields.end(),
                                                [&](const auto& field) { return field.first == name; }));
}

// What the complete head says beyond its syntax: no body, one Host, one Authorization.
std::optional<HeadVerdict> CheckSemantics(const RequestHead& head) {
  if (Occurrences(head, "content-length") > 1)
    return Refuse(400, Refusal::kMalformed, "more than one Content-Length");
  if (const auto length = head.Field("content-length")) {
    if (length->empty() ||
        !std::all_of(length->begin(), length->end(), [](char c) { return c >= '0' && c <= '9'; }))
      return Refuse(400, Refusal::kMalformed, "Content-Length is not a number");
    if (length->find_first_not_of('0') != std::string_view::npos)
      return Refuse(413, Refusal::kBody, "the status page takes no request body");
  }
  if (Occurrences(head, "transfer-encoding") > 0)
    return Refuse(413, Refusal::kBody, "the status page takes no request body");
  const std::size_t hosts = Occurrences(head, "host");
  if (hosts > 1 || (hosts == 0 && head.version == "HTTP/1.1"))
    return Refuse(400, Refusal::kMalformed, "an HTTP/1.1 request needs exactly one Host");
  if (Occurrences(head, "authorization") > 1)
    return Refuse(400, Refusal::kMalformed, "more than one Authorization");
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> RequestHead::Field(std::string_view lower_case_name) const {
  for (const auto& [name, value] : fields) {
    if (name == lower_case_name) return std::string_view(value);
  }
  return std::nullopt;
}

HeadVerdict ParseRequestHead(std::string_view received, const HeadLimits& limits) {
  const std::size_t line_end = received.find('\n');
  if (line_end == std::string_view::npos) {
    std::string_view partial = received;
    if (!partial.empty() && partial.back() == '\r') partial.remove_suffix(1);
    if (auto refused = CheckPartialRequestLine(partial, limits)) return *refused;
    if (received.size() > limits.max_head_bytes) return TooLarge();
    return {};
  }
  std::string_view line = received.substr(0, line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (auto refused = CheckPartialRequestLine(line, limits)) return *refused;
  if (line_end >= limits.max_head_bytes) return TooLarge();

  RequestHead head;
  if (auto refused = ParseRequestLine(line, head)) return *refused;
  std::size_t position = line_end + 1;
  for (;;) {
    const std::size_t end = received.find('\n', position);
    if (end == std::string_view::npos || end >= limits.max_head_bytes) {
      if (received.size() > limits.max_head_bytes) return TooLarge();
      return {};
    }
    std::string_view field = received.substr(position, end - position);
    position = end + 1;
    if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
    if (field.empty()) break;
    if (head.fields.size() >= limits.max_fields) return TooLarge();
    if (auto refused = ParseField(field, head)) return *refused;
  }
  if (auto refused = CheckSemantics(head)) return *refused;
  HeadVerdict verdict;
  verdict.outcome = HeadOutcome::kComplete;
  verdict.head = std::move(head);
  return verdict;
}

}  // namespace ehg::http
