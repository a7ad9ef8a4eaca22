#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "alerts/evaluator.hpp"
#include "tests/support/readings.hpp"

namespace ehg::test {

using namespace std::chrono_literals;

inline const core::WallTime kT0{std::chrono::milliseconds{kTestEpochMs}};  // 2026-01-01T00:00:00Z

// A reading `offset` after kT0, stamped with the device's time.
inline core::Reading At(std::chrono::milliseconds offset, const std::string& metric, double value,
                        const std::string& unit, const std::string& device = "device-1") {
  core::Reading reading = MakeReading(metric, value, unit, kTestEpochMs + offset.count(), device);
  reading.device_time = reading.received_at;
  return reading;
}

inline core::Reading SpO2At(std::chrono::milliseconds offset, double value) {
  return At(offset, "spo2", value, "%", "oximeter");
}

// The evaluator with its state, an id source and the reading time as the clock.
struct Harness {
  alerts::Evaluator evaluator;
  alerts::EngineState state;
  int next_id = 0;
  alerts::NewAlertId ids = [this] { return "alert-" + std::to_string(++next_id); };

  explicit Harness(alerts::RuleSet rules, std::shared_ptr<const alerts::TimeZone> zone = nullptr)
      : evaluator(std::move(rules), std::move(zone)) {}

  alerts::Evaluation Feed(const core::Reading& reading) {
    return evaluator.OnReadings({&reading, 1}, state, reading.EffectiveTime(), ids);
  }
  alerts::Evaluation Feed(const std::vector<core::Reading>& readings, core::WallTime now) {
    return evaluator.OnReadings(readings, state, now, ids);
  }
  alerts::Evaluation Tick(core::WallTime now, alerts::GatewayStatus status = {}) {
    return evaluator.OnTick(state, now, status, ids);
  }
  const alerts::Alert* Open(const std::string& key) const {
    const auto found = state.open.find(key);
    return found != state.open.end() ? &found->second : nullptr;
  }
};

inline std::vector<alerts::ChangeKind> Kinds(const alerts::Evaluation& evaluation) {
  std::vector<alerts::ChangeKind> kinds;
  for (const auto& change : evaluation.changes)
    kinds.push_back(change.kind);
  return kinds;
}

}  // namespace ehg::test
