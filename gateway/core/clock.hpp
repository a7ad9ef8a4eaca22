#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/result.hpp"

namespace ehg::core {

// Wall time as stored and sent: milliseconds since the Unix epoch, UTC.
using WallTime = std::chrono::sys_time<std::chrono::milliseconds>;
// Time for durations and schedules: never jumps when the wall clock is set.
using SteadyTime = std::chrono::steady_clock::time_point;

// Injected everywhere time matters so that rules and timers are tested without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
  virtual SteadyTime SteadyNow() const = 0;
  // False until the wall clock is known to be right (a Pi has no RTC and boots with a stale time).
  virtual bool WallClockSynchronised() const = 0;
};

// The real clocks. Synchronisation is the kernel's view (adjtimex STA_UNSYNC, cleared by NTP/timesyncd),
// unless the operator said the clock is trusted (development machines without NTP).
class SystemClock final : public Clock {
 public:
  explicit SystemClock(bool assume_synchronised = false) : assume_synchronised_(assume_synchronised) {}
  WallTime Now() const override;
  SteadyTime SteadyNow() const override;
  bool WallClockSynchronised() const override;

 private:
  bool assume_synchronised_;
};

// A clock that moves only when told. Thread-safe so tests can advance it while a component runs.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime{std::chrono::milliseconds{1'767'225'600'000}})
      : wall_(start) {}
  WallTime Now() const override;
  SteadyTime SteadyNow() const override;
  bool WallClockSynchronised() const override { return synchronised_.load(); }

  void Advance(std::chrono::milliseconds step);
  void SetWall(WallTime wall);  // a wall-clock jump: steady time does not move
  void SetSynchronised(bool synchronised) { synchronised_.store(synchronised); }

 private:
  mutable std::mutex mutex_;
  WallTime wall_;
  SteadyTime steady_{};
  std::atomic<bool> synchronised_{true};
};

// ISO 8601 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z.
std::string FormatIso8601(WallTime time);
// Strict ISO 8601 / RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, optional fraction (milliseconds are kept,
// finer digits truncated), then Z or +HH:MM / -HH:MM with an offset of at most 14:00 (the widest real
// zone). nullopt for anything else.
std::optional<WallTime> ParseIso8601(std::string_view text);
// The same, with the reason for a refusal, for people: kParse when the text is not written as such a
// time, kRejected when it is but names a time that does not exist ("impossible date 2026-02-30 (February
// 2026 has 28 days)", a leap second, hour 24, minute 60, an offset beyond 14:00). The message never
// repeats the input's bytes, only numbers read from it.
Result<WallTime> ParseIso8601Explained(std::string_view text);

// A calendar time as a device's clock shows it (local time, no zone). Devices keep local time; the
// driver converts it in the resident's zone.
struct CivilTime {
  int year = 0;
  unsigned month = 0;  // 1..12
  unsigned day = 0;    // 1..31
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;

  friend bool operator==(const CivilTime&, const CivilTime&) = default;
};

// "2024-03-15T07:30:00" (no zone: it is a local time).
std::string FormatCivilTime(const CivilTime& time);

// The calendar fields of a point on a time line, read without any zone (a UTC instant gives UTC fields,
// a local time's count since its epoch gives local fields), to the second.
CivilTime ToCivilTime(std::chrono::milliseconds since_epoch);
// The inverse: the count since the epoch of those fields; nullopt for a date or time that does not exist
// (month 13, 30 February, hour 24).
std::optional<std::chrono::milliseconds> FromCivilTime(const CivilTime& time);

// A device clock's local time to UTC; nullopt when it cannot be converted.
using LocalTimeConverter = std::function<std::optional<WallTime>(const CivilTime&)>;

}  // namespace ehg::core
