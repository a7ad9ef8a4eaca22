#include "gateway/replay/reading_line.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "gateway/core/bounded_file.hpp"
#include "gateway/core/json.hpp"
#include "gateway/core/vital_signs.hpp"
#include "gateway/core/utf8.hpp"

namespace ehg::replay {
namespace {

using core::JsonValue;

tl::unexpected<std::string> Refuse(std::string reason) {
  return tl::unexpected(std::move(reason));
}

// One UTF-8 sequence: its length in bytes and its code point; length 0 when the bytes are not UTF-8.
struct CodePoint {
  std::size_t length = 0;
  std::uint32_t code = 0;
};

CodePoint DecodeAt(std::string_view text, std::size_t at) {
  const std::size_t length = core::ValidUtf8SequenceAt(text, at);
  if (length == 0) return {};
  return {length, core::CodePointAt(text, at, length)};
}

// 1..max_characters characters, none of them a control character.
bool PrintableName(std::string_view text, std::size_t max_characters) {
  std::size_t characters = 0;
  for (std::size_t at = 0; at < text.size();) {
    const CodePoint point = DecodeAt(text, at);
    if (point.length == 0 || core::ActsOnTerminal(point.code)) return false;
    at += point.length;
    ++characters;
  }
  return characters >= 1 && characters <= max_characters;
}

std::string Quoted(std::string_view text) {
  return "\"" + EscapeForTerminal(text, 64) + "\"";
}

const JsonValue* StringField(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.Find(key);
  return value != nullptr && value->type == JsonValue::Type::kString ? value : nullptr;
}

tl::expected<core::WallTime, std::string> TimeField(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.Find(key);
  if (value == nullptr || value->type != JsonValue::Type::kString) {
    return Refuse("\"" + std::string(key) + "\" must be an ISO 8601 time such as \"2026-03-02T07:15:00Z\"");
  }
  auto parsed = core::ParseIso8601Explained(value->text);
  if (!parsed) return Refuse("\"" + std::string(key) + "\": " + parsed.error().message);
  return *parsed;
}

tl::expected<void, std::string> OnlyKeys(const JsonValue& object,
                                         std::initializer_list<std::string_view> keys,
                                         std::string_view what) {
  for (const core::JsonMember& member : object.members) {
    if (std::find(keys.begin(), keys.end(), member.key) != keys.end()) continue;
    std::string known;
    for (const std::string_view key : keys)
      known += (known.empty() ? "" : ", ") + std::string(key);
    return Refuse("unknown key " + Quoted(member.key) + " in " + std::string(what) + " (keys: " + known +
                  ")");
  }
  return {};
}

tl::expected<ReplayLine, std::string> ParseReading(const JsonValue& document) {
  if (auto keys = OnlyKeys(
          document,
          {"time", "device_time", "device", "metric", "value", "unit", "flags", "time_uncertain", "sequence"},
          "a reading");
      !keys) {
    return tl::unexpected(std::move(keys.error()));
  }
  core::Reading reading;
  auto time = TimeField(document, "time");
  if (!time) return tl::unexpected(std::move(time.error()));
  // "time" is when the gateway received the reading; "device_time" what the device's clock said.
  reading.received_at = *time;
  reading.device_time = *time;
  if (document.Find("device_time") != nullptr) {
    auto device_time = TimeField(document, "device_time");
    if (!device_time) return tl::unexpected(std::move(device_time.error()));
    reading.device_time = *device_time;
  }
  const JsonValue* device = StringField(document, "device");
  if (device == nullptr || device->text.empty() || device->text.size() > kMaxIdCharacters) {
    return Refuse("\"device\" must be a device id of 1-64 characters");
  }
  reading.device_id = device->text;
  const JsonValue* metric = StringField(document, "metric");
  if (metric == nullptr) return Refuse("\"metric\" must be a metric name");
  const core::MetricInfo* info = core::FindMetric(metric->text);
  if (info == nullptr)
    return Refuse("unknown metric " + Quoted(metric->text) + " (docs/events.md lists them)");
  reading.metric = metric->text;
  const JsonValue* value = document.Find("value");
  if (value == nullptr || value->type != JsonValue::Type::kNumber || !std::isfinite(value->number)) {
    return Refuse("\"value\" must be a number");
  }
  reading.value = value->number;
  const JsonValue* unit = StringField(document, "unit");
  if (unit == nullptr) return Refuse("\"unit\" must be the metric's UCUM unit");
  if (unit->text != info->unit) {
    return Refuse("\"unit\" of " + std::string(info->name) + " must be " + Quoted(info->unit) + ", got " +
                  Quoted(unit->text));
  }
  reading.unit = unit->text;
  if (const JsonValue* flags = document.Find("flags")) {
    if (flags->type != JsonValue::Type::kArray) return Refuse("\"flags\" must be an array of flag names");
    for (const JsonValue& flag : flags->items) {
      const auto known =
          flag.type == JsonValue::Type::kString ? core::QualityFlags::FromName(flag.text) : std::nullopt;
      if (!known) return Refuse("unknown quality flag in \"flags\"");
      reading.flags.Set(*known);
    }
  }
  if (const JsonValue* uncertain = document.Find("time_uncertain")) {
    if (uncertain->type != JsonValue::Type::kBool) return Refuse("\"time_uncertain\" must be true or false");
    reading.time_uncertain = uncertain->boolean;
  }
  if (const JsonValue* sequence = document.Find("sequence")) {
    if (sequence->type != JsonValue::Type::kNumber || !sequence->integral || sequence->number < 0 ||
        sequence->number > 4294967295.0) {
      return Refuse("\"sequence\" must be a whole number from 0 to 4294967295");
    }
    reading.sequence = static_cast<std::uint32_t>(sequence->number);
  }
  if (auto valid = core::ValidateReading(reading); !valid) return Refuse(valid.error().message);
  return reading;
}

tl::expected<ReplayLine, std::string> ParseAction(const JsonValue& document) {
  if (auto keys =
          OnlyKeys(document, {"time", "action", "alert", "rule", "device", "by", "note"}, "an action");
      !keys) {
    return tl::unexpected(std::move(keys.error()));
  }
  ReplayAction action;
  auto time = TimeField(document, "time");
  if (!time) return tl::unexpected(std::move(time.error()));
  action.time = *time;
  const JsonValue* kind = StringField(document, "action");
  if (kind != nullptr && kind->text == "acknowledge") {
    action.kind = ActionKind::kAcknowledge;
  } else if (kind != nullptr && kind->text == "resolve") {
    action.kind = ActionKind::kResolve;
  } else {
    return Refuse("\"action\" must be \"acknowledge\" or \"resolve\"");
  }
  const JsonValue* alert = document.Find("alert");
  const JsonValue* rule = document.Find("rule");
  const JsonValue* device = document.Find("device");
  if ((alert == nullptr) == (rule == nullptr)) {
    return Refuse(
        "an action names its alert by \"alert\" (an alert id such as \"A0003\") or by \"rule\", "
        "one of the two");
  }
  if (alert != nullptr) {
    if (alert->type != JsonValue::Type::kString || !PrintableName(alert->text, kMaxIdCharacters))
      return Refuse("\"alert\" must be an alert id of 1-64 printable characters");
    if (device != nullptr) return Refuse("\"device\" goes with \"rule\", not with \"alert\"");
    action.alert = AlertById{alert->text};
  } else {
    if (rule->type != JsonValue::Type::kString || !PrintableName(rule->text, kMaxIdCharacters))
      return Refuse("\"rule\" must be a rule id of 1-64 printable characters");
    AlertByRule by_rule{rule->text, {}};
    if (device != nullptr) {
      if (device->type != JsonValue::Type::kString || !PrintableName(device->text, kMaxIdCharacters))
        return Refuse("\"device\" must be a device id of 1-64 printable characters");
      by_rule.device_id = device->text;
    }
    action.alert = std::move(by_rule);
  }
  const JsonValue* by = document.Find("by");
  if (by == nullptr || by->type != JsonValue::Type::kString || !PrintableName(by->text, kMaxIdCharacters))
    return Refuse("\"by\" must name the care worker in 1-64 printable characters");
  action.by = by->text;
  if (const JsonValue* note = document.Find("note")) {
    if (action.kind != ActionKind::kResolve) return Refuse("\"note\" goes with \"resolve\" only");
    if (note->type != JsonValue::Type::kString || note->text.size() > kMaxNoteBytes || !IsUtf8(note->text))
      return Refuse("\"note\" must be text of at most 500 bytes (UTF-8)");
    action.note = note->text;
  }
  return action;
}

tl::expected<ReplayLine, std::string> Parse(std::string_view line) {
  if (line.size() > kMaxLineBytes)
    return Refuse("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
  for (std::size_t at = 0; at < line.size();) {
    const CodePoint point = DecodeAt(line, at);
    if (point.length == 0) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(line[at])));
      return Refuse("not UTF-8 text (byte " + std::string(byte) + " at column " + std::to_string(at + 1) +
                    "): a replay file must be UTF-8");
    }
    at += point.length;
  }
  auto document = core::ParseJson(line);
  if (!document) {
    return Refuse("not JSON: " + document.error().message + " at column " +
                  std::to_string(document.error().position.column));
  }
  if (document->type != JsonValue::Type::kObject) return Refuse("a reading or an action is a JSON object");
  return document->Find("action") != nullptr ? ParseAction(*document) : ParseReading(*document);
}

}  // namespace

