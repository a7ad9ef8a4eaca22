#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "gateway/core/reading.hpp"

// One recorded reading per line (JSON Lines), for `ehealth-gateway replay` (docs/rules.md):
//   {"time": "2026-03-02T07:15:00Z", "device": "oximeter", "metric": "spo2", "value": 91, "unit": "%",
//    "flags": ["motion_artefact"]}
// Optional: "time_uncertain" (bool), "sequence" (whole number). Unknown keys are refused. Pure.
namespace ehg::replay {

inline constexpr std::size_t kMaxLineBytes = 4096;

// The reading with device time and receive time both set to "time", or why the line is not one. The
// reading is also checked against the metric catalogue (unit, physical range).
tl::expected<core::Reading, std::string> ParseReadingLine(std::string_view line);

}  // namespace ehg::replay
