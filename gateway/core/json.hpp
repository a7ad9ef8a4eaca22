#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

// A strict JSON reader for configuration files, commands and the gateway's own stored state. Our own rather
// than Poco::JSON's (the gateway links no Poco) because a config reader needs what Poco's parser does not
// give: the line and column of every syntax error and of every value (so validation errors can point into
// the file), and duplicate keys reported instead of the last one silently winning (a duplicated threshold
// is a safety bug). Comments (// and /* */) are allowed.
namespace ehg::core {

struct Position {
  int line = 1;
  int column = 1;
};

struct JsonMember;

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  bool integral = false;  // a number written without fraction or exponent
  std::string text;       // string value, or a number as written
  std::vector<JsonValue> items;
  std::vector<JsonMember> members;  // in file order
  Position position;
  // Where the value stands in the text it was read from, as byte offsets [begin, end): a change to one
  // value can be spliced into the text, keeping the rest of a file (its comments too) as it was.
  std::size_t begin = 0;
  std::size_t end = 0;

  const JsonValue* Find(std::string_view key) const;
};

struct JsonMember {
  std::string key;
  Position key_position;
  JsonValue value;
};

struct JsonSyntaxError {
  Position position;
  std::string message;
};

// Parses one JSON document; nesting deeper than 64 levels is refused, and so is any byte that is not
// part of valid UTF-8 (with its line and column), wherever it stands.
tl::expected<JsonValue, JsonSyntaxError> ParseJson(std::string_view text);

// Writing: a JSON string literal (quotes included, control characters escaped, valid UTF-8 passed through,
// any other byte replaced by U+FFFD) and
// a number in its shortest form that reads back to the same double (no exponent for everyday values).
std::string JsonQuote(std::string_view text);
std::string JsonNumber(double value);
// A value as compact JSON text: strings through JsonQuote, numbers as they were written (or JsonNumber
// for a value that was not read from text), members in their order.
std::string WriteJson(const JsonValue& value);

// A short description of a value for error messages: 42, "abc", true, null, an array, an object.
std::string Describe(const JsonValue& value);

}  // namespace ehg::core
