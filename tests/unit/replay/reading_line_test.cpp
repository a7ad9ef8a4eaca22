#include "gateway/replay/reading_line.hpp"

#include <doctest/doctest.h>

#include <string>
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
