#include "gateway/core/clock.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::core::FormatIso8601;
using ehg::core::ManualClock;
using ehg::core::WallTime;

TEST_CASE("ManualClock moves wall and steady time together, and only when told") {
  ManualClock clock(WallTime{1'000ms});
  const auto steady_start = clock.SteadyNow();
  CHECK(clock.Now() == WallTime{1'000ms});
  clock.Advance(250ms);
  CHECK(clock.Now() == WallTime{1'250ms});
  CHECK(clock.SteadyNow() - steady_start == 250ms);
}

TEST_CASE("A wall-clock jump leaves steady time alone") {
  ManualClock clock(WallTime{1'000ms});
  const auto steady_start = clock.SteadyNow();
  clock.SetWall(WallTime{0ms});
  CHECK(clock.Now() == WallTime{0ms});
  CHECK(clock.SteadyNow() == steady_start);
}

TEST_CASE("ManualClock reports synchronisation as set") {
  ManualClock clock;
  CHECK(clock.WallClockSynchronised());
  clock.SetSynchronised(false);
  CHECK_FALSE(clock.WallClockSynchronised());
}

TEST_CASE("ISO 8601 formatting is UTC with milliseconds") {
  CHECK(FormatIso8601(WallTime{0ms}) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatIso8601(WallTime{1'767'225'600'123ms}) == "2026-01-01T00:00:00.123Z");
  // 2024-02-29 (leap day) 23:59:59.999
  CHECK(FormatIso8601(WallTime{1'709'251'199'999ms}) == "2024-02-29T23:59:59.999Z");
}

TEST_CASE("SystemClock can be told to trust an unsynchronised wall clock") {
  ehg::core::SystemClock trusting(true);
  CHECK(trusting.WallClockSynchronised());
  const auto before = std::chrono::system_clock::now();
  const auto now = trusting.Now();
  CHECK(std::chrono::abs(now - std::chrono::time_point_cast<std::chrono::milliseconds>(before)) < 5s);
}

TEST_CASE("ISO 8601 times parse strictly, with their zone, and round-trip through the formatter") {
  using ehg::core::ParseIso8601;
  CHECK(ParseIso8601("2026-01-01T00:00:00.123Z") == WallTime{1'767'225'600'123ms});
  CHECK(ParseIso8601("2026-01-01T00:00:00Z") == WallTime{1'767'225'600'000ms});
  CHECK(ParseIso8601("2026-01-01T01:00:00+01:00") == WallTime{1'767'225'600'000ms});
  CHECK(ParseIso8601("2025-12-31T22:30:00-01:30") == WallTime{1'767'225'600'000ms});
  CHECK(ParseIso8601("2026-01-01T00:00:00.5Z") == WallTime{1'767'225'600'500ms});
  CHECK(ParseIso8601("2026-01-01T00:00:00.123999Z") == WallTime{1'767'225'600'123ms});  // truncated
  CHECK(ParseIso8601("2026-01-01 00:00:00Z") == WallTime{1'767'225'600'000ms});
  CHECK(ParseIso8601(FormatIso8601(WallTime{1'790'000'000'042ms})) == WallTime{1'790'000'000'042ms});
  for (const char* bad :
       {"", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00+0100", "2026-02-30T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zjunk",
        "26-01-01T00:00:00Z", "2026-1-01T00:00:00Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseIso8601(bad).has_value());
  }
}

TEST_CASE("Civil times convert to a count since the epoch and back, impossible dates refused") {
  using ehg::core::CivilTime;
  const CivilTime leap_evening{2024, 2, 29, 23, 50, 0};
  const auto since_epoch = ehg::core::FromCivilTime(leap_evening);
  REQUIRE(since_epoch.has_value());
  CHECK(*since_epoch == std::chrono::milliseconds{1'709'250'600'000});
  CHECK(ehg::core::ToCivilTime(*since_epoch) == leap_evening);
  CHECK(ehg::core::ToCivilTime(*since_epoch + std::chrono::minutes{20}) == CivilTime{2024, 3, 1, 0, 10, 0});
  CHECK(ehg::core::ToCivilTime(std::chrono::milliseconds{-1}) == CivilTime{1969, 12, 31, 23, 59, 59});
  CHECK_FALSE(ehg::core::FromCivilTime(CivilTime{2023, 2, 29, 12, 0, 0}).has_value());
  CHECK_FALSE(ehg::core::FromCivilTime(CivilTime{2024, 13, 1, 12, 0, 0}).has_value());
  CHECK_FALSE(ehg::core::FromCivilTime(CivilTime{2024, 1, 1, 24, 0, 0}).has_value());
  CHECK(ehg::core::FormatCivilTime(leap_evening) == "2024-02-29T23:50:00");
}

TEST_CASE("An impossible time is refused with its reason named, a malformed one with what was expected") {
  using ehg::core::ParseIso8601Explained;
  struct Vector {
    const char* name;
    const char* text;
    ehg::Errc code;
    const char* reason;
  };
  const Vector vectors[] = {
      {"30 February", "2026-02-30T10:00:00Z", ehg::Errc::kRejected,
       "impossible date 2026-02-30 (February 2026 has 28 days)"},
      {"29 February outside a leap year", "2023-02-29T10:00:00Z", ehg::Errc::kRejected,
       "impossible date 2023-02-29 (February 2023 has 28 days)"},
      {"31 April", "2026-04-31T10:00:00Z", ehg::Errc::kRejected,
       "impossible date 2026-04-31 (April 2026 has 30 days)"},
      {"day 00", "2026-03-00T10:00:00Z", ehg::Errc::kRejected,
       "impossible date 2026-03-00 (days start at 01)"},
      {"month 13", "2026-13-01T10:00:00Z", ehg::Errc::kRejected,
       "impossible date 2026-13-01 (month 13 does not exist; months are 01-12)"},
      {"month 00", "2026-00-10T10:00:00Z", ehg::Errc::kRejected, "month 00 does not exist"},
      {"leap second", "2026-03-25T23:59:60Z", ehg::Errc::kRejected,
       "leap second (23:59:60) is not supported: "},
      {"leap second in a local time", "2016-12-31T23:59:60+01:00", ehg::Errc::kRejected,
       "leap second (23:59:60) is not supported"},
      {"second 61", "2026-03-25T10:00:61Z", ehg::Errc::kRejected,
       "second 61 does not exist (seconds are 00-59)"},
      {"hour 24", "2026-03-25T24:00:00Z", ehg::Errc::kRejected,
       "hour 24 does not exist (hours are 00-23; the end of a day is 00:00 of the next day)"},
      {"hour 25", "2026-03-25T25:00:00Z", ehg::Errc::kRejected, "hour 25 does not exist"},
      {"minute 60", "2026-03-25T10:60:00Z", ehg::Errc::kRejected,
       "minute 60 does not exist (minutes are 00-59)"},
      {"offset beyond +14:00", "2026-03-25T10:00:00+14:30", ehg::Errc::kRejected,
       "time zone offset +14:30 is beyond 14:00"},
      {"offset beyond -14:00", "2026-03-25T10:00:00-15:00", ehg::Errc::kRejected,
       "time zone offset -15:00 is beyond 14:00"},
      {"offset minute 60", "2026-03-25T10:00:00+01:60", ehg::Errc::kRejected,
       "impossible time zone offset +01:60"},
      {"no zone", "2026-03-25T10:00:00", ehg::Errc::kParse, "no time zone: add Z for UTC"},
      {"offset without colon", "2026-03-25T10:00:00+0100", ehg::Errc::kParse, "+HH:MM"},
      {"date only", "2026-03-25", ehg::Errc::kParse, "expected 'T' between the date and the time"},
      {"two-digit year", "26-03-25T10:00:00Z", ehg::Errc::kParse, "4-digit year"},
      {"trailing text", "2026-03-25T10:00:00Zjunk", ehg::Errc::kParse, "unexpected text after the time zone"},
      {"empty fraction", "2026-03-25T10:00:00.Z", ehg::Errc::kParse, "digits after the decimal point"},
  };
  for (const Vector& vector : vectors) {
    CAPTURE(vector.name);
    const auto parsed = ParseIso8601Explained(vector.text);
    REQUIRE_FALSE(parsed.has_value());
    CAPTURE(parsed.error().message);
    CHECK(parsed.error().code == vector.code);
    CHECK(parsed.error().message.find(vector.reason) != std::string::npos);
    CHECK_FALSE(ehg::core::ParseIso8601(vector.text).has_value());  // the short form agrees
  }
  // The edges that do exist.
  CHECK(ParseIso8601Explained("2024-02-29T23:59:59.999Z") == WallTime{1'709'251'199'999ms});
  CHECK(ParseIso8601Explained("2026-01-01T14:00:00+14:00") == WallTime{1'767'225'600'000ms});
  CHECK(ParseIso8601Explained("2025-12-31T10:00:00-14:00") == WallTime{1'767'225'600'000ms});
}

TEST_CASE("A refusal never repeats the bytes it was given") {
  const auto parsed = ehg::core::ParseIso8601Explained("2026-03-25T10:00:00\x1b[31m\xff");
  REQUIRE_FALSE(parsed.has_value());
  for (const char c : parsed.error().message) {
    CHECK(static_cast<unsigned char>(c) >= 0x20);
    CHECK(static_cast<unsigned char>(c) < 0x7f);
  }
}
