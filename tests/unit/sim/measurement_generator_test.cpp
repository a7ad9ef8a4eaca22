#include "devices/sim/measurement_generator.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>

#include "gateway/core/vital_signs.hpp"

using namespace std::chrono_literals;
using ehg::core::WallTime;
using ehg::devices::sim::MeasurementGenerator;
using ehg::devices::sim::Profile;

namespace {
constexpr Profile kProfiles[] = {Profile::kBloodPressure, Profile::kPulseOximeter, Profile::kThermometer,
                                 Profile::kWeightScale};
}

TEST_CASE("Every simulated reading is valid for the catalogue, over many measurements") {
  for (const Profile profile : kProfiles) {
    CAPTURE(ehg::devices::sim::ToString(profile));
    MeasurementGenerator generator(profile, 1, 0.05);
    for (int i = 0; i < 5'000; ++i) {
      for (const auto& reading : generator.Next("dev", WallTime{std::chrono::milliseconds(i)}, false)) {
        const auto valid = ehg::core::ValidateReading(reading);
        if (!valid) FAIL(valid.error().message);
      }
    }
  }
}

TEST_CASE("The same seed gives the same readings, another seed does not") {
  MeasurementGenerator first(Profile::kPulseOximeter, 42, 0.02);
  MeasurementGenerator second(Profile::kPulseOximeter, 42, 0.02);
  MeasurementGenerator other(Profile::kPulseOximeter, 43, 0.02);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const auto a = first.Next("oxi", WallTime{}, false);
    const auto b = second.Next("oxi", WallTime{}, false);
    const auto c = other.Next("oxi", WallTime{}, false);
    REQUIRE(a.size() == b.size());
    for (std::size_t j = 0; j < a.size(); ++j)
      CHECK(a[j].value == b[j].value);
    differs = differs || a[0].value != c[0].value;
  }
  CHECK(differs);
}

TEST_CASE("Values are noisy around the resident's physiology, at the device's resolution") {
  MeasurementGenerator generator(Profile::kBloodPressure, 7, 0);
  std::map<std::string, double> sum;
  std::map<std::string, int> count;
  std::map<std::string, std::set<double>> distinct;
  for (int i = 0; i < 2'000; ++i) {
    for (const auto& reading : generator.Next("cuff", WallTime{}, false)) {
      sum[reading.metric] += reading.value;
      ++count[reading.metric];
      distinct[reading.metric].insert(reading.value);
      CHECK(reading.value == std::round(reading.value));  // whole mmHg and beats per minute
    }
  }
  CHECK(count["bp.systolic"] == 2'000);
  CHECK(std::abs(sum["bp.systolic"] / 2'000 - generator.physiology().systolic) < 8);
  CHECK(std::abs(sum["bp.diastolic"] / 2'000 - generator.physiology().diastolic) < 5);
  CHECK(distinct["bp.systolic"].size() > 15);  // noise, not a constant
}

TEST_CASE("A scenario moves values: SpO2 set to 86 % reads around 86 %") {
  MeasurementGenerator generator(Profile::kPulseOximeter, 3, 0);
  generator.physiology().spo2 = 86;
  double sum = 0;
  for (int i = 0; i < 500; ++i)
    sum += generator.Next("oxi", WallTime{}, false).at(0).value;
  CHECK(std::abs(sum / 500 - 86) < 1.5);
}

TEST_CASE("Artefacts appear at about the configured rate, and flag the whole measurement") {
  MeasurementGenerator generator(Profile::kBloodPressure, 9, 0.2);
  int flagged = 0;
  for (int i = 0; i < 5'000; ++i) {
    const auto readings = generator.Next("cuff", WallTime{}, false);
    const bool first_flagged = !readings[0].flags.Clean();
    for (const auto& reading : readings)
      CHECK(reading.flags.Clean() == !first_flagged);
    flagged += first_flagged ? 1 : 0;
  }
  CHECK(flagged > 850);
  CHECK(flagged < 1'150);
}

TEST_CASE("Readings carry the device and both times, and the time-uncertain mark when asked") {
  MeasurementGenerator generator(Profile::kThermometer, 1, 0);
  const auto readings = generator.Next("thermo", WallTime{5'000ms}, true);
  REQUIRE(readings.size() == 1);
  CHECK(readings[0].device_id == "thermo");
  CHECK(readings[0].metric == "body_temperature");
  CHECK(readings[0].unit == "Cel");
  CHECK(readings[0].device_time == WallTime{5'000ms});
  CHECK(readings[0].received_at == WallTime{5'000ms});
  CHECK(readings[0].time_uncertain);
}
