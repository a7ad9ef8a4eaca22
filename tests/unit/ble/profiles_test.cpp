#include "devices/ble_profiles/profiles.hpp"

#include <doctest/doctest.h>

#include "ble_test_support.hpp"

using namespace ehg::devices::ble;
using ble_test::HasDetail;
using ble_test::Hex;
using ble_test::ValueOf;
using ehg::core::CivilTime;
using ehg::core::QualityFlag;

namespace {

Measurement Parsed(CharacteristicParser parser, std::string_view hex) {
  auto result = parser(Hex(hex));
  INFO(hex);
  REQUIRE_MESSAGE(result.has_value(), (result ? std::string() : result.error().message));
  return *result;
}

// Every flag byte with its optional fields filled must parse, and the same bytes one short must be
// refused with an error (never read past the end). Reserved bits add nothing.
template <typename LengthOf>
void CheckEveryFlagCombination(CharacteristicParser parser, LengthOf length_of) {
  for (unsigned flags = 0; flags < 256; ++flags) {
    CAPTURE(flags);
    const std::size_t length = length_of(static_cast<std::uint8_t>(flags));
    REQUIRE(length >= 1);
    std::vector<std::uint8_t> value(length);
    value.at(0) = static_cast<std::uint8_t>(flags);
    for (std::size_t i = 1; i < value.size(); ++i)
      value[i] = static_cast<std::uint8_t>(0x10 + i);
    CHECK(parser(value).has_value());
    value.pop_back();
    auto shorter = parser(value);
    REQUIRE_FALSE(shorter.has_value());
    CHECK(shorter.error().message.find("announce") != std::string::npos);
    // Over-long values are tolerated: a future flag may add bytes the gateway does not know yet.
    value.push_back(0);
    value.push_back(0);
    value.push_back(0);
    CHECK(parser(value).has_value());
  }
}

}  // namespace

TEST_CASE("Blood pressure: Nordic vector with timestamp, pulse, user and every status bit") {
  const Measurement m =
      Parsed(ParseBloodPressure, "1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00");
  CHECK(ValueOf(m, "bp.systolic") == 138);
  CHECK(ValueOf(m, "bp.diastolic") == 88);
  CHECK(ValueOf(m, "bp.mean") == 120);
  CHECK(ValueOf(m, "pulse_rate") == 60);
  CHECK(m.user == 1);
  // Year 0 means the date is unknown: no device time.
  CHECK_FALSE(m.device_local_time.has_value());
  CHECK(m.flags.Has(QualityFlag::kMotionArtefact));
  CHECK(m.flags.Has(QualityFlag::kCuffLoose));
  CHECK(m.flags.Has(QualityFlag::kIrregularPulse));
  CHECK(m.flags.Has(QualityFlag::kImprecise));
  CHECK_FALSE(m.intermediate);
}

TEST_CASE("Blood pressure in kPa converts to mmHg and reports the pulse-rate range") {
  const Measurement m = Parsed(ParseBloodPressure, "15 BD F0 0B 00 9F F0 3C 00 12 00");
  CHECK(ValueOf(m, "bp.systolic") == doctest::Approx(141.8).epsilon(0.0005));
  CHECK(ValueOf(m, "bp.diastolic") == doctest::Approx(82.5).epsilon(0.0005));
  CHECK(ValueOf(m, "bp.mean") == doctest::Approx(119.3).epsilon(0.0005));
  CHECK(ValueOf(m, "pulse_rate") == 60);
  CHECK(m.flags.Has(QualityFlag::kCuffLoose));
  CHECK(HasDetail(m, "pulse_rate_range", "below_lower_limit"));
  CHECK(HasDetail(m, "unit", "kPa"));
}

TEST_CASE("Blood pressure with a full timestamp and a clean status") {
  const Measurement m =
      Parsed(ParseBloodPressure, "1E 7D 00 50 00 5F 00 E8 07 03 0F 07 1E 00 48 00 01 00 00");
  CHECK(ValueOf(m, "bp.systolic") == 125);
  CHECK(ValueOf(m, "bp.diastolic") == 80);
  CHECK(ValueOf(m, "pulse_rate") == 72);
  REQUIRE(m.device_local_time.has_value());
  CHECK(*m.device_local_time == CivilTime{2024, 3, 15, 7, 30, 0});
  CHECK(m.flags.Clean());
}

