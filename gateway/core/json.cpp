#include "gateway/core/json.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "gateway/core/utf8.hpp"

namespace ehg::core {
namespace {

constexpr int kMaxDepth = 64;

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") offset_ = 3;  // UTF-8 byte order mark
  }

  tl::expected<JsonValue, JsonSyntaxError> Document() {
    // RFC 8259 section 8.1: JSON text exchanged between systems is UTF-8. Checked once, up front, so
    // that no string, key or comment can carry other bytes into the gateway.
    if (const auto invalid = FirstInvalidUtf8(text_.substr(offset_))) {
      const std::size_t at = offset_ + *invalid;
      while (offset_ < at)
        Advance();
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X",
                    static_cast<unsigned>(static_cast<unsigned char>(text_[at])));
      Fail(std::string("invalid UTF-8 (byte ") + byte + "): the text must be UTF-8");
      return tl::unexpected(error_);
    }
    JsonValue value;
    if (!SkipSpace() || !Value(value, 0)) return tl::unexpected(error_);
    if (!SkipSpace()) return tl::unexpected(error_);
    if (offset_ != text_.size()) {
      Fail("unexpected text after the end of the document");
      return tl::unexpected(error_);
    }
    return value;
  }

 private:
  bool Fail(std::string message) {
    if (error_.message.empty()) error_ = {position_, std::move(message)};
    return false;
  }

  bool AtEnd() const { return offset_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[offset_]; }

  void Advance() {
    if (text_[offset_] == '\n') {
      ++position_.line;
      position_.column = 1;
    } else if ((static_cast<unsigned char>(text_[offset_]) & 0xC0) != 0x80) {
      ++position_.column;  // count characters, not UTF-8 continuation bytes
    }
    ++offset_;
  }

  bool SkipSpace() {
    while (!AtEnd()) {
      const char c = Peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        Advance();
      } else if (c == '/' && offset_ + 1 < text_.size() && text_[offset_ + 1] == '/') {
        while (!AtEnd() && Peek() != '\n')
          Advance();
      } else if (c == '/' && offset_ + 1 < text_.size() && text_[offset_ + 1] == '*') {
        const Position start = position_;
        Advance();
        Advance();
        while (!AtEnd() && !(Peek() == '*' && offset_ + 1 < text_.size() && text_[offset_ + 1] == '/'))
          Advance();
        if (AtEnd()) {
          position_ = start;
          return Fail("unterminated /* comment");
        }
        Advance();
        Advance();
      } else {
        break;
      }
    }
    return true;
  }

  bool Value(JsonValue& value, int depth) {
    value.position = position_;
    value.begin = offset_;
    const bool read = ValueAt(value, depth);
    value.end = offset_;
    return read;
  }

  bool ValueAt(JsonValue& value, int depth) {
    if (AtEnd()) return Fail("unexpected end of input, expected a value");
    switch (Peek()) {
      case '{':
        return Object(value, depth);
      case '[':
        return Array(value, depth);
      case '"':
        value.type = JsonValue::Type::kString;
        return String(value.text);
      case 't':
        return Literal(value, "true", JsonValue::Type::kBool, true);
      case 'f':
        return Literal(value, "false", JsonValue::Type::kBool, false);
      case 'n':
        return Literal(value, "null", JsonValue::Type::kNull, false);
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) return Number(value);
        return Fail(std::string("unexpected character '") + Peek() + "', expected a value");
    }
  }

  bool Literal(JsonValue& value, std::string_view word, JsonValue::Type type, bool boolean) {
    if (text_.substr(offset_, word.size()) != word)
      return Fail("invalid literal, expected " + std::string(word));
    for (std::size_t i = 0; i < word.size(); ++i)
      Advance();
    value.type = type;
    value.boolean = boolean;
    return true;
  }

  bool Number(JsonValue& value) {
    const std::size_t start = offset_;
    bool integral = true;
    if (Peek() == '-') Advance();
    if (Peek() == '0') {
      Advance();
      if (Peek() >= '0' && Peek() <= '9') return Fail("leading zeros are not allowed in numbers");
    } else if (Peek() >= '1' && Peek() <= '9') {
      while (Peek() >= '0' && Peek() <= '9')
        Advance();
    } else {
      return Fail("invalid number");
    }
    if (Peek() == '.') {
      integral = false;
      Advance();
      if (!(Peek() >= '0' && Peek() <= '9')) return Fail("expected a digit after the decimal point");
      while (Peek() >= '0' && Peek() <= '9')
        Advance();
    }
    if (Peek() == 'e' || Peek() == 'E') {
      integral = false;
      Advance();
      if (Peek() == '+' || Peek() == '-') Advance();
      if (!(Peek() >= '0' && Peek() <= '9')) return Fail("expected a digit in the exponent");
      while (Peek() >= '0' && Peek() <= '9')
        Advance();
    }
    value.type = JsonValue::Type::kNumber;
    value.integral = integral;
    value.text = std::string(text_.substr(start, offset_ - start));
    const auto [end, error] =
        std::from_chars(value.text.data(), value.text.data() + value.text.size(), value.number);
    if (error != std::errc() || end != value.text.data() + value.text.size() ||
        !std::isfinite(value.number)) {
      position_ = value.position;
      return Fail("number out of range: " + value.text);
    }
    return true;
  }

  bool Hex4(std::uint32_t& code) {
    code = 0;
    for (int i = 0; i < 4; ++i) {
      if (AtEnd()) return Fail("unterminated \\u escape");
      const char c = Peek();
      std::uint32_t digit = 0;
      if (c >= '0' && c <= '9') {
        digit = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return Fail("invalid hex digit in \\u escape");
      }
      code = code * 16 + digit;
      Advance();
    }
    return true;
  }

  static void AppendUtf8(std::string& out, std::uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  bool String(std::string& out) {
    const Position start = position_;
    Advance();  // opening quote
    while (true) {
      if (AtEnd()) {
        position_ = start;
        return Fail("unterminated string");
      }
      const char c = Peek();
      if (c == '"') {
        Advance();
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return Fail("control character in string (escape it)");
      if (c != '\\') {
        // The run of plain characters up to the next quote, escape or control character, appended at
        // once (a byte at a time was the largest part of reading a Bundle on the hub). It holds no line
        // break, so only the column moves, by one for each byte that does not continue a UTF-8 character,
        // as Advance counts.
        std::size_t end = offset_;
        while (end < text_.size() && text_[end] != '"' && text_[end] != '\\' &&
               static_cast<unsigned char>(text_[end]) >= 0x20)
          ++end;
        for (std::size_t i = offset_; i < end; ++i)
          if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++position_.column;
        out.append(text_, offset_, end - offset_);
        offset_ = end;
        continue;
      }
      Advance();
      if (AtEnd()) return Fail("unterminated escape");
      const char escape = Peek();
      Advance();
      switch (escape) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t code = 0;
          if (!Hex4(code)) return false;
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (text_.substr(offset_, 2) != "\\u") return Fail("unpaired UTF-16 surrogate in \\u escape");
            Advance();
            Advance();
            std::uint32_t low = 0;
            if (!Hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return Fail("invalid UTF-16 surrogate pair in \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return Fail("unpaired UTF-16 surrogate in \\u escape");
          }
          AppendUtf8(out, code);
          break;
        }
        default:
          return Fail(std::string("invalid escape '\\") + escape + "'");
      }
    }
  }

  bool Array(JsonValue& value, int depth) {
    if (depth >= kMaxDepth) return Fail("nesting deeper than 64 levels");
    value.type = JsonValue::Type::kArray;
    Advance();
    if (!SkipSpace()) return false;
    if (Peek() == ']') {
      Advance();
      return true;
    }
    while (true) {
      JsonValue item;
      if (!SkipSpace() || !Value(item, depth + 1) || !SkipSpace()) return false;
      value.items.push_back(std::move(item));
      if (Peek() == ',') {
        Advance();
        if (!SkipSpace()) return false;
        if (Peek() == ']') return Fail("trailing comma before ']'");
        continue;
      }
      if (Peek() == ']') {
        Advance();
        return true;
      }
      return AtEnd() ? Fail("unexpected end of input, expected ',' or ']'")
                     : Fail("expected ',' or ']' after array item");
    }
  }

  bool Object(JsonValue& value, int depth) {
    if (depth >= kMaxDepth) return Fail("nesting deeper than 64 levels");
    value.type = JsonValue::Type::kObject;
    Advance();
    if (!SkipSpace()) return false;
    if (Peek() == '}') {
      Advance();
      return true;
    }
    while (true) {
      if (!SkipSpace()) return false;
      if (Peek() != '"') {
        if (AtEnd()) return Fail("unexpected end of input, expected a member name");
        return Fail("expected a member name in double quotes");
      }
      JsonMember member;
      member.key_position = position_;
      if (!String(member.key)) return false;
      if (value.Find(member.key) != nullptr) {
        position_ = member.key_position;
        return Fail("duplicate key \"" + member.key + "\"");
      }
      if (!SkipSpace()) return false;
      if (Peek() != ':') return Fail("expected ':' after member name");
      Advance();
      if (!SkipSpace() || !Value(member.value, depth + 1) || !SkipSpace()) return false;
      value.members.push_back(std::move(member));
      if (Peek() == ',') {
        Advance();
        if (!SkipSpace()) return false;
        if (Peek() == '}') return Fail("trailing comma before '}'");
        continue;
      }
      if (Peek() == '}') {
        Advance();
        return true;
      }
      return AtEnd() ? Fail("unexpected end of input, expected ',' or '}'")
                     : Fail("expected ',' or '}' after member value");
    }
  }

  std::string_view text_;
  std::size_t offset_ = 0;
  Position position_;
  JsonSyntaxError error_;
};

}  // namespace

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const JsonMember& member : members) {
    if (member.key == key) return &member.value;
  }
  return nullptr;
}

