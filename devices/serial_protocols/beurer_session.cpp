#include "devices/serial_protocols/beurer_session.hpp"

#include <algorithm>

#include "devices/serial_protocols/decoders.hpp"

namespace ehg::devices::serial {
namespace {
constexpr std::uint8_t kHello = 0xAA;
constexpr std::uint8_t kHelloAnswer = 0x55;
constexpr std::uint8_t kCountRecords = 0xA2;
constexpr std::uint8_t kReadRecord = 0xA3;
}  // namespace

BeurerSession::Step BeurerSession::Begin() {
  state_ = State::kHello;
  pending_.clear();
  count_ = 0;
  next_ = 0;
  return Step{{kHello}, {}, false, {}};
}

std::vector<std::uint8_t> BeurerSession::RequestRecord() {
  return {kReadRecord, static_cast<std::uint8_t>(next_)};
}

BeurerSession::Step BeurerSession::OnBytes(std::span<const std::uint8_t> bytes) {
  Step step;
  if (state_ == State::kIdle) return step;  // a late answer after a timeout: ignore
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  while (state_ != State::kIdle && Advance(step)) {
  }
  return step;
}

bool BeurerSession::Advance(Step& step) {
  const auto send = [&step](std::vector<std::uint8_t> bytes) {
    step.send.insert(step.send.end(), bytes.begin(), bytes.end());
  };
  switch (state_) {
    case State::kIdle:
      return false;
    case State::kHello: {
      // Noise from a monitor waking up may come first; the answer is the first 0x55.
      const auto answer = std::find(pending_.begin(), pending_.end(), kHelloAnswer);
      if (answer == pending_.end()) {
        pending_.clear();
        return false;
      }
      pending_.erase(pending_.begin(), answer + 1);
      state_ = State::kCount;
      send({kCountRecords});
      return true;
    }
    case State::kCount:
      if (pending_.empty()) return false;
      count_ = pending_.front();
      pending_.erase(pending_.begin());
      if (count_ == 0) {
        state_ = State::kIdle;
        step.finished = true;
        return false;
      }
      next_ = 1;
      state_ = State::kRecord;
      send(RequestRecord());
      return true;
    case State::kRecord: {
      if (pending_.size() < BeurerRecordDecoder::kBeurerRecordSize) return false;
      std::string why;
      const std::span<const std::uint8_t, 9> record(pending_.data(), 9);
      if (auto sample = DecodeBeurerRecord(record, why)) {
        step.records.push_back(std::move(*sample));
      } else {
        ++refused_records_;
        step.error = "record " + std::to_string(next_) + " refused: " + why;
      }
      pending_.erase(pending_.begin(), pending_.begin() + 9);
      if (next_ >= count_) {
        state_ = State::kIdle;
        step.finished = true;
        return false;
      }
      ++next_;
      send(RequestRecord());
      return true;
    }
  }
  return false;
}

BeurerSession::Step BeurerSession::OnTimeout() {
  Step step;
  if (state_ == State::kIdle) return step;
  switch (state_) {
    case State::kHello:
      step.error = "no answer to hello (monitor off or not a Beurer BM)";
      break;
    case State::kCount:
      step.error = "no answer to the record count request";
      break;
    default:
      step.error = "record " + std::to_string(next_) + " of " + std::to_string(count_) + " not received";
      break;
  }
  state_ = State::kIdle;
  step.finished = true;
  return step;
}

}  // namespace ehg::devices::serial