TEST_CASE("Blood pressure NaN fields are left out, INF is out of the device range") {
  const Measurement failed = Parsed(ParseBloodPressure, "00 FF 07 FF 07 FF 07");
  CHECK(failed.values.empty());
  CHECK(HasDetail(failed, "bp.systolic", "NaN"));
  const Measurement high = Parsed(ParseBloodPressure, "00 FE 07 50 00 5F 00");
  CHECK_FALSE(ValueOf(high, "bp.systolic").has_value());
  CHECK(ValueOf(high, "bp.diastolic") == 80);
  CHECK(high.flags.Has(QualityFlag::kDeviceOutOfRange));
}

TEST_CASE("Intermediate cuff pressure is marked and carries no blood pressure metric") {
  const Measurement m = Parsed(ParseIntermediateCuffPressure, "00 D7 F0 FF 07 FF 07");
  CHECK(m.intermediate);
  CHECK(ValueOf(m, "cuff_pressure") == 21.5);
  CHECK_FALSE(ValueOf(m, "bp.systolic").has_value());
  CHECK(m.values.size() == 1);
  CHECK(FindParser(uuid::kIntermediateCuffPressure)(Hex("00 D7 F0 FF 07 FF 07"))->intermediate);
}

TEST_CASE("Blood pressure every flag combination") {
  CheckEveryFlagCombination(ParseBloodPressure, [](std::uint8_t f) -> std::size_t {
    return 7 + ((f & 0x02) ? 7u : 0u) + ((f & 0x04) ? 2u : 0u) + ((f & 0x08) ? 1u : 0u) +
           ((f & 0x10) ? 2u : 0u);
  });
  // Reserved bits 5-7 do not change the layout.
  const Measurement reserved = Parsed(ParseBloodPressure, "E0 7D 00 50 00 5F 00");
  CHECK(ValueOf(reserved, "bp.systolic") == 125);
}

TEST_CASE("Temperature: Nordic vector with timestamp and type, Fahrenheit, NaN") {
  const Measurement m = Parsed(ParseTemperature, "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04");
  CHECK(ValueOf(m, "body_temperature") == 37.6);
  CHECK(*m.device_local_time == CivilTime{2012, 12, 5, 11, 50, 27});
  CHECK(HasDetail(m, "site", "finger"));
  const Measurement f = Parsed(ParseTemperature, "01 DA 03 00 FF");
  CHECK(ValueOf(f, "body_temperature") == 37.0);
  const Measurement nan = Parsed(ParseTemperature, "00 FF FF 7F 00");
  CHECK(nan.values.empty());
  CHECK(HasDetail(nan, "body_temperature", "NaN"));
  CHECK(Parsed(ParseTemperature, "04 B0 0E 00 FE 0A").details.back().second == "reserved");
}

TEST_CASE("Temperature every flag combination") {
  CheckEveryFlagCombination(ParseTemperature, [](std::uint8_t f) -> std::size_t {
    return 5 + ((f & 0x02) ? 7u : 0u) + ((f & 0x04) ? 1u : 0u);
  });
}

