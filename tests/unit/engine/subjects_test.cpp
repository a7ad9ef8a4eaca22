#include "care/engine/subjects.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using ehg::core::EventKind;
using namespace ehg::engine;

namespace {

// Every topic of the contract (docs/mqtt.md) for one gateway, with the subject NATS MQTT gives it.
struct ContractTopic {
  std::string topic;
  std::string subject;
  GatewaySubject parts;
};

std::vector<ContractTopic> ContractTopics() {
  const std::string t = "ehealth/v1/0301/gw_A-9/";
  const std::string s = "ehealth.v1.0301.gw_A-9.";
  const auto parts = [](SubjectKind kind, EventKind event) {
    return GatewaySubject{"0301", "gw_A-9", kind, event};
  };
  return {
      {t + "event/alert", s + "event.alert", parts(SubjectKind::kEvent, EventKind::kAlert)},
      {t + "event/observation", s + "event.observation", parts(SubjectKind::kEvent, EventKind::kObservation)},
      {t + "event/device", s + "event.device", parts(SubjectKind::kEvent, EventKind::kDevice)},
      {t + "event/gateway", s + "event.gateway", parts(SubjectKind::kEvent, EventKind::kGateway)},
      {t + "cmd/result", s + "cmd.result", parts(SubjectKind::kEvent, EventKind::kCommandResult)},
      {t + "status", s + "status", parts(SubjectKind::kStatus, EventKind::kObservation)},
      {t + "cmd", s + "cmd", parts(SubjectKind::kCommand, EventKind::kObservation)},
  };
}

}  // namespace

TEST_CASE(
    "every contract topic maps to its subject and back, and the subject reads as tenant, gateway and kind") {
  for (const ContractTopic& entry : ContractTopics()) {
    CAPTURE(entry.topic);
    const auto subject = TopicToSubject(entry.topic);
    REQUIRE(subject.has_value());
    CHECK(*subject == entry.subject);
    const auto topic = SubjectToTopic(entry.subject);
    REQUIRE(topic.has_value());
    CHECK(*topic == entry.topic);
    const auto parts = ParseSubject(entry.subject);
    REQUIRE(parts.has_value());
    CHECK(*parts == entry.parts);
    CHECK(SubjectOf(*parts) == entry.subject);
  }
}

TEST_CASE("a topic that would mean something else as a NATS subject is refused") {
  for (const char* topic :
       {"", "ehealth/v1/0301/gw.1/status", "ehealth/v1/0301/*/status", "ehealth/v1/0301/>",
        "ehealth/v1/+/gw/status", "ehealth/v1/#", "ehealth//v1", "/ehealth/v1", "ehealth/v1/",
        "ehealth/v1/0301/gw 1/status", "ehealth/v1/0301/gw\t1/status"}) {
    CAPTURE(topic);
    CHECK_FALSE(TopicToSubject(topic).has_value());
  }
  for (const char* subject : {"", "ehealth..v1", "ehealth.v1.*", "ehealth.v1.>", ".ehealth", "ehealth.",
                              "a/b.c", "ehealth.v1.+.x", "ehealth.v1.#"}) {
    CAPTURE(subject);
    CHECK_FALSE(SubjectToTopic(subject).has_value());
  }
}

TEST_CASE("a subject outside the contract does not parse") {
  for (const char* subject : {
           "ehealth.v2.0301.gw.status",             // another version
           "ehealth.v1.0301.gw",                    // no kind
           "ehealth.v1.0301",                       // no gateway
           "ehealth.v1.301.gw.status",              // three digits
           "ehealth.v1.03010.gw.status",            // five digits
           "ehealth.v1.03a1.gw.status",             // not digits
           "ehealth.v1.0301.g*w.status",            // wildcard in the id
           "ehealth.v1.0301.*.status",              // wildcard as the id
           "ehealth.v1.0301..status",               // empty id
           "ehealth.v1.0301.gw.event",              // event without its kind
           "ehealth.v1.0301.gw.event.alarm",        // unknown event kind
           "ehealth.v1.0301.gw.event.alert.extra",  // one token too many
           "ehealth.v1.0301.gw.cmd.result.x",       //
           "ehealth.v1.0301.gw.cmd.>",              //
           "ehealth.v1.0301.gw.Status",             // case matters
           "$MQTT.msgs.ehealth.v1.0301.gw.cmd",     // the MQTT layer's own subject
       }) {
    CAPTURE(subject);
    CHECK_FALSE(ParseSubject(subject).has_value());
  }
}

TEST_CASE("tenants are four digits and gateway ids letters, digits, dash and underscore") {
  CHECK(ValidTenant("0301"));
  CHECK(ValidTenant("9999"));
  CHECK_FALSE(ValidTenant("301"));
  CHECK_FALSE(ValidTenant("+301"));
  CHECK_FALSE(ValidTenant(""));
  CHECK(ValidGatewayId("gw-demo_0001"));
  CHECK(ValidGatewayId("A"));
  for (const char* id : {"", "gw.1", "gw/1", "gw*", "gw>", "gw 1", "gw+", "gw#", "gw$", "gw\xc3\xa6"}) {
    CAPTURE(id);
    CHECK_FALSE(ValidGatewayId(id));
  }
}

TEST_CASE("the command subject is built only for a valid tenant and gateway") {
  const auto subject = CommandSubject("0301", "gw-it-01");
  REQUIRE(subject.has_value());
  CHECK(*subject == "ehealth.v1.0301.gw-it-01.cmd");
  CHECK_FALSE(CommandSubject("301", "gw").has_value());
  CHECK_FALSE(CommandSubject("0301", "gw.*").has_value());
}

TEST_CASE("subject patterns match as NATS matches them") {
  CHECK(SubjectMatches("ehealth.v1.*.*.event.>", "ehealth.v1.0301.gw.event.alert"));
  CHECK(SubjectMatches("ehealth.v1.*.*.event.>", "ehealth.v1.0301.gw.event.alert.more"));
  CHECK_FALSE(SubjectMatches("ehealth.v1.*.*.event.>", "ehealth.v1.0301.gw.event"));
  CHECK_FALSE(SubjectMatches("ehealth.v1.*.*.event.>", "ehealth.v1.0301.event.alert"));
  CHECK(SubjectMatches("ehealth.v1.*.*.status", "ehealth.v1.0301.gw.status"));
  CHECK_FALSE(SubjectMatches("ehealth.v1.*.*.status", "ehealth.v1.0301.gw.status.x"));
  CHECK_FALSE(SubjectMatches("ehealth.v1.*.*.cmd.result", "ehealth.v1.0301.gw.cmd"));
  CHECK(SubjectMatches(">", "a"));
  CHECK_FALSE(SubjectMatches(">", ""));
  CHECK(SubjectMatches("a.b", "a.b"));
  CHECK_FALSE(SubjectMatches("a.b", "a.b.c"));
  CHECK_FALSE(SubjectMatches("a.*", "a."));
}
