// The command replay window outlives the database: a fresh database (found corrupt and moved aside,
// deleted, a new SD card) refuses every command issued before it was created, since the jti values it
// remembered are gone.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "care/command_signing.hpp"
#include "gateway/crypto/command_verifier.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/uplink/uplink.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/uplink/fakes.hpp"

using namespace std::chrono_literals;
using ehg::test::FakeTransport;
using ehg::test::WaitUntil;

namespace {

constexpr const char* kFloorBase = "ehealth/v1/0301/gw-1/";

struct Gateway {
  ehg::core::ManualClock& clock;
  ehg::core::EventIdGenerator ids{clock};
  std::unique_ptr<ehg::store::Store> store;
  std::unique_ptr<ehg::test::StoreOutbox> outbox;
  std::shared_ptr<FakeTransport::State> transport = std::make_shared<FakeTransport::State>();
  std::unique_ptr<ehg::uplink::Uplink> uplink;

  Gateway(const std::filesystem::path& database, ehg::core::ManualClock& manual_clock,
          const ehg::crypto::EcKey& care_command_key)
      : clock(manual_clock) {
    store = std::move(ehg::store::Store::Open({database}, clock).value());
    outbox = std::make_unique<ehg::test::StoreOutbox>(*store);
    ehg::crypto::KeySet command_keys;
    command_keys.Add(*ehg::crypto::EcKey::FromPem(care_command_key.PublicPem()));
    ehg::uplink::UplinkOptions options;
    options.tenant = "0301";
    options.gateway_id = "gw-1";
    options.version = "test";
    options.protection = std::make_shared<ehg::crypto::JoseProtection>(
        *ehg::crypto::EcKey::Generate(), *ehg::crypto::EcKey::Generate(), std::move(command_keys),
        ehg::crypto::CommandPolicy{"gw-1", "0301", 60s, 192h});
    uplink = std::make_unique<ehg::uplink::Uplink>(
        options,
        [this](ehg::transport::TransportEvents events) {
          transport->events = std::move(events);
          return std::make_unique<FakeTransport>(transport);
        },
        *outbox, clock, ids);
    uplink->Start();
  }
  // The broker acknowledges what is on its way, so the goodbye does not wait for it.
  ~Gateway() {
    std::vector<std::uint64_t> tags;
    {
      std::lock_guard lock(transport->mutex);
      transport->auto_ack = true;
      for (const auto& message : transport->published)
        tags.push_back(message.tag);
    }
    for (const auto tag : tags)
      transport->events.delivered(tag);
    uplink->Stop();
  }

  void Command(const std::string& jws) { transport->events.message(std::string(kFloorBase) + "cmd", jws); }
  std::size_t Results() {
    std::lock_guard lock(transport->mutex);
    std::size_t count = 0;
    for (const auto& message : transport->published)
      if (message.topic == std::string(kFloorBase) + "cmd/result") ++count;
    return count;
  }
};

std::string Signed(const ehg::crypto::EcKey& key, const std::string& jti, ehg::core::WallTime issued) {
  return *ehg::care::SignCommand(key, "0301", "gw-1", R"({"id":"c-)" + jti + R"(","type":"ping"})", jti,
                                 issued, 192h);
}

}  // namespace

TEST_CASE("After a corrupt database is replaced, a command taken before is refused, not taken again") {
  ehg::test::LogCapture log;
  ehg::test::TempDir dir;
  const auto database = dir / "gateway.db";
  ehg::core::ManualClock clock{ehg::core::WallTime{1'767'225'600'000ms}};
  const auto care = *ehg::crypto::EcKey::Generate();
  std::string first;
  {
    Gateway gateway(database, clock, care);
    clock.Advance(1s);
    first = Signed(care, "jti-first", clock.Now());
    gateway.Command(first);
    REQUIRE(WaitUntil([&] { return gateway.Results() == 1; }));
  }
  // Two days later the SD card corrupts the file; the gateway moves it aside and starts fresh. The
  // command still has six days to live.
  clock.Advance(48h);
  {
    std::fstream file(database, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    const std::string garbage(4096 * 2, '\x5A');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  ehg::store::OpenReport report;
  {
    auto reopened = ehg::store::Store::Open({database}, clock, &report);
    REQUIRE(reopened.has_value());
  }
  REQUIRE(report.corrupt_file_moved_to.has_value());
  {
    Gateway gateway(database, clock, care);
    gateway.Command(first);
    const std::string fresh = Signed(care, "jti-fresh", clock.Now());
    gateway.Command(fresh);
    REQUIRE(WaitUntil([&] { return gateway.Results() == 1; }));
    CHECK(log.Count("msg=\"command refused\" reason=replayed") == 1);
    CHECK(log.Contains("issued before this gateway's database was created"));
    CHECK(gateway.uplink->counters().commands_refused == 1);
  }
}

TEST_CASE("A floor written while the clock was far ahead moves to now instead of refusing every command") {
  ehg::test::LogCapture log;
  ehg::test::TempDir dir;
  const auto database = dir / "gateway.db";
  ehg::core::ManualClock clock{ehg::core::WallTime{1'767'225'600'000ms}};
  const auto care = *ehg::crypto::EcKey::Generate();
  const ehg::core::WallTime right = clock.Now();
  clock.SetWall(right + 24h * 365 * 10);  // created with a clock ten years ahead
  {
    auto created = ehg::store::Store::Open({database}, clock);
    REQUIRE(created.has_value());
  }
  clock.SetWall(right);  // the clock is put right
  Gateway gateway(database, clock, care);
  const std::string before_correction = Signed(care, "jti-before", clock.Now() - 2min);
  gateway.Command(before_correction);
  gateway.Command(Signed(care, "jti-now", clock.Now()));
  REQUIRE(WaitUntil([&] { return gateway.Results() == 1; }));
  CHECK(log.Contains("command replay floor was in the future"));
  CHECK(log.Count("reason=replayed") == 1);
  // The moved floor is kept: after a restart it is still now, not ten years ahead.
  REQUIRE(WaitUntil([&] {
    auto window = gateway.outbox->LoadReplayWindow(right);
    return window && window->not_issued_before == right;
  }));
}

TEST_CASE("An unsynchronised clock behind the floor does not move it: commands wait for the clock") {
  ehg::test::LogCapture log;
  ehg::test::TempDir dir;
  const auto database = dir / "gateway.db";
  ehg::core::ManualClock clock{ehg::core::WallTime{1'767'225'600'000ms}};
  const auto care = *ehg::crypto::EcKey::Generate();
  const ehg::core::WallTime created = clock.Now();
  {
    auto store = ehg::store::Store::Open({database}, clock);
    REQUIRE(store.has_value());
  }
  // A Pi without a real-time clock boots a day in the past, before NTP: an old command replayed now
  // must not be taken, and the floor must not be lowered to the wrong time.
  clock.SetWall(created - 24h);
  clock.SetSynchronised(false);
  Gateway gateway(database, clock, care);
  gateway.Command(Signed(care, "jti-old", created - 24h - 10min));
  REQUIRE(WaitUntil([&] { return log.Count("reason=replayed") == 1; }));
  CHECK_FALSE(log.Contains("command replay floor was in the future"));
  CHECK(gateway.Results() == 0);
  auto window = gateway.outbox->LoadReplayWindow(created);
  REQUIRE(window.has_value());
  CHECK(window->not_issued_before == created);
}
