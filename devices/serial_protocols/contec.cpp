// Contec CMS50D+/CMS50E pulse oximeters, both firmware generations (docs/serial.md, "Byte layouts").
#include <algorithm>
#include <array>
#include <cstdio>

#include "devices/serial_protocols/decoders.hpp"

namespace ehg::devices::serial {
namespace {

using core::QualityFlag;

// Oximeter values are trusted only when the device says a finger is in and a pulse is locked.
void AddOximetry(Sample& sample, unsigned spo2, unsigned pulse_rate) {
  if (sample.flags.Has(QualityFlag::kFingerOut) || sample.flags.Has(QualityFlag::kSearching) ||
      sample.flags.Has(QualityFlag::kSensorError)) {
    return;
  }
  // 0 and 127 are what these devices send without a value; above 100 % is impossible.
  if (spo2 >= 1 && spo2 <= 100) sample.values.push_back({"spo2", static_cast<double>(spo2)});
  if (pulse_rate >= 1 && pulse_rate < 255)
    sample.values.push_back({"pulse_rate", static_cast<double>(pulse_rate)});
}

// Total length (type byte included) of the V7.0 packets whose layout is known; 0 for others.
std::size_t ContecV7Length(std::uint8_t type) {
  switch (type) {
    case 0x01:  // real-time data
    case 0x04:  // device identifier
    case 0x05:  // user information
    case 0x11:  // device notice
    case 0x15:  // storage data identifiers
      return 9;
    case 0x07:  // storage start date
    case 0x08:  // storage data length
    case 0x0F:  // storage data
    case 0x12:  // storage start time
      return 8;
    case 0x09:  // storage data with PI
      return 6;
    case 0x0A:  // storage segment amount
    case 0x0B:  // command feedback
      return 4;
    case 0x0D:  // disconnect notice
    case 0x0E:  // PI support
    case 0x10:  // user amount
      return 3;
    case 0x0C:  // device free
      return 2;
    default:
      return 0;
  }
}

std::string TypeName(std::uint8_t type) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "0x%02X", type);
  return text.data();
}

}  // namespace

Decoder::Parsed ContecLegacyDecoder::Parse(std::span<const std::uint8_t> a, std::vector<Sample>& out) {
  if (const Parsed framed = FrameStartingWithHighBit(a, 5); framed.step != Step::kFrame) return framed;

  Sample sample;
  sample.pleth = a[1] & 0x7F;
  if ((a[0] & 0x10) != 0) sample.flags.Set(QualityFlag::kFingerOut);  // "searching too long"
  if ((a[2] & 0x20) != 0) sample.flags.Set(QualityFlag::kSearching);
  if ((a[2] & 0x10) != 0) sample.flags.Set(QualityFlag::kSensorError);  // probe error
  const unsigned pulse_rate = ((a[2] & 0x40u) << 1) | (a[3] & 0x7Fu);
  AddOximetry(sample, a[4] & 0x7Fu, pulse_rate);
  out.push_back(std::move(sample));
  return {Step::kFrame, 5};
}

Decoder::Parsed ContecV7Decoder::Parse(std::span<const std::uint8_t> a, std::vector<Sample>& out) {
  // A data byte without a packet start before it: skip to the next type byte.
  if ((a[0] & 0x80) != 0) return {Step::kSkip, FindHighBit(a, 0, false)};
  const std::uint8_t type = a[0];
  const std::size_t expected = ContecV7Length(type);
  const std::size_t next_type = FindHighBit(a, 1, false);
  if (expected == 0) {
    if (next_type == a.size() && a.size() < MaxFrame()) return {Step::kNeedMore, 0};
    stats_.last_error = "unknown packet type " + TypeName(type);
    // Decided the same way however the bytes arrive: at most one frame's length is refused, the rest of
    // a long run of data bytes is then skipped.
    return {Step::kBadFrame, std::min(next_type, MaxFrame())};
  }
  if (next_type < expected) {
    if (next_type == a.size()) return {Step::kNeedMore, 0};
    stats_.last_error = "packet " + TypeName(type) + " cut short by the next packet (byte lost)";
    return {Step::kBadFrame, next_type};
  }
  if (type != 0x01) return {Step::kFrame, expected};  // replies and stored-data packets: not live values

  // Bit i of the second byte is bit 7 of data byte i.
  std::array<unsigned, 7> d{};
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = (a[2 + i] & 0x7Fu) | (((static_cast<unsigned>(a[1]) >> i) & 1u) << 7);

  Sample sample;
  sample.pleth = static_cast<std::int32_t>(d[1] & 0x7F);
  if ((d[0] & 0x80) != 0) sample.flags.Set(QualityFlag::kFingerOut);  // probe error / finger out
  if ((d[0] & 0x10) != 0) sample.flags.Set(QualityFlag::kSearching);  // searching too long
  if ((d[1] & 0x80) != 0) sample.flags.Set(QualityFlag::kSearching);  // searching for a pulse
  AddOximetry(sample, d[4], d[3]);
  const unsigned perfusion = d[5] | (d[6] << 8);
  const bool perfusion_valid = (d[2] & 0x10) == 0 && perfusion != 0xFFFF && perfusion != 0;
  // Hundredths of a percent: 0.01..30 % is the range oximeters display.
  if (!sample.values.empty() && perfusion_valid && perfusion <= 3000) {
    sample.values.push_back({"perfusion_index", perfusion / 100.0});
  }
  out.push_back(std::move(sample));
  return {Step::kFrame, expected};
}

}  // namespace ehg::devices::serial
