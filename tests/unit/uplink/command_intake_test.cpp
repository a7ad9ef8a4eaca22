// The command intake stepped with a manual clock and real signatures (the care side's signing): what an
// attacker on the broker can send is refused and counted, changes nothing and gets no answer.
#include "gateway/uplink/command_intake.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include "care/command_signing.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/unit/uplink/stepping.hpp"

using namespace std::chrono_literals;
using ehg::uplink::ChangeBatcher;
using ehg::uplink::CommandIntake;

namespace {

// What the intake asked of the rest of the uplink.
struct RecordedEffects final : ehg::uplink::CommandEffects {
  int answered = 0;  // CareSystemAnswered
  std::vector<ehg::core::EventId> receipts;
  bool holds_receipted = true;
  std::vector<std::chrono::seconds> heartbeats;
  int status_requests = 0;
  bool daemon = true;                     // a daemon carries out config.apply, rules.apply and update.request
  std::vector<std::string> rules_handed;  // each rules.apply's list as the daemon got it
  std::vector<std::string> handed_to_daemon;

  void CareSystemAnswered() override { ++answered; }
  bool Receipted(const ehg::core::EventId& event_id) override {
    receipts.push_back(event_id);
    return holds_receipted;
  }
  void HeartbeatChanged(std::chrono::seconds interval) override { heartbeats.push_back(interval); }
  void StatusRequested() override { ++status_requests; }
  bool ApplyConfig(const ehg::wire::ConfigChange& change, const ehg::wire::Command& command) override {
    if (const auto* rules = std::get_if<ehg::wire::RulesApply>(&change)) rules_handed.push_back(rules->rules);
    if (daemon) handed_to_daemon.push_back(command.id);
    return daemon;
  }
  bool RequestUpdate(const ehg::wire::UpdateRequest&, const ehg::wire::Command& command) override {
    if (daemon) handed_to_daemon.push_back(command.id);
    return daemon;
  }
};

std::shared_ptr<const ehg::crypto::PayloadProtection> GatewayProtection(const ehg::crypto::EcKey& care_key) {
  ehg::crypto::KeySet command_keys;
  command_keys.Add(*ehg::crypto::EcKey::FromPem(care_key.PublicPem()));
  return std::make_shared<ehg::crypto::JoseProtection>(
      *ehg::crypto::EcKey::Generate(), *ehg::crypto::EcKey::Generate(), std::move(command_keys),
      ehg::crypto::CommandPolicy{"gw-1", "0301", 60s, 192h});
}

// A gateway's intake on an outbox in memory; a restart makes a new intake on the same outbox.
struct IntakeRig {
  ehg::core::ManualClock clock;
  ehg::test::EventMaker events{clock};
  ehg::test::MemoryOutbox outbox;  // the database: replay window and floor
  ehg::test::StepCounters counters;
  ehg::crypto::EcKey care = *ehg::crypto::EcKey::Generate();
  std::shared_ptr<const ehg::crypto::PayloadProtection> protection = GatewayProtection(care);
  std::unique_ptr<ChangeBatcher> changes;
  std::unique_ptr<CommandIntake> intake;
  RecordedEffects effects;
  bool synchronised = true;

  IntakeRig() { Restart(); }

