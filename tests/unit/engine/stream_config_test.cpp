#include "care/engine/stream_config.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>
#include <vector>

using namespace ehg::engine;
using namespace std::chrono_literals;

namespace {

// What the server reports for a stream made from `settings`.
ObservedStream AsCreated(const StreamSettings& settings) {
  ObservedStream observed;
  observed.subjects = settings.subjects;
  observed.replicas = settings.replicas;
  observed.duplicate_window = settings.duplicate_window;
  observed.max_age = settings.max_age;
  observed.max_bytes = settings.max_bytes;
  observed.max_message_bytes = settings.max_message_bytes;
  observed.discard_new = settings.discard_new;
  return observed;
}

ObservedConsumer ConsumerAsCreated(const ConsumerSettings& settings) {
  ObservedConsumer observed;
  observed.ack_wait = settings.ack_wait;
  observed.max_ack_pending = settings.max_ack_pending;
  observed.filter_subject = settings.filter_subject;
  return observed;
}

}  // namespace

TEST_CASE("the default stream keeps everything a gateway sends up and never the commands going down") {
  const StreamSettings settings;
  REQUIRE(CheckStreamSettings(settings).has_value());
  CHECK(settings.name == "EHEALTH_EVENTS");
  CHECK(settings.replicas == 3);
  CHECK(settings.duplicate_window == 120s);
  CHECK(settings.max_age >= std::chrono::hours(24 * 7));
  for (const char* up : {"ehealth.v1.0301.gw-1.event.alert", "ehealth.v1.0301.gw-1.event.observation",
                         "ehealth.v1.0301.gw-1.event.device", "ehealth.v1.0301.gw-1.event.gateway",
                         "ehealth.v1.9999.other.cmd.result", "ehealth.v1.0301.gw-1.status"}) {
    CAPTURE(up);
    CHECK(Captures(settings, up));
  }
  for (const char* other : {"ehealth.v1.0301.gw-1.cmd", "ehealth.v2.0301.gw-1.event.alert",
                            "$MQTT.msgs.ehealth.v1.0301.gw-1.event.alert", "ehealth.v1.0301.event.alert"}) {
    CAPTURE(other);
    CHECK_FALSE(Captures(settings, other));
  }
}

TEST_CASE("stream settings that would break the contract are refused") {
  REQUIRE(
      CheckStreamSettings(StreamSettings{}).has_value());  // the defaults pass: each break below is its own
  const std::vector<std::pair<const char*, std::function<void(StreamSettings&)>>> breaks{
      {"a subject that captures the commands", [](StreamSettings& s) { s.subjects = {"ehealth.v1.>"}; }},
      {"a catch-all below the gateway", [](StreamSettings& s) { s.subjects = {"ehealth.v1.*.*.>"}; }},
      {"no subjects", [](StreamSettings& s) { s.subjects.clear(); }},
      {"no replica", [](StreamSettings& s) { s.replicas = 0; }},
      {"a duplicate window longer than the age limit", [](StreamSettings& s) { s.max_age = 60s; }},
      {"a message limit above the stream limit", [](StreamSettings& s) { s.max_bytes = 1024; }},
      {"a name NATS would read as a subject", [](StreamSettings& s) { s.name = "EHEALTH.EVENTS"; }},
  };
  for (const auto& [name, apply] : breaks) {
    const auto& case_name = name;  // clang 14 cannot capture a structured binding
    CAPTURE(case_name);
    StreamSettings settings;
    apply(settings);
    const auto checked = CheckStreamSettings(settings);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().code == ehg::Errc::kInvalidArgument);
  }
}

