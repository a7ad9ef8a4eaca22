#include "gateway/core/event.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ehg::core::EventId;
using ehg::core::EventIdGenerator;
using ehg::core::ManualClock;
using ehg::core::WallTime;

TEST_CASE("Event ids are UUIDv7: version 7, RFC 9562 variant, the creation millisecond in front") {
  ManualClock clock(WallTime{1'767'225'600'123ms});
  EventIdGenerator ids(clock);
  const EventId id = ids.Next();
  CHECK((id.bytes()[6] >> 4) == 7);
  CHECK((id.bytes()[8] & 0xC0) == 0x80);
  CHECK(id.UnixMilliseconds() == 1'767'225'600'123u);
  const std::string text = id.ToString();
  REQUIRE(text.size() == 36);
  CHECK(text[14] == '7');
}

TEST_CASE("Event ids round-trip through text and refuse malformed text") {
  ManualClock clock;
  EventIdGenerator ids(clock);
  const EventId id = ids.Next();
  const auto parsed = EventId::Parse(id.ToString());
  REQUIRE(parsed.has_value());
  CHECK(*parsed == id);
  CHECK(EventId::Parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5B").has_value());  // upper case accepted
  CHECK_FALSE(EventId::Parse("").has_value());
  CHECK_FALSE(EventId::Parse("0190a1b2c3d47e5f8a9b0c1d2e3f4a5b0000").has_value());  // no dashes
  CHECK_FALSE(EventId::Parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g").has_value());  // not hex
  CHECK_FALSE(EventId::Parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5").has_value());   // short
}

TEST_CASE("Ids increase strictly while the clock stands still or steps back") {
  ManualClock clock(WallTime{1'767'225'600'000ms});
  EventIdGenerator ids(clock);
  EventId previous = ids.Next();
  for (int i = 0; i < 20'000; ++i) {  // more than the 4096 ids a millisecond's counter holds
    if (i == 10'000) clock.SetWall(WallTime{1'767'225'500'000ms});  // NTP steps the clock back
    const EventId next = ids.Next();
    REQUIRE(previous < next);
    previous = next;
  }
}

TEST_CASE("Ids from many threads are unique") {
  ManualClock clock;
  EventIdGenerator ids(clock);
  std::vector<std::vector<EventId>> made(4);
  std::vector<std::thread> threads;
  for (auto& list : made) {
    threads.emplace_back([&ids, &list] {
      for (int i = 0; i < 5'000; ++i)
        list.push_back(ids.Next());
    });
  }
  for (auto& thread : threads)
    thread.join();
  std::set<EventId> unique;
  for (const auto& list : made)
    unique.insert(list.begin(), list.end());
  CHECK(unique.size() == 20'000);
}

TEST_CASE("Event kinds have stable names and topics") {
  using ehg::core::EventKind;
  for (const EventKind kind : {EventKind::kObservation, EventKind::kAlert, EventKind::kDevice,
                               EventKind::kGateway, EventKind::kCommandResult}) {
    CAPTURE(ehg::core::ToString(kind));
    CHECK(ehg::core::ParseEventKind(ehg::core::ToString(kind)) == kind);
  }
  CHECK(ehg::core::TopicSuffix(EventKind::kAlert) == "event/alert");
  CHECK(ehg::core::TopicSuffix(EventKind::kObservation) == "event/observation");
  CHECK(ehg::core::TopicSuffix(EventKind::kCommandResult) == "cmd/result");
  CHECK_FALSE(ehg::core::ParseEventKind("alerts").has_value());
}

TEST_CASE("A forked child never draws the ids its parent draws next") {
  // Two processes with the same clock: only the random part tells their ids apart, so it must come
  // fresh from the kernel in each, not from state the fork copied.
  ManualClock clock;
  EventIdGenerator ids(clock);
  (void)ids.Next();  // any per-thread state is set up before the fork
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    for (int i = 0; i < 64; ++i) {
      const std::string text = ids.Next().ToString();
      if (::write(pipe_fds[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::set<std::string> parent;
  for (int i = 0; i < 64; ++i)
    parent.insert(ids.Next().ToString());
  std::string received;
  std::array<char, 4096> buffer{};
  ssize_t got = 0;
  while ((got = ::read(pipe_fds[0], buffer.data(), buffer.size())) > 0)
    received.append(buffer.data(), static_cast<std::size_t>(got));
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(received.size() == 64 * 36);
  int shared = 0;
  for (std::size_t i = 0; i < received.size(); i += 36)
    shared += parent.count(received.substr(i, 36)) > 0 ? 1 : 0;
  CHECK(shared == 0);
}
