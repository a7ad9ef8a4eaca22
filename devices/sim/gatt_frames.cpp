#include "devices/sim/gatt_frames.hpp"

#include <cmath>

namespace ehg::devices::sim::gatt {
namespace {

void Put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void PutTime(std::vector<std::uint8_t>& out, const core::CivilTime& time) {
  Put16(out, static_cast<std::uint16_t>(time.year));
  out.push_back(static_cast<std::uint8_t>(time.month));
  out.push_back(static_cast<std::uint8_t>(time.day));
  out.push_back(static_cast<std::uint8_t>(time.hour));
  out.push_back(static_cast<std::uint8_t>(time.minute));
  out.push_back(static_cast<std::uint8_t>(time.second));
}

}  // namespace

std::uint16_t Sfloat(double value, int exponent) {
  const long mantissa = std::lround(value / std::pow(10.0, exponent));
  return static_cast<std::uint16_t>(((static_cast<unsigned>(exponent) & 0xFu) << 12) |
                                    (static_cast<unsigned long>(mantissa) & 0x0FFFu));
}

std::uint32_t Float(double value, int exponent) {
  const long mantissa = std::lround(value / std::pow(10.0, exponent));
  return ((static_cast<std::uint32_t>(exponent) & 0xFFu) << 24) |
         (static_cast<std::uint32_t>(mantissa) & 0x00FFFFFFu);
}

std::vector<std::uint8_t> BloodPressure(double systolic, double diastolic, double mean, double pulse,
                                        const std::optional<core::CivilTime>& time, std::uint16_t status,
                                        std::optional<std::uint8_t> user) {
  std::vector<std::uint8_t> out{
      static_cast<std::uint8_t>(0x04 | 0x10 | (time ? 0x02 : 0x00) | (user ? 0x08 : 0x00))};
  Put16(out, Sfloat(systolic, 0));
  Put16(out, Sfloat(diastolic, 0));
  Put16(out, Sfloat(mean, 0));
  if (time) PutTime(out, *time);
  Put16(out, Sfloat(pulse, 0));
  if (user) out.push_back(*user);
  Put16(out, status);
  return out;
}

std::vector<std::uint8_t> Temperature(double celsius, const std::optional<core::CivilTime>& time) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(time ? 0x02 : 0x00)};
  const std::uint32_t raw = Float(celsius, -2);
  for (int shift = 0; shift < 32; shift += 8)
    out.push_back(static_cast<std::uint8_t>(raw >> shift));
  if (time) PutTime(out, *time);
  return out;
}

std::vector<std::uint8_t> HeartRate(unsigned beats_per_minute, const std::vector<std::uint16_t>& rr_1024ths) {
  // Sensor contact supported and detected; RR intervals when given.
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(0x06 | (rr_1024ths.empty() ? 0x00 : 0x10)),
                                static_cast<std::uint8_t>(beats_per_minute)};
  for (const std::uint16_t rr : rr_1024ths)
    Put16(out, rr);
  return out;
}

std::vector<std::uint8_t> PlxContinuous(double spo2, double pulse) {
  std::vector<std::uint8_t> out{0x00};
  Put16(out, Sfloat(spo2, 0));
  Put16(out, Sfloat(pulse, 0));
  return out;
}

std::vector<std::uint8_t> PlxSpotCheck(double spo2, double pulse,
                                       const std::optional<core::CivilTime>& time) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(time ? 0x01 : 0x00)};
  Put16(out, Sfloat(spo2, 0));
  Put16(out, Sfloat(pulse, 0));
  if (time) PutTime(out, *time);
  return out;
}

std::vector<std::uint8_t> Weight(double kilograms, const std::optional<core::CivilTime>& time) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(time ? 0x02 : 0x00)};
  Put16(out, static_cast<std::uint16_t>(std::lround(kilograms / 0.005)));
  if (time) PutTime(out, *time);
  return out;
}

std::vector<std::uint8_t> Glucose(std::uint16_t sequence, double mmol_per_litre,
                                  const core::CivilTime& time) {
  std::vector<std::uint8_t> out{0x02 | 0x04};  // concentration present, mol/L
  Put16(out, sequence);
  PutTime(out, time);
  Put16(out, Sfloat(mmol_per_litre / 1000.0, -4));
  out.push_back(0x11);  // capillary whole blood, finger
  return out;
}

std::vector<std::uint8_t> RacpResponse(std::uint8_t request_op, std::uint8_t code) {
  return {0x06, 0x00, request_op, code};
}

std::vector<std::uint8_t> RacpCount(std::uint16_t count) {
  std::vector<std::uint8_t> out{0x05, 0x00};
  Put16(out, count);
  return out;
}

}  // namespace ehg::devices::sim::gatt