  // A new process on the same database: nothing kept in memory.
  void Restart() {
    changes = std::make_unique<ChangeBatcher>("gw-1", events.ids(), counters.counters);
    intake = std::make_unique<CommandIntake>(protection, outbox, *changes, counters.counters);
  }
  std::string Sign(const std::string& command_json, const std::string& jti, ehg::core::WallTime issued,
                   std::chrono::seconds lifetime = 1h, const std::string& gateway = "gw-1") {
    return *ehg::care::SignCommand(care, "0301", gateway, command_json, jti, issued, lifetime);
  }
  std::string Ping(const std::string& id, const std::string& jti) {
    return Sign(R"({"id":")" + id + R"(","type":"ping"})", jti, clock.Now());
  }
  void Take(const std::string& payload) { intake->Take(payload, clock.Now(), synchronised, effects); }
  // The pipeline commits what the commands changed.
  void Commit() {
    changes->Flush(clock.SteadyNow(), [&](const ehg::store::OutboxChange& change) {
      outbox.Apply(change);
      return true;
    });
    if (changes->committing())
      changes->CommitDone(ehg::store::WriteOutcome{}, clock.SteadyNow(), clock.Now());
  }
  // The results waiting to be committed, as command id -> (status, detail).
  std::map<std::string, std::pair<std::string, std::string>> Results() const {
    std::map<std::string, std::pair<std::string, std::string>> results;
    for (const auto& event : changes->pending().events) {
      auto body = Poco::JSON::Parser().parse(event.body).extract<Poco::JSON::Object::Ptr>();
      results[body->getValue<std::string>("command_id")] = {body->getValue<std::string>("status"),
                                                            body->getValue<std::string>("detail")};
    }
    return results;
  }
  std::uint64_t refused() const { return counters.counters.commands_refused.load(); }
};

using Answer = std::pair<std::string, std::string>;

}  // namespace

TEST_CASE("A signed, fresh command is carried out and answered, its id remembered with its answer") {
  IntakeRig rig;
  rig.Take(rig.Ping("c-1", "jti-1"));
  CHECK(rig.Results() == std::map<std::string, Answer>{{"c-1", {"ok", "pong"}}});
  CHECK(rig.effects.answered == 1);
  REQUIRE(rig.changes->pending().seen_commands.size() == 1);
  CHECK(rig.changes->pending().seen_commands[0].jti == "jti-1");
  CHECK(rig.counters.counters.commands == 1);
  CHECK(rig.refused() == 0);
}

TEST_CASE(
    "Forged, expired, another gateway's and oversized commands are refused, counted, and change nothing") {
  ehg::test::LogCapture log;
  IntakeRig rig;
  const auto refused_as = [&](const std::string& payload, const std::string& reason) {
    CAPTURE(reason);
    const auto before = rig.refused();
    rig.Take(payload);
    CHECK(rig.refused() == before + 1);
    CHECK(log.Contains("msg=\"command refused\" reason=" + reason));
  };
  // A broker swaps the body of a signed ping for one of its own: the signature no longer holds.
  const std::string ping = rig.Ping("c-1", "jti-1");
  const std::string heartbeat =
      rig.Sign(R"({"id":"c-2","type":"heartbeat.set","interval_seconds":10})", "jti-2", rig.clock.Now());
  const auto dot1 = ping.find('.');
  const auto dot2 = ping.rfind('.');
  const std::string swapped =
      ping.substr(0, dot1) +
      heartbeat.substr(heartbeat.find('.'), heartbeat.rfind('.') - heartbeat.find('.')) + ping.substr(dot2);
  refused_as(swapped, "bad_signature");
  // Signed by a key the gateway does not know.
  const auto stranger = *ehg::crypto::EcKey::Generate();
  refused_as(*ehg::care::SignCommand(stranger, "0301", "gw-1", R"({"id":"c-3","type":"ping"})", "jti-3",
                                     rig.clock.Now(), 1h),
             "unknown_key");
  // Expired an hour ago (issued a day ago for an hour).
  refused_as(rig.Sign(R"({"id":"c-4","type":"ping"})", "jti-4", rig.clock.Now() - 24h, 23h), "expired");
  // For gateway gw-2 of the same municipality.
  refused_as(rig.Sign(R"({"id":"c-5","type":"ping"})", "jti-5", rig.clock.Now(), 1h, "gw-2"),
             "wrong_audience");
  // Unsigned JSON, and a message larger than any command.
  refused_as(R"({"id":"c-6","type":"ping"})", "malformed");
  refused_as(std::string(ehg::uplink::kMaxCommandMessageBytes + 1, 'a'), "malformed");

  CHECK(rig.refused() == 6);
  CHECK(rig.counters.counters.commands == 6);
  CHECK(rig.Results().empty());  // no answer to any of them
  CHECK(rig.changes->pending().seen_commands.empty());
  CHECK(rig.effects.answered == 0);  // nor do they count as the care system listening
  CHECK(rig.effects.heartbeats.empty());
}

