#include "care/engine/subjects.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace ehg::engine {
namespace {

constexpr std::string_view kPrefix = "ehealth.v1.";

std::vector<std::string_view> Tokens(std::string_view text, char separator) {
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    tokens.push_back(
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return tokens;
    start = end + 1;
  }
}

bool WhiteSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v' || c == '\0';
}

// The event kinds and where they sit below the gateway's prefix, as subject tokens.
struct EventSuffix {
  core::EventKind kind;
  std::string_view suffix;
};
constexpr std::array<EventSuffix, 5> kEventSuffixes{{
    {core::EventKind::kAlert, "event.alert"},
    {core::EventKind::kObservation, "event.observation"},
    {core::EventKind::kDevice, "event.device"},
    {core::EventKind::kGateway, "event.gateway"},
    {core::EventKind::kCommandResult, "cmd.result"},
}};

}  // namespace

bool ValidTenant(std::string_view tenant) {
  if (tenant.size() != 4) return false;
  for (const char c : tenant)
    if (c < '0' || c > '9') return false;
  return true;
}

bool ValidGatewayId(std::string_view gateway) {
  if (gateway.empty()) return false;
  for (const char c : gateway) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> TopicToSubject(std::string_view topic) {
  if (topic.empty()) return Fail(Errc::kInvalidArgument, "empty topic");
  for (const char c : topic) {
    if (c == '.' || c == '*' || c == '>' || WhiteSpace(c))
      return Fail(Errc::kInvalidArgument, "topic has a character that is not a plain NATS token");
    if (c == '+' || c == '#') return Fail(Errc::kInvalidArgument, "topic has an MQTT wildcard");
  }
  std::string subject;
  subject.reserve(topic.size());
  for (const std::string_view level : Tokens(topic, '/')) {
    if (level.empty()) return Fail(Errc::kInvalidArgument, "topic has an empty level");
    if (!subject.empty()) subject += '.';
    subject += level;
  }
  return subject;
}

Result<std::string> SubjectToTopic(std::string_view subject) {
  if (subject.empty()) return Fail(Errc::kInvalidArgument, "empty subject");
  std::string topic;
  topic.reserve(subject.size());
  for (const std::string_view token : Tokens(subject, '.')) {
    if (token.empty()) return Fail(Errc::kInvalidArgument, "subject has an empty token");
    for (const char c : token) {
      if (c == '*' || c == '>' || c == '+' || c == '#' || c == '/' || WhiteSpace(c))
        return Fail(Errc::kInvalidArgument,
                    "subject has a wildcard or a character a topic level cannot carry");
    }
    if (!topic.empty()) topic += '/';
    topic += token;
  }
  return topic;
}

Result<GatewaySubject> ParseSubject(std::string_view subject) {
  if (!subject.starts_with(kPrefix)) return Fail(Errc::kParse, "not below ehealth.v1.");
  const std::string_view rest = subject.substr(kPrefix.size());
  const std::size_t tenant_end = rest.find('.');
  if (tenant_end == std::string_view::npos) return Fail(Errc::kParse, "no gateway in subject");
  const std::size_t gateway_end = rest.find('.', tenant_end + 1);
  if (gateway_end == std::string_view::npos) return Fail(Errc::kParse, "no kind in subject");
  GatewaySubject parts;
  parts.tenant = std::string(rest.substr(0, tenant_end));
  parts.gateway = std::string(rest.substr(tenant_end + 1, gateway_end - tenant_end - 1));
  if (!ValidTenant(parts.tenant)) return Fail(Errc::kParse, "tenant is not four digits");
  if (!ValidGatewayId(parts.gateway))
    return Fail(Errc::kParse, "gateway id has characters outside [A-Za-z0-9_-]");
  const std::string_view kind = rest.substr(gateway_end + 1);
  if (kind == "status") {
    parts.kind = SubjectKind::kStatus;
    return parts;
  }
  if (kind == "cmd") {
    parts.kind = SubjectKind::kCommand;
    return parts;
  }
  for (const EventSuffix& event : kEventSuffixes) {
    if (kind == event.suffix) {
      parts.kind = SubjectKind::kEvent;
      parts.event = event.kind;
      return parts;
    }
  }
  return Fail(Errc::kParse, "unknown kind of subject");
}

std::string SubjectOf(const GatewaySubject& parts) {
  std::string subject = std::string(kPrefix) + parts.tenant + "." + parts.gateway + ".";
  switch (parts.kind) {
    case SubjectKind::kStatus:
      return subject + "status";
    case SubjectKind::kCommand:
      return subject + "cmd";
    case SubjectKind::kEvent:
      break;
  }
  for (const EventSuffix& event : kEventSuffixes) {
    if (event.kind == parts.event) return subject + std::string(event.suffix);
  }
  return subject + "event.observation";
}

Result<std::string> CommandSubject(std::string_view tenant, std::string_view gateway) {
  if (!ValidTenant(tenant)) return Fail(Errc::kInvalidArgument, "tenant is not four digits");
  if (!ValidGatewayId(gateway))
    return Fail(Errc::kInvalidArgument, "gateway id has characters outside [A-Za-z0-9_-]");
  return SubjectOf(GatewaySubject{std::string(tenant), std::string(gateway), SubjectKind::kCommand, {}});
}

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  const std::vector<std::string_view> wanted = Tokens(pattern, '.');
  const std::vector<std::string_view> tokens = Tokens(subject, '.');
  // A subject with an empty token is no subject (NATS refuses to publish it).
  if (std::find(tokens.begin(), tokens.end(), std::string_view()) != tokens.end()) return false;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    if (wanted[i] == ">") return i + 1 == wanted.size() && tokens.size() > i;
    if (i >= tokens.size()) return false;
    if (wanted[i] != "*" && wanted[i] != tokens[i]) return false;
  }
  return wanted.size() == tokens.size();
}

}  // namespace ehg::engine
