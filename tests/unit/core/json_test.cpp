#include "gateway/core/json.hpp"

#include <doctest/doctest.h>

#include <string>

using ehg::core::JsonValue;
using ehg::core::ParseJson;

namespace {
std::string ErrorOf(std::string_view text) {
  const auto parsed = ParseJson(text);
  if (parsed) return "no error";
  return std::to_string(parsed.error().position.line) + ":" + std::to_string(parsed.error().position.column) +
         " " + parsed.error().message;
}
}  // namespace

TEST_CASE("Values, comments and positions") {
  const auto parsed = ParseJson(
      "// leading comment\n"
      "{ \"a\": [1, -2.5e3, true, false, null], /* inline */\n"
      "  \"b\": {\"c\": \"x\\u00e6\\ud83d\\ude00\\n\"} }\n");
  REQUIRE(parsed.has_value());
  const JsonValue& root = *parsed;
  CHECK(root.type == JsonValue::Type::kObject);
  CHECK(root.position.line == 2);
  CHECK(root.position.column == 1);
  const JsonValue* a = root.Find("a");
  REQUIRE(a != nullptr);
  REQUIRE(a->items.size() == 5);
  CHECK(a->items[0].integral);
  CHECK(a->items[0].number == 1);
  CHECK_FALSE(a->items[1].integral);
  CHECK(a->items[1].number == -2500);
  CHECK(a->items[2].boolean);
  CHECK(a->items[4].type == JsonValue::Type::kNull);
  const JsonValue* c = root.Find("b")->Find("c");
  REQUIRE(c != nullptr);
  CHECK(c->text == "x\xC3\xA6\xF0\x9F\x98\x80\n");
  CHECK(c->position.line == 3);
  CHECK(c->position.column == 14);
  CHECK(root.members[0].key == "a");  // file order kept
}

TEST_CASE("Columns count characters, not UTF-8 bytes") {
  CHECK(ErrorOf("{\"æøå\": x}") == "1:9 unexpected character 'x', expected a value");
}

TEST_CASE("Strings read in runs between escapes keep their text and the columns after them") {
  // Runs of plain characters are appended at once; escapes, multi-byte characters and what follows the
  // string must come out as if read a character at a time.
  const auto parsed = ParseJson("{\"a\\\"bæ\\u00f8c\": \"x\\\\y\\nz\"}");
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->members.size() == 1);
  CHECK(parsed->members[0].key ==
        "a\"b\xC3\xA6\xC3\xB8"
        "c");
  CHECK(parsed->members[0].value.text == "x\\y\nz");
  CHECK(parsed->members[0].value.position.column == 18);
  CHECK(ErrorOf("{\"a\\\"bæ\": x}") == "1:11 unexpected character 'x', expected a value");
  CHECK(ErrorOf("[\"abæ\x01\"]") == "1:6 control character in string (escape it)");
  CHECK(ErrorOf("[1,\n \"abæ") == "2:2 unterminated string");
}

// Kept outside the test body: the texts hold unbalanced braces.
struct SyntaxCase {
  const char* name;
  const char* text;
  const char* error;
};

const SyntaxCase kSyntaxCases[] = {
    {"empty document", "", "1:1 unexpected end of input, expected a value"},
    {"only a comment", "// nothing\n", "2:1 unexpected end of input, expected a value"},
    {"missing comma", "{\"a\": 1\n \"b\": 2}", "2:2 expected ',' or '}' after member value"},
    {"missing colon", "{\"a\" 1}", "1:6 expected ':' after member name"},
    {"unquoted key", "{a: 1}", "1:2 expected a member name in double quotes"},
    {"single quotes", "{'a': 1}", "1:2 expected a member name in double quotes"},
    {"trailing comma in object", "{\"a\": 1,}", "1:9 trailing comma before '}'"},
    {"trailing comma in array", "[1,\n]", "2:1 trailing comma before ']'"},
    {"unclosed array", "[1, 2", "1:6 unexpected end of input, expected ',' or ']'"},
    {"unclosed object", "{\"a\": 1", "1:8 unexpected end of input, expected ',' or '}'"},
    {"text after the document", "{} x", "1:4 unexpected text after the end of the document"},
    {"two documents", "{}{}", "1:3 unexpected text after the end of the document"},
    {"leading zero", "[01]", "1:3 leading zeros are not allowed in numbers"},
    {"bare minus", "[-]", "1:3 invalid number"},
    {"fraction without digits", "[1.]", "1:4 expected a digit after the decimal point"},
    {"exponent without digits", "[1e+]", "1:5 expected a digit in the exponent"},
    {"number too large", "[1e999]", "1:2 number out of range: 1e999"},
    {"NaN is not JSON", "[NaN]", "1:2 unexpected character 'N', expected a value"},
    {"misspelt literal", "[tru]", "1:2 invalid literal, expected true"},
    {"unterminated string", "[\"abc", "1:2 unterminated string"},
    {"raw newline in string", "[\"a\nb\"]", "1:4 control character in string (escape it)"},
    {"bad escape", "[\"\\x\"]", "1:5 invalid escape '\\x'"},
    {"short unicode escape", "[\"\\u12\"]", "1:7 invalid hex digit in \\u escape"},
    {"lone high surrogate", "[\"\\ud83d\"]", "1:9 unpaired UTF-16 surrogate in \\u escape"},
    {"lone low surrogate", "[\"\\ude00\"]", "1:9 unpaired UTF-16 surrogate in \\u escape"},
    {"unterminated comment", "{/* open", "1:2 unterminated /* comment"},
    {"duplicate key", "{\"a\": 1, \"a\": 2}", "1:10 duplicate key \"a\""},
};

