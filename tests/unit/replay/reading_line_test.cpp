#include "gateway/replay/reading_line.hpp"

#include <doctest/doctest.h>

#include <string>
#include <variant>
#include <vector>

using ehg::replay::ParseReadingLine;

TEST_CASE("A recorded reading line parses with its time as device and receive time") {
  const auto reading = ParseReadingLine(
      R"({"time": "2026-03-02T07:15:00+01:00", "device": "oximeter", "metric": "spo2", "value": 91, "unit": "%",
          "flags": ["motion_artefact", "low_perfusion"], "sequence": 12})");
  REQUIRE(reading.has_value());
  CHECK(ehg::core::FormatIso8601(reading->received_at) == "2026-03-02T06:15:00.000Z");
  CHECK(reading->device_time == reading->received_at);
  CHECK(reading->device_id == "oximeter");
  CHECK(reading->metric == "spo2");
  CHECK(reading->value == 91);
  CHECK(reading->flags.Has(ehg::core::QualityFlag::kMotionArtefact));
  CHECK(reading->flags.Has(ehg::core::QualityFlag::kLowPerfusion));
  CHECK(reading->sequence == 12u);
  CHECK_FALSE(reading->time_uncertain);
  const auto uncertain = ParseReadingLine(
      R"({"time": "2026-03-02T07:15:00Z", "device": "b", "metric": "button", "value": 1, "unit": "1",
          "time_uncertain": true})");
  REQUIRE(uncertain.has_value());
  CHECK(uncertain->time_uncertain);
}

TEST_CASE("A bad reading line is refused with the reason") {
  struct Vector {
    const char* name;
    std::string line;
    const char* reason_part;
  };
  const std::string base = R"("time": "2026-03-02T07:15:00Z", "device": "d", "metric": "spo2", "unit": "%")";
  const std::vector<Vector> vectors{
      {"not JSON", "{\"time\":", "not JSON"},
      {"an array", "[]", "a JSON object"},
      {"no time", R"({"device": "d", "metric": "spo2", "value": 90, "unit": "%"})", "\"time\""},
      {"time without zone", R"({"time": "2026-03-02T07:15:00", "device": "d", "metric": "spo2", "value": 90,
                                "unit": "%"})",
       "ISO 8601"},
      {"value as text", "{" + base + R"(, "value": "90"})", "\"value\" must be a number"},
      {"wrong unit", R"({"time": "2026-03-02T07:15:00Z", "device": "d", "metric": "spo2", "value": 90,
                         "unit": "kg"})",
       "unit"},
      {"outside physical range", "{" + base + R"(, "value": 120})", "range"},
      {"unknown metric", R"({"time": "2026-03-02T07:15:00Z", "device": "d", "metric": "mood", "value": 1,
                             "unit": "1"})",
       "mood"},
      {"unknown flag", "{" + base + R"(, "value": 90, "flags": ["sleepy"]})", "unknown quality flag"},
      {"unknown key", "{" + base + R"(, "value": 90, "patient": "x"})", "unknown key \"patient\""},
      {"negative sequence", "{" + base + R"(, "value": 90, "sequence": -1})", "\"sequence\""},
      {"empty device", R"({"time": "2026-03-02T07:15:00Z", "device": "", "metric": "spo2", "value": 90,
                           "unit": "%"})",
       "\"device\""},
      {"oversized", "{" + base + R"(, "value": 90, "pad": ")" + std::string(5000, 'x') + "\"}",
       "longer than"},
  };
  for (const Vector& vector : vectors) {
    CAPTURE(vector.name);
    const auto parsed = ParseReadingLine(vector.line);
    REQUIRE_FALSE(parsed.has_value());
    CAPTURE(parsed.error());
    CHECK(parsed.error().find(vector.reason_part) != std::string::npos);
  }
}

TEST_CASE("A reading line's device_time is the device's clock and time stays the receive time") {
  const auto reading = ParseReadingLine(
      R"({"time": "2026-03-02T07:15:00Z", "device_time": "2027-03-02T07:15:00+01:00", "device": "ox",
          "metric": "spo2", "value": 91, "unit": "%"})");
  REQUIRE(reading.has_value());
  CHECK(ehg::core::FormatIso8601(reading->received_at) == "2026-03-02T07:15:00.000Z");
  REQUIRE(reading->device_time.has_value());
  CHECK(ehg::core::FormatIso8601(*reading->device_time) == "2027-03-02T06:15:00.000Z");
  const auto impossible = ParseReadingLine(
      R"({"time": "2026-03-02T07:15:00Z", "device_time": "2026-02-30T07:15:00Z", "device": "ox",
          "metric": "spo2", "value": 91, "unit": "%"})");
  REQUIRE_FALSE(impossible.has_value());
  CHECK(impossible.error() == "\"device_time\": impossible date 2026-02-30 (February 2026 has 28 days)");
}

