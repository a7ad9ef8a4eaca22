#include "devices/sim/serial_frames.hpp"

#include <cmath>
#include <cstdio>

namespace ehg::devices::sim {
namespace {

std::uint8_t Byte(unsigned value) {
  return static_cast<std::uint8_t>(value & 0xFFu);
}

// What oximeters send without a finger: the "no value" markers.
constexpr unsigned kContecNoSpo2 = 127;
constexpr unsigned kContecNoPulse = 255;
constexpr unsigned kNoninNoSpo2 = 127;
constexpr unsigned kNoninNoPulse = 511;

unsigned Spo2(const OximeterFrame& frame, unsigned none) {
  return frame.finger_out || frame.searching ? none : static_cast<unsigned>(frame.spo2);
}

unsigned Pulse(const OximeterFrame& frame, unsigned none) {
  return frame.finger_out || frame.searching ? none : static_cast<unsigned>(frame.pulse_rate);
}

unsigned SignalStrength(const OximeterFrame& frame) {
  if (frame.finger_out) return 0;
  return frame.low_perfusion ? 1 : 8;
}

std::uint8_t NoninChecksum(const std::vector<std::uint8_t>& frame, std::size_t from) {
  unsigned sum = 0;
  for (std::size_t i = from; i < from + 4; ++i)
    sum += frame[i];
  return Byte(sum);
}

// The packet table byte of each frame (1-based) for DF2/DF7.
std::array<std::uint8_t, 26> NoninTable(const OximeterFrame& frame) {
  std::array<std::uint8_t, 26> table{};
  const unsigned pulse = Pulse(frame, kNoninNoPulse);
  const unsigned spo2 = Spo2(frame, kNoninNoSpo2);
  table[1] = Byte((pulse >> 7) & 0x03);
  table[2] = Byte(pulse & 0x7F);
  table[3] = Byte(spo2 & 0x7F);
  table[4] = 0x2A;       // firmware revision
  table[14] = table[1];  // extended averages: the same values
  table[15] = table[2];
  table[16] = table[3];
  return table;
}

std::uint8_t NoninStatus(const OximeterFrame& frame, int frame_number) {
  unsigned status = 0x80;
  if (frame_number == 1) status |= 0x01;  // SYNC
  if (frame.artefact) status |= 0x20;
  if (frame.finger_out) status |= 0x08;
  status |= frame.low_perfusion ? 0x04u : 0x02u;  // red or green perfusion
  return Byte(status);
}

}  // namespace

std::vector<std::uint8_t> EncodeContec5(const OximeterFrame& frame) {
  const unsigned pulse = Pulse(frame, kContecNoPulse);
  const unsigned spo2 = Spo2(frame, kContecNoSpo2);
  std::vector<std::uint8_t> bytes(5);
  bytes[0] = Byte(0x80u | (frame.finger_out ? 0x10u : 0u) | SignalStrength(frame));
  bytes[1] = Byte(static_cast<unsigned>(frame.pleth) & 0x7F);
  bytes[2] = Byte(((pulse >> 7) & 1u) << 6 | (frame.searching ? 0x20u : 0u) | 0x05u);
  bytes[3] = Byte(pulse & 0x7F);
  bytes[4] = Byte(spo2 & 0x7F);
  return bytes;
}

std::vector<std::uint8_t> EncodeContec9(const OximeterFrame& frame) {
  const unsigned perfusion = frame.finger_out || frame.searching
                                 ? 0xFFFFu
                                 : static_cast<unsigned>(std::lround(frame.perfusion_index * 100));
  std::array<unsigned, 7> data{};
  data[0] = SignalStrength(frame) | (frame.finger_out ? 0x80u : 0u);
  data[1] = (static_cast<unsigned>(frame.pleth) & 0x7F) | (frame.searching ? 0x80u : 0u);
  data[2] = 0x05u | (perfusion == 0xFFFF ? 0x10u : 0u);
  data[3] = Pulse(frame, 0);
  data[4] = Spo2(frame, 0);
  data[5] = perfusion & 0xFF;
  data[6] = (perfusion >> 8) & 0xFF;
  std::vector<std::uint8_t> bytes{0x01, 0x80};
  for (std::size_t i = 0; i < data.size(); ++i) {
    bytes[1] = Byte(bytes[1] | (((data[i] >> 7) & 1u) << i));
    bytes.push_back(Byte(0x80u | (data[i] & 0x7F)));
  }
  return bytes;
}

std::vector<std::uint8_t> EncodeNoninDf2Packet(const OximeterFrame& frame, const std::array<int, 25>& pleth) {
  const auto table = NoninTable(frame);
  std::vector<std::uint8_t> bytes;
  for (int i = 1; i <= 25; ++i) {
    const std::size_t at = bytes.size();
    bytes.push_back(0x01);
    bytes.push_back(NoninStatus(frame, i));
    bytes.push_back(Byte(static_cast<unsigned>(pleth[static_cast<std::size_t>(i - 1)])));
    bytes.push_back(table[static_cast<std::size_t>(i)]);
    bytes.push_back(NoninChecksum(bytes, at));
  }
  return bytes;
}

std::vector<std::uint8_t> EncodeNoninDf7Packet(const OximeterFrame& frame, const std::array<int, 25>& pleth) {
  const auto table = NoninTable(frame);
  std::vector<std::uint8_t> bytes;
  for (int i = 1; i <= 25; ++i) {
    const std::size_t at = bytes.size();
    const auto point = static_cast<unsigned>(pleth[static_cast<std::size_t>(i - 1)]);
    bytes.push_back(NoninStatus(frame, i));
    bytes.push_back(Byte(point >> 8));
    bytes.push_back(Byte(point));
    bytes.push_back(table[static_cast<std::size_t>(i)]);
    bytes.push_back(NoninChecksum(bytes, at));
  }
  return bytes;
}

std::vector<std::uint8_t> EncodeNoninDf8(const OximeterFrame& frame) {
  const unsigned pulse = frame.finger_out ? kNoninNoPulse : static_cast<unsigned>(frame.pulse_rate);
  const unsigned spo2 = frame.finger_out ? kNoninNoSpo2 : static_cast<unsigned>(frame.spo2);
  std::vector<std::uint8_t> bytes(4);
  bytes[0] =
      Byte(0x80u | (frame.low_perfusion ? 0x10u : 0u) | (frame.artefact ? 0x04u : 0u) | ((pulse >> 7) & 3u));
  bytes[1] = Byte(pulse & 0x7F);
  bytes[2] = Byte(spo2 & 0x7F);
  bytes[3] = Byte(frame.finger_out ? 0x08u : 0x20u);  // sensor alarm, or SmartPoint quality
  return bytes;
}

std::string EncodeAsciiLine(const OximeterFrame& frame) {
  if (frame.finger_out) return "flags=finger_out\r\n";
  std::array<char, 160> line{};
  std::snprintf(line.data(), line.size(), "spo2=%d %% pulse_rate=%d /min perfusion_index=%.2f %%%s\r\n",
                frame.spo2, frame.pulse_rate, frame.perfusion_index,
                frame.low_perfusion ? " flags=low_perfusion" : "");
  return line.data();
}

std::vector<std::uint8_t> EncodeBeurerRecord(const BloodPressureRecord& record) {
  return {0x80,  // header byte (meaning undocumented; BM65 sends one)
          Byte(static_cast<unsigned>(record.systolic - 25)),
          Byte(static_cast<unsigned>(record.diastolic - 25)),
          Byte(static_cast<unsigned>(record.pulse)),
          Byte(static_cast<unsigned>(record.month) | (record.movement ? 0x80u : 0u)),
          Byte(static_cast<unsigned>(record.day) | (record.second_user ? 0x80u : 0u)),
          Byte(static_cast<unsigned>(record.hour)),
          Byte(static_cast<unsigned>(record.minute)),
          Byte(static_cast<unsigned>(record.year - 2000) | (record.irregular_pulse ? 0x80u : 0u))};
}

}  // namespace ehg::devices::sim