tl::expected<JsonValue, JsonSyntaxError> ParseJson(std::string_view text) {
  return Reader(text).Document();
}

std::string Describe(const JsonValue& value) {
  switch (value.type) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return value.boolean ? "true" : "false";
    case JsonValue::Type::kNumber:
      return value.text;
    case JsonValue::Type::kString: {
      std::string shown = value.text;
      if (shown.size() > 40) {
        std::size_t cut = 37;  // not inside a UTF-8 sequence
        while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80)
          --cut;
        shown = shown.substr(0, cut) + "...";
      }
      return "\"" + shown + "\"";
    }
    case JsonValue::Type::kArray:
      return "an array";
    case JsonValue::Type::kObject:
      return "an object";
  }
  return "a value";
}

std::string WriteJson(const JsonValue& value) {
  switch (value.type) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return value.boolean ? "true" : "false";
    case JsonValue::Type::kNumber:
      return value.text.empty() ? JsonNumber(value.number) : value.text;
    case JsonValue::Type::kString:
      return JsonQuote(value.text);
    case JsonValue::Type::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.items.size(); ++i)
        out += (i ? "," : "") + WriteJson(value.items[i]);
      return out + "]";
    }
    case JsonValue::Type::kObject: {
      std::string out = "{";
      for (std::size_t i = 0; i < value.members.size(); ++i)
        out += (i ? "," : "") + JsonQuote(value.members[i].key) + ":" + WriteJson(value.members[i].value);
      return out + "}";
    }
  }
  return "null";
}

std::string JsonQuote(std::string_view raw) {
  // Whatever reaches the writer, its output is valid UTF-8 (invalid bytes become U+FFFD).
  const std::string valid = ValidUtf8(raw);
  const std::string_view text = valid;
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  // The shortest text that reads back to the same double. Plain to_chars picks the shorter of fixed and
  // exponent notation, which turns 100000 into 1e+05 and 0.0001 into 1e-04; values a person would
  // write without an exponent (a reading, a limit, a count) keep fixed notation, here at most 24 chars.
  const double magnitude = std::fabs(value);
  const bool everyday = value == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  std::array<char, 40> buffer{};
  const auto written =
      everyday ? std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed)
               : std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), written.ptr);
}

}  // namespace ehg::core
