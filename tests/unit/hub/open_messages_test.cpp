// Opening a turn's sealed events on several threads (care/hub/open_messages.cpp): the same rows and the
// same refusals, in the same order, as one message after another, whatever the number of threads; and
// a forged, a tampered or an unreadable message is refused alone.
#include "care/hub/open_messages.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gateway/crypto/envelope.hpp"
#include "tests/unit/ledger/bodies.hpp"

namespace {

namespace bodies = ehg::ledger_test;
using ehg::core::EventKind;
using ehg::hub::OpenedMessage;
using ehg::hub::SealedMessage;

struct Keys {
  ehg::crypto::EcKey care = *ehg::crypto::EcKey::Generate();
  ehg::crypto::EcKey gateway = *ehg::crypto::EcKey::Generate();
  ehg::crypto::EcKey stranger = *ehg::crypto::EcKey::Generate();
  ehg::crypto::KeySet decryption;
  ehg::crypto::KeySet gateway_keys;
  Keys() {
    decryption.Add(care);
    gateway_keys.Add(gateway);
  }
};

// A turn's worth: observation Bundles and alerts from the gateway, with a message signed by a key that
// is not the gateway's, one with a byte changed, and one whose body is not an event, among them.
struct Turn {
  std::vector<std::string> payloads;
  std::vector<EventKind> kinds;
  std::vector<std::string> expected_refusal;  // empty: opened
};

Turn MakeTurn(const Keys& keys) {
  Turn turn;
  const auto add = [&](std::string payload, EventKind kind, std::string refusal) {
    turn.payloads.push_back(std::move(payload));
    turn.kinds.push_back(kind);
    turn.expected_refusal.push_back(std::move(refusal));
  };
  for (std::uint64_t n = 1; n <= 40; ++n) {
    if (n % 10 == 0) {
      const std::string body =
          bodies::AlertBody(1000 + n, ehg::alerts::ChangeKind::kRaised, bodies::SpO2Alert());
      add(ehg::crypto::SealEnvelope(body, keys.gateway, keys.care).value(), EventKind::kAlert, "");
      continue;
    }
    std::vector<std::string> readings;
    for (std::uint64_t r = 0; r < 5; ++r)
      readings.push_back(bodies::ObservationBody(n * 100 + r, bodies::Reading("spo2", 95, "%", bodies::kT0)));
    add(ehg::crypto::SealEnvelope(bodies::Bundle(readings), keys.gateway, keys.care).value(),
        EventKind::kObservation, "");
  }
  const std::string alert = bodies::AlertBody(2001, ehg::alerts::ChangeKind::kRaised, bodies::SpO2Alert());
  turn.payloads[7] = ehg::crypto::SealEnvelope(alert, keys.stranger, keys.care).value();
  turn.kinds[7] = EventKind::kAlert;
  turn.expected_refusal[7] = "any";  // whatever the envelope's refusal is called
  std::string tampered = turn.payloads[13];
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  turn.payloads[13] = tampered;
  turn.expected_refusal[13] = "any";
  turn.payloads[21] = ehg::crypto::SealEnvelope(R"({"not":"an event"})", keys.gateway, keys.care).value();
  turn.expected_refusal[21] = "body";
  return turn;
}

std::vector<SealedMessage> Sealed(const Turn& turn, const Keys& keys) {
  std::vector<SealedMessage> sealed;
  for (std::size_t i = 0; i < turn.payloads.size(); ++i)
    sealed.push_back({turn.payloads[i],
                      &keys.gateway_keys,
                      {bodies::kTenant, bodies::kGateway, ehg::engine::SubjectKind::kEvent, turn.kinds[i]}});
  return sealed;
}

// What a result says, comparable: the refusal, or the kind and event ids of the rows.
std::string Summary(const OpenedMessage& opened) {
  if (!opened.message) return "refused " + opened.refusal;
  std::string summary = std::string(ehg::ledger::ToString(opened.message->kind));
  for (const ehg::ledger::IngestedEvent& event : opened.message->events)
    summary += " " + event.event_id.ToString();
  return summary;
}

TEST_CASE("opening: a turn's events open the same on 1, 2 and 8 threads, in order, each refusal alone") {
  const Keys keys;
  const Turn turn = MakeTurn(keys);
  const std::vector<SealedMessage> sealed = Sealed(turn, keys);
  std::vector<std::string> one_by_one;
  for (const SealedMessage& message : sealed)
    one_by_one.push_back(Summary(ehg::hub::OpenMessage(message, keys.decryption)));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    CAPTURE(i);
    if (turn.expected_refusal[i].empty()) {
      CHECK(one_by_one[i].rfind("refused", 0) == std::string::npos);
    } else if (turn.expected_refusal[i] == "body") {
      CHECK(one_by_one[i] == "refused body");
    } else {
      CHECK(one_by_one[i].rfind("refused ", 0) == 0);
      CHECK(one_by_one[i] != "refused body");
    }
  }
  CHECK(one_by_one[0].rfind("observation ", 0) == 0);
  CHECK(one_by_one[9].rfind("alert ", 0) == 0);
  for (const int threads : {1, 2, 8}) {
    CAPTURE(threads);
    std::vector<std::string> summaries;
    for (const OpenedMessage& opened : ehg::hub::OpenMessages(sealed, keys.decryption, threads))
      summaries.push_back(Summary(opened));
    CHECK(summaries == one_by_one);
  }
}

TEST_CASE("opening: no message, one message, and a thread count below one open on this thread") {
  const Keys keys;
  CHECK(ehg::hub::OpenMessages({}, keys.decryption, 4).empty());
  const Turn turn = MakeTurn(keys);
  const std::vector<SealedMessage> sealed = Sealed(turn, keys);
  for (const int threads : {0, -3, 4}) {
    CAPTURE(threads);
    const auto opened = ehg::hub::OpenMessages({sealed.front()}, keys.decryption, threads);
    REQUIRE(opened.size() == 1);
    CHECK(opened[0].message.has_value());
  }
}

}  // namespace
