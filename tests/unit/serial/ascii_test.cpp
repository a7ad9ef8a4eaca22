#include <doctest/doctest.h>

#include "devices/serial_protocols/decoders.hpp"
#include "serial_test_support.hpp"

using ehg::core::QualityFlag;
using ehg::devices::serial::ParseAsciiLine;
using serial_test::ValueOf;

TEST_CASE("ASCII line with values, units, flags, time and sequence") {
  const auto parsed =
      ParseAsciiLine("spo2=97 % pulse_rate=72 /min flags=low_perfusion,motion_artefact "
                     "time=2026-03-23T08:00:00+01:00 seq=17\r");
  REQUIRE(parsed);
  REQUIRE(*parsed);
  const auto& sample = **parsed;
  CHECK(ValueOf(sample, "spo2") == 97);
  CHECK(ValueOf(sample, "pulse_rate") == 72);
  CHECK(sample.flags.Has(QualityFlag::kLowPerfusion));
  CHECK(sample.flags.Has(QualityFlag::kMotionArtefact));
  CHECK(sample.device_time == ehg::core::ParseIso8601("2026-03-23T07:00:00Z"));
  CHECK(sample.sequence == 17u);
  CHECK(sample.IsRecord());
}

TEST_CASE("ASCII units are optional and must be the catalogue's when given") {
  const auto bare = ParseAsciiLine("body_temperature=37.25");
  REQUIRE(bare);
  CHECK(ValueOf(**bare, "body_temperature") == 37.25);
  const auto wrong = ParseAsciiLine("body_temperature=99.1 degF");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error() == "metric 'body_temperature': unit must be 'Cel'");
}

TEST_CASE("ASCII finger out or searching lines keep their flags and drop their values") {
  const auto parsed = ParseAsciiLine("spo2=97 % flags=finger_out");
  REQUIRE(parsed);
  CHECK((*parsed)->values.empty());
  CHECK((*parsed)->flags.Has(QualityFlag::kFingerOut));
  CHECK((*ParseAsciiLine("pulse_rate=80 flags=searching"))->values.empty());
}

TEST_CASE("ASCII blank and comment lines yield nothing and are not errors") {
  CHECK_FALSE(*ParseAsciiLine(""));
  CHECK_FALSE(*ParseAsciiLine("   \r"));
  CHECK_FALSE(*ParseAsciiLine("# rig 3 calibration run"));
}

TEST_CASE("ASCII errors name the problem, never the value") {
  struct Case {
    std::string_view line;
    std::string_view error;
  };
  const Case cases[] = {
      {"spo3=97", "unknown key 'spo3'"},
      {"spo2=ninety", "metric 'spo2': not a number"},
      {"spo2=nan", "metric 'spo2': not a number"},
      {"spo2=inf", "metric 'spo2': not a number"},
      {"spo2=97 spo2=98", "key 'spo2' given twice"},
      {"97", "expected key=value, got a token of 2 characters"},
      {"=97", "expected key=value, got a token of 3 characters"},
      {"flags=finger_gone", "unknown quality flag in flags"},
      {"flags=", "unknown quality flag in flags"},
      {"spo2=97 time=yesterday", "time is not ISO 8601 with a zone"},
      {"spo2=97 seq=-1", "seq is not a whole number"},
      {"spo2=97 \x01", "line with control or non-ASCII characters"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    const auto parsed = ParseAsciiLine(c.line);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error() == c.error);
  }
}

TEST_CASE("ASCII decoder: CRLF lines, a refused line in between, and an overlong line discarded to its end") {
  auto decoder = ehg::devices::serial::MakeDecoder("ascii");
  std::vector<ehg::devices::serial::Sample> samples;
  std::string text = "spo2=97 %\r\nspo3=1\nspo2=96\n";
  text += std::string(300, 'x') + " spo2=10\n";  // one line of 309 bytes: refused whole
  text += "spo2=95\n";
  decoder->Feed(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), samples);
  REQUIRE(samples.size() == 3);
  CHECK(ValueOf(samples[0], "spo2") == 97);
  CHECK(ValueOf(samples[1], "spo2") == 96);
  CHECK(ValueOf(samples[2], "spo2") == 95);
  CHECK(decoder->stats().bad_frames == 2);
  CHECK(decoder->stats().frames == 3);
}