TEST_CASE("A replayed command, or a new command reusing a jti, is refused while its jti is remembered") {
  ehg::test::LogCapture log;
  IntakeRig rig;
  const std::string first =
      rig.Sign(R"({"id":"c-1","type":"heartbeat.set","interval_seconds":30})", "jti-1", rig.clock.Now(), 2h);
  rig.Take(first);
  REQUIRE(rig.effects.heartbeats.size() == 1);
  rig.clock.Advance(10min);
  rig.Take(first);                                                                // the broker sends it again
  rig.Take(rig.Sign(R"({"id":"c-2","type":"ping"})", "jti-1", rig.clock.Now()));  // same jti, new body
  CHECK(rig.refused() == 2);
  CHECK(log.Count("reason=replayed detail=\"jti \\\"jti-1\\\" was taken before\"") == 2);
  CHECK(rig.effects.heartbeats.size() == 1);
  CHECK(rig.effects.answered == 1);
  CHECK(rig.Results().size() == 1);
}

TEST_CASE("The replay window outlives a restart: a command taken before is refused after a reload") {
  IntakeRig rig;
  const std::string command = rig.Sign(R"({"id":"c-1","type":"ping"})", "jti-1", rig.clock.Now(), 8h);
  rig.Take(command);
  rig.Commit();  // the id is stored with the result
  rig.Restart();
  rig.clock.Advance(1h);
  rig.Take(command);
  CHECK(rig.refused() == 1);
  CHECK(rig.Results().empty());
  CHECK(rig.outbox.window_loads == 2);  // read once per process

  // Not committed (a crash before the pipeline stored it): after the restart the id is unknown, so the
  // command's effect was not stored either, and taking it again is right.
  rig.Take(rig.Ping("c-2", "jti-2"));
  rig.Restart();
  rig.Take(rig.Ping("c-2", "jti-2"));
  CHECK(rig.refused() == 1);
}

TEST_CASE("A command issued before the database's floor is refused, with a minute of slack for clocks") {
  ehg::test::LogCapture log;
  IntakeRig rig;
  const auto floor = rig.clock.Now();
  rig.outbox.floor = floor;
  rig.Take(rig.Sign(R"({"id":"c-1","type":"ping"})", "jti-1", floor - 2min));
  CHECK(rig.refused() == 1);
  CHECK(log.Contains("issued before this gateway's database was created"));
  rig.Take(rig.Sign(R"({"id":"c-2","type":"ping"})", "jti-2", floor - 30s));
  CHECK(rig.refused() == 1);
  CHECK(rig.Results().count("c-2") == 1);
}

TEST_CASE("A floor in the future moves to now only on a synchronised clock, and stays moved after a reload") {
  IntakeRig rig;
  const auto now = rig.clock.Now();
  rig.outbox.floor = now + 24h * 365;  // the database was created with a clock a year ahead

  // An unsynchronised clock may be the wrong one: the floor stays, commands wait for the clock.
  rig.synchronised = false;
  rig.Take(rig.Ping("c-1", "jti-1"));
  CHECK(rig.refused() == 1);
  rig.Commit();
  CHECK(rig.outbox.floor == now + 24h * 365);

  rig.Restart();
  rig.synchronised = true;
  rig.Take(rig.Ping("c-2", "jti-2"));
  CHECK(rig.refused() == 1);
  CHECK(rig.Results().count("c-2") == 1);
  rig.Commit();
  CHECK(rig.outbox.floor == now);
  // After a restart the moved floor holds: an older command is refused, a current one taken.
  rig.Restart();
  rig.Take(rig.Sign(R"({"id":"c-3","type":"ping"})", "jti-3", now - 10min));
  CHECK(rig.refused() == 2);
  rig.Take(rig.Ping("c-4", "jti-4"));
  CHECK(rig.refused() == 2);
}

TEST_CASE("An unreadable replay window refuses the command without remembering anything, and is read again") {
  IntakeRig rig;
  rig.outbox.fail_window = true;
  const std::string command = rig.Ping("c-1", "jti-1");
  rig.Take(command);
  CHECK(rig.refused() == 1);
  CHECK(rig.Results().empty());
  rig.outbox.fail_window = false;
  rig.Take(command);  // the care system repeats it
  CHECK(rig.refused() == 1);
  CHECK(rig.Results().count("c-1") == 1);
}

