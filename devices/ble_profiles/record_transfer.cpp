#include "devices/ble_profiles/record_transfer.hpp"

#include <algorithm>

namespace ehg::devices::ble {

void RecordSequence::Saw(std::uint16_t sequence) {
  if (!highest_seen_ || sequence > *highest_seen_) highest_seen_ = sequence;
}

RecordRequest RecordSequence::NextRequest(std::optional<std::uint32_t> stored) const {
  std::optional<std::uint32_t> last = stored;
  if (highest_seen_) last = std::max<std::uint32_t>(last.value_or(0), *highest_seen_);
  if (last && *last < 0xFFFF) {
    const auto first = static_cast<std::uint16_t>(*last + 1);
    return {racp::ReportRecordsFrom(first), first};
  }
  return {racp::ReportAllRecords(), std::nullopt};
}

RecordAnswer JudgeRecordAnswer(const racp::Response& response) {
  RecordAnswer answer;
  answer.answers_abort = response.request == racp::OpCode::kAbort;
  answer.ends_transfer = response.request == racp::OpCode::kReportRecords || answer.answers_abort;
  answer.failed = response.code != static_cast<std::uint8_t>(racp::ResponseCode::kSuccess) &&
                  response.code != static_cast<std::uint8_t>(racp::ResponseCode::kNoRecordsFound);
  return answer;
}

}  // namespace ehg::devices::ble
