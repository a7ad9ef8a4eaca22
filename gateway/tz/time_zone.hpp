#pragma once

#include <memory>
#include <string>

#include "alerts/time_zone.hpp"
#include "gateway/core/result.hpp"

// The rule engine's time-zone port (alerts::TimeZone) on the system's tz database, through Howard
// Hinnant's date library (libstdc++ 12 has no C++20 zones). An OS adapter of its own, so the rule
// engine's tests and the replay link it without the config parser.
namespace ehg::tz {

// The resident's zone from the system tz database (tzdata). Errc::kNotFound for an unknown name.
Result<std::shared_ptr<const alerts::TimeZone>> LoadTimeZone(const std::string& name);

}  // namespace ehg::tz