std::string_view ToString(ActionKind kind) {
  switch (kind) {
    case ActionKind::kAcknowledge:
      return "acknowledge";
    case ActionKind::kResolve:
      return "resolve";
  }
  return "acknowledge";
}

bool IsUtf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const CodePoint point = DecodeAt(text, at);
    if (point.length == 0) return false;
    at += point.length;
  }
  return true;
}

std::string EscapeForTerminal(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (std::size_t at = 0; at < text.size();) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    const CodePoint point = DecodeAt(text, at);
    char escaped[12];
    if (point.length == 0) {
      std::snprintf(escaped, sizeof escaped, "\\x%02x",
                    static_cast<unsigned>(static_cast<unsigned char>(text[at])));
      out += escaped;
      ++at;
      continue;
    }
    if (core::ActsOnTerminal(point.code)) {
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(point.code));
      out += escaped;
    } else {
      out.append(text.substr(at, point.length));
    }
    at += point.length;
  }
  return out;
}

tl::expected<ReplayLine, std::string> ParseReplayLine(std::string_view line) {
  auto parsed = Parse(line);
  // Every reason passes here, whatever part of it came from the line (the JSON reader's messages quote
  // a character of it): nothing raw reaches a terminal.
  if (!parsed) return Refuse(EscapeForTerminal(parsed.error(), kMaxLineBytes));
  return parsed;
}

