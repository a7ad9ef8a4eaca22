#include "gateway/http/admission.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace std::chrono_literals;
using ehg::http::Admission;
using ehg::http::AdmissionLimits;
using ehg::http::LogThrottle;
using ehg::http::Refusal;

namespace {

AdmissionLimits Limits(std::size_t per_address, std::size_t total) {
  AdmissionLimits limits;
  limits.per_address = per_address;
  limits.total = total;
  return limits;
}

}  // namespace

TEST_CASE("One address over its limit loses its longest-waiting connection, not the newcomer") {
  Admission admission(Limits(3, 100));
  for (Admission::Id id = 1; id <= 3; ++id)
    CHECK(admission.Admit(id, "10.0.0.5").admitted);
  const Admission::Decision fourth = admission.Admit(4, "10.0.0.5");
  CHECK(fourth.admitted);
  CHECK(fourth.closed == 1);
  CHECK(fourth.closed_was_waiting);
  CHECK(fourth.refusal == Refusal::kPerAddressLimit);
  CHECK(admission.ConnectionsFrom("10.0.0.5") == 3);
  // Another address is not touched.
  const Admission::Decision other = admission.Admit(5, "10.0.0.6");
  CHECK(other.admitted);
  CHECK_FALSE(other.closed);
}

TEST_CASE("Connections being answered are never closed for a newcomer, drained ones go first") {
  Admission admission(Limits(2, 100));
  admission.Admit(1, "a");
  admission.Admit(2, "a");
  admission.SetPhase(1, Admission::Phase::kAnswering);
  admission.SetPhase(2, Admission::Phase::kDraining);
  const Admission::Decision third = admission.Admit(3, "a");
  CHECK(third.closed == 2);               // the finished one, though younger than the one answered
  CHECK_FALSE(third.closed_was_waiting);  // not a refusal: its answer was sent
  admission.SetPhase(3, Admission::Phase::kAnswering);
  const Admission::Decision fourth = admission.Admit(4, "a");
  CHECK_FALSE(fourth.admitted);  // both answered: the newcomer is the one refused
  CHECK_FALSE(fourth.closed);
  CHECK(admission.ConnectionsFrom("a") == 2);
  admission.Remove(1);
  CHECK(admission.Admit(5, "a").admitted);
}

TEST_CASE("Over the overall limit the address holding most connections makes room") {
  Admission admission(Limits(8, 6));
  admission.Admit(1, "quiet");  // the oldest, but its address holds one connection
  for (Admission::Id id = 2; id <= 5; ++id)
    admission.Admit(id, "flood");
  admission.Admit(6, "other");
  const Admission::Decision seventh = admission.Admit(7, "installer");
  CHECK(seventh.admitted);
  CHECK(seventh.closed == 2);  // the flood's oldest
  CHECK(seventh.refusal == Refusal::kConnectionLimit);
  CHECK(admission.size() == 6);
  CHECK(admission.ConnectionsFrom("quiet") == 1);
  CHECK(admission.ConnectionsFrom("installer") == 1);
}

TEST_CASE("Two hundred idle connections from many addresses cannot keep a newcomer out") {
  Admission admission(Limits(8, 128));
  Admission::Id id = 1;
  for (; id <= 200; ++id) {
    const Admission::Decision decision = admission.Admit(id, "10.1." + std::to_string(id % 50) + ".1");
    CHECK(decision.admitted);
  }
  CHECK(admission.size() == 128);
  const Admission::Decision installer = admission.Admit(id, "192.168.1.20");
  CHECK(installer.admitted);
  CHECK(installer.closed.has_value());
  admission.SetPhase(id, Admission::Phase::kAnswering);
  // The installer's request is being answered: 1000 more idle newcomers do not close it.
  for (Admission::Id flood = id + 1; flood <= id + 1000; ++flood) {
    const Admission::Decision decision = admission.Admit(flood, "10.2." + std::to_string(flood % 200) + ".1");
    CHECK(decision.closed != id);
  }
  CHECK(admission.ConnectionsFrom("192.168.1.20") == 1);
}

TEST_CASE("The log throttle lets one line per kind and interval through and counts the rest") {
  LogThrottle throttle(10s);
  const ehg::core::SteadyTime start{};
  CHECK(throttle.Allow("wrong_token", start) == 0U);
  CHECK_FALSE(throttle.Allow("wrong_token", start + 1s));
  CHECK_FALSE(throttle.Allow("wrong_token", start + 9s));
  CHECK(throttle.Allow("header_timeout", start + 9s) == 0U);  // another kind has its own allowance
  CHECK(throttle.Allow("wrong_token", start + 10s) == 2U);
  CHECK(throttle.Allow("wrong_token", start + 30s) == 0U);
}
