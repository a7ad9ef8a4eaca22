#pragma once

#include <optional>
#include <string>
#include <vector>

#include "devices/sim/simulated_source.hpp"

namespace ehg::tools {

// A simulator's --scenario text, "60:spo2=86,180:finger_out=1" (seconds:parameter=value, commas between),
// as changes; nullopt when malformed. Which parameters a simulator knows is for it to check.
std::optional<std::vector<devices::sim::ScenarioChange>> ParseScenarioText(const std::string& text);

}  // namespace ehg::tools
