#pragma once

#include <cstdint>
#include <optional>

#include "devices/ble_profiles/profiles.hpp"
#include "gateway/core/clock.hpp"

// What of a decoded measurement becomes the resident's reading: whose it is on a shared device, and which
// device time it carries. Pure: the BLE manager asks these for every measurement (docs/ble.md,
// "Characteristics and what becomes a reading").
namespace ehg::devices::ble {

// Whose measurement it is on a cuff or scale shared by several people (the User ID field of Blood
// Pressure and Weight; 0xFF is "unknown user").
enum class UserSlot { kResident, kOtherUser };

// A device configured without a slot is the resident's alone: every measurement is theirs. With a slot,
// a measurement of another slot is skipped, and so is one of the unknown user 0xFF (a guest measured:
// their blood pressure must not raise the resident's alerts). A measurement without the user field is
// the resident's: the device does not tell users apart.
UserSlot JudgeUserSlot(std::optional<unsigned> resident_slot, std::optional<std::uint8_t> measured_slot);

// The device's time of a measurement in UTC, as the device said it however far ahead or behind: the
// driver does not judge it, the pipeline does against the receive time (gateway/core/device_time.hpp,
// docs/rules.md "Time"). None when the measurement carries no time, when the device says its clock is
// not set, or when the local time does not convert in the resident's zone.
std::optional<core::WallTime> ClaimedDeviceTime(const Measurement& measurement,
                                                const core::LocalTimeConverter& local_to_utc);

}  // namespace ehg::devices::ble
