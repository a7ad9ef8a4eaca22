#include "devices/ble_profiles/racp.hpp"

#include <doctest/doctest.h>

#include "ble_test_support.hpp"

using namespace ehg::devices::ble;
using ble_test::Hex;

TEST_CASE("RACP requests as the meter expects them") {
  CHECK(racp::ReportAllRecords() == Hex("01 01"));
  CHECK(racp::ReportRecordsFrom(11) == Hex("01 03 01 0B 00"));
  CHECK(racp::ReportRecordsFrom(0x1234) == Hex("01 03 01 34 12"));
  CHECK(racp::ReportNumberOfRecordsFrom(11) == Hex("04 03 01 0B 00"));
  CHECK(racp::Abort() == Hex("03 00"));
}

TEST_CASE("RACP indications: response codes and record counts of 1, 2 or 4 bytes") {
  auto success = racp::ParseIndication(Hex("06 00 01 01"));
  REQUIRE(success.has_value());
  const auto& response = std::get<racp::Response>(*success);
  CHECK(response.request == racp::OpCode::kReportRecords);
  CHECK(response.code == static_cast<std::uint8_t>(racp::ResponseCode::kSuccess));
  auto none = racp::ParseIndication(Hex("06 00 01 06"));
  REQUIRE(none.has_value());
  CHECK(racp::ResponseCodeName(std::get<racp::Response>(*none).code) == "no records found");
  auto aborted = racp::ParseIndication(Hex("06 00 03 01"));
  CHECK(std::get<racp::Response>(*aborted).request == racp::OpCode::kAbort);
  CHECK(std::get<racp::NumberOfRecords>(*racp::ParseIndication(Hex("05 00 02 01"))).count == 258);
  CHECK(std::get<racp::NumberOfRecords>(*racp::ParseIndication(Hex("05 00 2A"))).count == 42);
  CHECK(std::get<racp::NumberOfRecords>(*racp::ParseIndication(Hex("05 00 01 00 01 00"))).count == 65537);
  CHECK(racp::ResponseCodeName(0x42) == "response code 0x42");
}

TEST_CASE("RACP malformed indications are refused") {
  CHECK_FALSE(racp::ParseIndication(Hex("")).has_value());
  CHECK_FALSE(racp::ParseIndication(Hex("06")).has_value());
  CHECK_FALSE(racp::ParseIndication(Hex("06 00 01")).has_value());
  CHECK_FALSE(racp::ParseIndication(Hex("05 00")).has_value());
  CHECK_FALSE(racp::ParseIndication(Hex("05 00 01 02 03")).has_value());
  CHECK_FALSE(racp::ParseIndication(Hex("05 01 2A")).has_value());
  CHECK_FALSE(racp::ParseIndication(Hex("01 01")).has_value());
}

TEST_CASE("RACP requests parse for the simulated meter") {
  auto request = racp::ParseRequest(Hex("01 03 01 0B 00"));
  REQUIRE(request.has_value());
  CHECK(request->op == racp::OpCode::kReportRecords);
  CHECK(request->op_operator == 0x03);
  CHECK(request->operand == Hex("01 0B 00"));
  CHECK_FALSE(racp::ParseRequest(Hex("01")).has_value());
}
