#include "devices/serial_protocols/beurer_session.hpp"

#include <doctest/doctest.h>

#include "devices/sim/serial_frames.hpp"
#include "serial_test_support.hpp"

using ehg::devices::serial::BeurerSession;
using serial_test::Hex;
using serial_test::ValueOf;

TEST_CASE("Beurer session: hello, count, then every record in turn") {
  BeurerSession session;
  CHECK(session.Begin().send == Hex("AA"));
  CHECK(session.active());
  // Noise from a waking monitor before the answer is ignored.
  auto step = session.OnBytes(Hex("00 55"));
  CHECK(step.send == Hex("A2"));
  step = session.OnBytes(Hex("02"));
  CHECK(step.send == Hex("A3 01"));
  CHECK(session.records_expected() == 2);
  ehg::devices::sim::BloodPressureRecord first;
  first.systolic = 141;
  const auto bytes = ehg::devices::sim::EncodeBeurerRecord(first);
  // A record may arrive in pieces.
  step = session.OnBytes(std::span(bytes).first(4));
  CHECK(step.send.empty());
  CHECK(step.records.empty());
  step = session.OnBytes(std::span(bytes).subspan(4));
  REQUIRE(step.records.size() == 1);
  CHECK(ValueOf(step.records[0], "bp.systolic") == 141);
  CHECK(step.send == Hex("A3 02"));
  CHECK_FALSE(step.finished);
  step = session.OnBytes(ehg::devices::sim::EncodeBeurerRecord({}));
  REQUIRE(step.records.size() == 1);
  CHECK(step.finished);
  CHECK(step.error.empty());
  CHECK_FALSE(session.active());
}

TEST_CASE("Beurer session with an empty memory finishes after the count") {
  BeurerSession session;
  session.Begin();
  session.OnBytes(Hex("55"));
  const auto step = session.OnBytes(Hex("00"));
  CHECK(step.finished);
  CHECK(step.send.empty());
}

TEST_CASE("Beurer session: silence ends it with a reason, and late bytes are ignored") {
  BeurerSession session;
  session.Begin();
  auto step = session.OnTimeout();
  CHECK(step.finished);
  CHECK(step.error == "no answer to hello (monitor off or not a Beurer BM)");
  CHECK_FALSE(session.active());
  CHECK(session.OnBytes(Hex("55")).send.empty());

  session.Begin();
  session.OnBytes(Hex("55 03"));
  step = session.OnTimeout();
  CHECK(step.error == "record 1 of 3 not received");
}

TEST_CASE("Beurer session: an impossible record is refused and the download goes on") {
  BeurerSession session;
  session.Begin();
  session.OnBytes(Hex("55 02"));
  auto step = session.OnBytes(Hex("80 5F 37 48 0D 0F 07 1E 18"));  // month 13
  CHECK(step.records.empty());
  CHECK(step.error == "record 1 refused: record with an impossible date or time");
  CHECK(step.send == Hex("A3 02"));
  CHECK(session.refused_records() == 1);
  step = session.OnBytes(Hex("80 5F 37 48 03 0F 07 1E 18"));
  CHECK(step.records.size() == 1);
  CHECK(step.finished);
}
