#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gateway/core/clock.hpp"

// Characteristic values as a Bluetooth health device builds them (layouts: Bluetooth SIG GATT
// Specification Supplement, IEEE 11073-20601 SFLOAT/FLOAT; docs/ble.md, "Byte layouts"), for simulated
// devices. Written from the layouts, independently of the gateway's parsers, so a test that decodes
// them checks both.
namespace ehg::devices::sim::gatt {

// SFLOAT with a chosen exponent: value 37.6 with exponent -1 -> mantissa 376.
std::uint16_t Sfloat(double value, int exponent);
std::uint32_t Float(double value, int exponent);

std::vector<std::uint8_t> BloodPressure(double systolic, double diastolic, double mean, double pulse,
                                        const std::optional<core::CivilTime>& time, std::uint16_t status = 0,
                                        std::optional<std::uint8_t> user = std::nullopt);
std::vector<std::uint8_t> Temperature(double celsius, const std::optional<core::CivilTime>& time);
std::vector<std::uint8_t> HeartRate(unsigned beats_per_minute, const std::vector<std::uint16_t>& rr_1024ths);
std::vector<std::uint8_t> PlxContinuous(double spo2, double pulse);
std::vector<std::uint8_t> PlxSpotCheck(double spo2, double pulse, const std::optional<core::CivilTime>& time);
std::vector<std::uint8_t> Weight(double kilograms, const std::optional<core::CivilTime>& time);
// Concentration in mmol/L, sent in mol/L as most meters sold in Europe do; capillary whole blood, finger.
std::vector<std::uint8_t> Glucose(std::uint16_t sequence, double mmol_per_litre, const core::CivilTime& time);
std::vector<std::uint8_t> RacpResponse(std::uint8_t request_op, std::uint8_t code);
std::vector<std::uint8_t> RacpCount(std::uint16_t count);

}  // namespace ehg::devices::sim::gatt
