#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alerts/alert.hpp"

namespace ehg::alerts {

// Raise while a metric's value is above `above` or below `below` (strictly); resolve on the first
// reliable reading back inside. The full engine adds persistence durations and clearing hysteresis.
struct ThresholdRule {
  std::string id;
  std::string metric;
  std::optional<double> above;
  std::optional<double> below;
  Severity severity = Severity::kMedium;

  friend bool operator==(const ThresholdRule&, const ThresholdRule&) = default;
};

struct RuleSet {
  std::vector<ThresholdRule> thresholds;

  friend bool operator==(const RuleSet&, const RuleSet&) = default;
};

}  // namespace ehg::alerts
