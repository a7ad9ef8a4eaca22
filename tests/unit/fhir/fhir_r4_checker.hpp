#pragma once

#include <string>
#include <string_view>
#include <vector>

// A strict checker of the FHIR R4 rules our output must meet, written from the specification
// (hl7.org/fhir/R4: observation.html, bundle.html, observation-vitalsigns.html, json.html), independent
// of the code under test. Returns every violation found, as "path: what".
namespace ehg::test {

std::vector<std::string> CheckObservation(std::string_view json);
std::vector<std::string> CheckBundle(std::string_view json);

}  // namespace ehg::test
