#include "devices/ble_profiles/measurement_rules.hpp"

namespace ehg::devices::ble {

UserSlot JudgeUserSlot(std::optional<unsigned> resident_slot, std::optional<std::uint8_t> measured_slot) {
  if (!resident_slot || !measured_slot) return UserSlot::kResident;
  return *measured_slot == *resident_slot ? UserSlot::kResident : UserSlot::kOtherUser;
}

std::optional<core::WallTime> ClaimedDeviceTime(const Measurement& measurement,
                                                const core::LocalTimeConverter& local_to_utc) {
  if (!measurement.device_local_time || measurement.device_clock_not_set || !local_to_utc)
    return std::nullopt;
  return local_to_utc(*measurement.device_local_time);
}

}  // namespace ehg::devices::ble