TEST_CASE("Heart rate: 8 and 16 bit rates, contact, energy and RR intervals") {
  CHECK(ValueOf(Parsed(ParseHeartRate, "00 55"), "heart_rate") == 85);
  const Measurement no_contact = Parsed(ParseHeartRate, "04 FF");
  CHECK(no_contact.values.empty());
  CHECK(no_contact.flags.Has(QualityFlag::kFingerOut));
  const Measurement energy = Parsed(ParseHeartRate, "1E 55 32 00 21 00");
  CHECK(ValueOf(energy, "heart_rate") == 85);
  CHECK(ValueOf(energy, "rr_interval") == 32.23);
  const Measurement wide = Parsed(ParseHeartRate, "1F 01 01 32 01 01 00 02 01 FF FF");
  CHECK(ValueOf(wide, "heart_rate") == 257);
  std::vector<double> rr;
  for (const auto& value : wide.values)
    if (value.metric == "rr_interval") rr.push_back(value.value);
  CHECK(rr == std::vector<double>{0.98, 251.95, 63999.02});
  const Measurement two = Parsed(ParseHeartRate, "10 3E 48 03 52 03");
  CHECK(ValueOf(two, "heart_rate") == 62);
  CHECK(two.values.size() == 3);
  CHECK(two.values[1].value == 820.31);
  CHECK(two.values[2].value == 830.08);
  auto invalid = ParseHeartRate(Hex("17 01 01"));
  CHECK_FALSE(invalid.has_value());
  CHECK(Parsed(ParseHeartRate, "00 00").values.empty());
}

TEST_CASE("Heart rate every flag combination") {
  CheckEveryFlagCombination(ParseHeartRate, [](std::uint8_t f) -> std::size_t {
    return 1 + ((f & 0x01) ? 2u : 1u) + ((f & 0x08) ? 2u : 0u) + ((f & 0x10) ? 2u : 0u);
  });
}

TEST_CASE("PLX spot-check vectors: plain, with status and amplitude, clock not set") {
  const Measurement plain = Parsed(ParsePlxSpotCheck, "00 61 00 48 00");
  CHECK(ValueOf(plain, "spo2") == 97);
  CHECK(ValueOf(plain, "pulse_rate") == 72);
  const Measurement full = Parsed(ParsePlxSpotCheck, "0B 62 00 41 00 E8 07 03 0F 07 1E 00 00 01 1A F0");
  CHECK(ValueOf(full, "spo2") == 98);
  CHECK(ValueOf(full, "pulse_rate") == 65);
  CHECK(ValueOf(full, "perfusion_index") == 2.6);
  CHECK(*full.device_local_time == CivilTime{2024, 3, 15, 7, 30, 0});
  CHECK(HasDetail(full, "measurement_status", "fully_qualified"));
  CHECK(full.flags.Clean());
  const Measurement unset = Parsed(ParsePlxSpotCheck, "15 61 00 48 00 00 00 00 00 00 00 00 20 00 00");
  CHECK(unset.device_clock_not_set);
  CHECK_FALSE(unset.device_local_time.has_value());
  CHECK(unset.flags.Has(QualityFlag::kLowPerfusion));
  CHECK(ValueOf(unset, "spo2") == 97);
}

TEST_CASE("PLX continuous: normal values, finger out drops them, fast and slow are skipped") {
  const Measurement m = Parsed(ParsePlxContinuous, "00 62 00 40 00");
  CHECK(ValueOf(m, "spo2") == 98);
  CHECK(ValueOf(m, "pulse_rate") == 64);
  const Measurement out = Parsed(ParsePlxContinuous, "0C FF 07 FF 07 00 20 00 08 00");
  CHECK(out.values.empty());
  CHECK(out.flags.Has(QualityFlag::kFingerOut));
  CHECK(out.flags.Has(QualityFlag::kSensorError));
  const Measurement fast = Parsed(ParsePlxContinuous, "13 60 00 46 00 5A 00 50 00 5B 00 51 00 1A F0");
  CHECK(ValueOf(fast, "spo2") == 96);
  CHECK(ValueOf(fast, "pulse_rate") == 70);
  CHECK(ValueOf(fast, "perfusion_index") == 2.6);
  CHECK(fast.values.size() == 3);
  // Data marked as demonstration data is not the resident's.
  CHECK(Parsed(ParsePlxContinuous, "04 62 00 40 00 00 04").values.empty());
}

