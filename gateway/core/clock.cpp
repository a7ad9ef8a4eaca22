#include "gateway/core/clock.hpp"

#include <sys/timex.h>

#include <array>
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

namespace {

std::string Digits(int value, std::size_t width) {
  std::string text = std::to_string(value);
  if (text.size() < width) text.insert(0, width - text.size(), '0');
  return text;
}

constexpr std::array<std::string_view, 12> kMonthNames{"January",   "February", "March",    "April",
                                                       "May",       "June",     "July",     "August",
                                                       "September", "October",  "November", "December"};

}  // namespace

std::optional<WallTime> ParseIso8601(std::string_view text) {
  auto parsed = ParseIso8601Explained(text);
  if (!parsed) return std::nullopt;
  return *parsed;
}

Result<WallTime> ParseIso8601Explained(std::string_view text) {
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
  // Messages quote only the numbers read, never the input: it may be any bytes.
  const auto malformed = [](std::string_view what) {
    return Fail(
        Errc::kParse,
        "not an ISO 8601 time with a zone such as 2026-03-02T07:15:00Z or 2026-03-02T08:15:00+01:00 (" +
            std::string(what) + ")");
  };
  const auto year = number(4);
  if (!year) return malformed("expected a 4-digit year first");
  if (!literal('-')) return malformed("expected '-' after the year");
  const auto month = number(2);
  if (!month) return malformed("expected a 2-digit month after the year");
  if (!literal('-')) return malformed("expected '-' after the month");
  const auto day = number(2);
  if (!day) return malformed("expected a 2-digit day after the month");
  if (!(literal('T') || literal(' '))) return malformed("expected 'T' between the date and the time");
  const auto hour = number(2);
  if (!hour) return malformed("expected a 2-digit hour after the date");
  if (!literal(':')) return malformed("expected ':' after the hour");
  const auto minute = number(2);
  if (!minute) return malformed("expected 2-digit minutes after the hour");
  if (!literal(':')) return malformed("expected ':' and seconds after the minutes");
  const auto second = number(2);
  if (!second) return malformed("expected 2-digit seconds after the minutes");
  int milliseconds = 0;
  if (literal('.')) {
    std::size_t digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 3) milliseconds = milliseconds * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return malformed("expected digits after the decimal point");
    for (std::size_t i = digits; i < 3; ++i)
      milliseconds *= 10;
  }
  int offset_minutes = 0;
  std::string offset_text;
  if (at == text.size()) return malformed("no time zone: add Z for UTC or an offset such as +01:00");
  if (!literal('Z')) {
    const bool plus = literal('+');
    if (!plus && !literal('-')) return malformed("expected Z or an offset such as +01:00 after the time");
    const auto offset_hours = number(2);
    if (!offset_hours || !literal(':')) return malformed("expected the offset as +HH:MM or -HH:MM");
    const auto offset_rest = number(2);
    if (!offset_rest) return malformed("expected the offset as +HH:MM or -HH:MM");
    offset_text = (plus ? "+" : "-") + Digits(*offset_hours, 2) + ":" + Digits(*offset_rest, 2);
    if (*offset_rest > 59) {
      return Fail(Errc::kRejected,
                  "impossible time zone offset " + offset_text + " (offset minutes are 00-59)");
    }
    offset_minutes = (plus ? 1 : -1) * (*offset_hours * 60 + *offset_rest);
  }
  if (at != text.size()) return malformed("unexpected text after the time zone");

  const std::string date_text = Digits(*year, 4) + "-" + Digits(*month, 2) + "-" + Digits(*day, 2);
  if (*month < 1 || *month > 12) {
    return Fail(Errc::kRejected, "impossible date " + date_text + " (month " + Digits(*month, 2) +
                                     " does not exist; months are 01-12)");
  }
  const std::chrono::year_month_day_last last{
      std::chrono::year{*year} / std::chrono::month{static_cast<unsigned>(*month)} / std::chrono::last};
  const unsigned days_in_month = static_cast<unsigned>(last.day());
  if (*day < 1) return Fail(Errc::kRejected, "impossible date " + date_text + " (days start at 01)");
  if (static_cast<unsigned>(*day) > days_in_month) {
    return Fail(Errc::kRejected, "impossible date " + date_text + " (" +
                                     std::string(kMonthNames[static_cast<std::size_t>(*month - 1)]) + " " +
                                     Digits(*year, 4) + " has " + std::to_string(days_in_month) + " days)");
  }
  if (*hour == 24) {
    return Fail(Errc::kRejected,
                "hour 24 does not exist (hours are 00-23; the end of a day is 00:00 of the next day)");
  }
  if (*hour > 24) {
    return Fail(Errc::kRejected, "hour " + Digits(*hour, 2) + " does not exist (hours are 00-23)");
  }
  if (*minute > 59) {
    return Fail(Errc::kRejected, "minute " + Digits(*minute, 2) + " does not exist (minutes are 00-59)");
  }
  if (*second == 60) {
    return Fail(Errc::kRejected, "leap second (" + Digits(*hour, 2) + ":" + Digits(*minute, 2) +
                                     ":60) is not supported: the gateway counts time without leap seconds "
                                     "(like Unix time); write :59 or the next minute's :00");
  }
  if (*second > 60) {
    return Fail(Errc::kRejected, "second " + Digits(*second, 2) + " does not exist (seconds are 00-59)");
  }
  if (offset_minutes > 14 * 60 || offset_minutes < -14 * 60) {
    return Fail(Errc::kRejected, "time zone offset " + offset_text +
                                     " is beyond 14:00 (real time zones lie between -12:00 and +14:00)");
  }
  const std::chrono::year_month_day date{std::chrono::year{*year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
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
