#include "gateway/core/log.hpp"

#include <doctest/doctest.h>

#include "tests/support/log_capture.hpp"

using ehg::core::FormatLogLine;
using ehg::core::LogLevel;

TEST_CASE("Log lines are logfmt with quoting only where needed") {
  CHECK(FormatLogLine(LogLevel::kInfo, "started", {{"devices", 3}, {"path", "/var/lib/x.db"}}) ==
        "level=info msg=started devices=3 path=/var/lib/x.db");
  CHECK(FormatLogLine(LogLevel::kWarning, "queue full", {{"empty", ""}}) ==
        "level=warning msg=\"queue full\" empty=\"\"");
  CHECK(FormatLogLine(LogLevel::kError, "x", {{"reason", "a \"quoted\" word\nnext=line\\"}}) ==
        "level=error msg=x reason=\"a \\\"quoted\\\" word\\nnext=line\\\\\"");
  CHECK(FormatLogLine(LogLevel::kDebug, "x", {{"flag", true}, {"ratio", 0.25}, {"negative", -7}}) ==
        "level=debug msg=x flag=true ratio=0.25 negative=-7");
  CHECK(FormatLogLine(LogLevel::kInfo, "x",
                      {{"control", std::string("a\x01"
                                               "b")}}) == "level=info msg=x control=\"a\\x01b\"");
}

TEST_CASE("Lines below the configured level are not written") {
  ehg::test::LogCapture capture(LogLevel::kWarning);
  ehg::core::LogInfo("lifecycle");
  ehg::core::LogDebug("per message");
  ehg::core::LogWarning("degraded");
  ehg::core::LogError("act now");
  CHECK_FALSE(capture.Contains("lifecycle"));
  CHECK_FALSE(capture.Contains("per message"));
  CHECK(capture.Contains("level=warning msg=degraded"));
  CHECK(capture.Contains("level=error msg=\"act now\""));
}

TEST_CASE("Log level names parse") {
  CHECK(ehg::core::ParseLogLevel("debug") == LogLevel::kDebug);
  CHECK(ehg::core::ParseLogLevel("error") == LogLevel::kError);
  CHECK_FALSE(ehg::core::ParseLogLevel("verbose").has_value());
}

TEST_CASE("The last warnings and errors are remembered for the status page, oldest dropped first") {
  ehg::test::LogCapture capture(LogLevel::kInfo);
  ehg::core::LogInfo("lifecycle line");
  for (std::size_t i = 0; i < ehg::core::kRecentProblemCapacity + 3; ++i)
    ehg::core::LogWarning("problem", {{"n", i}});
  ehg::core::LogError("last problem");
  const auto problems = ehg::core::RecentProblems();
  REQUIRE(problems.size() == ehg::core::kRecentProblemCapacity);
  CHECK(problems.back().level == LogLevel::kError);
  CHECK(problems.back().line == "level=error msg=\"last problem\"");
  CHECK(problems.front().line == "level=warning msg=problem n=4");
  for (const auto& problem : problems)
    CHECK(problem.line.find("lifecycle") == std::string::npos);
}