TEST_CASE("PLX every flag combination") {
  CheckEveryFlagCombination(ParsePlxSpotCheck, [](std::uint8_t f) -> std::size_t {
    return 5 + ((f & 0x01) ? 7u : 0u) + ((f & 0x02) ? 2u : 0u) + ((f & 0x04) ? 3u : 0u) +
           ((f & 0x08) ? 2u : 0u);
  });
  CheckEveryFlagCombination(ParsePlxContinuous, [](std::uint8_t f) -> std::size_t {
    return 5 + ((f & 0x01) ? 4u : 0u) + ((f & 0x02) ? 4u : 0u) + ((f & 0x04) ? 2u : 0u) +
           ((f & 0x08) ? 3u : 0u) + ((f & 0x10) ? 2u : 0u);
  });
}

TEST_CASE("Weight: real scale payload, SI with BMI and height, imperial, unsuccessful") {
  CHECK(ValueOf(Parsed(ParseWeight, "00 8C 3C"), "body_weight") == 77.5);
  const Measurement si = Parsed(ParseWeight, "0E 18 3D E8 07 03 0F 07 1E 00 01 ED 00 D0 06");
  CHECK(ValueOf(si, "body_weight") == 78.2);
  CHECK(ValueOf(si, "bmi") == 23.7);
  CHECK(ValueOf(si, "body_height") == 1.744);
  CHECK(si.user == 1);
  CHECK(*si.device_local_time == CivilTime{2024, 3, 15, 7, 30, 0});
  CHECK(ValueOf(Parsed(ParseWeight, "01 A4 1F"), "body_weight") == 36.741);
  const Measurement imperial_height = Parsed(ParseWeight, "09 A4 1F EA 00 B4 02");
  CHECK(ValueOf(imperial_height, "body_height") == 1.758);
  CHECK(ValueOf(imperial_height, "bmi") == 23.4);
  const Measurement failed = Parsed(ParseWeight, "00 FF FF");
  CHECK(failed.values.empty());
  CHECK(failed.flags.Has(QualityFlag::kSensorError));
}

TEST_CASE("Weight every flag combination") {
  CheckEveryFlagCombination(ParseWeight, [](std::uint8_t f) -> std::size_t {
    return 3 + ((f & 0x02) ? 7u : 0u) + ((f & 0x04) ? 1u : 0u) + ((f & 0x08) ? 4u : 0u);
  });
}

TEST_CASE("Glucose: Nordic vector with offset, status and context flag") {
  const Measurement m = Parsed(ParseGlucose, "1B 01 00 E3 07 02 1B 0B 0A 1E FB FF 1E 00 12 05 01");
  CHECK(m.sequence == 1);
  CHECK(*m.device_local_time == CivilTime{2019, 2, 27, 11, 5, 30});
  CHECK(m.context_follows);
  CHECK(HasDetail(m, "sample_type", "capillary_plasma"));
  CHECK(HasDetail(m, "sample_location", "finger"));
  CHECK(HasDetail(m, "status", "battery_low"));
  CHECK(HasDetail(m, "status", "sample_size_insufficient"));
  CHECK(HasDetail(m, "status", "temperature_too_low"));
  CHECK(m.flags.Has(QualityFlag::kSensorError));
}

TEST_CASE("Glucose units: kg/L and mol/L both become mmol/L") {
  const Measurement mass = Parsed(ParseGlucose, "03 05 00 E8 07 03 0F 07 1E 00 00 00 5B B0 11");
  CHECK(mass.sequence == 5);
  CHECK(ValueOf(mass, "glucose") == 5.05);  // 91 mg/dL
  CHECK(mass.flags.Clean());
  const Measurement molar = Parsed(ParseGlucose, "06 06 00 E8 07 03 0F 08 00 00 37 C0 11");
  CHECK(ValueOf(molar, "glucose") == 5.5);
  CHECK(*molar.device_local_time == CivilTime{2024, 3, 15, 8, 0, 0});
}

TEST_CASE("Glucose offset crosses midnight and month ends, control solution is not stored") {
  // 2024-02-29 23:50 + 20 min = 2024-03-01 00:10
  const Measurement m = Parsed(ParseGlucose, "03 07 00 E8 07 02 1D 17 32 00 14 00 5B B0 11");
  CHECK(*m.device_local_time == CivilTime{2024, 3, 1, 0, 10, 0});
  // Negative offset back into the previous year.
  const Measurement back = Parsed(ParseGlucose, "01 08 00 E8 07 01 01 00 05 00 F6 FF");
  CHECK(*back.device_local_time == CivilTime{2023, 12, 31, 23, 55, 0});
  const Measurement control = Parsed(ParseGlucose, "02 09 00 E8 07 03 0F 07 1E 00 5B B0 4A");
  CHECK(control.values.empty());
  CHECK(HasDetail(control, "sample_type", "control_solution"));
}

