#include "gateway/core/vital_signs.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using ehg::core::AllMetrics;
using ehg::core::FindMetric;

TEST_CASE("Every catalogue entry is complete and unique") {
  std::set<std::string> names;
  for (const auto& metric : AllMetrics()) {
    CAPTURE(metric.name);
    CHECK(names.insert(std::string(metric.name)).second);
    CHECK_FALSE(metric.unit.empty());
    CHECK(metric.min_value < metric.max_value);
  }
}

TEST_CASE("Catalogue codes match the architecture table") {
  struct Expected {
    const char* name;
    const char* unit;
    const char* loinc;
    std::uint32_t mdc;
  };
  const Expected expected[] = {
      {"bp.systolic", "mm[Hg]", "8480-6", 150021},
      {"bp.diastolic", "mm[Hg]", "8462-4", 150022},
      {"bp.mean", "mm[Hg]", "8478-0", 150023},
      {"pulse_rate", "/min", "8867-4", 149530},
      {"heart_rate", "/min", "8867-4", 147842},
      {"spo2", "%", "59408-5", 150456},
      {"respiration_rate", "/min", "9279-1", 151562},
      {"body_temperature", "Cel", "8310-5", 150364},
      {"body_weight", "kg", "29463-7", 188736},
      {"body_height", "m", "8302-2", 188740},
      {"bmi", "kg/m2", "39156-5", 188752},
      {"glucose", "mmol/L", "15074-8", 160368},
      {"consciousness", "1", "67775-7", 0},
  };
  for (const Expected& row : expected) {
    CAPTURE(row.name);
    const auto* metric = FindMetric(row.name);
    REQUIRE(metric != nullptr);
    CHECK(metric->unit == row.unit);
    CHECK(metric->loinc == row.loinc);
    CHECK(metric->mdc == row.mdc);
  }
  CHECK(FindMetric("SpO2") == nullptr);  // names are exact
}
