#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

// Byte streams as real serial devices send them, for the simulators and the tests. Written from the
// byte layouts (docs/serial.md) independently of the decoders in devices/serial. Pure.
namespace ehg::devices::sim {

// What a pulse oximeter shows at one moment.
struct OximeterFrame {
  int spo2 = 97;
  int pulse_rate = 72;
  double perfusion_index = 3.2;
  int pleth = 64;  // 0..127 (Contec, Nonin DF2), 0..65535 (Nonin DF7)
  bool finger_out = false;
  bool searching = false;
  bool low_perfusion = false;
  bool artefact = false;
};

std::vector<std::uint8_t> EncodeContec5(const OximeterFrame& frame);
std::vector<std::uint8_t> EncodeContec9(const OximeterFrame& frame);
// One 25-frame packet (1/3 s) with one pleth point per frame.
std::vector<std::uint8_t> EncodeNoninDf2Packet(const OximeterFrame& frame, const std::array<int, 25>& pleth);
std::vector<std::uint8_t> EncodeNoninDf7Packet(const OximeterFrame& frame, const std::array<int, 25>& pleth);
std::vector<std::uint8_t> EncodeNoninDf8(const OximeterFrame& frame);
std::string EncodeAsciiLine(const OximeterFrame& frame);

// One stored blood pressure measurement in a Beurer BM monitor's memory.
struct BloodPressureRecord {
  int systolic = 120;
  int diastolic = 80;
  int pulse = 72;
  int year = 2026;
  int month = 3;
  int day = 23;
  int hour = 8;
  int minute = 0;
  bool irregular_pulse = false;
  bool movement = false;
  bool second_user = false;
};

std::vector<std::uint8_t> EncodeBeurerRecord(const BloodPressureRecord& record);

}  // namespace ehg::devices::sim
