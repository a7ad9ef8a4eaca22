#include "gateway/wire/commands.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <set>
#include <variant>

using ehg::wire::AlertAck;
using ehg::wire::AlertResolve;
using ehg::wire::EventReceipt;
using ehg::wire::HeartbeatSet;
using ehg::wire::ParseCommand;

namespace {
constexpr const char* kEventId = "01a21881-bd46-7005-a731-0818352bc897";
}

TEST_CASE("Each command type becomes its own kind, and a type no kind takes is refused, never a ping") {
  // Every type the parser takes, with the kind (variant index) it must become.
  const std::vector<std::pair<std::string, std::size_t>> kinds{
      {R"({"id":"c","type":"event.receipt","event_ids":[")" + std::string(kEventId) + "\"]}",
       ehg::wire::CommandBody(EventReceipt{}).index()},
      {R"({"id":"c","type":"alert.ack","alert_id":"a","by":"n"})",
       ehg::wire::CommandBody(ehg::wire::AlertAck{}).index()},
      {R"({"id":"c","type":"alert.resolve","alert_id":"a","by":"n"})",
       ehg::wire::CommandBody(ehg::wire::AlertResolve{}).index()},
      {R"({"id":"c","type":"heartbeat.set","interval_seconds":30})",
       ehg::wire::CommandBody(HeartbeatSet{}).index()},
      {R"({"id":"c","type":"config.apply","config":"{}"})",
       ehg::wire::CommandBody(ehg::wire::ConfigApply{}).index()},
      {R"({"id":"c","type":"rules.apply","rules":[]})",
       ehg::wire::CommandBody(ehg::wire::RulesApply{}).index()},
      {R"({"id":"c","type":"update.request","version":"0.2.0-1"})",
       ehg::wire::CommandBody(ehg::wire::UpdateRequest{}).index()},
      {R"({"id":"c","type":"status"})", ehg::wire::CommandBody(ehg::wire::StatusRequest{}).index()},
      {R"({"id":"c","type":"ping"})", ehg::wire::CommandBody(ehg::wire::Ping{}).index()},
  };
  std::set<std::size_t> seen;
  for (const auto& [payload, kind] : kinds) {
    const auto& command_payload = payload;  // clang 14 cannot capture a structured binding
    CAPTURE(command_payload);
    auto command = ParseCommand(payload);
    REQUIRE(command);
    CHECK(command->body.index() == kind);
    seen.insert(kind);
  }
  CHECK(seen.size() == std::variant_size_v<ehg::wire::CommandBody>);  // every kind has a type
  // Near misses of known types are not known types.
  for (const char* type : {"Ping", "ping ", "pings", "status.request", "alert", "update", ""}) {
    CAPTURE(type);
    auto refused = ParseCommand(std::string(R"({"id":"c","type":")") + type + "\"}");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason == "unsupported command type");
    CHECK(refused.error().type.empty());  // an unknown type is not echoed
  }
}

TEST_CASE("Valid commands parse into their typed form") {
  auto receipt =
      ParseCommand(std::string(R"({"id":"c-1","type":"alert.receipt","event_id":")") + kEventId + "\"}");
  REQUIRE(receipt.has_value());
  CHECK(receipt->id == "c-1");
  // The older, one-event form is an event receipt of one.
  REQUIRE(std::get<EventReceipt>(receipt->body).event_ids.size() == 1);
  CHECK(std::get<EventReceipt>(receipt->body).event_ids.front().ToString() == kEventId);

  auto heartbeat = ParseCommand(R"({"type":"heartbeat.set","id":"c-2","interval_seconds":30})");
  REQUIRE(heartbeat.has_value());
  CHECK(std::get<HeartbeatSet>(heartbeat->body).interval == std::chrono::seconds(30));

  auto ack = ParseCommand(R"({"id":"c-5","type":"alert.ack","alert_id":"a-1","by":"nurse-17"})");
  REQUIRE(ack.has_value());
  CHECK(std::get<ehg::wire::AlertAck>(ack->body).alert_id == "a-1");
  CHECK(std::get<ehg::wire::AlertAck>(ack->body).by == "nurse-17");
  auto resolve = ParseCommand(
      R"({"id":"c-6","type":"alert.resolve","alert_id":"a-1","by":"nurse-17","note":"seen, stable"})");
  REQUIRE(resolve.has_value());
  CHECK(std::get<ehg::wire::AlertResolve>(resolve->body).note == "seen, stable");
  auto resolve_without_note =
      ParseCommand(R"({"id":"c-7","type":"alert.resolve","alert_id":"a-1","by":"n-1"})");
  REQUIRE(resolve_without_note.has_value());
  CHECK(std::get<ehg::wire::AlertResolve>(resolve_without_note->body).note.empty());

  // rules.apply: the list as compact JSON (numbers as written, text escaped again), whatever it holds;
  // the gateway's config reader judges the rules themselves.
  auto rules = ParseCommand(
      R"({"id":"c-8","type":"rules.apply","rules":[ {"id": "spo2-low", "below": 92.50, "note": "a\"b\u00e6"}, 1e2 ]})");
  REQUIRE(rules.has_value());
  CHECK(std::get<ehg::wire::RulesApply>(rules->body).rules ==
        R"([{"id":"spo2-low","below":92.50,"note":"a\"bæ"},1e2])");
  // What the care side builds reads back the same.
  auto built = ParseCommand(ehg::wire::RulesApplyCommand("c-9", R"([{"id":"r","above":1}])"));
  REQUIRE(built.has_value());
  CHECK(built->type == "rules.apply");
  CHECK(std::get<ehg::wire::RulesApply>(built->body).rules == R"([{"id":"r","above":1}])");

  auto ping = ParseCommand(R"({"id":"c-3","type":"ping"})");
  REQUIRE(ping.has_value());
  CHECK(std::holds_alternative<ehg::wire::Ping>(ping->body));
  auto status = ParseCommand(R"({"id":"c-4","type":"status"})");
  REQUIRE(status.has_value());
  CHECK(std::holds_alternative<ehg::wire::StatusRequest>(status->body));
}