TEST_CASE("a missing stream is created, an equal one left alone, a different one updated or refused") {
  const StreamSettings want;
  CHECK(PlanStream(want, std::nullopt).action == PlanAction::kCreate);

  ObservedStream have = AsCreated(want);
  std::reverse(have.subjects.begin(), have.subjects.end());  // the server may list them in another order
  CHECK(PlanStream(want, have).action == PlanAction::kNothing);
  CHECK(PlanStream(want, have).differences.empty());

  SUBCASE("limits differ: updated in place, each difference named") {
    have.max_bytes = want.max_bytes / 2;
    have.replicas = 1;
    const Plan plan = PlanStream(want, have);
    CHECK(plan.action == PlanAction::kUpdate);
    REQUIRE(plan.differences.size() == 2);
    CHECK(plan.differences[0] == "replicas 1, want 3");
    CHECK(plan.differences[1].starts_with("max bytes "));
  }
  SUBCASE("subjects differ: updated") {
    have.subjects.pop_back();
    CHECK(PlanStream(want, have).action == PlanAction::kUpdate);
  }
  SUBCASE("memory storage: refused, whatever else differs") {
    have.file_storage = false;
    have.max_age = 1h;
    const Plan plan = PlanStream(want, have);
    CHECK(plan.action == PlanAction::kRefuse);
    CHECK(plan.differences.size() == 2);
  }
  SUBCASE("another retention: refused") {
    have.limits_retention = false;
    CHECK(PlanStream(want, have).action == PlanAction::kRefuse);
  }
}

TEST_CASE("the hub's consumer is created, updated in its timings, refused when it delivers differently") {
  ConsumerSettings want;
  REQUIRE(CheckConsumerSettings(want).has_value());
  CHECK(want.ack_wait == 30s);
  CHECK(PlanConsumer(want, std::nullopt).action == PlanAction::kCreate);
  ObservedConsumer have = ConsumerAsCreated(want);
  CHECK(PlanConsumer(want, have).action == PlanAction::kNothing);
  SUBCASE("ack wait and pending limit: updated") {
    have.ack_wait = 5s;
    have.max_ack_pending = 10;
    const Plan plan = PlanConsumer(want, have);
    CHECK(plan.action == PlanAction::kUpdate);
    CHECK(plan.differences.size() == 2);
  }
  SUBCASE("a push consumer: refused") {
    have.pull = false;
    CHECK(PlanConsumer(want, have).action == PlanAction::kRefuse);
  }
  SUBCASE("a filtered one: refused") {
    have.filter_subject = "ehealth.v1.*.*.event.alert";
    CHECK(PlanConsumer(want, have).action == PlanAction::kRefuse);
  }
  SUBCASE("acknowledging all or none: refused") {
    have.explicit_ack = false;
    CHECK(PlanConsumer(want, have).action == PlanAction::kRefuse);
  }
  SUBCASE("not from the start: refused") {
    have.deliver_all = false;
    CHECK(PlanConsumer(want, have).action == PlanAction::kRefuse);
  }
}

TEST_CASE("the alert lane's consumer reads alerts only, and a consumer filtered otherwise is refused") {
  ConsumerSettings want;
  want.durable = "hub-alerts";
  want.filter_subject = ehg::engine::kAlertSubjects;
  REQUIRE(CheckConsumerSettings(want).has_value());
  ObservedConsumer have = ConsumerAsCreated(want);
  CHECK(have.filter_subject == "ehealth.v1.*.*.event.alert");
  CHECK(PlanConsumer(want, have).action == PlanAction::kNothing);
  have.filter_subject = "";  // an unfiltered consumer of that name would hand it every observation
  const Plan unfiltered = PlanConsumer(want, have);
  CHECK(unfiltered.action == PlanAction::kRefuse);
  REQUIRE(unfiltered.differences.size() == 1);
  CHECK(unfiltered.differences[0] == "filtered on nothing, want ehealth.v1.*.*.event.alert");
  have.filter_subject = "ehealth.v1.*.*.event.>";
  CHECK(PlanConsumer(want, have).action == PlanAction::kRefuse);
}

TEST_CASE("consumer settings without a usable name, ack wait or pending limit are refused") {
  REQUIRE(CheckConsumerSettings(ConsumerSettings{}).has_value());
  const std::vector<std::pair<const char*, std::function<void(ConsumerSettings&)>>> breaks{
      {"empty name", [](ConsumerSettings& s) { s.durable = ""; }},
      {"name with a dot", [](ConsumerSettings& s) { s.durable = "hub.1"; }},
      {"ack wait too short to commit anything", [](ConsumerSettings& s) { s.ack_wait = 10ms; }},
      {"nothing may be pending", [](ConsumerSettings& s) { s.max_ack_pending = 0; }},
  };
  for (const auto& [name, apply] : breaks) {
    const auto& case_name = name;  // clang 14 cannot capture a structured binding
    CAPTURE(case_name);
    ConsumerSettings settings;
    apply(settings);
    CHECK_FALSE(CheckConsumerSettings(settings).has_value());
  }
}
