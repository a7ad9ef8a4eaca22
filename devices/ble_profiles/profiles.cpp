#include "devices/ble_profiles/profiles.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <span>

#include "devices/ble_profiles/byte_reader.hpp"
#include "gateway/core/device_catalog.hpp"
#include "gateway/core/utf8.hpp"

namespace ehg::devices::ble {
namespace {

using core::QualityFlag;

constexpr double kKilopascalPerMmHg = 0.133322387415;
constexpr double kKilogramPerPound = 0.45359237;
constexpr double kMetrePerInch = 0.0254;
constexpr double kGlucoseKilogramPerMole = 0.180156;  // molar mass of glucose, 180.156 g/mol

double RoundTo(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string Hex8(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", value & 0xFFu);
  return text;
}

Error LengthError(std::string_view what, std::size_t size, unsigned flags, std::size_t needed) {
  return Error{Errc::kParse, std::string(what) + ": " + std::to_string(size) + " bytes, but flags " +
                                 Hex8(flags) + " announce at least " + std::to_string(needed)};
}

// Adds `metric` when the device sent a number; otherwise records why there is no value. Infinity means
// the device could not measure that far, which is a device limit, not a clinical finding.
void AddValue(Measurement& out, std::string_view metric, const MderFloat& number, double (*to_unit)(double),
              int decimals) {
  if (!number.IsNumber()) {
    out.details.emplace_back(std::string(metric), std::string(KindName(number.kind)));
    if (number.kind == MderFloat::Kind::kPositiveInfinity ||
        number.kind == MderFloat::Kind::kNegativeInfinity)
      out.flags.Set(QualityFlag::kDeviceOutOfRange);
    return;
  }
  const double raw = number.ToDouble();
  out.values.push_back({std::string(metric), to_unit != nullptr ? RoundTo(to_unit(raw), decimals) : raw});
}

void AddTime(Measurement& out, const core::CivilTime& time, bool known) {
  if (known) {
    out.device_local_time = time;
  } else if (time.year != 0 || time.month != 0 || time.day != 0 || time.hour != 0 || time.minute != 0 ||
             time.second != 0) {
    out.details.emplace_back("time_stamp", "unknown or impossible date, ignored");
  }
}

// One bit of a status field: its name in the details, the quality flag it sets, and whether the values
// must not be used at all.
struct StatusBit {
  unsigned bit;
  const char* name;
  bool drops_values;
  std::optional<QualityFlag> flag;
};

// Applies every set bit of `status` that `bits` names; returns false when one of them drops the values.
bool ApplyStatus(Measurement& out, std::uint32_t status, std::span<const StatusBit> bits,
                 const char* detail_key) {
  bool usable = true;
  for (const StatusBit& bit : bits) {
    if ((status & (1u << bit.bit)) == 0) continue;
    out.details.emplace_back(detail_key, bit.name);
    if (bit.flag) out.flags.Set(*bit.flag);
    if (bit.drops_values) usable = false;
  }
  return usable;
}

// PLX Measurement Status (uint16), GATT Specification Supplement, PLX Spot-Check/Continuous 0x2A5E/5F.
constexpr std::array<StatusBit, 11> kPlxMeasurementStatus{{
    {5, "measurement_ongoing", false, std::nullopt},
    {6, "early_estimate", false, QualityFlag::kSearching},
    {7, "validated", false, std::nullopt},
    {8, "fully_qualified", false, std::nullopt},
    {9, "from_storage", false, std::nullopt},
    {10, "demonstration_data", true, std::nullopt},
    {11, "testing_data", true, std::nullopt},
    {12, "calibration_ongoing", true, QualityFlag::kSensorError},
    {13, "measurement_unavailable", true, QualityFlag::kSensorError},
    {14, "questionable_measurement", false, QualityFlag::kImprecise},
    {15, "invalid_measurement", true, QualityFlag::kSensorError},
}};

// PLX Device and Sensor Status (uint24), GATT Specification Supplement, PLX 0x2A5E/0x2A5F.
constexpr std::array<StatusBit, 16> kPlxSensorStatus{{
    {0, "extended_display_update", false, std::nullopt},
    {1, "equipment_malfunction", true, QualityFlag::kSensorError},
    {2, "signal_processing_irregularity", false, QualityFlag::kMotionArtefact},
    {3, "inadequate_signal", false, QualityFlag::kLowPerfusion},
    {4, "poor_signal", false, QualityFlag::kLowPerfusion},
    {5, "low_perfusion", false, QualityFlag::kLowPerfusion},
    {6, "erratic_signal", false, QualityFlag::kMotionArtefact},
    {7, "non_pulsatile_signal", false, QualityFlag::kMotionArtefact},
    {8, "questionable_pulse", false, QualityFlag::kImprecise},
    {9, "signal_analysis_ongoing", false, QualityFlag::kSearching},
    {10, "sensor_interference", false, QualityFlag::kMotionArtefact},
    {11, "sensor_unconnected", true, QualityFlag::kFingerOut},
    {12, "unknown_sensor", true, QualityFlag::kSensorError},
    {13, "sensor_displaced", true, QualityFlag::kFingerOut},
    {14, "sensor_malfunction", true, QualityFlag::kSensorError},
    {15, "sensor_disconnected", true, QualityFlag::kFingerOut},
}};

// Glucose Sensor Status Annunciation (uint16), GATT Specification Supplement, Glucose Measurement 0x2A18.
// Result above/below what the meter can process keeps its value unflagged: the meter sends its limit, and
// the true value lies beyond it, so a threshold rule on that limit errs on the safe side.
constexpr std::array<StatusBit, 12> kGlucoseStatus{{
    {0, "battery_low", false, std::nullopt},
    {1, "sensor_malfunction", false, QualityFlag::kSensorError},
    {2, "sample_size_insufficient", false, QualityFlag::kSensorError},
    {3, "strip_insertion_error", false, QualityFlag::kSensorError},
    {4, "strip_type_incorrect", false, QualityFlag::kSensorError},
    {5, "above_measuring_range", false, std::nullopt},
    {6, "below_measuring_range", false, std::nullopt},
    {7, "temperature_too_high", false, QualityFlag::kImprecise},
    {8, "temperature_too_low", false, QualityFlag::kImprecise},
    {9, "read_interrupted", false, QualityFlag::kSensorError},
    {10, "device_fault", false, QualityFlag::kSensorError},
    {11, "time_fault", false, std::nullopt},
}};

// Reads a 7-byte time stamp into `out` when it is a real date.
void ReadTime(ByteReader& reader, Measurement& out) {
  core::CivilTime time;
  bool known = false;
  reader.DateTime(time, known);
  AddTime(out, time, known);
}

double KilopascalToMmHg(double kpa) {
  return kpa / kKilopascalPerMmHg;
}
double FahrenheitToCelsius(double fahrenheit) {
  return (fahrenheit - 32.0) * 5.0 / 9.0;
}
double KilogramPerLitreToMmolPerLitre(double kg_per_litre) {
  return kg_per_litre / kGlucoseKilogramPerMole * 1000.0;
}
double MolPerLitreToMmolPerLitre(double mol_per_litre) {
  return mol_per_litre * 1000.0;
}

// Only called with a known (valid) base time.
core::CivilTime AddMinutes(const core::CivilTime& time, int minutes) {
  return core::ToCivilTime(core::FromCivilTime(time).value_or(std::chrono::milliseconds{0}) +
                           std::chrono::minutes{minutes});
}

Result<Measurement> ParsePressure(std::span<const std::uint8_t> value, bool intermediate) {
  const char* what =
      intermediate ? "intermediate cuff pressure (0x2A36)" : "blood pressure measurement (0x2A35)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(what) + ": empty value"});
  const std::uint8_t flags = value[0];
  const std::size_t needed = 1u + 6 + ((flags & 0x02) ? 7u : 0u) + ((flags & 0x04) ? 2u : 0u) +
                             ((flags & 0x08) ? 1u : 0u) + ((flags & 0x10) ? 2u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(what, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  MderFloat systolic, diastolic, mean;
  reader.Sfloat(systolic);
  reader.Sfloat(diastolic);
  reader.Sfloat(mean);
  Measurement out;
  out.intermediate = intermediate;
  const bool kilopascal = (flags & 0x01) != 0;
  double (*to_mmhg)(double) = kilopascal ? KilopascalToMmHg : nullptr;
  if (kilopascal) out.details.emplace_back("unit", "kPa");
  if (intermediate) {
    // Only the first field is the current cuff pressure; the other two are unused whatever they hold.
    AddValue(out, "cuff_pressure", systolic, to_mmhg, 1);
  } else {
    AddValue(out, "bp.systolic", systolic, to_mmhg, 1);
    AddValue(out, "bp.diastolic", diastolic, to_mmhg, 1);
    AddValue(out, "bp.mean", mean, to_mmhg, 1);
  }
  if (flags & 0x02) {
    ReadTime(reader, out);
  }
  if (flags & 0x04) {
    MderFloat pulse;
    reader.Sfloat(pulse);
    if (!intermediate) AddValue(out, "pulse_rate", pulse, nullptr, 0);
  }
  if (flags & 0x08) {
    std::uint8_t user = 0;
    reader.U8(user);
    out.user = user;
  }
  if (flags & 0x10) {
    std::uint16_t status = 0;
    reader.U16(status);
    if (status & 0x0001) {
      out.flags.Set(QualityFlag::kMotionArtefact);
      out.details.emplace_back("status", "body_movement");
    }
    if (status & 0x0002) {
      out.flags.Set(QualityFlag::kCuffLoose);
      out.details.emplace_back("status", "cuff_loose");
    }
    if (status & 0x0004) {
      out.flags.Set(QualityFlag::kIrregularPulse);
      out.details.emplace_back("status", "irregular_pulse");
    }
    // The device's own pulse-rate range check is a finding about the pulse, not a fault: no flag.
    switch ((status >> 3) & 0x3) {
      case 1:
        out.details.emplace_back("pulse_rate_range", "above_upper_limit");
        break;
      case 2:
        out.details.emplace_back("pulse_rate_range", "below_lower_limit");
        break;
      case 3:
        out.details.emplace_back("pulse_rate_range", "reserved");
        break;
      default:
        break;
    }
    if (status & 0x0020) {
      out.flags.Set(QualityFlag::kImprecise);
      out.details.emplace_back("status", "improper_position");
    }
  }
  return out;
}

constexpr std::array<const char*, 10> kTemperatureSites{
    "reserved", "armpit", "body", "ear",     "finger", "gastrointestinal_tract",
    "mouth",    "rectum", "toe",  "tympanum"};

const char* Lookup(std::span<const char* const> names, unsigned index) {
  return index < names.size() ? names[index] : "reserved";
}

}  // namespace

std::string Uuid128(std::uint16_t uuid16) {
  char text[40];
  std::snprintf(text, sizeof text, "0000%04x-0000-1000-8000-00805f9b34fb", uuid16);
  return text;
}

bool HangsUpAfterMeasuring(std::string_view profile) {
  const core::DeviceKind* kind = core::FindDeviceKind(core::DeviceConnection::kBle, profile);
  return kind != nullptr && kind->hangs_up;
}

std::vector<std::uint16_t> MeasurementCharacteristics(std::string_view profile) {
  if (profile == "blood_pressure") return {uuid::kBloodPressureMeasurement};
  if (profile == "thermometer") return {uuid::kTemperatureMeasurement};
  if (profile == "heart_rate") return {uuid::kHeartRateMeasurement};
  if (profile == "pulse_oximeter") return {uuid::kPlxContinuous, uuid::kPlxSpotCheck};
  if (profile == "weight_scale") return {uuid::kWeightMeasurement};
  if (profile == "glucose")
    return {uuid::kGlucoseMeasurement, uuid::kGlucoseContext, uuid::kRecordAccessControlPoint};
  return {};
}

std::vector<std::string> HealthProfilesOf(std::span<const std::uint16_t> services) {
  static constexpr std::array<std::pair<std::uint16_t, std::string_view>, 7> kProfiles{{
      {uuid::kBloodPressureService, "blood_pressure"},
      {uuid::kPulseOximeterService, "pulse_oximeter"},
      {uuid::kHealthThermometerService, "thermometer"},
      {uuid::kHeartRateService, "heart_rate"},
      {uuid::kWeightScaleService, "weight_scale"},
      {uuid::kGlucoseService, "glucose"},
      {uuid::kBthomeServiceData, "bthome"},
  }};
  std::vector<std::string> profiles;
  for (const std::uint16_t service : services) {
    for (const auto& [uuid16, name] : kProfiles) {
      if (uuid16 == service && std::find(profiles.begin(), profiles.end(), name) == profiles.end())
        profiles.emplace_back(name);
    }
  }
  return profiles;
}

std::optional<std::uint16_t> Uuid16(std::string_view uuid128) {
  static constexpr std::string_view kBase = "-0000-1000-8000-00805f9b34fb";
  if (uuid128.size() != 36 || uuid128.substr(0, 4) != "0000") return std::nullopt;
  for (std::size_t i = 0; i < kBase.size(); ++i) {
    const char c = uuid128[8 + i];
    if (std::tolower(static_cast<unsigned char>(c)) != kBase[i]) return std::nullopt;
  }
  unsigned value = 0;
  for (const char c : uuid128.substr(4, 4)) {
    const int lower = std::tolower(static_cast<unsigned char>(c));
    if (lower >= '0' && lower <= '9') {
      value = value * 16 + static_cast<unsigned>(lower - '0');
    } else if (lower >= 'a' && lower <= 'f') {
      value = value * 16 + static_cast<unsigned>(lower - 'a' + 10);
    } else {
      return std::nullopt;
    }
  }
  return static_cast<std::uint16_t>(value);
}

Result<Measurement> ParseBloodPressure(std::span<const std::uint8_t> value) {
  return ParsePressure(value, false);
}

Result<Measurement> ParseIntermediateCuffPressure(std::span<const std::uint8_t> value) {
  return ParsePressure(value, true);
}

Result<Measurement> ParseTemperature(std::span<const std::uint8_t> value) {
  constexpr std::string_view kWhat = "temperature measurement (0x2A1C)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(kWhat) + ": empty value"});
  const std::uint8_t flags = value[0];
  const std::size_t needed = 1u + 4 + ((flags & 0x02) ? 7u : 0u) + ((flags & 0x04) ? 1u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(kWhat, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  MderFloat temperature;
  reader.Float(temperature);
  Measurement out;
  const bool fahrenheit = (flags & 0x01) != 0;
  if (fahrenheit) out.details.emplace_back("unit", "degF");
  AddValue(out, "body_temperature", temperature, fahrenheit ? FahrenheitToCelsius : nullptr, 2);
  if (flags & 0x02) {
    ReadTime(reader, out);
  }
  if (flags & 0x04) {
    std::uint8_t site = 0;
    reader.U8(site);
    out.details.emplace_back("site", Lookup(kTemperatureSites, site));
  }
  return out;
}

Result<Measurement> ParseHeartRate(std::span<const std::uint8_t> value) {
  constexpr std::string_view kWhat = "heart rate measurement (0x2A37)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(kWhat) + ": empty value"});
  const std::uint8_t flags = value[0];
  const bool wide = (flags & 0x01) != 0;
  const std::size_t needed = 1u + (wide ? 2u : 1u) + ((flags & 0x08) ? 2u : 0u) + ((flags & 0x10) ? 2u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(kWhat, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  std::uint16_t rate = 0;
  if (wide) {
    reader.U16(rate);
  } else {
    std::uint8_t narrow = 0;
    reader.U8(narrow);
    rate = narrow;
  }
  Measurement out;
  const unsigned contact = (flags >> 1) & 0x3;
  const bool no_contact = contact == 2;
  if (no_contact) {
    out.flags.Set(QualityFlag::kFingerOut);
    out.details.emplace_back("sensor_contact", "not_detected");
  } else if (contact == 3) {
    out.details.emplace_back("sensor_contact", "detected");
  }
  if (!no_contact) {
    if (rate == 0) {
      out.details.emplace_back("heart_rate", "zero (no value)");
    } else {
      out.values.push_back({"heart_rate", static_cast<double>(rate)});
    }
  }
  if (flags & 0x08) {
    std::uint16_t energy = 0;
    reader.U16(energy);
    out.details.emplace_back("energy_expended", "present");
  }
  if (flags & 0x10) {
    while (reader.remaining() >= 2) {
      std::uint16_t rr = 0;
      reader.U16(rr);
      if (!no_contact) out.values.push_back({"rr_interval", RoundTo(rr * 1000.0 / 1024.0, 2)});
    }
  }
  return out;
}

Result<Measurement> ParsePlxSpotCheck(std::span<const std::uint8_t> value) {
  constexpr std::string_view kWhat = "PLX spot-check measurement (0x2A5E)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(kWhat) + ": empty value"});
  const std::uint8_t flags = value[0];
  const std::size_t needed = 1u + 4 + ((flags & 0x01) ? 7u : 0u) + ((flags & 0x02) ? 2u : 0u) +
                             ((flags & 0x04) ? 3u : 0u) + ((flags & 0x08) ? 2u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(kWhat, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  MderFloat spo2, pulse, amplitude;
  reader.Sfloat(spo2);
  reader.Sfloat(pulse);
  Measurement out;
  if (flags & 0x01) {
    ReadTime(reader, out);
  }
  bool usable = true;
  if (flags & 0x02) {
    std::uint16_t status = 0;
    reader.U16(status);
    usable = ApplyStatus(out, status, kPlxMeasurementStatus, "measurement_status") && usable;
  }
  if (flags & 0x04) {
    std::uint32_t status = 0;
    reader.U24(status);
    usable = ApplyStatus(out, status, kPlxSensorStatus, "sensor_status") && usable;
  }
  if (flags & 0x08) reader.Sfloat(amplitude);
  if (flags & 0x10) {
    out.device_clock_not_set = true;
    out.details.emplace_back("device_clock", "not_set");
  }
  if (usable) {
    AddValue(out, "spo2", spo2, nullptr, 0);
    AddValue(out, "pulse_rate", pulse, nullptr, 0);
    if (flags & 0x08) AddValue(out, "perfusion_index", amplitude, nullptr, 0);
  }
  return out;
}

Result<Measurement> ParsePlxContinuous(std::span<const std::uint8_t> value) {
  constexpr std::string_view kWhat = "PLX continuous measurement (0x2A5F)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(kWhat) + ": empty value"});
  const std::uint8_t flags = value[0];
  const std::size_t needed = 1u + 4 + ((flags & 0x01) ? 4u : 0u) + ((flags & 0x02) ? 4u : 0u) +
                             ((flags & 0x04) ? 2u : 0u) + ((flags & 0x08) ? 3u : 0u) +
                             ((flags & 0x10) ? 2u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(kWhat, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  MderFloat spo2, pulse, amplitude, unused;
  reader.Sfloat(spo2);
  reader.Sfloat(pulse);
  // The fast and slow averages are the device's own smoothing of the same signal: the normal value is
  // the one the profile defines as the measurement.
  if (flags & 0x01) {
    reader.Sfloat(unused);
    reader.Sfloat(unused);
  }
  if (flags & 0x02) {
    reader.Sfloat(unused);
    reader.Sfloat(unused);
  }
  Measurement out;
  bool usable = true;
  if (flags & 0x04) {
    std::uint16_t status = 0;
    reader.U16(status);
    usable = ApplyStatus(out, status, kPlxMeasurementStatus, "measurement_status") && usable;
  }
  if (flags & 0x08) {
    std::uint32_t status = 0;
    reader.U24(status);
    usable = ApplyStatus(out, status, kPlxSensorStatus, "sensor_status") && usable;
  }
  if (flags & 0x10) reader.Sfloat(amplitude);
  if (usable) {
    AddValue(out, "spo2", spo2, nullptr, 0);
    AddValue(out, "pulse_rate", pulse, nullptr, 0);
    if (flags & 0x10) AddValue(out, "perfusion_index", amplitude, nullptr, 0);
  }
  return out;
}

Result<Measurement> ParseWeight(std::span<const std::uint8_t> value) {
  constexpr std::string_view kWhat = "weight measurement (0x2A9D)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(kWhat) + ": empty value"});
  const std::uint8_t flags = value[0];
  const std::size_t needed =
      1u + 2 + ((flags & 0x02) ? 7u : 0u) + ((flags & 0x04) ? 1u : 0u) + ((flags & 0x08) ? 4u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(kWhat, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  std::uint16_t weight = 0;
  reader.U16(weight);
  Measurement out;
  const bool imperial = (flags & 0x01) != 0;
  if (imperial) out.details.emplace_back("unit", "lb/in");
  if (weight == 0xFFFF) {
    out.flags.Set(QualityFlag::kSensorError);
    out.details.emplace_back("body_weight", "measurement unsuccessful");
  } else {
    // Fixed resolutions (0.005 kg, 0.01 lb), whatever the Feature characteristic says (docs/ble.md).
    out.values.push_back(
        {"body_weight", imperial ? RoundTo(weight / 100.0 * kKilogramPerPound, 3) : weight / 200.0});
  }
  if (flags & 0x02) {
    ReadTime(reader, out);
  }
  if (flags & 0x04) {
    std::uint8_t user = 0;
    reader.U8(user);
    out.user = user;
  }
  if (flags & 0x08) {
    std::uint16_t bmi = 0, height = 0;
    reader.U16(bmi);
    reader.U16(height);
    if (weight != 0xFFFF) {
      if (bmi != 0) out.values.push_back({"bmi", bmi / 10.0});
      if (height != 0)
        out.values.push_back(
            {"body_height", imperial ? RoundTo(height / 10.0 * kMetrePerInch, 3) : height / 1000.0});
    }
  }
  return out;
}

Result<Measurement> ParseGlucose(std::span<const std::uint8_t> value) {
  constexpr std::string_view kWhat = "glucose measurement (0x2A18)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(kWhat) + ": empty value"});
  const std::uint8_t flags = value[0];
  const std::size_t needed =
      1u + 2 + 7 + ((flags & 0x01) ? 2u : 0u) + ((flags & 0x02) ? 3u : 0u) + ((flags & 0x08) ? 2u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(kWhat, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  Measurement out;
  std::uint16_t sequence = 0;
  reader.U16(sequence);
  out.sequence = sequence;
  core::CivilTime base;
  bool known = false;
  reader.DateTime(base, known);
  std::int16_t offset = 0;
  if (flags & 0x01) reader.S16(offset);
  AddTime(out, known ? AddMinutes(base, offset) : base, known);
  out.context_follows = (flags & 0x10) != 0;
  if (flags & 0x02) {
    MderFloat concentration;
    std::uint8_t type_location = 0;
    reader.Sfloat(concentration);
    reader.U8(type_location);
    const unsigned type = type_location & 0x0F;
    const unsigned location = type_location >> 4;
    static constexpr std::array<const char*, 11> kTypes{"reserved",
                                                        "capillary_whole_blood",
                                                        "capillary_plasma",
                                                        "venous_whole_blood",
                                                        "venous_plasma",
                                                        "arterial_whole_blood",
                                                        "arterial_plasma",
                                                        "undetermined_whole_blood",
                                                        "undetermined_plasma",
                                                        "interstitial_fluid",
                                                        "control_solution"};
    static constexpr std::array<const char*, 6> kLocations{"reserved", "finger",           "alternate_site",
                                                           "earlobe",  "control_solution", "subcutaneous"};
    out.details.emplace_back("sample_type", Lookup(kTypes, type));
    out.details.emplace_back("sample_location",
                             location == 15 ? "not_available" : Lookup(kLocations, location));
    const bool molar = (flags & 0x04) != 0;
    if (type == 10 || location == 4) {
      // A control-solution test checks the meter; it says nothing about the resident.
      out.details.emplace_back("glucose", "control solution, not stored");
    } else {
      AddValue(out, "glucose", concentration,
               molar ? MolPerLitreToMmolPerLitre : KilogramPerLitreToMmolPerLitre, 2);
    }
  }
  if (flags & 0x08) {
    std::uint16_t status = 0;
    reader.U16(status);
    ApplyStatus(out, status, kGlucoseStatus, "status");
    if (status & (1u << 11)) out.device_clock_not_set = true;
  }
  return out;
}

Result<Measurement> ParseGlucoseContext(std::span<const std::uint8_t> value) {
  constexpr std::string_view kWhat = "glucose measurement context (0x2A34)";
  if (value.empty()) return tl::unexpected(Error{Errc::kParse, std::string(kWhat) + ": empty value"});
  const std::uint8_t flags = value[0];
  const std::size_t needed = 1u + 2 + ((flags & 0x80) ? 1u : 0u) + ((flags & 0x01) ? 3u : 0u) +
                             ((flags & 0x02) ? 1u : 0u) + ((flags & 0x04) ? 1u : 0u) +
                             ((flags & 0x08) ? 3u : 0u) + ((flags & 0x10) ? 3u : 0u) +
                             ((flags & 0x40) ? 2u : 0u);
  if (value.size() < needed) return tl::unexpected(LengthError(kWhat, value.size(), flags, needed));
  ByteReader reader(value);
  std::uint8_t ignored = 0;
  reader.U8(ignored);
  Measurement out;
  std::uint16_t sequence = 0;
  reader.U16(sequence);
  out.sequence = sequence;
  std::uint8_t byte = 0;
  std::uint16_t word = 0;
  MderFloat amount;
  if (flags & 0x80) reader.U8(byte);  // extended flags: reserved
  if (flags & 0x01) {
    static constexpr std::array<const char*, 8> kCarbohydrates{"reserved", "breakfast", "lunch",  "dinner",
                                                               "snack",    "drink",     "supper", "brunch"};
    reader.U8(byte);
    reader.Sfloat(amount);
    out.details.emplace_back("carbohydrate", Lookup(kCarbohydrates, byte));
  }
  if (flags & 0x02) {
    static constexpr std::array<const char*, 6> kMeals{"reserved", "preprandial", "postprandial",
                                                       "fasting",  "casual",      "bedtime"};
    reader.U8(byte);
    out.details.emplace_back("meal", Lookup(kMeals, byte));
  }
  if (flags & 0x04) {
    static constexpr std::array<const char*, 4> kTesters{"reserved", "self", "health_care_professional",
                                                         "lab_test"};
    static constexpr std::array<const char*, 6> kHealth{"reserved",      "minor_issues", "major_issues",
                                                        "during_menses", "under_stress", "none"};
    reader.U8(byte);
    const unsigned tester = byte & 0x0F;
    const unsigned health = byte >> 4;
    out.details.emplace_back("tester", tester == 15 ? "not_available" : Lookup(kTesters, tester));
    out.details.emplace_back("health", health == 15 ? "not_available" : Lookup(kHealth, health));
  }
  if (flags & 0x08) {
    reader.U16(word);
    reader.U8(byte);
    out.details.emplace_back("exercise", "present");
  }
  if (flags & 0x10) {
    static constexpr std::array<const char*, 6> kMedications{"reserved",
                                                             "rapid_acting_insulin",
                                                             "short_acting_insulin",
                                                             "intermediate_acting_insulin",
                                                             "long_acting_insulin",
                                                             "premixed_insulin"};
    reader.U8(byte);
    reader.Sfloat(amount);
    out.details.emplace_back("medication", Lookup(kMedications, byte));
  }
  if (flags & 0x40) {
    reader.Sfloat(amount);
    out.details.emplace_back("hba1c", "present");
  }
  return out;
}

Result<Measurement> ParseBatteryLevel(std::span<const std::uint8_t> value) {
  if (value.size() != 1) {
    return tl::unexpected(Error{Errc::kParse, "battery level (0x2A19): " + std::to_string(value.size()) +
                                                  " bytes, expected exactly 1"});
  }
  if (value[0] > 100) return tl::unexpected(Error{Errc::kParse, "battery level (0x2A19): above 100 %"});
  Measurement out;
  out.values.push_back({"battery", static_cast<double>(value[0])});
  return out;
}

namespace {
constexpr std::array<std::uint16_t, 11> kParsed{uuid::kGlucoseMeasurement,
                                                uuid::kBatteryLevel,
                                                uuid::kTemperatureMeasurement,
                                                uuid::kIntermediateTemperature,
                                                uuid::kGlucoseContext,
                                                uuid::kBloodPressureMeasurement,
                                                uuid::kIntermediateCuffPressure,
                                                uuid::kHeartRateMeasurement,
                                                uuid::kPlxSpotCheck,
                                                uuid::kPlxContinuous,
                                                uuid::kWeightMeasurement};
}  // namespace

CharacteristicParser FindParser(std::uint16_t uuid16) {
  switch (uuid16) {
    case uuid::kBloodPressureMeasurement:
      return ParseBloodPressure;
    case uuid::kIntermediateCuffPressure:
      return ParseIntermediateCuffPressure;
    case uuid::kTemperatureMeasurement:
      return ParseTemperature;
    case uuid::kIntermediateTemperature:
      return ParseTemperature;
    case uuid::kHeartRateMeasurement:
      return ParseHeartRate;
    case uuid::kPlxSpotCheck:
      return ParsePlxSpotCheck;
    case uuid::kPlxContinuous:
      return ParsePlxContinuous;
    case uuid::kWeightMeasurement:
      return ParseWeight;
    case uuid::kGlucoseMeasurement:
      return ParseGlucose;
    case uuid::kGlucoseContext:
      return ParseGlucoseContext;
    case uuid::kBatteryLevel:
      return ParseBatteryLevel;
    default:
      return nullptr;
  }
}

std::span<const std::uint16_t> ParsedCharacteristics() {
  return kParsed;
}

std::string ParseInformationString(std::span<const std::uint8_t> value) {
  std::size_t end = value.size();
  while (end > 0 && value[end - 1] == 0)
    --end;
  const std::string_view bytes(reinterpret_cast<const char*>(value.data()), end);
  std::string text;
  std::size_t i = 0;
  while (i < end && text.size() < 64) {
    // Strict UTF-8 (no overlong forms, surrogates or code points beyond U+10FFFF), as every string
    // that leaves the gateway must be.
    const std::size_t length = core::ValidUtf8SequenceAt(bytes, i);
    const std::uint8_t lead = value[i];
    if (length == 0 || (length == 1 && (lead < 0x20 || lead == 0x7F))) {
      text.push_back('?');
      ++i;
      continue;
    }
    if (text.size() + length > 64) break;
    text.append(bytes.substr(i, length));
    i += length;
  }
  return text;
}

std::vector<std::uint8_t> EncodeDateTime(const core::CivilTime& t) {
  const auto year = static_cast<unsigned>(t.year);
  return {static_cast<std::uint8_t>(year & 0xFF), static_cast<std::uint8_t>(year >> 8),
          static_cast<std::uint8_t>(t.month),     static_cast<std::uint8_t>(t.day),
          static_cast<std::uint8_t>(t.hour),      static_cast<std::uint8_t>(t.minute),
          static_cast<std::uint8_t>(t.second)};
}

std::vector<std::uint8_t> EncodeCurrentTime(const core::CivilTime& local_time, unsigned weekday,
                                            std::uint8_t adjust_reason) {
  std::vector<std::uint8_t> bytes = EncodeDateTime(local_time);
  bytes.push_back(static_cast<std::uint8_t>(weekday <= 7 ? weekday : 0));
  bytes.push_back(0);  // fractions of a second: the gateway's own time is not that exact at boot
  bytes.push_back(adjust_reason);
  return bytes;
}

}  // namespace ehg::devices::ble
