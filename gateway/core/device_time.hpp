#pragma once

#include <chrono>
#include <string_view>

#include "gateway/core/reading.hpp"

// The one time model (docs/rules.md, "Time"): a device's own time stamp is a claim, not a fact. It is a
// reading's effective time only when it is plausible against the moment the gateway received the
// reading. Every reading passes JudgeDeviceTime once, where it enters the gateway (the pipeline, and
// `replay`), before anything is stored or evaluated. Pure.
namespace ehg::core {

// How a device delivers its measurements, which decides its default tolerance and what an implausible
// time means.
enum class DeviceTiming {
  kStreaming,      // sends what it measures as it measures it (oximeter streams, BTHome sensors)
  kStoredRecords,  // keeps measurements and sends them later (BP monitors, scales, glucose meters)
};

// How far a device's time may lie from the receive time and still be believed.
struct DeviceClockTolerance {
  // Ahead of the receive time: a measurement cannot come from the future; only clock drift is allowed.
  std::chrono::seconds ahead{std::chrono::minutes{2}};
  // Behind the receive time: how old a measurement may be when it arrives. Tight for devices that
  // stream what they measure now; long for devices that keep records and upload them later.
  std::chrono::seconds behind{std::chrono::minutes{2}};
  // A streaming device's reading with an implausible time was measured when it arrived; a stored record
  // with one was measured at an unknown time (Reading::taken_at_unknown).
  DeviceTiming timing = DeviceTiming::kStreaming;

  friend bool operator==(const DeviceClockTolerance&, const DeviceClockTolerance&) = default;
};

// A device time before this is a clock reset to its factory date (devices start at 2000-01-01, 2010-01-01
// and the like after a battery change), not the time of a measurement.
inline constexpr WallTime kFactoryClockBefore{std::chrono::sys_days{std::chrono::year{2020} / 1 / 1}};

// Streaming: 2 minutes either way. Stored records: 5 minutes ahead, 30 days behind.
DeviceClockTolerance DefaultClockTolerance(DeviceTiming timing);

enum class DeviceTimeVerdict {
  kNoDeviceTime,     // the device gave no time: the receive time is the effective time
  kPlausible,        // the device's time is the effective time
  kAhead,            // further ahead of the receive time than allowed: the receive time is used
  kBehind,           // older than allowed: the receive time is used
  kGatewayUncertain  // the gateway's own clock is not synchronised: nothing to judge against
};

std::string_view ToString(DeviceTimeVerdict verdict);

// Sets reading.device_clock_suspect (and so the effective time) and taken_at_unknown from the verdict. A
// reading received while the gateway's clock was unsynchronised keeps the device's time unjudged: it is
// already marked time_uncertain, which keeps it out of clinical rules.
DeviceTimeVerdict JudgeDeviceTime(Reading& reading, const DeviceClockTolerance& tolerance);

}  // namespace ehg::core
