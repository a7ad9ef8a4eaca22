#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "devices/ble_profiles/racp.hpp"

// A glucose meter's stored records (docs/ble.md, "Glucose meters: Record Access Control Point"): which
// records to ask for, and what the meter's answers mean for the transfer. Pure; the BLE manager writes
// the request and keeps one RecordSequence per meter.
namespace ehg::devices::ble {

struct RecordRequest {
  std::vector<std::uint8_t> bytes;              // the RACP request to write
  std::optional<std::uint16_t> first_sequence;  // the first record asked for; nullopt: all records
};

// The highest record number a meter sent in this process, beside the store's: after a reconnection the
// records already received are not asked for again, even before the pipeline has stored them.
class RecordSequence {
 public:
  void Saw(std::uint16_t sequence);
  std::optional<std::uint16_t> highest_seen() const { return highest_seen_; }

  // The records after the highest number known, from the store (`stored`, nullopt when it has none) or
  // seen here, whichever is higher. All records when none is known (first contact), and when the highest
  // is 0xFFFF: the 16-bit number cannot go on, so the meter restarted its count or will; the pipeline
  // drops the records it already has (docs/storage.md, "Duplicates").
  RecordRequest NextRequest(std::optional<std::uint32_t> stored) const;

 private:
  std::optional<std::uint16_t> highest_seen_;
};

// What an answer on the Record Access Control Point means for the transfer in progress.
struct RecordAnswer {
  bool ends_transfer = false;  // it answers a report or an abort: the meter sends nothing more
  bool answers_abort = false;  // it answers the abort sent when the transfer took too long
  bool failed = false;         // neither success nor "no records found": shown to the installer
};
RecordAnswer JudgeRecordAnswer(const racp::Response& response);

}  // namespace ehg::devices::ble