TEST_CASE("Glucose above the meter's range keeps its value so high-glucose rules still fire") {
  const Measurement high = Parsed(ParseGlucose, "0A 0A 00 E8 07 03 0F 07 1E 00 58 B2 11 20 00");
  CHECK(ValueOf(high, "glucose") == 33.3);
  CHECK(HasDetail(high, "status", "above_measuring_range"));
  CHECK(high.flags.Clean());
}

TEST_CASE("Glucose every flag combination") {
  CheckEveryFlagCombination(ParseGlucose, [](std::uint8_t f) -> std::size_t {
    return 10 + ((f & 0x01) ? 2u : 0u) + ((f & 0x02) ? 3u : 0u) + ((f & 0x08) ? 2u : 0u);
  });
}

TEST_CASE("Glucose context: meal, tester and health, extended flags") {
  const Measurement meal = Parsed(ParseGlucoseContext, "02 05 00 01");
  CHECK(meal.sequence == 5);
  CHECK(HasDetail(meal, "meal", "preprandial"));
  CHECK(meal.values.empty());
  const Measurement all = Parsed(ParseGlucoseContext, "DF 06 00 00 01 32 F0 03 F1 2C 01 32 01 0A F0 41 F0");
  CHECK(HasDetail(all, "carbohydrate", "breakfast"));
  CHECK(HasDetail(all, "meal", "fasting"));
  CHECK(HasDetail(all, "tester", "self"));
  CHECK(HasDetail(all, "health", "not_available"));
  CHECK(HasDetail(all, "medication", "rapid_acting_insulin"));
  CHECK(HasDetail(all, "hba1c", "present"));
  CheckEveryFlagCombination(ParseGlucoseContext, [](std::uint8_t f) -> std::size_t {
    return 3 + ((f & 0x80) ? 1u : 0u) + ((f & 0x01) ? 3u : 0u) + ((f & 0x02) ? 1u : 0u) +
           ((f & 0x04) ? 1u : 0u) + ((f & 0x08) ? 3u : 0u) + ((f & 0x10) ? 3u : 0u) + ((f & 0x40) ? 2u : 0u);
  });
}

TEST_CASE("Battery level: 0 to 100, exactly one byte") {
  CHECK(ValueOf(Parsed(ParseBatteryLevel, "64"), "battery") == 100);
  CHECK(ValueOf(Parsed(ParseBatteryLevel, "00"), "battery") == 0);
  CHECK_FALSE(ParseBatteryLevel(Hex("65")).has_value());
  CHECK_FALSE(ParseBatteryLevel(Hex("")).has_value());
  CHECK_FALSE(ParseBatteryLevel(Hex("32 00")).has_value());
}

TEST_CASE("Empty values are refused by every parser with the characteristic named") {
  for (const std::uint16_t id : ParsedCharacteristics()) {
    CAPTURE(id);
    const CharacteristicParser parser = FindParser(id);
    REQUIRE(static_cast<bool>(parser));
    auto result = parser({});
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message.find("0x") != std::string::npos);
  }
  CHECK(static_cast<bool>(FindParser(0x2A00)) == false);
}

TEST_CASE("Impossible timestamps are ignored, the values kept") {
  const Measurement m = Parsed(ParseBloodPressure, "02 7D 00 50 00 5F 00 E8 07 0D 0F 07 1E 00");
  CHECK_FALSE(m.device_local_time.has_value());
  CHECK(ValueOf(m, "bp.systolic") == 125);
  CHECK(HasDetail(m, "time_stamp", "unknown or impossible date, ignored"));
}

