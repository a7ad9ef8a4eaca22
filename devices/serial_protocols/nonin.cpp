// Nonin pulse oximeters: Data Formats 2, 7 and 8 as documented by Nonin (docs/serial.md).
#include <algorithm>

#include "devices/serial_protocols/decoders.hpp"

namespace ehg::devices::serial {
namespace {

using core::QualityFlag;

constexpr unsigned kMissingHeartRate = 511;
constexpr unsigned kMissingSpo2 = 127;
constexpr int kFramesPerPacket = 25;

// Packet table slots (frame number -> byte), recording values (not the display "-D" ones, which hold
// the last value for 10 s after the finger is removed).
constexpr int kHeartRateHigh = 1;
constexpr int kHeartRateLow = 2;
constexpr int kSpo2 = 3;
constexpr int kStatus2 = 8;

constexpr unsigned HeartRate(unsigned high, unsigned low) {
  return ((high & 0x03u) << 7) | (low & 0x7Fu);
}

void AddNoninValues(Sample& sample, unsigned heart_rate, unsigned spo2) {
  if (sample.flags.Has(QualityFlag::kFingerOut) || sample.flags.Has(QualityFlag::kSensorError)) return;
  if (spo2 != kMissingSpo2 && spo2 >= 1 && spo2 <= 100) {
    sample.values.push_back({"spo2", static_cast<double>(spo2)});
  }
  if (heart_rate != kMissingHeartRate && heart_rate >= 1) {
    sample.values.push_back({"pulse_rate", static_cast<double>(heart_rate)});
  }
}

// DF2/DF7 STATUS byte.
core::QualityFlags PacketStatusFlags(std::uint8_t status) {
  core::QualityFlags flags;
  if ((status & 0x40) != 0) flags.Set(QualityFlag::kSensorError);      // SNSD: sensor disconnected
  if ((status & 0x20) != 0) flags.Set(QualityFlag::kMotionArtefact);   // ARTF
  if ((status & 0x10) != 0) flags.Set(QualityFlag::kOutOfTrack);       // OOT
  if ((status & 0x08) != 0) flags.Set(QualityFlag::kFingerOut);        // SNSA: sensor alarm
  if ((status & 0x06) == 0x04) flags.Set(QualityFlag::kLowPerfusion);  // red perfusion
  return flags;
}

constexpr bool Checksum(std::span<const std::uint8_t> frame) {
  return static_cast<std::uint8_t>(frame[0] + frame[1] + frame[2] + frame[3]) == frame[4];
}

}  // namespace

void NoninPacketDecoder::OnFrame(std::uint8_t status, std::int32_t pleth, std::uint8_t table_byte,
                                 std::vector<Sample>& out) {
  const bool sync = (status & 0x01) != 0;
  if (sync) {
    if (frame_ != 0) ++stats_.incomplete_packets;  // a packet cut short by the next one
    frame_ = 1;
    packet_flags_ = {};
  } else if (frame_ != 0) {
    ++frame_;
  }
  Sample sample;
  sample.pleth = pleth;
  if (frame_ == 0) {  // not yet in step with the packets: the waveform is still good
    out.push_back(std::move(sample));
    return;
  }
  table_[static_cast<std::size_t>(frame_)] = table_byte & 0x7F;
  packet_flags_ = core::QualityFlags(packet_flags_.bits() | PacketStatusFlags(status).bits());
  if (frame_ == kFramesPerPacket) {
    sample.flags = packet_flags_;
    sample.battery_low = (table_[kStatus2] & 0x01) != 0;
    AddNoninValues(sample, HeartRate(table_[kHeartRateHigh], table_[kHeartRateLow]), table_[kSpo2]);
    frame_ = 0;  // the next packet starts with a SYNC frame
  }
  out.push_back(std::move(sample));
}

Decoder::Parsed NoninDf2Decoder::Parse(std::span<const std::uint8_t> a, std::vector<Sample>& out) {
  if (a[0] != 0x01) {
    const auto start = std::find(a.begin() + 1, a.end(), std::uint8_t{0x01});
    return {Step::kSkip, static_cast<std::size_t>(start - a.begin())};
  }
  if (a.size() >= 2 && (a[1] & 0x80) == 0) {
    stats_.last_error = "status byte without bit 7";
    return {Step::kBadFrame, 1};
  }
  if (a.size() < 5) return {Step::kNeedMore, 0};
  if (!Checksum(a) || (a[3] & 0x80) != 0) {
    stats_.last_error = "checksum mismatch";
    return {Step::kBadFrame, 1};  // slide one byte: the real frame may start inside this one
  }
  OnFrame(a[1], a[2], a[3], out);
  return {Step::kFrame, 5};
}

Decoder::Parsed NoninDf7Decoder::Parse(std::span<const std::uint8_t> a, std::vector<Sample>& out) {
  if ((a[0] & 0x80) == 0) return {Step::kSkip, FindHighBit(a, 0, true)};
  if (a.size() < 5) return {Step::kNeedMore, 0};
  if (!Checksum(a) || (a[3] & 0x80) != 0) {
    stats_.last_error = "checksum mismatch";
    return {Step::kBadFrame, 1};
  }
  OnFrame(a[0], static_cast<std::int32_t>((a[1] << 8) | a[2]), a[3], out);
  return {Step::kFrame, 5};
}

Decoder::Parsed NoninDf8Decoder::Parse(std::span<const std::uint8_t> a, std::vector<Sample>& out) {
  if (const Parsed framed = FrameStartingWithHighBit(a, 4); framed.step != Step::kFrame) return framed;

  const std::uint8_t status = a[0];
  const std::uint8_t status2 = a[3];
  Sample sample;
  if ((status & 0x20) != 0) sample.flags.Set(QualityFlag::kOutOfTrack);
  if ((status & 0x10) != 0) sample.flags.Set(QualityFlag::kLowPerfusion);  // LPRF; MPRF (marginal) is not
  if ((status & 0x04) != 0) sample.flags.Set(QualityFlag::kMotionArtefact);
  if ((status2 & 0x08) != 0) sample.flags.Set(QualityFlag::kFingerOut);  // SNSA
  sample.battery_low = (status2 & 0x01) != 0;
  AddNoninValues(sample, ((status & 0x03u) << 7) | (a[1] & 0x7Fu), a[2] & 0x7Fu);
  out.push_back(std::move(sample));
  return {Step::kFrame, 4};
}

}  // namespace ehg::devices::serial
