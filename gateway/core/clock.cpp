#include "gateway/core/clock.hpp"

#include <sys/timex.h>

#include <cstdio>
#include <string>

namespace ehg::core {

WallTime SystemClock::Now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

SteadyTime SystemClock::SteadyNow() const {
  return std::chrono::steady_clock::now();
}

bool SystemClock::WallClockSynchronised() const {
  if (assume_synchronised_) return true;
  timex query{};  // modes = 0: read only
  const int state = adjtimex(&query);
  return state != -1 && state != TIME_ERROR && (query.status & STA_UNSYNC) == 0;
}

WallTime ManualClock::Now() const {
  std::lock_guard lock(mutex_);
  return wall_;
}

SteadyTime ManualClock::SteadyNow() const {
  std::lock_guard lock(mutex_);
  return steady_;
}

void ManualClock::Advance(std::chrono::milliseconds step) {
  std::lock_guard lock(mutex_);
  wall_ += step;
  steady_ += step;
}

void ManualClock::SetWall(WallTime wall) {
  std::lock_guard lock(mutex_);
  wall_ = wall;
}

std::string FormatIso8601(WallTime time) {
  const auto days = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss clock_time{time - days};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock_time.hours().count()), static_cast<int>(clock_time.minutes().count()),
                static_cast<int>(clock_time.seconds().count()),
                static_cast<int>(clock_time.subseconds().count()));
  return text;
}

std::optional<WallTime> ParseIso8601(std::string_view text) {
  std::size_t at = 0;
  const auto number = [&](std::size_t digits) -> std::optional<int> {
    if (at + digits > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < digits; ++i) {
      const char c = text[at + i];
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    at += digits;
    return value;
  };
  const auto literal = [&](char expected) {
    if (at >= text.size() || text[at] != expected) return false;
    ++at;
    return true;
  };
  const auto year = number(4);
  if (!year || !literal('-')) return std::nullopt;
  const auto month = number(2);
  if (!month || !literal('-')) return std::nullopt;
  const auto day = number(2);
  if (!day || !(literal('T') || literal(' '))) return std::nullopt;
  const auto hour = number(2);
  if (!hour || !literal(':')) return std::nullopt;
  const auto minute = number(2);
  if (!minute || !literal(':')) return std::nullopt;
  const auto second = number(2);
  if (!second) return std::nullopt;
  int milliseconds = 0;
  if (literal('.')) {
    std::size_t digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 3) milliseconds = milliseconds * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t i = digits; i < 3; ++i)
      milliseconds *= 10;
  }
  int offset_minutes = 0;
  if (!literal('Z')) {
    const bool plus = literal('+');
    if (!plus && !literal('-')) return std::nullopt;
    const auto offset_hours = number(2);
    if (!offset_hours || !literal(':')) return std::nullopt;
    const auto offset_rest = number(2);
    if (!offset_rest || *offset_hours > 23 || *offset_rest > 59) return std::nullopt;
    offset_minutes = (plus ? 1 : -1) * (*offset_hours * 60 + *offset_rest);
  }
  if (at != text.size()) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{*year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
  return WallTime{std::chrono::sys_days{date}} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
         std::chrono::seconds{*second} + std::chrono::milliseconds{milliseconds} -
         std::chrono::minutes{offset_minutes};
}

std::string FormatCivilTime(const CivilTime& time) {
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02u:%02u:%02u", time.year, time.month, time.day,
                time.hour, time.minute, time.second);
  return text;
}

CivilTime ToCivilTime(std::chrono::milliseconds since_epoch) {
  namespace c = std::chrono;
  const c::sys_days day = c::floor<c::days>(c::sys_time<c::milliseconds>(since_epoch));
  const c::year_month_day date{day};
  const c::hh_mm_ss clock{c::floor<c::seconds>(since_epoch - day.time_since_epoch())};
  return CivilTime{static_cast<int>(date.year()),
                   static_cast<unsigned>(date.month()),
                   static_cast<unsigned>(date.day()),
                   static_cast<unsigned>(clock.hours().count()),
                   static_cast<unsigned>(clock.minutes().count()),
                   static_cast<unsigned>(clock.seconds().count())};
}

std::optional<std::chrono::milliseconds> FromCivilTime(const CivilTime& time) {
  namespace c = std::chrono;
  const c::year_month_day date{c::year{time.year}, c::month{time.month}, c::day{time.day}};
  if (!date.ok() || time.hour > 23 || time.minute > 59 || time.second > 59) return std::nullopt;
  return c::duration_cast<c::milliseconds>(c::sys_days{date}.time_since_epoch() + c::hours{time.hour} +
                                           c::minutes{time.minute} + c::seconds{time.second});
}

}  // namespace ehg::core
