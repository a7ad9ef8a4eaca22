#include "gateway/http/admission.hpp"

#include <doctest/doctest.h>

#include <string>

#include "gateway/http/access.hpp"

using namespace std::chrono_literals;
using ehg::http::Admission;
using ehg::http::AdmissionLimits;
using ehg::http::ClientKey;
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

TEST_CASE("Addresses tied at the most connections lose their oldest one, whatever their order") {
  Admission admission(Limits(8, 5));
  admission.Admit(1, "solo");  // the oldest of all, but its address holds one connection
  admission.Admit(2, "b");
  admission.Admit(3, "a");
  admission.Admit(4, "b");
  admission.Admit(5, "a");
  // "a" and "b" both hold two: the older of their connections goes, not the first of "a" (which sorts
  // first), and not "solo"'s.
  const Admission::Decision sixth = admission.Admit(6, "c");
  CHECK(sixth.closed == 2);
  CHECK(sixth.refusal == Refusal::kConnectionLimit);
  CHECK(admission.ConnectionsFrom("solo") == 1);
  // Now "a" alone holds two: its oldest goes, though "b"'s remaining one is older.
  CHECK(admission.Admit(7, "d").closed == 3);
  // One each: the oldest of all, skipping the one being answered.
  admission.SetPhase(1, Admission::Phase::kAnswering);
  CHECK(admission.Admit(8, "e").closed == 4);
  CHECK(admission.Admit(9, "f").closed == 5);
  CHECK(admission.ConnectionsFrom("solo") == 1);
}

TEST_CASE("With one connection per address the newest waits longest before it can be closed") {
  // The attack: many addresses that sort after the newcomer's, one connection each, and a new one for
  // every connection the newcomer opens. Closing the tied address that sorts first closed the
  // newcomer's connection while it was still in its TLS handshake.
  Admission admission(Limits(8, 4));
  for (Admission::Id id = 1; id <= 4; ++id)
    admission.Admit(id, "z" + std::to_string(id));
  CHECK(admission.Admit(5, "a").closed == 1);
  CHECK(admission.Admit(6, "z6").closed == 2);
  CHECK(admission.Admit(7, "z7").closed == 3);
  CHECK(admission.Admit(8, "z8").closed == 4);
  CHECK(admission.ConnectionsFrom("a") == 1);
}

namespace {

// Flood addresses that all sort after the installer's "192.168.1.20" as client keys: IPv4 neighbours
// above it ("192.168.1.21", never "192.168.1.1xx", which sorts before) and IPv6 hosts each in a /64 of
// its own ("2001:db8:0:<n>::/64", as a host with a routed /48 can have them by the thousand).
std::string FloodAddress(Admission::Id n) {
  if (n % 3 == 0) return "192.168.1." + std::to_string(21 + n % 79);
  return "2001:db8:0:" + std::to_string(n % 4000) + "::" + std::to_string(n % 7 + 1);
}

}  // namespace

TEST_CASE("Two hundred idle connections from addresses sorting after the installer's cannot close it") {
  Admission admission(Limits(8, 128));
  Admission::Id id = 1;
  for (; id <= 200; ++id) {
    const Admission::Decision decision = admission.Admit(id, ClientKey(FloodAddress(id)));
    CHECK(decision.admitted);
  }
  CHECK(admission.size() == 128);
  const std::string installer = ClientKey("192.168.1.20");
  const Admission::Id installers = id++;
  const Admission::Decision admitted = admission.Admit(installers, installer);
  CHECK(admitted.admitted);
  CHECK(admitted.closed.has_value());
  // Still in its handshake: the flood's next hundred newcomers each close one of the flood's own older
  // connections, not the installer's (that would take more newcomers than the page holds connections).
  for (const Admission::Id last = id + 100; id < last; ++id) {
    const Admission::Decision decision = admission.Admit(id, ClientKey(FloodAddress(id)));
    CHECK(decision.closed != installers);
  }
  CHECK(admission.ConnectionsFrom(installer) == 1);
  admission.SetPhase(installers, Admission::Phase::kAnswering);
  // The installer's request is being answered: 1000 more idle newcomers do not close it.
  for (const Admission::Id last = id + 1000; id < last; ++id) {
    const Admission::Decision decision = admission.Admit(id, ClientKey(FloodAddress(id)));
    CHECK(decision.closed != installers);
  }
  CHECK(admission.ConnectionsFrom(installer) == 1);
}

TEST_CASE("The addresses of one IPv6 /64 share one per-address limit") {
  Admission admission(Limits(8, 128));
  // One host taking a fresh address of its /64 for every connection, up to the whole page.
  for (Admission::Id id = 1; id <= 200; ++id)
    CHECK(admission.Admit(id, ClientKey("2001:db8:1:2:" + std::to_string(id) + "::1")).admitted);
  CHECK(admission.size() == 8);
  CHECK(admission.ConnectionsFrom(ClientKey("2001:db8:1:2::1")) == 8);
  // The installer, and a neighbour /64, get in without anyone being closed.
  CHECK_FALSE(admission.Admit(201, ClientKey("192.168.1.20")).closed);
  CHECK_FALSE(admission.Admit(202, ClientKey("2001:db8:1:3::1")).closed);
  // IPv4 through a dual-stack listener is still the IPv4 address, with its own limit.
  for (Admission::Id id = 203; id < 203 + 7; ++id)
    CHECK_FALSE(admission.Admit(id, ClientKey("::ffff:192.168.1.20")).closed);
  CHECK(admission.Admit(210, ClientKey("::ffff:192.168.1.20")).closed == 201);
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