TEST_CASE("Invalid commands are refused with a reason, keeping the id when it could be read") {
  struct Vector {
    const char* name;
    std::string payload;
    const char* id;
    const char* reason_part;
  };
  const std::vector<Vector> vectors{
      {"not JSON", "{\"id\":", "", "not JSON"},
      {"an array", "[1,2]", "", "a JSON object"},
      {"no id", R"({"type":"ping"})", "", "\"id\" must be"},
      {"numeric id", R"({"id":7,"type":"ping"})", "", "\"id\" must be"},
      {"id too long", R"({"id":")" + std::string(65, 'a') + R"(","type":"ping"})", "", "\"id\" must be"},
      {"id with a control character", "{\"id\":\"a\\u0001\",\"type\":\"ping\"}", "", "\"id\" must be"},
      {"no type", R"({"id":"c"})", "c", "\"type\" must be a string"},
      {"unsupported type", R"({"id":"c","type":"reboot"})", "c", "unsupported command type"},
      {"unknown key", R"({"id":"c","type":"ping","force":true})", "c", "unknown key \"force\""},
      {"rules as an object", R"({"id":"c","type":"rules.apply","rules":{"id":"r"}})", "c",
       "\"rules\" must be the list"},
      {"rules as text", R"({"id":"c","type":"rules.apply","rules":"[]"})", "c", "\"rules\" must be the list"},
      {"rules missing", R"({"id":"c","type":"rules.apply"})", "c", "\"rules\" must be the list"},
      {"rules with another key", R"({"id":"c","type":"rules.apply","rules":[],"broker":{}})", "c",
       "unknown key \"broker\""},
      {"receipt without event id", R"({"id":"c","type":"alert.receipt"})", "c", "\"event_id\" must be"},
      {"receipt with a bad uuid", R"({"id":"c","type":"alert.receipt","event_id":"xyz"})", "c", "not a UUID"},
      {"receipt with ids of the other form", R"({"id":"c","type":"alert.receipt","event_ids":[]})", "c",
       "unknown key \"event_ids\""},
      {"event receipt without ids", R"({"id":"c","type":"event.receipt"})", "c", "\"event_ids\" must be"},
      {"event receipt with no ids", R"({"id":"c","type":"event.receipt","event_ids":[]})", "c",
       "a list of 1-1000"},
      {"event receipt with one id as a string",
       R"({"id":"c","type":"event.receipt","event_ids":")" + std::string(kEventId) + "\"}", "c",
       "\"event_ids\" must be"},
      {"event receipt with a bad uuid among good ones",
       R"({"id":"c","type":"event.receipt","event_ids":[")" + std::string(kEventId) + R"(","xyz"]})", "c",
       "(UUIDs)"},
      {"event receipt with a number", R"({"id":"c","type":"event.receipt","event_ids":[7]})", "c", "(UUIDs)"},
      {"event receipt with too many ids",
       [] {
         std::string ids;
         for (int i = 0; i < 1001; ++i)
           ids += std::string(i > 0 ? "," : "") + "\"" + kEventId + "\"";
         return R"({"id":"c","type":"event.receipt","event_ids":[)" + ids + "]}";
       }(),
       "c", "a list of 1-1000"},
      {"event receipt with the single form's key",
       R"({"id":"c","type":"event.receipt","event_id":")" + std::string(kEventId) + "\"}", "c",
       "unknown key \"event_id\""},
      {"heartbeat too short", R"({"id":"c","type":"heartbeat.set","interval_seconds":9})", "c",
       "from 10 to 3600"},
      {"heartbeat too long", R"({"id":"c","type":"heartbeat.set","interval_seconds":3601})", "c", "from 10"},
      {"heartbeat fractional", R"({"id":"c","type":"heartbeat.set","interval_seconds":30.5})", "c",
       "whole number"},
      {"heartbeat as text", R"({"id":"c","type":"heartbeat.set","interval_seconds":"30"})", "c",
       "whole number"},
      {"ack without who", R"({"id":"c","type":"alert.ack","alert_id":"a-1"})", "c", "\"by\" must name"},
      {"ack without alert", R"({"id":"c","type":"alert.ack","by":"n-1"})", "c", "\"alert_id\" must be"},
      {"ack with a note", R"({"id":"c","type":"alert.ack","alert_id":"a","by":"n","note":"x"})", "c",
       "unknown key \"note\""},
      {"resolve with a long note",
       R"({"id":"c","type":"alert.resolve","alert_id":"a","by":"n","note":")" + std::string(1001, 'x') +
           "\"}",
       "c", "at most 1000 bytes"},
      {"duplicate key", R"({"id":"c","type":"ping","type":"status"})", "", "not JSON"},
      {"oversized", R"({"id":"c","type":"ping","pad":")" + std::string(70'000, 'x') + "\"}", "",
       "larger than"},
  };
  for (const Vector& vector : vectors) {
    CAPTURE(vector.name);
    auto parsed = ParseCommand(vector.payload);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().id == vector.id);
    CHECK(parsed.error().reason.find(vector.reason_part) != std::string::npos);
  }
}

