#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/core/result.hpp"

// Record Access Control Point (0x2A52) requests and responses for glucose meters (Glucose Service 0x1808).
namespace ehg::devices::ble::racp {

enum class OpCode : std::uint8_t {
  kReportRecords = 0x01,
  kDeleteRecords = 0x02,
  kAbort = 0x03,
  kReportNumberOfRecords = 0x04,
  kNumberOfRecordsResponse = 0x05,
  kResponseCode = 0x06,
};

enum class ResponseCode : std::uint8_t {
  kSuccess = 0x01,
  kOpCodeNotSupported = 0x02,
  kInvalidOperator = 0x03,
  kOperatorNotSupported = 0x04,
  kInvalidOperand = 0x05,
  kNoRecordsFound = 0x06,
  kAbortUnsuccessful = 0x07,
  kProcedureNotCompleted = 0x08,
  kOperandNotSupported = 0x09,
};

std::vector<std::uint8_t> ReportAllRecords();                                       // 01 01
std::vector<std::uint8_t> ReportRecordsFrom(std::uint16_t first_sequence);          // 01 03 01 lo hi
std::vector<std::uint8_t> ReportNumberOfRecordsFrom(std::uint16_t first_sequence);  // 04 03 01 lo hi
std::vector<std::uint8_t> Abort();                                                  // 03 00

struct NumberOfRecords {
  std::uint32_t count = 0;
};
struct Response {
  OpCode request = OpCode::kReportRecords;
  std::uint8_t code = 0;  // a ResponseCode, or a value this build does not know
};
using Indication = std::variant<NumberOfRecords, Response>;

// An indication on 0x2A52. The record count may be 1, 2 or 4 bytes wide (meters differ).
Result<Indication> ParseIndication(std::span<const std::uint8_t> value);

// "success", "no records found", ... or "response code 0xNN".
std::string ResponseCodeName(std::uint8_t code);

// Parses a request as a meter sees it (the simulator answers these).
struct Request {
  OpCode op = OpCode::kReportRecords;
  std::uint8_t op_operator = 0;
  std::vector<std::uint8_t> operand;
};
Result<Request> ParseRequest(std::span<const std::uint8_t> value);

}  // namespace ehg::devices::ble::racp
