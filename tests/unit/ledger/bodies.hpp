#pragma once

#include <string>
#include <vector>

#include "alerts/alert.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/fhir/observation.hpp"
#include "gateway/pipeline/event_bodies.hpp"
#include "gateway/wire/commands.hpp"

// Real bodies, written by the gateway's own code (the pipeline's event bodies, the FHIR mapping, the
// wire's command results), so a change of what the gateway writes shows up in the ledger's tests.
namespace ehg::ledger_test {

inline constexpr const char* kTenant = "0301";
inline constexpr const char* kGateway = "demo-gw-01";
inline constexpr const char* kResident = "demo-resident-7f3a";
inline const core::WallTime kT0{std::chrono::milliseconds{1'795'705'875'642}};  // 2026-11-26T15:11:15.642Z

inline pipeline::EventContext Context(const std::string& gateway = kGateway) {
  return {gateway, kResident};
}

// A UUIDv7-shaped id from a number: distinct, ordered, readable in a failure.
inline core::EventId Id(std::uint64_t n, std::uint64_t milliseconds = 1'795'705'875'642) {
  std::array<std::uint8_t, 16> bytes{};
  for (int i = 0; i < 6; ++i)
    bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(milliseconds >> (40 - 8 * i));
  bytes[6] = 0x70;
  bytes[8] = 0x80;
  for (int i = 0; i < 7; ++i)
    bytes[static_cast<std::size_t>(15 - i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return core::EventId(bytes);
}

inline core::Reading Reading(std::string metric, double value, std::string unit, core::WallTime at,
                             std::string device = "oximeter") {
  core::Reading reading;
  reading.device_id = std::move(device);
  reading.metric = std::move(metric);
  reading.value = value;
  reading.unit = std::move(unit);
  reading.device_time = at;
  reading.received_at = at + std::chrono::milliseconds(8);
  return reading;
}

inline std::string ObservationBody(std::uint64_t n, const core::Reading& reading,
                                   const std::string& gateway = kGateway) {
  return pipeline::ObservationBody(Context(gateway), Id(n), reading);
}

// The Bundle the uplink sends for these stored bodies.
inline std::string Bundle(const std::vector<std::string>& bodies) {
  std::vector<const std::string*> pointers;
  for (const std::string& body : bodies)
    pointers.push_back(&body);
  return fhir::ObservationBundle(pointers).json;
}

inline alerts::Alert SpO2Alert(alerts::Severity severity = alerts::Severity::kHigh) {
  alerts::Alert alert;
  alert.alert_id = "01a21869-2cbf-7002-a8c2-54cc69c2497f";
  alert.rule_id = "spo2-low";
  alert.metric = "spo2";
  alert.severity = severity;
  alert.raised_at = kT0;
  alert.updated_at = kT0;
  alert.worst_value = 86;
  alert.evidence.push_back({"oximeter", "spo2", 86, "%", kT0});
  return alert;
}

inline std::string AlertBody(std::uint64_t n, alerts::ChangeKind change, const alerts::Alert& alert,
                             const std::string& gateway = kGateway) {
  return pipeline::AlertBody(Context(gateway), Id(n), change, alert);
}

inline std::string DeviceBody(std::uint64_t n, bool connected, core::WallTime at) {
  return pipeline::DeviceEventBody(Context(), Id(n),
                                   {"oximeter", connected, connected ? "port opened" : "port closed", at});
}

inline std::string GatewayBody(std::uint64_t n) {
  return pipeline::GatewayEventBody(Context(), Id(n), kT0, "update.installed", "info", "0.2.0-1 installed");
}

inline std::string CommandResult(std::uint64_t n, std::string_view command_id, bool ok = true) {
  return wire::CommandResultBody(Id(n), kGateway, kT0, command_id, "ping", ok, "pong");
}

}  // namespace ehg::ledger_test