TEST_CASE("Syntax errors name line, column and what was expected") {
  for (const SyntaxCase& test : kSyntaxCases) {
    CAPTURE(test.name);
    CHECK(ErrorOf(test.text) == test.error);
  }
}

TEST_CASE("Nesting is bounded so hostile input cannot exhaust the stack") {
  CHECK(ErrorOf(std::string(64, '[') + std::string(64, ']')) == "no error");
  CHECK(ErrorOf(std::string(65, '[') + std::string(65, ']')) == "1:65 nesting deeper than 64 levels");
  CHECK(ErrorOf(std::string(100'000, '[')) == "1:65 nesting deeper than 64 levels");
}

TEST_CASE("A byte order mark is skipped") {
  CHECK(ParseJson("\xEF\xBB\xBF{}").has_value());
}

TEST_CASE("Describe shows values briefly for error messages") {
  CHECK(ehg::core::Describe(*ParseJson("42")) == "42");
  CHECK(ehg::core::Describe(*ParseJson("\"abc\"")) == "\"abc\"");
  CHECK(ehg::core::Describe(*ParseJson("[1]")) == "an array");
  CHECK(ehg::core::Describe(*ParseJson("{}")) == "an object");
  CHECK(ehg::core::Describe(*ParseJson("null")) == "null");
  CHECK(ehg::core::Describe(*ParseJson("\"" + std::string(60, 'x') + "\"")) ==
        "\"" + std::string(37, 'x') + "...\"");
}

TEST_CASE("Text that is not UTF-8 is refused wherever the byte stands, with its line and column") {
  CHECK(ErrorOf("{\"note\": \"Bj\xF8rn\"}") == "1:13 invalid UTF-8 (byte 0xF8): the text must be UTF-8");
  CHECK(ErrorOf("{\n  \"k\xC0\xAF\": 1}") == "2:5 invalid UTF-8 (byte 0xC0): the text must be UTF-8");
  CHECK(ErrorOf("// caf\xE9\n{}") == "1:7 invalid UTF-8 (byte 0xE9): the text must be UTF-8");
  CHECK(ErrorOf("{\"surrogate\": \"\xED\xA0\x80\"}") ==
        "1:16 invalid UTF-8 (byte 0xED): the text must be UTF-8");
  CHECK(ErrorOf("\"\xF0\x9F\x98\"") == "1:2 invalid UTF-8 (byte 0xF0): the text must be UTF-8");
  // Valid non-ASCII passes, and so do escapes that name valid code points.
  CHECK(ErrorOf("{\"note\": \"Bjørn \\u00e5 \\ud83d\\ude00\"}") == "no error");
}

TEST_CASE("What the writer produces is valid UTF-8 whatever it is given") {
  CHECK(ehg::core::JsonQuote("Bjørn") == "\"Bjørn\"");
  CHECK(ehg::core::JsonQuote("Bj\xF8rn") == "\"Bj\xEF\xBF\xBDrn\"");
  for (int byte = 0; byte < 256; ++byte) {
    const std::string quoted = ehg::core::JsonQuote(std::string("a") + static_cast<char>(byte) + "b");
    CAPTURE(byte);
    CHECK(ParseJson(quoted).has_value());
  }
  // A description cut for an error message does not cut a character in half.
  const auto long_text = ParseJson("\"" + std::string(36, 'x') + "øøøø\"");
  REQUIRE(long_text.has_value());
  const std::string described = ehg::core::Describe(*long_text);
  CHECK(described == "\"" + std::string(36, 'x') + "...\"");
}

TEST_CASE("Each value knows its bytes in the text, and WriteJson writes it back compactly") {
  const std::string text =
      "\xEF\xBB\xBF{ \"a\" : [1, 2.50, -3e2] , // note\n \"b\": {\"c\": \"x\\\"\\u00e6\"}, \"d\": null }";
  const auto parsed = ParseJson(text);
  REQUIRE(parsed);
  const JsonValue* a = parsed->Find("a");
  REQUIRE(a != nullptr);
  CHECK(text.substr(a->begin, a->end - a->begin) == "[1, 2.50, -3e2]");
  const JsonValue* b = parsed->Find("b");
  REQUIRE(b != nullptr);
  CHECK(text.substr(b->begin, b->end - b->begin) == "{\"c\": \"x\\\"\\u00e6\"}");
  CHECK(parsed->begin == 3);  // after the byte order mark
  CHECK(parsed->end == text.size());
  CHECK(ehg::core::WriteJson(*parsed) == "{\"a\":[1,2.50,-3e2],\"b\":{\"c\":\"x\\\"\xC3\xA6\"},\"d\":null}");
  // What it writes reads back to the same values.
  const auto again = ParseJson(ehg::core::WriteJson(*parsed));
  REQUIRE(again);
  CHECK(ehg::core::WriteJson(*again) == ehg::core::WriteJson(*parsed));
  JsonValue computed;
  computed.type = JsonValue::Type::kNumber;
  computed.number = 0.25;
  CHECK(ehg::core::WriteJson(computed) == "0.25");
}
