// What of a decoded measurement becomes the resident's reading: the user slot of a shared device and the
// device time passed on (devices/ble_profiles/measurement_rules.hpp).
#include "devices/ble_profiles/measurement_rules.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::core::CivilTime;
using ehg::core::WallTime;
using ehg::devices::ble::ClaimedDeviceTime;
using ehg::devices::ble::JudgeUserSlot;
using ehg::devices::ble::Measurement;
using ehg::devices::ble::UserSlot;

namespace {

// Device clocks keep local time; the tests' resident lives in UTC.
std::optional<WallTime> UtcZone(const CivilTime& local) {
  const auto since_epoch = ehg::core::FromCivilTime(local);
  if (!since_epoch) return std::nullopt;
  return WallTime{*since_epoch};
}

Measurement MeasuredAt(CivilTime local) {
  Measurement measurement;
  measurement.values.push_back({"bp.systolic", 128});
  measurement.device_local_time = local;
  return measurement;
}

}  // namespace

TEST_CASE("A device configured without a user slot is the resident's alone, whatever slot it reports") {
  for (const std::optional<std::uint8_t> measured :
       {std::optional<std::uint8_t>{}, std::optional<std::uint8_t>{0}, std::optional<std::uint8_t>{1},
        std::optional<std::uint8_t>{2}, std::optional<std::uint8_t>{0xFF}})
    CHECK(JudgeUserSlot(std::nullopt, measured) == UserSlot::kResident);
}

TEST_CASE("A shared cuff or scale: only the configured slot is the resident's") {
  CHECK(JudgeUserSlot(1u, std::uint8_t{1}) == UserSlot::kResident);
  CHECK(JudgeUserSlot(1u, std::uint8_t{2}) == UserSlot::kOtherUser);  // the spouse
  CHECK(JudgeUserSlot(2u, std::uint8_t{0}) == UserSlot::kOtherUser);  // slot 0 is a slot like any
  CHECK(JudgeUserSlot(254u, std::uint8_t{254}) == UserSlot::kResident);
  CHECK(JudgeUserSlot(254u, std::uint8_t{253}) == UserSlot::kOtherUser);
  // 0xFF, "unknown user": a guest measured. Not the resident's, so it raises none of their alerts.
  CHECK(JudgeUserSlot(1u, std::uint8_t{0xFF}) == UserSlot::kOtherUser);
  // No user field at all: the device does not tell users apart, so the measurement is kept.
  CHECK(JudgeUserSlot(1u, std::nullopt) == UserSlot::kResident);
}

TEST_CASE("The device time is passed on as the device said it, however far ahead or behind") {
  const Measurement now = MeasuredAt({2026, 3, 15, 7, 30, 0});
  CHECK(ClaimedDeviceTime(now, UtcZone) == UtcZone({2026, 3, 15, 7, 30, 0}));
  // A clock a year ahead, or one that restarted in 2000 after a battery change: not the driver's call,
  // the pipeline judges it against the receive time.
  const Measurement ahead = MeasuredAt({2027, 3, 15, 7, 30, 0});
  CHECK(ClaimedDeviceTime(ahead, UtcZone) == UtcZone({2027, 3, 15, 7, 30, 0}));
  const Measurement behind = MeasuredAt({2000, 1, 1, 0, 0, 5});
  CHECK(ClaimedDeviceTime(behind, UtcZone) == UtcZone({2000, 1, 1, 0, 0, 5}));
}

TEST_CASE("No device time when there is none, the clock is not set, or the local time does not convert") {
  Measurement untimed;
  untimed.values.push_back({"spo2", 97});
  CHECK_FALSE(ClaimedDeviceTime(untimed, UtcZone));

  Measurement not_set = MeasuredAt({2026, 3, 15, 7, 30, 0});
  not_set.device_clock_not_set = true;  // PLX "device clock not set", a glucose time fault
  CHECK_FALSE(ClaimedDeviceTime(not_set, UtcZone));

  // A local time the resident's zone skips (the spring-forward hour) converts to nothing.
  const ehg::core::LocalTimeConverter skips_everything = [](const CivilTime&) {
    return std::optional<WallTime>{};
  };
  CHECK_FALSE(ClaimedDeviceTime(MeasuredAt({2026, 3, 29, 2, 30, 0}), skips_everything));
  CHECK_FALSE(ClaimedDeviceTime(MeasuredAt({2026, 3, 15, 7, 30, 0}), ehg::core::LocalTimeConverter{}));
}
