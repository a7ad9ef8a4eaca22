#include "gateway/core/reading.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "tests/support/readings.hpp"

using ehg::Errc;
using ehg::core::QualityFlag;
using ehg::core::QualityFlags;
using ehg::core::Reading;
using ehg::core::ValidateReading;
using ehg::test::SpO2;

TEST_CASE("A reading inside its physical range is valid, including both edges") {
  CHECK(ValidateReading(SpO2(97)).has_value());
  CHECK(ValidateReading(SpO2(30)).has_value());
  CHECK(ValidateReading(SpO2(100)).has_value());
}

TEST_CASE("Readings outside the catalogue are rejected with a reason that never shows the value") {
  struct Case {
    const char* name;
    Reading reading;
    const char* reason;
  };
  Reading unknown = SpO2(97);
  unknown.metric = "oxygen";
  Reading wrong_unit = SpO2(0.97);
  wrong_unit.unit = "1";
  Reading no_device = SpO2(97);
  no_device.device_id.clear();
  const Case cases[] = {
      {"above range", SpO2(100.5), "outside the physical range [30, 100]"},
      {"below range", SpO2(29.9), "outside the physical range [30, 100]"},
      {"not a number", SpO2(std::nan("")), "not a finite number"},
      {"infinite", SpO2(std::numeric_limits<double>::infinity()), "not a finite number"},
      {"unknown metric", unknown, "unknown metric 'oxygen'"},
      {"wrong unit", wrong_unit, "must be in unit '%', got '1'"},
      {"no device", no_device, "without a device id"},
  };
  for (const Case& test : cases) {
    CAPTURE(test.name);
    const auto result = ValidateReading(test.reading);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == Errc::kRejected);
    CHECK(result.error().message.find(test.reason) != std::string::npos);
    CHECK(result.error().message.find("100.5") == std::string::npos);
  }
}

TEST_CASE("Quality flags have stable names, and unknown bits are shown, not lost") {
  QualityFlags flags;
  CHECK(flags.Clean());
  flags.Set(QualityFlag::kFingerOut).Set(QualityFlag::kMotionArtefact);
  CHECK(flags.Has(QualityFlag::kFingerOut));
  CHECK_FALSE(flags.Has(QualityFlag::kCuffLoose));
  CHECK(flags.Names() == std::vector<std::string>{"motion_artefact", "finger_out"});
  CHECK(QualityFlags(1u << 31).Names() == std::vector<std::string>{"bit_31"});
  CHECK(QualityFlags::FromName("cuff_loose") == QualityFlag::kCuffLoose);
  CHECK_FALSE(QualityFlags::FromName("cuff").has_value());
}

TEST_CASE("The effective time is the device's when it has one") {
  using namespace std::chrono_literals;
  Reading reading = SpO2(97);
  reading.received_at = ehg::core::WallTime{2'000ms};
  CHECK(reading.EffectiveTime() == ehg::core::WallTime{2'000ms});
  reading.device_time = ehg::core::WallTime{1'000ms};
  CHECK(reading.EffectiveTime() == ehg::core::WallTime{1'000ms});
}
