#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

// Stored observation events as FHIR R4 (docs/integration.md): each measurement an Observation following
// the vital-signs profiles where one applies, a batch of them one Bundle of type "batch" whose entries
// create Observations conditionally on their identifier, so a resent batch stores nothing twice.
namespace ehg::fhir {

inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kMdc = "urn:iso:std:iso:11073:10101";
inline constexpr std::string_view kUcum = "http://unitsofmeasure.org";
inline constexpr std::string_view kCategorySystem =
    "http://terminology.hl7.org/CodeSystem/observation-category";
inline constexpr std::string_view kMetricSystem = "urn:ehealth-gateway:metric";  // metrics without LOINC
inline constexpr std::string_view kPseudonymSystem = "urn:ehealth-gateway:pseudonym";
inline constexpr std::string_view kDeviceSystemPrefix = "urn:ehealth-gateway:device:";  // + gateway id

// One stored observation event (ehealth-gateway/observation/v0), read back.
struct StoredObservation {
  std::string event_id;
  std::string gateway;
  std::string subject;
  std::string device;
  std::string metric;
  double value = 0;
  std::string unit;
  core::WallTime effective{};
  core::WallTime received{};
  bool time_uncertain = false;
  // The device's own time was implausible (docs/rules.md, "Time"): `effective` is the receive time and
  // this is what the device claimed.
  std::optional<core::WallTime> suspect_device_time;
  std::vector<std::string> flags;
  std::optional<std::uint32_t> sequence;
};

Result<StoredObservation> ReadObservationBody(std::string_view body);

// The Observation resource for readings of one measurement: one reading, or the parts of one blood
// pressure measurement (same device and time), which become components of one Observation.
std::string ObservationResource(const std::vector<const StoredObservation*>& parts);

// The identifier system of an Observation's further event ids: a blood pressure entry is one event per
// part in the gateway's outbox, its fullUrl names the first, an identifier of this system each other one
// (value urn:uuid:<event id>). A receiver confirms them all.
inline constexpr std::string_view kEventIdSystem = "urn:ietf:rfc:3986";

struct BundleResult {
  std::string json;
  std::size_t observations = 0;  // entries (a blood pressure with its parts is one)
  std::size_t unreadable = 0;    // bodies that were not observation events (left out, logged by the caller)
};

// The Bundle (type batch) for a batch of stored observation event bodies, in their order.
BundleResult ObservationBundle(const std::vector<const std::string*>& bodies);

}  // namespace ehg::fhir
