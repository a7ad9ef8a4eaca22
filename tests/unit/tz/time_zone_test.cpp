#include "gateway/tz/time_zone.hpp"

#include <doctest/doctest.h>

#include <chrono>

namespace {

using namespace std::chrono_literals;

ehg::core::WallTime UtcTime(std::chrono::sys_days day, std::chrono::minutes time) {
  return ehg::core::WallTime{day + time};
}

ehg::alerts::LocalTime Local(std::chrono::local_days day, std::chrono::minutes time) {
  return ehg::alerts::LocalTime{day + time};
}

}  // namespace

TEST_CASE("The resident's time zone loads from the tz database, and an unknown one is refused") {
  auto oslo = ehg::tz::LoadTimeZone("Europe/Oslo");
  REQUIRE(oslo.has_value());
  CHECK((*oslo)->name() == "Europe/Oslo");
  const auto missing = ehg::tz::LoadTimeZone("Europe/Atlantis");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == ehg::Errc::kNotFound);
  CHECK((*ehg::tz::LoadTimeZone("UTC"))->name() == "UTC");
}

TEST_CASE("Local times in a gap map to the jump, repeated ones to their first occurrence") {
  const auto oslo = ehg::tz::LoadTimeZone("Europe/Oslo").value();
  using std::chrono::March;
  using std::chrono::October;
  const std::chrono::local_days spring{2026y / March / 29};
  const std::chrono::local_days autumn{2026y / October / 25};
  // 02:00 CET jumps to 03:00 CEST at 01:00 UTC: 02:30 does not exist.
  CHECK(oslo->ToUtc(Local(spring, 150min)) == UtcTime(std::chrono::sys_days{2026y / March / 29}, 60min));
  CHECK(oslo->ToUtc(Local(spring, 60min)) == UtcTime(std::chrono::sys_days{2026y / March / 29}, 0min));
  // 03:00 CEST goes back to 02:00 CET: 02:30 happens twice, the first time at 00:30 UTC.
  CHECK(oslo->ToUtc(Local(autumn, 150min)) == UtcTime(std::chrono::sys_days{2026y / October / 25}, 30min));
  CHECK(oslo->ToLocal(UtcTime(std::chrono::sys_days{2026y / October / 25}, 90min)) == Local(autumn, 150min));
}
