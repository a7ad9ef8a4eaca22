#pragma once

#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"

// The business identifier of a measurement, the same wherever it is written (the FHIR Observation, the
// evidence of an alert): gateway/device/subject/metric/effective time in milliseconds. A receiver that
// creates Observations conditionally on it (ifNoneExist) stores each measurement once, however often the
// gateway sends it; the HL7 PHD implementation guide builds its identifiers the same way.
namespace ehg::core {

inline constexpr std::string_view kObservationIdentifierSystem = "urn:ehealth-gateway:observation";

std::string ObservationIdentifier(std::string_view gateway_id, std::string_view device_id,
                                  std::string_view subject, std::string_view metric, WallTime effective);

}  // namespace ehg::core
