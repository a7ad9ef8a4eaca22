#include "gateway/core/json_writer.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <functional>
#include <limits>
#include <string>

#include "gateway/core/json.hpp"

using ehg::core::JsonValue;
using ehg::core::JsonWriter;

namespace {

// Runs a misuse of the writer in a child process and tells whether it ended by SIGABRT (core::Bug).
bool MisuseAborts(const std::function<void(JsonWriter&)>& misuse) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // under ASan too: the plain signal, not a report turned into an exit
    const int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDERR_FILENO);
    JsonWriter json;
    misuse(json);
    (void)std::move(json).Take();
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

// A key and value that try to close their string and object and add a member, with control
// characters, invalid UTF-8 (0xff 0xfe) and a valid two-byte character.
std::string HostileText() {
  return std::string("\"},\"admin\":true,\"x\":\"\\\n\t\x01") + "\xff\xfe" + "\xc3\xa6";
}

// The same as the strict reader gives it back: each invalid byte replaced by U+FFFD.
std::string HostileTextAsRead() {
  return std::string("\"},\"admin\":true,\"x\":\"\\\n\t\x01") + "\xef\xbf\xbd\xef\xbf\xbd" + "\xc3\xa6";
}

}  // namespace

TEST_CASE("JsonWriter places commas and colons in nested objects and arrays") {
  JsonWriter json;
  json.BeginObject()
      .Key("id")
      .String("a1")
      .Key("empty")
      .BeginObject()
      .EndObject()
      .Key("list")
      .BeginArray()
      .Integer(1)
      .BeginArray()
      .EndArray()
      .BeginObject()
      .Key("x")
      .Null()
      .EndObject()
      .Bool(false)
      .EndArray()
      .Key("last")
      .Bool(true)
      .EndObject();
  CHECK(std::move(json).Take() == R"({"id":"a1","empty":{},"list":[1,[],{"x":null},false],"last":true})");
}

TEST_CASE("JsonWriter's numbers read back to the same value and non-finite ones become null") {
  const double values[] = {0.0, -0.5, 36.6, 98.0, 1e-7, 123456789.125, 1.0 / 3.0, 5e300};
  JsonWriter json;
  json.BeginArray();
  for (const double value : values)
    json.Number(value);
  json.Number(std::nan("")).Number(std::numeric_limits<double>::infinity());
  json.Integer(std::numeric_limits<std::int64_t>::min()).Integer(std::numeric_limits<std::int64_t>::max());
  json.Unsigned(std::numeric_limits<std::uint64_t>::max());
  json.EndArray();
  const std::string text = std::move(json).Take();
  const auto parsed = ehg::core::ParseJson(text);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->items.size() == std::size(values) + 5);
  for (std::size_t i = 0; i < std::size(values); ++i)
    CHECK(parsed->items[i].number == values[i]);
  CHECK(parsed->items[std::size(values)].type == JsonValue::Type::kNull);
  CHECK(parsed->items[std::size(values) + 1].type == JsonValue::Type::kNull);
  CHECK(parsed->items[std::size(values) + 2].text == "-9223372036854775808");
  CHECK(parsed->items[std::size(values) + 3].text == "9223372036854775807");
  CHECK(parsed->items[std::size(values) + 4].text == "18446744073709551615");
  CHECK(text.find("98,") != std::string::npos);  // an integral double without ".0" or an exponent
}

TEST_CASE("Everyday numbers are written without an exponent, very large and small ones with one") {
  CHECK(ehg::core::JsonNumber(100000) == "100000");
  CHECK(ehg::core::JsonNumber(0.0001) == "0.0001");
  CHECK(ehg::core::JsonNumber(-0.5) == "-0.5");
  CHECK(ehg::core::JsonNumber(36.6) == "36.6");
  CHECK(ehg::core::JsonNumber(123456789012345.0) == "123456789012345");
  CHECK(ehg::core::JsonNumber(1e-7) == "1e-07");
  CHECK(ehg::core::JsonNumber(5e300) == "5e+300");
  CHECK(ehg::core::JsonNumber(0.0) == "0");
}

TEST_CASE("JsonWriter keeps hostile strings inside their quotes and its output valid UTF-8") {
  const std::string hostile = HostileText();
  JsonWriter json;
  json.BeginObject().Key(hostile).String(hostile).EndObject();
  const std::string text = std::move(json).Take();
  // The strict reader refuses control characters in strings and any invalid UTF-8: it accepts this text.
  const auto parsed = ehg::core::ParseJson(text);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->members.size() == 1);
  const std::string expected = HostileTextAsRead();
  CHECK(parsed->members[0].key == expected);
  CHECK(parsed->members[0].value.text == expected);
  CHECK(parsed->Find("admin") == nullptr);
}

TEST_CASE(
    "JsonWriter writes an optional string as null when it is empty, and inserts raw JSON as one value") {
  JsonWriter json;
  json.BeginObject().Key("a").StringOrNull("").Key("b").StringOrNull("x").Key("body").Raw(R"({"n":1})");
  json.EndObject();
  CHECK(std::move(json).Take() == R"({"a":null,"b":"x","body":{"n":1}})");
}

TEST_CASE("A top-level scalar is a whole document") {
  JsonWriter json;
  json.String("only");
  CHECK(std::move(json).Take() == "\"only\"");
}

TEST_CASE("Misusing JsonWriter is a bug that stops the process instead of writing broken JSON") {
  CHECK(MisuseAborts([](JsonWriter& json) { json.BeginObject().String("no key"); }));
  CHECK(MisuseAborts([](JsonWriter& json) { json.BeginArray().Key("key in an array"); }));
  CHECK(MisuseAborts([](JsonWriter& json) { json.BeginObject().Key("a").Key("b"); }));
  CHECK(MisuseAborts([](JsonWriter& json) { json.BeginObject().Key("dangling").EndObject(); }));
  CHECK(MisuseAborts([](JsonWriter& json) { json.BeginObject().EndArray(); }));
  CHECK(MisuseAborts([](JsonWriter& json) { json.BeginArray(); }));  // taken while still open
  CHECK(MisuseAborts([](JsonWriter& json) { json.Null().Null(); }));
  CHECK(MisuseAborts([](JsonWriter&) {}));  // nothing written
  CHECK_FALSE(MisuseAborts([](JsonWriter& json) { json.BeginObject().Key("k").Integer(1).EndObject(); }));
}
