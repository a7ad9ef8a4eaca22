#include "gateway/wire/commands.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <sstream>

#include "gateway/core/json.hpp"
#include "gateway/core/json_writer.hpp"

namespace ehg::wire {
namespace {

using core::JsonValue;

tl::unexpected<CommandError> Refuse(const std::string& id, const std::string& type, std::string reason) {
  return tl::unexpected(CommandError{id, type, std::move(reason)});
}

bool PrintableIdentifier(const std::string& text) {
  return !text.empty() && text.size() <= 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Debian policy 5.6.12: digits first, then alphanumerics and . + ~ - : (no spaces, no shell characters).
bool DebianVersion(const std::string& text) {
  if (text.empty() || text.size() > 64 || !std::isdigit(static_cast<unsigned char>(text.front())))
    return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '~' || c == '-' ||
           c == ':';
  });
}

// The keys a command of this type may carry besides id and type.
std::optional<std::string> UnknownKey(const JsonValue& object,
                                      std::initializer_list<std::string_view> allowed) {
  for (const core::JsonMember& member : object.members) {
    if (member.key == "id" || member.key == "type") continue;
    if (std::find(allowed.begin(), allowed.end(), member.key) == allowed.end()) return member.key;
  }
  return std::nullopt;
}

}  // namespace

tl::expected<Command, CommandError> ParseCommand(std::string_view payload) {
  if (payload.size() > kMaxCommandBytes) {
    return Refuse("", "", "command larger than " + std::to_string(kMaxCommandBytes) + " bytes");
  }
  auto document = core::ParseJson(payload);
  if (!document) {
    return Refuse("", "",
                  "not JSON: " + document.error().message + " at line " +
                      std::to_string(document.error().position.line) + " column " +
                      std::to_string(document.error().position.column));
  }
  return ParseCommand(*document);
}

tl::expected<Command, CommandError> ParseCommand(const core::JsonValue& object) {
  const JsonValue* document = &object;
  if (document->type != JsonValue::Type::kObject) return Refuse("", "", "a command is a JSON object");
  const JsonValue* id = document->Find("id");
  if (id == nullptr || id->type != JsonValue::Type::kString || !PrintableIdentifier(id->text)) {
    return Refuse("", "", "\"id\" must be a string of 1-64 printable characters");
  }
  const JsonValue* type = document->Find("type");
  if (type == nullptr || type->type != JsonValue::Type::kString) {
    return Refuse(id->text, "", "\"type\" must be a string");
  }
  Command command{id->text, type->text, {}};
  // Set by the branch of its type only: a type no branch takes is refused, never answered as another kind.
  std::optional<CommandBody> body;
  // Echo only a type we know: the result must not carry arbitrary text back out.
  const auto refuse = [&](std::string reason) { return Refuse(command.id, command.type, std::move(reason)); };

  if (command.type == "event.receipt") {
    if (auto key = UnknownKey(*document, {"event_ids"})) return refuse("unknown key \"" + *key + "\"");
    const JsonValue* ids = document->Find("event_ids");
    const std::string expected =
        "\"event_ids\" must be a list of 1-" + std::to_string(kMaxReceiptEventIds) + " event ids (UUIDs)";
    if (ids == nullptr || ids->type != JsonValue::Type::kArray || ids->items.empty() ||
        ids->items.size() > kMaxReceiptEventIds) {
      return refuse(expected);
    }
    EventReceipt receipt;
    receipt.event_ids.reserve(ids->items.size());
    for (const JsonValue& item : ids->items) {
      if (item.type != JsonValue::Type::kString) return refuse(expected);
      auto parsed = core::EventId::Parse(item.text);
      if (!parsed) return refuse(expected);
      receipt.event_ids.push_back(*parsed);
    }
    body = std::move(receipt);
  } else if (command.type == "alert.receipt") {
    if (auto key = UnknownKey(*document, {"event_id"})) return refuse("unknown key \"" + *key + "\"");
    const JsonValue* event_id = document->Find("event_id");
    if (event_id == nullptr || event_id->type != JsonValue::Type::kString) {
      return refuse("\"event_id\" must be the alert's event id");
    }
    auto parsed = core::EventId::Parse(event_id->text);
    if (!parsed) return refuse("\"event_id\" is not a UUID");
    body = EventReceipt{{*parsed}};
  } else if (command.type == "alert.ack" || command.type == "alert.resolve") {
    const bool resolve = command.type == "alert.resolve";
    if (auto key = resolve ? UnknownKey(*document, {"alert_id", "by", "note"})
                           : UnknownKey(*document, {"alert_id", "by"})) {
      return refuse("unknown key \"" + *key + "\"");
    }
    const JsonValue* alert_id = document->Find("alert_id");
    if (alert_id == nullptr || alert_id->type != JsonValue::Type::kString ||
        !PrintableIdentifier(alert_id->text)) {
      return refuse("\"alert_id\" must be the alert's id");
    }
    const JsonValue* by = document->Find("by");
    if (by == nullptr || by->type != JsonValue::Type::kString || !PrintableIdentifier(by->text)) {
      return refuse("\"by\" must name the care worker (1-64 printable characters)");
    }
    if (!resolve) {
      body = AlertAck{alert_id->text, by->text};
    } else {
      std::string note;
      if (const JsonValue* value = document->Find("note")) {
        if (value->type != JsonValue::Type::kString || value->text.size() > kMaxNoteBytes) {
          return refuse("\"note\" must be a string of at most " + std::to_string(kMaxNoteBytes) + " bytes");
        }
        note = value->text;
      }
      body = AlertResolve{alert_id->text, by->text, std::move(note)};
    }
  } else if (command.type == "heartbeat.set") {
    if (auto key = UnknownKey(*document, {"interval_seconds"})) return refuse("unknown key \"" + *key + "\"");
    const JsonValue* seconds = document->Find("interval_seconds");
    if (seconds == nullptr || seconds->type != JsonValue::Type::kNumber || !seconds->integral ||
        seconds->number < static_cast<double>(kMinHeartbeat.count()) ||
        seconds->number > static_cast<double>(kMaxHeartbeat.count())) {
      return refuse("\"interval_seconds\" must be a whole number from " +
                    std::to_string(kMinHeartbeat.count()) + " to " + std::to_string(kMaxHeartbeat.count()));
    }
    body = HeartbeatSet{std::chrono::seconds(static_cast<std::int64_t>(seconds->number))};
  } else if (command.type == "config.apply") {
    if (auto key = UnknownKey(*document, {"config"})) return refuse("unknown key \"" + *key + "\"");
    const JsonValue* text = document->Find("config");
    if (text == nullptr || text->type != JsonValue::Type::kString || text->text.empty()) {
      return refuse("\"config\" must be the complete configuration file as a string");
    }
    body = ConfigApply{text->text};
  } else if (command.type == "rules.apply") {
    if (auto key = UnknownKey(*document, {"rules"})) return refuse("unknown key \"" + *key + "\"");
    const JsonValue* rules = document->Find("rules");
    if (rules == nullptr || rules->type != JsonValue::Type::kArray) {
      return refuse("\"rules\" must be the list of rules, as in the config file");
    }
    body = RulesApply{core::WriteJson(*rules)};
  } else if (command.type == "update.request") {
    if (auto key = UnknownKey(*document, {"version"})) return refuse("unknown key \"" + *key + "\"");
    const JsonValue* version = document->Find("version");
    if (version == nullptr || version->type != JsonValue::Type::kString || !DebianVersion(version->text)) {
      return refuse("\"version\" must be a Debian package version such as \"0.2.0-1\"");
    }
    body = UpdateRequest{version->text};
  } else if (command.type == "ping" || command.type == "status") {
    if (auto key = UnknownKey(*document, {})) return refuse("unknown key \"" + *key + "\"");
    if (command.type == "status") {
      body = StatusRequest{};
    } else {
      body = Ping{};
    }
  }
  if (!body) {
    command.type.clear();
    return refuse("unsupported command type");
  }
  command.body = std::move(*body);
  return command;
}

