// The hub's commands before they leave (care/hub/send_command.cpp): what the gateway would refuse is
// refused here with the gateway's own reason, and what goes out is signed for that gateway alone.
#include "care/hub/send_command.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/crypto/command_verifier.hpp"
#include "gateway/wire/commands.hpp"

using ehg::crypto::EcKey;
using ehg::hub::CommandRequest;
using ehg::hub::PrepareCommand;
using namespace std::chrono_literals;

namespace {

const ehg::core::WallTime kNow{std::chrono::milliseconds{1'795'705'875'642}};

}  // namespace

TEST_CASE("hub command: a ping gets an id, is signed for its gateway alone, and a given id is kept") {
  const EcKey care = *EcKey::Generate();
  auto prepared = PrepareCommand({"0301", "gw-7", R"({"type":"ping"})"}, care, kNow, "0190-new-id");
  REQUIRE_MESSAGE(prepared.has_value(), (prepared ? "" : prepared.error().message));
  CHECK(prepared->command_id == "0190-new-id");
  CHECK(prepared->type == "ping");
  CHECK(prepared->expires_at == kNow + 1h);
  ehg::crypto::KeySet keys;
  keys.Add(care);
  auto verified = ehg::crypto::VerifyCommand(prepared->jws, keys, {"gw-7", "0301"}, kNow + 1s);
  REQUIRE_MESSAGE(verified.has_value(), (verified ? "" : verified.error().message));
  auto command = ehg::wire::ParseCommand(verified->command);
  REQUIRE(command.has_value());
  CHECK(command->id == "0190-new-id");
  // Not for another gateway, nor for the same id in another municipality.
  CHECK_FALSE(ehg::crypto::VerifyCommand(prepared->jws, keys, {"gw-8", "0301"}, kNow + 1s).has_value());
  CHECK_FALSE(ehg::crypto::VerifyCommand(prepared->jws, keys, {"gw-7", "4601"}, kNow + 1s).has_value());

  auto named = PrepareCommand({"0301", "gw-7", R"( {"id":"c-42","type":"status"})", 600s}, care, kNow, "x");
  REQUIRE(named.has_value());
  CHECK(named->command_id == "c-42");
  CHECK(named->expires_at == kNow + 600s);
}

TEST_CASE("hub command: what the gateway would refuse is refused before it is signed") {
  const EcKey care = *EcKey::Generate();
  const std::vector<std::pair<const char*, CommandRequest>> refused{
      {"not JSON", {"0301", "gw-7", "ping"}},
      {"no type", {"0301", "gw-7", R"({"id":"c-1"})"}},
      {"empty object", {"0301", "gw-7", "{}"}},
      {"unknown type", {"0301", "gw-7", R"({"type":"format.disk"})"}},
      {"unknown key", {"0301", "gw-7", R"({"type":"ping","force":true})"}},
      {"heartbeat below the gateway's floor",
       {"0301", "gw-7", R"({"type":"heartbeat.set","interval_seconds":1})"}},
      {"a receipt: the hub's own",
       {"0301", "gw-7", R"({"type":"event.receipt","event_ids":["0190e4a8-0000-7000-8000-000000000001"]})"}},
      {"a gateway id that is no subject", {"0301", "gw.7", R"({"type":"ping"})"}},
      {"a tenant that is no municipality", {"03x1", "gw-7", R"({"type":"ping"})"}},
      {"lifetime under a minute", {"0301", "gw-7", R"({"type":"ping"})", 59s}},
      {"lifetime over a week", {"0301", "gw-7", R"({"type":"ping"})", 8 * 24h}},
  };
  for (const auto& [name, request] : refused) {
    const auto& case_name = name;  // clang 14 cannot capture a structured binding
    CAPTURE(case_name);
    CHECK_FALSE(PrepareCommand(request, care, kNow, "id-1").has_value());
  }
}

TEST_CASE("hub command: the console may ask for a care worker's decision, an update or rules, nothing else") {
  using ehg::hub::CheckConsoleRequest;
  for (const char* allowed :
       {R"({"id":"c-1","type":"alert.ack","alert_id":"a-1","by":"kari"})",
        R"({"id":"c-2","type":"alert.resolve","alert_id":"a-1","by":"kari","note":"ok"})",
        R"({"id":"c-3","type":"update.request","version":"0.5.0-1"})",
        R"({"id":"c-4","type":"rules.apply","rules":[{"id":"spo2-low"}]})"}) {
    CAPTURE(allowed);
    CHECK(CheckConsoleRequest(allowed).has_value());
  }
  // What a console that was broken into might queue: each refused, naming what.
  for (const auto& [command, says] : std::vector<std::pair<std::string, std::string>>{
           {R"({"id":"c-5","type":"config.apply","config":"{}"})", "may not ask for config.apply"},
           {R"({"id":"c-6","type":"rules.apply","rules":[]})", "may not remove every rule"},
           {R"({"id":"c-7","type":"rules.apply","rules":[ ]})", "may not remove every rule"},
           {R"({"id":"c-8","type":"heartbeat.set","interval_seconds":3600})",
            "may not ask for heartbeat.set"},
           {R"({"id":"c-9","type":"ping"})", "may not ask for ping"},
           {R"({"id":"c-10","type":"status"})", "may not ask for status"},
           {R"({"id":"c-11","type":"event.receipt","event_ids":["0190e4a8-0000-7000-8000-000000000001"]})",
            "may not ask for event.receipt"},
           {R"({"id":"c-12","type":"format.disk"})", "the gateway would refuse it"}}) {
    const std::string& body = command;  // clang 14 cannot capture a structured binding
    CAPTURE(body);
    const auto checked = CheckConsoleRequest(body);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().message.find(says) != std::string::npos);
  }
}
