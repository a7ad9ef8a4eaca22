#pragma once

#include <cstdint>
#include <span>
#include <string_view>

// The vital-sign catalogue (what the gateway measures; the gateway's own counters are
// core/telemetry.hpp): one name per vital sign, used in config, rules, replay files, logs and the
// decode command. Units are UCUM; values in other units are converted once, in the parser.
namespace ehg::core {

enum class MetricKind {
  kQuantity,  // a measured number in the catalogue unit
  kBoolean,   // 0 or 1
  kCode,      // an enumerated code (ACVPU for consciousness)
  kEvent,     // something happened (button press, motion, door): value is the event code
};

struct MetricInfo {
  std::string_view name;
  std::string_view unit;   // UCUM; "1" for booleans, codes and events
  std::string_view loinc;  // empty when there is no LOINC code
  std::uint32_t mdc;       // IEEE 11073-10101 code, 0 when none
  MetricKind kind;
  // The physically possible range: a value outside it is a device or decoding fault, never a clinical
  // finding. Rejected readings are counted and logged, never stored as observations.
  double min_value;
  double max_value;
};

std::span<const MetricInfo> AllMetrics();
const MetricInfo* FindMetric(std::string_view name);

// ACVPU consciousness codes as values of the `consciousness` metric.
enum class Consciousness : int { kAlert = 0, kNewConfusion = 1, kVoice = 2, kPain = 3, kUnresponsive = 4 };

}  // namespace ehg::core
