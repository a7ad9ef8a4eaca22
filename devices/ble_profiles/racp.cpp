#include "devices/ble_profiles/racp.hpp"

#include <cstdio>
#include <string>

namespace ehg::devices::ble::racp {

std::vector<std::uint8_t> ReportAllRecords() {
  return {0x01, 0x01};
}

std::vector<std::uint8_t> ReportRecordsFrom(std::uint16_t first_sequence) {
  return {0x01, 0x03, 0x01, static_cast<std::uint8_t>(first_sequence & 0xFF),
          static_cast<std::uint8_t>(first_sequence >> 8)};
}

std::vector<std::uint8_t> ReportNumberOfRecordsFrom(std::uint16_t first_sequence) {
  return {0x04, 0x03, 0x01, static_cast<std::uint8_t>(first_sequence & 0xFF),
          static_cast<std::uint8_t>(first_sequence >> 8)};
}

std::vector<std::uint8_t> Abort() {
  return {0x03, 0x00};
}

Result<Indication> ParseIndication(std::span<const std::uint8_t> value) {
  if (value.size() < 2)
    return Fail(Errc::kParse, "record access control point: indication shorter than 2 bytes");
  const auto op = value[0];
  if (op == static_cast<std::uint8_t>(OpCode::kNumberOfRecordsResponse)) {
    if (value[1] != 0x00)
      return Fail(Errc::kParse, "record access control point: count response with an operator");
    const std::size_t width = value.size() - 2;
    if (width != 1 && width != 2 && width != 4)
      return Fail(Errc::kParse, "record access control point: count of " + std::to_string(width) + " bytes");
    std::uint32_t count = 0;
    for (std::size_t i = 0; i < width; ++i)
      count |= static_cast<std::uint32_t>(value[2 + i]) << (8 * i);
    return NumberOfRecords{count};
  }
  if (op == static_cast<std::uint8_t>(OpCode::kResponseCode)) {
    if (value.size() < 4)
      return Fail(Errc::kParse, "record access control point: response code shorter than 4 bytes");
    return Response{static_cast<OpCode>(value[2]), value[3]};
  }
  char text[80];
  std::snprintf(text, sizeof text, "record access control point: unexpected op code 0x%02x in an indication",
                op);
  return Fail(Errc::kParse, text);
}

std::string ResponseCodeName(std::uint8_t code) {
  switch (static_cast<ResponseCode>(code)) {
    case ResponseCode::kSuccess:
      return "success";
    case ResponseCode::kOpCodeNotSupported:
      return "op code not supported";
    case ResponseCode::kInvalidOperator:
      return "invalid operator";
    case ResponseCode::kOperatorNotSupported:
      return "operator not supported";
    case ResponseCode::kInvalidOperand:
      return "invalid operand";
    case ResponseCode::kNoRecordsFound:
      return "no records found";
    case ResponseCode::kAbortUnsuccessful:
      return "abort unsuccessful";
    case ResponseCode::kProcedureNotCompleted:
      return "procedure not completed";
    case ResponseCode::kOperandNotSupported:
      return "operand not supported";
  }
  char text[32];
  std::snprintf(text, sizeof text, "response code 0x%02x", code);
  return text;
}

Result<Request> ParseRequest(std::span<const std::uint8_t> value) {
  if (value.size() < 2)
    return Fail(Errc::kParse, "record access control point: request shorter than 2 bytes");
  Request request;
  request.op = static_cast<OpCode>(value[0]);
  request.op_operator = value[1];
  request.operand.assign(value.begin() + 2, value.end());
  return request;
}

}  // namespace ehg::devices::ble::racp