TEST_CASE("An event receipt names every event of a batch, and the parser reads back what it writes") {
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = kEventId;
    const std::string tail = std::to_string(100000 + i);
    id.replace(id.size() - tail.size(), tail.size(), tail);
    ids.push_back(id);
  }
  const std::string text = ehg::wire::EventReceiptCommand("r-1", ids);
  CHECK(text.size() < ehg::wire::kMaxCommandBytes);  // the largest receipt fits a command
  auto parsed = ParseCommand(text);
  REQUIRE(parsed.has_value());
  CHECK(parsed->type == "event.receipt");
  const auto& receipt = std::get<EventReceipt>(parsed->body);
  REQUIRE(receipt.event_ids.size() == ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    CHECK(receipt.event_ids[i].ToString() == ids[i]);
}

TEST_CASE("The console's alert commands read back as the gateway reads them, the note only on a resolve") {
  auto ack =
      ParseCommand(ehg::wire::AlertActionCommand("alert.ack", "c-1", "a-7", "kari.nordmann", "ignored"));
  REQUIRE(ack.has_value());
  CHECK(ack->id == "c-1");
  CHECK(ack->type == "alert.ack");
  CHECK(std::get<AlertAck>(ack->body).alert_id == "a-7");
  CHECK(std::get<AlertAck>(ack->body).by == "kari.nordmann");
  const std::string note = "Tilsett, \"ok\" \u00e6\u00f8\u00e5 \\ {}";
  auto resolve =
      ParseCommand(ehg::wire::AlertActionCommand("alert.resolve", "c-2", "a-7", "kari.nordmann", note));
  REQUIRE(resolve.has_value());
  CHECK(std::get<AlertResolve>(resolve->body).note == note);
  auto bare = ParseCommand(ehg::wire::AlertActionCommand("alert.resolve", "c-3", "a-7", "kari.nordmann", ""));
  REQUIRE(bare.has_value());
  CHECK(std::get<AlertResolve>(bare->body).note.empty());
  // What the gateway refuses stays refused: an empty worker, a note over the limit.
  CHECK_FALSE(ParseCommand(ehg::wire::AlertActionCommand("alert.ack", "c-4", "a-7", "", "")));
  CHECK_FALSE(ParseCommand(ehg::wire::AlertActionCommand("alert.resolve", "c-5", "a-7", "kari",
                                                         std::string(ehg::wire::kMaxNoteBytes + 1, 'x'))));
}

TEST_CASE("A command result names the command and its outcome") {
  ehg::core::ManualClock clock{ehg::core::WallTime{std::chrono::milliseconds{1'767'225'600'000}}};
  ehg::core::EventIdGenerator ids(clock);
  const auto id = ids.Next();
  auto body = ehg::wire::CommandResultBody(id, "gw-1", clock.Now(), "c-1", "ping", true, "pong");
  auto object = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  CHECK(object->getValue<std::string>("schema") == "ehealth-gateway/command-result/v0");
  CHECK(object->getValue<std::string>("event_id") == id.ToString());
  CHECK(object->getValue<std::string>("command_id") == "c-1");
  CHECK(object->getValue<std::string>("status") == "ok");
  CHECK(object->getValue<std::string>("time") == "2026-01-01T00:00:00.000Z");
  auto refused = ehg::wire::CommandResultBody(id, "gw-1", clock.Now(), "", "", false, "not JSON");
  auto refused_object = Poco::JSON::Parser().parse(refused).extract<Poco::JSON::Object::Ptr>();
  CHECK(refused_object->isNull("command_id"));
  CHECK(refused_object->getValue<std::string>("status") == "rejected");
}