TEST_CASE("Impossible times and leap seconds in a line are named as such") {
  const auto leap = ParseReadingLine(
      R"({"time": "2026-03-25T23:59:60Z", "device": "ox", "metric": "spo2", "value": 91, "unit": "%"})");
  REQUIRE_FALSE(leap.has_value());
  CHECK(leap.error().starts_with("\"time\": leap second (23:59:60) is not supported"));
  const auto action = ehg::replay::ParseReplayLine(
      R"({"time": "2026-03-25T24:00:00Z", "action": "acknowledge", "rule": "r", "by": "n"})");
  REQUIRE_FALSE(action.has_value());
  CHECK(action.error().starts_with("\"time\": hour 24 does not exist"));
}

TEST_CASE("Care-worker action lines parse, by alert id or by rule and device") {
  using ehg::replay::ActionKind;
  using ehg::replay::ReplayAction;
  const auto ack = ehg::replay::ParseReplayLine(
      R"({"time": "2026-03-25T18:12:00Z", "action": "acknowledge", "rule": "spo2-low", "by": "nurse-17"})");
  REQUIRE(ack.has_value());
  REQUIRE(std::holds_alternative<ReplayAction>(*ack));
  const auto& acknowledge = std::get<ReplayAction>(*ack);
  CHECK(acknowledge.kind == ActionKind::kAcknowledge);
  CHECK(ehg::core::FormatIso8601(acknowledge.time) == "2026-03-25T18:12:00.000Z");
  REQUIRE(std::holds_alternative<ehg::replay::AlertByRule>(acknowledge.alert));
  CHECK(std::get<ehg::replay::AlertByRule>(acknowledge.alert).rule_id == "spo2-low");
  CHECK(std::get<ehg::replay::AlertByRule>(acknowledge.alert).device_id.empty());
  CHECK(acknowledge.by == "nurse-17");

  const auto resolve = ehg::replay::ParseReplayLine(
      R"({"time": "2026-03-25T18:40:00+01:00", "action": "resolve", "alert": "A0003", "by": "Åse Ødegård",
          "note": "called, fine"})");
  REQUIRE(resolve.has_value());
  const auto& resolved = std::get<ReplayAction>(*resolve);
  CHECK(resolved.kind == ActionKind::kResolve);
  CHECK(std::get<ehg::replay::AlertById>(resolved.alert).alert_id == "A0003");
  CHECK(resolved.by == "Åse Ødegård");
  CHECK(resolved.note == "called, fine");

  const auto per_device = ehg::replay::ParseReplayLine(
      R"({"time": "2026-03-25T18:40:00Z", "action": "acknowledge", "rule": "battery", "device": "ox",
          "by": "n"})");
  REQUIRE(per_device.has_value());
  CHECK(std::get<ehg::replay::AlertByRule>(std::get<ReplayAction>(*per_device).alert).device_id == "ox");
  // A reading-only caller refuses an action line.
  CHECK_FALSE(
      ParseReadingLine(R"({"time": "2026-03-25T18:12:00Z", "action": "acknowledge", "rule": "r", "by": "n"})")
          .has_value());
}

