// Commands sent again until their result comes (Ledger::ResendCommands), by stepping the hub's clock:
// only after the gateway reported itself online since the last send, never sooner than the policy's
// wait (doubling with each send), never once answered or expired, and never a command without what
// was signed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "care/ledger/ledger.hpp"
#include "tests/unit/ledger/bodies.hpp"
#include "tests/unit/ledger/ledger_database.hpp"

namespace ehg::ledger {
namespace {

using namespace ehg::ledger_test;
using std::chrono::seconds;

constexpr ResendPolicy kPolicy{seconds(15), seconds(60)};

core::WallTime At(int second) {
  return kT0 + seconds(second);
}

// The gateway's status as the hub took it at `second` (received_at: the hub's clock); its own time may
// be anything, here a clock far behind.
StatusRow Online(int second, std::string gateway = kGateway) {
  StatusRow status;
  status.tenant = kTenant;
  status.gateway = std::move(gateway);
  status.state = "online";
  status.time = kT0 - seconds(86'400) + seconds(second);
  status.connected_at = kT0 - seconds(86'400);
  status.received_at = At(second);
  return status;
}

SentCommand Ping(const std::string& id, int sent_second, std::string gateway = kGateway) {
  return {kTenant,
          std::move(gateway),
          id,
          "ping",
          R"({"id":")" + id + R"(","type":"ping"})",
          At(sent_second),
          At(sent_second + 3600),
          "jws-of-" + id};
}

// What one call at `second` sends again (the command ids, oldest last send first).
std::vector<std::string> ResendAt(Ledger& ledger, int second) {
  std::vector<std::string> sent;
  auto count = ledger.ResendCommands(
      50, kPolicy,
      [&](const CommandToResend& command) -> Result<void> {
        CHECK(command.jws == "jws-of-" + command.command_id);  // as signed the first time
        sent.push_back(command.command_id);
        return {};
      },
      At(second));
  REQUIRE(count.has_value());
  CHECK(*count == static_cast<int>(sent.size()));
  return sent;
}

using Ids = std::vector<std::string>;

TEST_CASE("a command goes again once its gateway is back online, then less and less often, until answered") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k"}, "ab12"}, "operator-1", kT0));
  REQUIRE(db.ledger->ApplyStatus(Online(-5)).value());
  REQUIRE(db.ledger->RecordCommand(Ping("c-1", 0)));

  // No status since the send: the gateway may well have it.
  CHECK(ResendAt(*db.ledger, 100).empty());
  // Back online 3 s after the send (the command went to nobody): it goes again, but not before the first
  // wait (15 s) has passed since the send.
  REQUIRE(db.ledger->ApplyStatus(Online(3)).value());
  CHECK(ResendAt(*db.ledger, 10).empty());
  CHECK(ResendAt(*db.ledger, 15) == Ids{"c-1"});
  CHECK(ResendAt(*db.ledger, 15).empty());  // once a call
  CHECK(db.Scalar("SELECT sends FROM commands") == "2");

  // Online again after the second send: the wait is now 30 s from it, then 60 s (the longest), and stays.
  REQUIRE(db.ledger->ApplyStatus(Online(20)).value());
  CHECK(ResendAt(*db.ledger, 44).empty());
  CHECK(ResendAt(*db.ledger, 45) == Ids{"c-1"});
  REQUIRE(db.ledger->ApplyStatus(Online(50)).value());
  CHECK(ResendAt(*db.ledger, 104).empty());
  CHECK(ResendAt(*db.ledger, 105) == Ids{"c-1"});
  REQUIRE(db.ledger->ApplyStatus(Online(110)).value());
  CHECK(ResendAt(*db.ledger, 164).empty());
  CHECK(ResendAt(*db.ledger, 165) == Ids{"c-1"});

  // Its result arrives: never again, however often the gateway reports.
  auto result = ReadMessage(kTenant, kGateway, Kind::kCommandResult, CommandResult(1, "c-1"));
  REQUIRE(result.has_value());
  REQUIRE(db.ledger->Store({*result}).has_value());
  REQUIRE(db.ledger->ApplyStatus(Online(400)).value());
  CHECK(ResendAt(*db.ledger, 500).empty());
}

TEST_CASE(
    "no command goes again to a gateway gone offline, nor once expired, nor one sent before jws were kept") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k"}, "ab12"}, "operator-1", kT0));
  REQUIRE(db.ledger->Enrol({kTenant, "gw-other", {"kid-2", "k2"}, "cd34"}, "operator-1", kT0));
  REQUIRE(db.ledger->RecordCommand(Ping("c-will", 0)));
  SentCommand unsigned_copy = Ping("c-old", 0, "gw-other");
  unsigned_copy.jws.clear();  // recorded by a hub from before: sent to the gateway's session instead
  REQUIRE(db.ledger->RecordCommand(unsigned_copy));

  // Online, then its last will: offline. A repeat would go to nobody again.
  REQUIRE(db.ledger->ApplyStatus(Online(5)).value());
  StatusRow will;
  will.tenant = kTenant;
  will.gateway = kGateway;
  will.state = "offline";
  will.reason = "connection lost";
  will.connected_at = Online(5).connected_at;
  REQUIRE(db.ledger->ApplyStatus(will).value());
  REQUIRE(db.ledger->ApplyStatus(Online(5, "gw-other")).value());
  CHECK(ResendAt(*db.ledger, 30).empty());

  // Back: it goes. The other gateway's command, without what was signed, never does.
  StatusRow back = Online(40);
  back.connected_at = At(39);
  REQUIRE(db.ledger->ApplyStatus(back).value());
  CHECK(ResendAt(*db.ledger, 41) == Ids{"c-will"});

  // Expired (an hour after the send) with no result: left as it is, unanswered.
  REQUIRE(db.ledger->ApplyStatus(Online(4000)).value());
  CHECK(ResendAt(*db.ledger, 3601).empty());
  CHECK(db.Scalar("SELECT count(*) FROM commands WHERE result_status IS NULL") == "2");
}

TEST_CASE("a status older than the one kept (the gateway's clock went back) still counts as back online") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k"}, "ab12"}, "operator-1", kT0));
  REQUIRE(db.ledger->ApplyStatus(Online(0)).value());
  REQUIRE(db.ledger->RecordCommand(Ping("c-1", 1)));
  StatusRow behind = Online(30);
  behind.time = *Online(0).time - seconds(3600);  // an hour behind the status kept
  CHECK_FALSE(db.ledger->ApplyStatus(behind).value());
  CHECK(ResendAt(*db.ledger, 31) == Ids{"c-1"});
}

TEST_CASE("a failed send leaves the command and the rest as they were, for the next call") {
  LedgerDatabase db;
  REQUIRE(db.ledger->Enrol({kTenant, kGateway, {"kid-1", "k"}, "ab12"}, "operator-1", kT0));
  REQUIRE(db.ledger->RecordCommand(Ping("c-1", 0)));
  REQUIRE(db.ledger->RecordCommand(Ping("c-2", 1)));
  REQUIRE(db.ledger->ApplyStatus(Online(5)).value());
  int tried = 0;
  auto count = db.ledger->ResendCommands(
      50, kPolicy,
      [&](const CommandToResend&) -> Result<void> {
        ++tried;
        return Fail(Errc::kUnavailable, "engine: no server");
      },
      At(20));
  REQUIRE(count.has_value());
  CHECK(*count == 0);
  CHECK(tried == 1);  // the engine away: the rest wait too
  CHECK(db.Scalar("SELECT sum(sends) FROM commands") == "2");
  CHECK(ResendAt(*db.ledger, 20) == Ids{"c-1", "c-2"});
}

}  // namespace
}  // namespace ehg::ledger
