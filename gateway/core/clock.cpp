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

}  // namespace ehg::core