TEST_CASE("Each kind of command reaches its own handler and answer") {
  IntakeRig rig;
  const auto receipt_for = rig.events.Make(ehg::core::EventKind::kAlert, ehg::core::Priority::kCritical).id;
  const auto observation = rig.events.Make(ehg::core::EventKind::kObservation, ehg::core::Priority::kBulk).id;
  int jti = 0;
  const auto take = [&](const std::string& json) {
    rig.Take(rig.Sign(json, "jti-" + std::to_string(++jti), rig.clock.Now()));
  };
  take(R"({"id":"c-1","type":"alert.receipt","event_id":")" + receipt_for.ToString() + "\"}");
  rig.effects.holds_receipted = false;
  take(R"({"id":"c-2","type":"event.receipt","event_ids":[")" + receipt_for.ToString() + R"(",")" +
       observation.ToString() + "\"]}");
  take(R"({"id":"c-3","type":"heartbeat.set","interval_seconds":20})");
  take(R"({"id":"c-4","type":"status"})");
  take(R"({"id":"c-5","type":"alert.ack","alert_id":"a-1","by":"nurse-0417"})");
  take(R"({"id":"c-6","type":"alert.resolve","alert_id":"a-1","by":"nurse-0417","note":"visited"})");
  take(R"({"id":"c-7","type":"config.apply","config":"{}"})");
  take(R"({"id":"c-7r","type":"rules.apply","rules":[ {"id": "spo2-low", "below": 92.0} ]})");
  take(R"({"id":"c-8","type":"update.request","version":"1.2.3"})");
  take(R"({"id":"c-9","type":"factory.reset"})");
  rig.effects.daemon = false;
  take(R"({"id":"c-10","type":"config.apply","config":"{}"})");
  take(R"({"id":"c-10r","type":"rules.apply","rules":[]})");
  take(R"({"id":"c-11","type":"update.request","version":"1.2.3"})");

  // Receipts get no result: it would be an event needing a receipt of its own.
  CHECK(rig.Results() == std::map<std::string, Answer>{
                             {"c-3", {"ok", "heartbeat every 20 s"}},
                             {"c-4", {"ok", "status published"}},
                             {"c-9", {"rejected", "unsupported command type"}},
                             {"c-10", {"rejected", "not supported here"}},
                             {"c-10r", {"rejected", "not supported here"}},
                             {"c-11", {"rejected", "not supported here"}},
                         });
  CHECK(rig.effects.receipts == std::vector<ehg::core::EventId>{receipt_for, receipt_for, observation});
  CHECK(rig.counters.counters.receipts == 2);
  CHECK(rig.counters.counters.receipted_events == 1);    // held when the first came
  CHECK(rig.counters.counters.receipts_unmatched == 2);  // the uplink no longer held them
  CHECK(rig.effects.heartbeats == std::vector<std::chrono::seconds>{20s});
  CHECK(rig.changes->pending().settings.at("uplink.heartbeat_interval_seconds") == "20");
  CHECK(rig.effects.status_requests == 1);
  // Ack and resolve are answered once the pipeline applied them (the change batcher's test).
  REQUIRE(rig.changes->pending().alert_actions.size() == 2);
  CHECK(rig.changes->pending().alert_actions[0].kind == ehg::store::AlertAction::Kind::kAcknowledge);
  CHECK(rig.changes->pending().alert_actions[1].note == "visited");
  CHECK(rig.effects.handed_to_daemon == std::vector<std::string>{"c-7", "c-7r", "c-8"});
  // The rules as compact JSON, numbers as the care system wrote them.
  CHECK(rig.effects.rules_handed == std::vector<std::string>{R"([{"id":"spo2-low","below":92.0}])", "[]"});
  CHECK(rig.counters.counters.commands_rejected == 1);
  CHECK(rig.effects.answered == 13);  // every one of them authentic and fresh
}
