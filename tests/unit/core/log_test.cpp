#include "gateway/core/log.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "gateway/core/utf8.hpp"
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
    ehg::core::LogWarning("problem " + std::to_string(i), {{"n", i}});
  ehg::core::LogError("last problem");
  const auto problems = ehg::core::RecentProblems();
  REQUIRE(problems.size() == ehg::core::kRecentProblemCapacity);
  CHECK(problems.back().level == LogLevel::kError);
  CHECK(problems.back().line == "level=error msg=\"last problem\"");
  CHECK(problems.front().line == "level=warning msg=\"problem 4\" n=4");
  for (const auto& problem : problems)
    CHECK(problem.line.find("lifecycle") == std::string::npos);
}

TEST_CASE("A flood of one junk message takes one entry and cannot push a real problem out") {
  ehg::test::LogCapture capture(LogLevel::kInfo);
  for (std::size_t i = 0; i < ehg::core::kRecentProblemCapacity; ++i)
    ehg::core::LogWarning("distinct " + std::to_string(i));
  ehg::core::LogError("database write failed", {{"reason", "disk I/O error"}});
  for (int i = 0; i < 500; ++i)
    ehg::core::LogWarning("command refused", {{"reason", "malformed"}, {"attempt", i}});
  const auto problems = ehg::core::RecentProblems();
  REQUIRE(problems.size() == ehg::core::kRecentProblemCapacity);
  const auto real = std::find_if(problems.begin(), problems.end(), [](const auto& problem) {
    return problem.message == "database write failed";
  });
  REQUIRE(real != problems.end());
  CHECK(real->count == 1);
  CHECK(problems.back().message == "command refused");
  CHECK(problems.back().count == 500);
  CHECK(problems.back().line == "level=warning msg=\"command refused\" reason=malformed attempt=499");
  CHECK(problems.back().first_at <= problems.back().at);
  CHECK(std::count_if(problems.begin(), problems.end(),
                      [](const auto& problem) { return problem.message == "command refused"; }) == 1);
}

TEST_CASE("Bytes that are not UTF-8 are written as escapes, so every line is valid UTF-8") {
  const std::string latin1_note = "Bj\xF8rn s\xE5 til";  // Latin-1, not UTF-8
  const std::string line =
      FormatLogLine(LogLevel::kWarning, "command refused", {{"kid", latin1_note}, {"utf8", "Bjørn"}});
  CHECK(line == "level=warning msg=\"command refused\" kid=\"Bj\\xf8rn s\\xe5 til\" utf8=\"Bjørn\"");
  CHECK(ehg::core::IsValidUtf8(line));
  // A C1 CSI and a right-to-left override are valid UTF-8 but would act on the terminal reading the log.
  CHECK(FormatLogLine(LogLevel::kWarning, "x",
                      {{"v",
                        "a\xC2\x9B"
                        "31mb"}}) == "level=warning msg=x v=\"a\\u{009b}31mb\"");
  CHECK(FormatLogLine(LogLevel::kWarning, "x",
                      {{"v",
                        "txt\xE2\x80\xAE"
                        "exe"}}) == "level=warning msg=x v=\"txt\\u{202e}exe\"");
  // Overlong forms, surrogates, truncated sequences, DEL and bytes beyond U+10FFFF: each escaped.
  for (const std::string& hostile :
       {std::string("\xC0\xAF"), std::string("\xED\xA0\x80"), std::string("\xE2\x82"), std::string("\x7F"),
        std::string("\xF5\x80\x80\x80"), std::string("\xFF")}) {
    const std::string escaped = FormatLogLine(LogLevel::kError, hostile, {{"value", hostile}});
    CHECK(ehg::core::IsValidUtf8(escaped));
    CHECK(escaped.find("\\x") != std::string::npos);
  }
}

TEST_CASE(
    "A level set to error hides no warning from the status page, and a real refusal is not merged with "
    "junk") {
  // The problems are the process's: counted from what earlier cases in this process left there.
  const auto find = [](const std::vector<ehg::core::LoggedProblem>& problems,
                       const char* reason) -> const ehg::core::LoggedProblem* {
    const auto found = std::find_if(problems.begin(), problems.end(), [&](const auto& problem) {
      return problem.line.find(std::string("reason=") + reason) != std::string::npos;
    });
    return found == problems.end() ? nullptr : &*found;
  };
  const auto before = ehg::core::RecentProblems();
  const auto count_before = [&](const char* reason) {
    const ehg::core::LoggedProblem* problem = find(before, reason);
    return problem == nullptr ? std::uint64_t{0} : problem->count;
  };
  ehg::test::LogCapture capture(LogLevel::kError);
  ehg::core::LogWarning("command refused", {{"reason", "malformed"}, {"detail", "junk"}});
  ehg::core::LogWarning("command refused", {{"reason", "expired"}, {"detail", "exp in the past"}});
  for (int i = 0; i < 50; ++i)
    ehg::core::LogWarning("command refused", {{"reason", "malformed"}, {"detail", "junk"}});
  CHECK_FALSE(capture.Contains("command refused"));  // not written at level error...
  const auto problems = ehg::core::RecentProblems();
  const ehg::core::LoggedProblem* expired = find(problems, "expired");
  REQUIRE(expired != nullptr);  // ...but kept for the page, and not buried under the junk
  CHECK(expired->count == count_before("expired") + 1);
  const ehg::core::LoggedProblem* junk = find(problems, "malformed");
  REQUIRE(junk != nullptr);
  CHECK(junk->count == count_before("malformed") + 51);
}