tl::expected<core::Reading, std::string> ParseReadingLine(std::string_view line) {
  auto parsed = ParseReplayLine(line);
  if (!parsed) return tl::unexpected(std::move(parsed.error()));
  return std::visit(
      [](auto&& value) -> tl::expected<core::Reading, std::string> {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, core::Reading>) {
          return std::move(value);
        } else {
          static_assert(std::is_same_v<T, ReplayAction>);
          return Refuse("an action line, not a reading");
        }
      },
      std::move(*parsed));
}

Result<ReadingsFile> ReadingsFile::Open(const std::filesystem::path& path) {
  auto file = core::OpenCheckedFile(path, core::kReadingsFile);
  if (!file) return tl::unexpected(file.error());
  return ReadingsFile(file->Release());
}

ReadingsFile::ReadingsFile(int descriptor) : descriptor_(descriptor), buffer_(64 * 1024) {}

ReadingsFile::ReadingsFile(ReadingsFile&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, -1)),
      buffer_(std::move(other.buffer_)),
      begin_(other.begin_),
      end_(other.end_),
      at_end_(other.at_end_),
      line_number_(other.line_number_) {}

ReadingsFile& ReadingsFile::operator=(ReadingsFile&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) ::close(descriptor_);
    descriptor_ = std::exchange(other.descriptor_, -1);
    buffer_ = std::move(other.buffer_);
    begin_ = other.begin_;
    end_ = other.end_;
    at_end_ = other.at_end_;
    line_number_ = other.line_number_;
  }
  return *this;
}

ReadingsFile::~ReadingsFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

Result<ReadingsFile::Next> ReadingsFile::ReadLine(std::string& line) {
  line.clear();
  bool any = false;  // bytes of this line were seen (a last line may lack its '\n')
  bool too_long = false;
  while (true) {
    if (begin_ == end_) {
      if (at_end_) break;
      const ssize_t count = ::read(descriptor_, buffer_.data(), buffer_.size());
      if (count < 0) {
        if (errno == EINTR) continue;
        at_end_ = true;
        return Fail(Errc::kIo, std::string("read error: ") + std::strerror(errno));
      }
      if (count == 0) {
        at_end_ = true;
        break;
      }
      begin_ = 0;
      end_ = static_cast<std::size_t>(count);
    }
    any = true;
    const char* start = buffer_.data() + begin_;
    const std::size_t available = end_ - begin_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', available));
    const std::size_t length = newline != nullptr ? static_cast<std::size_t>(newline - start) : available;
    // A line over the limit is dropped as it is read, so a file without newlines never fills memory.
    if (!too_long && line.size() + length > kMaxLineBytes) {
      too_long = true;
      line.clear();
    }
    if (!too_long) line.append(start, length);
    begin_ += length;
    if (newline != nullptr) {
      ++begin_;
      break;
    }
  }
  if (!any) return Next::kEnd;
  ++line_number_;
  return too_long ? Next::kTooLong : Next::kLine;
}

}  // namespace ehg::replay
