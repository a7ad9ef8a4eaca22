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

}  // namespace ehg::test
