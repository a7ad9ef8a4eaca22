#include "alerts/time_zone.hpp"

namespace ehg::alerts {

std::optional<TimeOfDay> TimeOfDay::Parse(std::string_view hh_mm) {
  if (hh_mm.size() != 5 || hh_mm[2] != ':') return std::nullopt;
  int hours = 0;
  int minutes = 0;
  const auto digits = [](std::string_view text, int& out) {
    if (text[0] < '0' || text[0] > '9' || text[1] < '0' || text[1] > '9') return false;
    out = (text[0] - '0') * 10 + (text[1] - '0');
    return true;
  };
  if (!digits(hh_mm.substr(0, 2), hours) || !digits(hh_mm.substr(3, 2), minutes)) return std::nullopt;
  if (hours > 23 || minutes > 59) return std::nullopt;
  return TimeOfDay{hours * 60 + minutes};
}

std::string TimeOfDay::ToString() const {
  const int hours = minutes / 60;
  const int rest = minutes % 60;
  return {static_cast<char>('0' + hours / 10), static_cast<char>('0' + hours % 10), ':',
          static_cast<char>('0' + rest / 10), static_cast<char>('0' + rest % 10)};
}

core::WallTime AtLocalTime(const TimeZone& zone, std::chrono::local_days day, TimeOfDay time) {
  return zone.ToUtc(LocalTime{day} + std::chrono::minutes{time.minutes});
}

std::chrono::local_days LocalDay(const TimeZone& zone, core::WallTime utc) {
  return std::chrono::floor<std::chrono::days>(zone.ToLocal(utc));
}

std::optional<DailyWindow::Span> DailyWindow::Containing(const TimeZone& zone, core::WallTime utc) const {
  const std::chrono::local_days today = LocalDay(zone, utc);
  const bool crosses_midnight = to <= from;
  // The occurrence that contains utc started today or (for a window across midnight) yesterday.
  for (const std::chrono::local_days start_day : {today, today - std::chrono::days{1}}) {
    const core::WallTime start = AtLocalTime(zone, start_day, from);
    const std::chrono::local_days end_day = crosses_midnight ? start_day + std::chrono::days{1} : start_day;
    const core::WallTime end = AtLocalTime(zone, end_day, to);
    if (utc >= start && utc < end) return Span{start, end};
  }
  return std::nullopt;
}

}  // namespace ehg::alerts
