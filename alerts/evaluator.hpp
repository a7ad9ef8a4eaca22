#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/rules.hpp"
#include "gateway/core/reading.hpp"

namespace ehg::alerts {

struct Evaluation {
  std::vector<AlertChange> changes;
  // Readings that could not be trusted clinically (quality flags, uncertain time): never alert, counted.
  std::uint32_t unreliable_readings = 0;
};

using NewAlertId = std::function<std::string()>;

// Pure: readings + open alerts + time in, alert changes out. `open` is updated to match the changes.
// Not thread-safe; the pipeline thread owns it.
class Evaluator {
 public:
  explicit Evaluator(RuleSet rules) : rules_(std::move(rules)) {}

  Evaluation OnReadings(std::span<const core::Reading> readings, OpenAlerts& open, core::WallTime now,
                        const NewAlertId& new_alert_id) const;

  const RuleSet& rules() const { return rules_; }

 private:
  RuleSet rules_;
};

// A reading may drive a clinical rule only when nothing marks it as unreliable.
bool ClinicallyUsable(const core::Reading& reading);

}  // namespace ehg::alerts
