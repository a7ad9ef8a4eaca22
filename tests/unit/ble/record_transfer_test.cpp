// Which stored glucose records to ask a meter for, and what its answers mean
// (devices/ble_profiles/record_transfer.hpp).
#include "devices/ble_profiles/record_transfer.hpp"

#include <doctest/doctest.h>

#include "ble_test_support.hpp"

using namespace ehg::devices::ble;
using ble_test::Hex;

TEST_CASE("First contact: nothing stored and nothing seen, so every record is asked for") {
  const RecordSequence fresh;
  const auto request = fresh.NextRequest(std::nullopt);
  CHECK(request.bytes == Hex("01 01"));
  CHECK_FALSE(request.first_sequence);
}

TEST_CASE("The records after the highest known number, from the store or seen here") {
  RecordSequence sequence;
  auto request = sequence.NextRequest(9);
  CHECK(request.bytes == Hex("01 03 01 0A 00"));
  CHECK(request.first_sequence == 10);
  // Seen in this process but not stored yet (the pipeline is behind): not asked for again.
  sequence.Saw(12);
  CHECK(sequence.NextRequest(9).first_sequence == 13);
  CHECK(sequence.NextRequest(std::nullopt).first_sequence == 13);
  // The store knows more (records of an earlier process): the store wins.
  CHECK(sequence.NextRequest(300).bytes == Hex("01 03 01 2D 01"));
  // A record number seen before (a repeated indication) never lowers the highest.
  sequence.Saw(7);
  CHECK(sequence.highest_seen() == 12);
  RecordSequence zero;
  zero.Saw(0);
  CHECK(zero.NextRequest(std::nullopt).first_sequence == 1);
}

TEST_CASE("At the end of the 16-bit record numbers every record is asked for, duplicates are dropped later") {
  const RecordSequence none;
  CHECK(none.NextRequest(0xFFFE).bytes == Hex("01 03 01 FF FF"));
  CHECK(none.NextRequest(0xFFFF).bytes == Hex("01 01"));
  CHECK_FALSE(none.NextRequest(0xFFFF).first_sequence);
  CHECK(none.NextRequest(0x10000).bytes == Hex("01 01"));  // the store's number is wider than a meter's
  RecordSequence wrapped;
  wrapped.Saw(0xFFFF);
  wrapped.Saw(2);  // the meter counted on from 0
  CHECK(wrapped.highest_seen() == 0xFFFF);
  CHECK(wrapped.NextRequest(std::nullopt).bytes == Hex("01 01"));
}

TEST_CASE("The meter's answers: which end the transfer, which answer the abort, which failed") {
  const auto answer = [](racp::OpCode request, racp::ResponseCode code) {
    return JudgeRecordAnswer({request, static_cast<std::uint8_t>(code)});
  };
  const auto done = answer(racp::OpCode::kReportRecords, racp::ResponseCode::kSuccess);
  CHECK(done.ends_transfer);
  CHECK_FALSE(done.answers_abort);
  CHECK_FALSE(done.failed);
  const auto none = answer(racp::OpCode::kReportRecords, racp::ResponseCode::kNoRecordsFound);
  CHECK(none.ends_transfer);
  CHECK_FALSE(none.failed);  // nothing new since last time: not an error
  const auto broken = answer(racp::OpCode::kReportRecords, racp::ResponseCode::kProcedureNotCompleted);
  CHECK(broken.ends_transfer);
  CHECK(broken.failed);
  const auto aborted = answer(racp::OpCode::kAbort, racp::ResponseCode::kSuccess);
  CHECK(aborted.ends_transfer);
  CHECK(aborted.answers_abort);
  CHECK_FALSE(aborted.failed);
  const auto abort_refused = answer(racp::OpCode::kAbort, racp::ResponseCode::kAbortUnsuccessful);
  CHECK(abort_refused.ends_transfer);
  CHECK(abort_refused.answers_abort);
  CHECK(abort_refused.failed);
  // An answer to a request the gateway does not make during a transfer leaves the transfer running.
  const auto count = answer(racp::OpCode::kReportNumberOfRecords, racp::ResponseCode::kOpCodeNotSupported);
  CHECK_FALSE(count.ends_transfer);
  CHECK(count.failed);
  CHECK(JudgeRecordAnswer({racp::OpCode::kReportRecords, 0x42}).failed);  // a code this build does not know
}
