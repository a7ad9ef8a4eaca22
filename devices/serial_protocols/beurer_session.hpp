#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "devices/serial_protocols/decoder.hpp"

namespace ehg::devices::serial {

// The conversation that downloads a Beurer BM monitor's memory: `AA` -> `55` (hello), `A2` -> the
// number of records, then `A3 nn` -> one 9-byte record for each nn = 1..count. Pure: the driver sends
// what it says and feeds back what arrives, and calls Timeout when the monitor stays silent.
class BeurerSession {
 public:
  struct Step {
    std::vector<std::uint8_t> send;
    std::vector<Sample> records;
    bool finished = false;
    std::string error;  // set when the session ended early; no values in it
  };

  Step Begin();
  Step OnBytes(std::span<const std::uint8_t> bytes);
  Step OnTimeout();
  bool active() const { return state_ != State::kIdle; }
  unsigned records_expected() const { return count_; }
  std::uint64_t refused_records() const { return refused_records_; }

 private:
  enum class State { kIdle, kHello, kCount, kRecord };
  std::vector<std::uint8_t> RequestRecord();
  bool Advance(Step& step);  // one state transition on the bytes received so far

  State state_ = State::kIdle;
  std::vector<std::uint8_t> pending_;
  unsigned count_ = 0;
  unsigned next_ = 0;
  std::uint64_t refused_records_ = 0;
};

}  // namespace ehg::devices::serial
