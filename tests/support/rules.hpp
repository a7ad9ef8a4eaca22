#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "alerts/rules.hpp"

namespace ehg::test {

inline alerts::ThresholdRule Threshold(std::string id, std::string metric, std::optional<double> above,
                                       std::optional<double> below, alerts::Severity severity,
                                       std::chrono::seconds for_duration = {}, double hysteresis = 0,
                                       std::chrono::seconds clear_for = {}) {
  alerts::ThresholdRule rule;
  rule.common.id = std::move(id);
  rule.common.severity = severity;
  rule.common.clear_for = clear_for;
  rule.metric = std::move(metric);
  rule.above = above;
  rule.below = below;
  rule.persistence = {for_duration, hysteresis};
  return rule;
}

// A trend rule on `metric`: a rise of more than `rise` (or, negative, a fall of more than -rise) within
// `window`.
inline alerts::TrendRule Trend(std::string id, std::string metric, double rise, std::chrono::seconds window,
                               alerts::Severity severity = alerts::Severity::kMedium) {
  alerts::TrendRule rule;
  rule.common.id = std::move(id);
  rule.common.severity = severity;
  rule.metric = std::move(metric);
  if (rise >= 0) {
    rule.rise = rise;
  } else {
    rule.fall = -rise;
  }
  rule.window = window;
  return rule;
}

}  // namespace ehg::test