TEST_CASE("A bad action line is refused with the reason") {
  struct Vector {
    const char* name;
    std::string line;
    const char* reason_part;
  };
  const std::string time = R"("time": "2026-03-25T18:12:00Z")";
  const std::vector<Vector> vectors{
      {"unknown action", "{" + time + R"(, "action": "silence", "rule": "r", "by": "n"})",
       "\"action\" must be \"acknowledge\" or \"resolve\""},
      {"action not a string", "{" + time + R"(, "action": 1, "rule": "r", "by": "n"})", "\"action\" must be"},
      {"no alert named", "{" + time + R"(, "action": "acknowledge", "by": "n"})", "by \"alert\""},
      {"alert and rule", "{" + time + R"(, "action": "acknowledge", "alert": "A1", "rule": "r", "by": "n"})",
       "one of the two"},
      {"device with alert",
       "{" + time + R"(, "action": "acknowledge", "alert": "A1", "device": "d", "by": "n"})",
       "\"device\" goes with \"rule\""},
      {"no by", "{" + time + R"(, "action": "acknowledge", "rule": "r"})",
       "\"by\" must name the care worker"},
      {"empty by", "{" + time + R"(, "action": "acknowledge", "rule": "r", "by": ""})", "\"by\""},
      {"by of 65 characters",
       "{" + time + R"(, "action": "acknowledge", "rule": "r", "by": ")" + std::string(65, 'n') + "\"}",
       "1-64 printable"},
      {"by with a control character",
       "{" + time + R"(, "action": "acknowledge", "rule": "r", "by": "n\u001b"})", "\"by\""},
      {"by as a number", "{" + time + R"(, "action": "acknowledge", "rule": "r", "by": 17})", "\"by\""},
      {"note on acknowledge",
       "{" + time + R"(, "action": "acknowledge", "rule": "r", "by": "n", "note": "x"})",
       "\"note\" goes with \"resolve\" only"},
      {"note of 501 bytes",
       "{" + time + R"(, "action": "resolve", "rule": "r", "by": "n", "note": ")" + std::string(501, 'x') +
           "\"}",
       "at most 500 bytes"},
      {"note not text", "{" + time + R"(, "action": "resolve", "rule": "r", "by": "n", "note": 5})",
       "\"note\""},
      {"a reading's key", "{" + time + R"(, "action": "resolve", "rule": "r", "by": "n", "value": 5})",
       "unknown key \"value\" in an action"},
      {"no time", R"({"action": "resolve", "rule": "r", "by": "n"})", "\"time\" must be"},
      {"empty rule", "{" + time + R"(, "action": "resolve", "rule": "", "by": "n"})", "\"rule\" must be"},
  };
  for (const Vector& vector : vectors) {
    CAPTURE(vector.name);
    const auto parsed = ehg::replay::ParseReplayLine(vector.line);
    REQUIRE_FALSE(parsed.has_value());
    CAPTURE(parsed.error());
    CHECK(parsed.error().find(vector.reason_part) != std::string::npos);
  }
  // 64 characters of two bytes each are 64 characters, not 128.
  std::string name;
  for (int i = 0; i < 64; ++i)
    name += "ø";
  CHECK(ehg::replay::ParseReplayLine("{" + time + R"(, "action": "acknowledge", "rule": "r", "by": ")" +
                                     name + "\"}")
            .has_value());
}

TEST_CASE("A line that is not UTF-8 is refused, and no reason echoes raw bytes") {
  struct Vector {
    const char* name;
    std::string line;
    const char* reason_part;
  };
  const std::vector<Vector> vectors{
      {"Latin-1 byte", "{\"time\": \"2026-03-02T07:15:00Z\", \"device\": \"ox\xf8\", \"metric\": \"spo2\"}",
       "not UTF-8 text (byte 0xF8 at column 47)"},
      {"overlong slash", "{\"a\xc0\xaf\": 1}", "not UTF-8 text (byte 0xC0"},
      {"surrogate", "{\"a\xed\xa0\x80\": 1}", "not UTF-8 text (byte 0xED"},
      {"truncated sequence", "{\"a\xe2\x82\"}", "not UTF-8 text"},
      {"escape in an unknown key", R"({"\u001b[2Jkey": 1})", "unknown key \"\\u001b[2Jkey\""},
      {"bidi override in a metric",
       R"({"time": "2026-03-02T07:15:00Z", "device": "ox", "metric": "\u202espo2",
                                      "value": 1, "unit": "%"})",
       "unknown metric \"\\u202espo2\""},
      {"control character after a backslash", "{\"a\": \"\\\x1b\"}", "invalid escape '\\\\u001b'"},
      {"unit with a control character", R"({"time": "2026-03-02T07:15:00Z", "device": "ox", "metric": "spo2",
                                          "value": 91, "unit": "%\u0007"})",
       "got \"%\\u0007\""},
  };
  for (const Vector& vector : vectors) {
    CAPTURE(vector.name);
    const auto parsed = ehg::replay::ParseReplayLine(vector.line);
    REQUIRE_FALSE(parsed.has_value());
    CAPTURE(parsed.error());
    CHECK(parsed.error().find(vector.reason_part) != std::string::npos);
    CHECK(ehg::replay::IsUtf8(parsed.error()));
    for (const char c : parsed.error())
      CHECK(static_cast<unsigned char>(c) >= 0x20);
  }
}

TEST_CASE("EscapeForTerminal keeps printable UTF-8 and escapes everything a terminal acts on") {
  using ehg::replay::EscapeForTerminal;
  CHECK(EscapeForTerminal("Åse Ødegård") == "Åse Ødegård");
  CHECK(EscapeForTerminal("a\x1b[31mb") == "a\\u001b[31mb");
  CHECK(EscapeForTerminal("a\xff") == "a\\xff");
  CHECK(EscapeForTerminal("\x7f\xc2\x9b") == "\\u007f\\u009b");  // DEL and the C1 CSI
  CHECK(EscapeForTerminal(std::string(100, 'x'), 10) == std::string(10, 'x') + "...");
  CHECK(ehg::replay::IsUtf8("Åse"));
  CHECK_FALSE(ehg::replay::IsUtf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
}
