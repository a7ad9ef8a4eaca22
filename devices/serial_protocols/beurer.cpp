// Beurer BM-series blood pressure monitors with a serial cable (docs/serial.md, "Byte layouts").
#include "devices/serial_protocols/decoders.hpp"

namespace ehg::devices::serial {

std::optional<Sample> DecodeBeurerRecord(std::span<const std::uint8_t, 9> r, std::string& why) {
  const unsigned systolic = r[1] + 25u;
  const unsigned diastolic = r[2] + 25u;
  const unsigned pulse = r[3];
  CivilTime time;
  time.month = r[4] & 0x0Fu;
  time.day = r[5] & 0x1Fu;
  time.hour = r[6];
  time.minute = r[7];
  time.year = 2000 + (r[8] & 0x7F);
  if (time.month < 1 || time.month > 12 || time.day < 1 || time.hour > 23 || time.minute > 59) {
    why = "record with an impossible date or time";
    return std::nullopt;
  }
  if (systolic <= diastolic) {
    why = "record with systolic not above diastolic";
    return std::nullopt;
  }
  Sample sample;
  sample.device_local_time = time;
  if ((r[4] & 0x80) != 0) sample.flags.Set(core::QualityFlag::kMotionArtefact);
  if ((r[8] & 0x80) != 0) sample.flags.Set(core::QualityFlag::kIrregularPulse);
  sample.user = (r[5] & 0x80) != 0 ? 2 : 1;
  sample.values.push_back({"bp.systolic", static_cast<double>(systolic)});
  sample.values.push_back({"bp.diastolic", static_cast<double>(diastolic)});
  if (pulse != 0) sample.values.push_back({"pulse_rate", static_cast<double>(pulse)});
  return sample;
}

Decoder::Parsed BeurerRecordDecoder::Parse(std::span<const std::uint8_t> a, std::vector<Sample>& out) {
  if (a.size() < kBeurerRecordSize) return {Step::kNeedMore, 0};
  std::string why;
  auto sample = DecodeBeurerRecord(a.first<kBeurerRecordSize>(), why);
  if (!sample) {
    stats_.last_error = why;
    return {Step::kBadFrame, 1};  // no sync marker: try the next byte as a record start
  }
  out.push_back(std::move(*sample));
  return {Step::kFrame, kBeurerRecordSize};
}

}  // namespace ehg::devices::serial