std::string EventReceiptCommand(std::string_view command_id, const std::vector<std::string>& event_ids) {
  core::JsonWriter json;
  json.BeginObject().Key("id").String(command_id).Key("type").String("event.receipt");
  json.Key("event_ids").BeginArray();
  for (const std::string& event_id : event_ids)
    json.String(event_id);
  return std::move(json.EndArray().EndObject()).Take();
}

std::string AlertActionCommand(std::string_view type, std::string_view command_id, std::string_view alert_id,
                               std::string_view by, std::string_view note) {
  core::JsonWriter json;
  json.BeginObject().Key("id").String(command_id).Key("type").String(type);
  json.Key("alert_id").String(alert_id).Key("by").String(by);
  if (type == "alert.resolve" && !note.empty()) json.Key("note").String(note);
  return std::move(json.EndObject()).Take();
}

std::string UpdateRequestCommand(std::string_view command_id, std::string_view version) {
  core::JsonWriter json;
  json.BeginObject().Key("id").String(command_id).Key("type").String("update.request");
  json.Key("version").String(version);
  return std::move(json.EndObject()).Take();
}

std::string RulesApplyCommand(std::string_view command_id, std::string_view rules) {
  core::JsonWriter json;
  json.BeginObject().Key("id").String(command_id).Key("type").String("rules.apply");
  json.Key("rules").Raw(rules);  // the rules go in as the JSON they are
  return std::move(json.EndObject()).Take();
}

std::string CommandResultBody(const core::EventId& event_id, std::string_view gateway_id, core::WallTime time,
                              std::string_view command_id, std::string_view type, bool ok,
                              std::string_view detail) {
  core::JsonWriter json;
  json.BeginObject();
  json.Key("schema").String("ehealth-gateway/command-result/v0");
  json.Key("event_id").String(event_id.ToString());
  json.Key("gateway").String(gateway_id);
  json.Key("time").String(core::FormatIso8601(time));
  json.Key("command_id").StringOrNull(command_id);
  json.Key("type").StringOrNull(type);
  json.Key("status").String(ok ? "ok" : "rejected");
  json.Key("detail").String(detail);
  return std::move(json.EndObject()).Take();
}

}  // namespace ehg::wire
