#include "alerts/evaluator.hpp"

namespace ehg::alerts {
namespace {

bool Breaches(const ThresholdRule& rule, double value) {
  return (rule.above && value > *rule.above) || (rule.below && value < *rule.below);
}

// How far beyond the threshold a value is; larger = worse. Used to keep the worst value of an open alert.
double Excess(const ThresholdRule& rule, double value) {
  double excess = 0;
  if (rule.above) excess = std::max(excess, value - *rule.above);
  if (rule.below) excess = std::max(excess, *rule.below - value);
  return excess;
}

Evidence EvidenceOf(const core::Reading& reading) {
  return Evidence{reading.device_id, reading.metric, reading.value, reading.unit, reading.EffectiveTime()};
}

void AddEvidence(Alert& alert, Evidence evidence) {
  // Keep the raising reading (index 0) and the most recent ones after it.
  if (alert.evidence.size() >= Alert::kMaxEvidence) alert.evidence.erase(alert.evidence.begin() + 1);
  alert.evidence.push_back(std::move(evidence));
}

}  // namespace

bool ClinicallyUsable(const core::Reading& reading) {
  return reading.flags.Clean() && !reading.time_uncertain;
}

Evaluation Evaluator::OnReadings(std::span<const core::Reading> readings, OpenAlerts& open,
                                 core::WallTime now, const NewAlertId& new_alert_id) const {
  Evaluation evaluation;
  for (const core::Reading& reading : readings) {
    if (!ClinicallyUsable(reading)) {
      ++evaluation.unreliable_readings;
      continue;
    }
    for (const ThresholdRule& rule : rules_.thresholds) {
      if (rule.metric != reading.metric) continue;
      const auto existing = open.find(rule.id);
      const bool breach = Breaches(rule, reading.value);
      if (breach && existing == open.end()) {
        Alert alert;
        alert.alert_id = new_alert_id();
        alert.rule_id = rule.id;
        alert.metric = rule.metric;
        alert.severity = rule.severity;
        alert.raised_at = now;
        alert.updated_at = now;
        alert.worst_value = reading.value;
        alert.evidence.push_back(EvidenceOf(reading));
        open.emplace(rule.id, alert);
        evaluation.changes.push_back({ChangeKind::kRaised, std::move(alert)});
      } else if (breach) {
        Alert& alert = existing->second;
        ++alert.occurrences;
        alert.updated_at = now;
        if (Excess(rule, reading.value) > Excess(rule, alert.worst_value)) alert.worst_value = reading.value;
        AddEvidence(alert, EvidenceOf(reading));
        evaluation.changes.push_back({ChangeKind::kUpdated, alert});
      } else if (existing != open.end()) {
        Alert alert = std::move(existing->second);
        open.erase(existing);
        alert.state = AlertState::kResolved;
        alert.updated_at = now;
        AddEvidence(alert, EvidenceOf(reading));
        evaluation.changes.push_back({ChangeKind::kResolved, std::move(alert)});
      }
    }
  }
  return evaluation;
}

}  // namespace ehg::alerts
