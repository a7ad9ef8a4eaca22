#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"

// The resident's local time, for schedules ("BP before 11:00") and daily windows ("08:00-22:00").
// The rule engine sees a zone only through this port; the tz database adapter lives in gateway/config.
namespace ehg::alerts {

using LocalTime = std::chrono::local_time<std::chrono::milliseconds>;

class TimeZone {
 public:
  virtual ~TimeZone() = default;
  virtual std::string_view name() const = 0;
  virtual LocalTime ToLocal(core::WallTime utc) const = 0;
  // A local time skipped by a spring-forward change maps to the instant the clocks jumped (the first
  // local time after the gap); one that occurs twice in autumn maps to its first occurrence.
  virtual core::WallTime ToUtc(LocalTime local) const = 0;
};

class UtcZone final : public TimeZone {
 public:
  std::string_view name() const override { return "UTC"; }
  LocalTime ToLocal(core::WallTime utc) const override { return LocalTime{utc.time_since_epoch()}; }
  core::WallTime ToUtc(LocalTime local) const override { return core::WallTime{local.time_since_epoch()}; }
};

// Minutes after local midnight.
struct TimeOfDay {
  int minutes = 0;  // 0-1439

  static std::optional<TimeOfDay> Parse(std::string_view hh_mm);  // "08:00", "23:30"
  std::string ToString() const;
  friend auto operator<=>(const TimeOfDay&, const TimeOfDay&) = default;
};

// The instant `time` happens on local day `day`.
core::WallTime AtLocalTime(const TimeZone& zone, std::chrono::local_days day, TimeOfDay time);
std::chrono::local_days LocalDay(const TimeZone& zone, core::WallTime utc);

// Every day from `from` to `to` (local); when `to` is not after `from` the window crosses midnight
// (23:00-06:00). from == to is the whole day.
struct DailyWindow {
  TimeOfDay from;
  TimeOfDay to;

  struct Span {
    core::WallTime start;
    core::WallTime end;  // exclusive
  };
  // The occurrence of the window that contains `utc`, if any.
  std::optional<Span> Containing(const TimeZone& zone, core::WallTime utc) const;
  bool Contains(const TimeZone& zone, core::WallTime utc) const { return Containing(zone, utc).has_value(); }

  friend bool operator==(const DailyWindow&, const DailyWindow&) = default;
};

}  // namespace ehg::alerts