TEST_CASE("UUIDs: 16 to 128 bit and back") {
  CHECK(Uuid128(0x2A35) == "00002a35-0000-1000-8000-00805f9b34fb");
  CHECK(Uuid16("00002A35-0000-1000-8000-00805F9B34FB") == 0x2A35);
  CHECK(Uuid16("0000fcd2-0000-1000-8000-00805f9b34fb") == 0xFCD2);
  CHECK_FALSE(Uuid16("233bf001-5a34-1b6d-975c-000d5690abe4").has_value());
  CHECK_FALSE(Uuid16("00002a35").has_value());
}

TEST_CASE("Device information strings: UTF-8 kept, padding and control bytes cleaned") {
  CHECK(ParseInformationString(Hex("41 26 44")) == "A&D");
  CHECK(ParseInformationString(Hex("55 41 2D 36 35 31 00 00")) == "UA-651");
  CHECK(ParseInformationString(Hex("C3 98 79 0A")) == "\xC3\x98y?");
  CHECK(ParseInformationString(Hex("C3")) == "?");
  CHECK(ParseInformationString(std::vector<std::uint8_t>(200, 'x')).size() == 64);
}

TEST_CASE("Current Time and Date Time encodings") {
  CHECK(EncodeCurrentTime(CivilTime{2024, 3, 15, 7, 30, 0}, 5, 0x01) == Hex("E8 07 03 0F 07 1E 00 05 00 01"));
  CHECK(EncodeDateTime(CivilTime{2013, 8, 26, 9, 10, 20}) == Hex("DD 07 08 1A 09 0A 14"));
}

TEST_CASE("Advertised services name the health profiles the installer can pair") {
  using ehg::devices::ble::HealthProfilesOf;
  const std::vector<std::uint16_t> cuff{0x1800, 0x1810, 0x180F, 0x180A, 0x1810};
  CHECK(HealthProfilesOf(cuff) == std::vector<std::string>{"blood_pressure"});
  const std::vector<std::uint16_t> mixed{0x1822, 0xFCD2, 0x1809, 0x180D, 0x181D, 0x1808};
  CHECK(HealthProfilesOf(mixed) == std::vector<std::string>{"pulse_oximeter", "bthome", "thermometer",
                                                            "heart_rate", "weight_scale", "glucose"});
  CHECK(HealthProfilesOf(std::vector<std::uint16_t>{0x180F, 0xFE95}).empty());
}

TEST_CASE(
    "Cuffs, thermometers, scales and glucose meters hang up after measuring, streams and BTHome do not") {
  using ehg::devices::ble::HangsUpAfterMeasuring;
  for (const char* profile : {"blood_pressure", "thermometer", "weight_scale", "glucose"})
    CHECK_MESSAGE(HangsUpAfterMeasuring(profile), profile);
  for (const char* profile : {"pulse_oximeter", "heart_rate", "bthome", "", "unknown"})
    CHECK_MESSAGE(!HangsUpAfterMeasuring(profile), profile);
}

TEST_CASE("Each profile subscribes to its measurements, a glucose meter to its records too") {
  using ehg::devices::ble::MeasurementCharacteristics;
  namespace uuid = ehg::devices::ble::uuid;
  CHECK(MeasurementCharacteristics("blood_pressure") ==
        std::vector<std::uint16_t>{uuid::kBloodPressureMeasurement});
  CHECK(MeasurementCharacteristics("pulse_oximeter") ==
        std::vector<std::uint16_t>{uuid::kPlxContinuous, uuid::kPlxSpotCheck});
  CHECK(MeasurementCharacteristics("glucose") == std::vector<std::uint16_t>{uuid::kGlucoseMeasurement,
                                                                            uuid::kGlucoseContext,
                                                                            uuid::kRecordAccessControlPoint});
  for (const char* profile : {"thermometer", "heart_rate", "weight_scale"})
    CHECK_MESSAGE(MeasurementCharacteristics(profile).size() == 1, profile);
  CHECK(MeasurementCharacteristics("bthome").empty());  // advertisements only
  CHECK(MeasurementCharacteristics("unknown").empty());
}
