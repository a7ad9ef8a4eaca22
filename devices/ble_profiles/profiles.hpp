#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/core/result.hpp"

// Pure parsers for the Bluetooth SIG health profiles (GATT Specification Supplement; docs/ble.md).
// Values come out in the catalogue unit (mmHg, Cel, kg, m, mmol/L), converted here and nowhere else.
// A value too short for what its flags announce is refused with an error naming the field; reserved
// flag bits are ignored and bytes after the known fields are tolerated.
namespace ehg::devices::ble {

// 16-bit UUIDs of the characteristics the gateway reads or writes.
namespace uuid {
inline constexpr std::uint16_t kBloodPressureMeasurement = 0x2A35;
inline constexpr std::uint16_t kIntermediateCuffPressure = 0x2A36;
inline constexpr std::uint16_t kTemperatureMeasurement = 0x2A1C;
inline constexpr std::uint16_t kIntermediateTemperature = 0x2A1E;
inline constexpr std::uint16_t kHeartRateMeasurement = 0x2A37;
inline constexpr std::uint16_t kPlxSpotCheck = 0x2A5E;
inline constexpr std::uint16_t kPlxContinuous = 0x2A5F;
inline constexpr std::uint16_t kWeightMeasurement = 0x2A9D;
inline constexpr std::uint16_t kGlucoseMeasurement = 0x2A18;
inline constexpr std::uint16_t kGlucoseContext = 0x2A34;
inline constexpr std::uint16_t kRecordAccessControlPoint = 0x2A52;
inline constexpr std::uint16_t kBatteryLevel = 0x2A19;
inline constexpr std::uint16_t kCurrentTime = 0x2A2B;
inline constexpr std::uint16_t kDateTime = 0x2A08;
inline constexpr std::uint16_t kManufacturerName = 0x2A29;
inline constexpr std::uint16_t kModelNumber = 0x2A24;
inline constexpr std::uint16_t kFirmwareRevision = 0x2A26;
// Services
inline constexpr std::uint16_t kBloodPressureService = 0x1810;
inline constexpr std::uint16_t kHealthThermometerService = 0x1809;
inline constexpr std::uint16_t kHeartRateService = 0x180D;
inline constexpr std::uint16_t kPulseOximeterService = 0x1822;
inline constexpr std::uint16_t kWeightScaleService = 0x181D;
inline constexpr std::uint16_t kGlucoseService = 0x1808;
inline constexpr std::uint16_t kBatteryService = 0x180F;
inline constexpr std::uint16_t kCurrentTimeService = 0x1805;
inline constexpr std::uint16_t kDeviceInformationService = 0x180A;
inline constexpr std::uint16_t kBthomeServiceData = 0xFCD2;
}  // namespace uuid

// "00002a35-0000-1000-8000-00805f9b34fb", the form BlueZ reports.
std::string Uuid128(std::uint16_t uuid16);
// The 16-bit UUID of a SIG base UUID (any case), else nullopt.
std::optional<std::uint16_t> Uuid16(std::string_view uuid128);

// The profile names (as the config spells them: blood_pressure, pulse_oximeter, thermometer,
// heart_rate, weight_scale, glucose, bthome) of the health services among advertised 16-bit UUIDs
// (service UUIDs and service data UUIDs), in the order first seen, each once.
std::vector<std::string> HealthProfilesOf(std::span<const std::uint16_t> services);

// Whether devices of a profile connect, deliver what they measured and hang up (a cuff, thermometer,
// scale or glucose meter: not connected is their normal state between measurements), rather than stay
// connected and stream (an oximeter, a heart-rate strap) or only advertise (BTHome). The device
// catalogue's `hangs_up` (gateway/core/device_catalog.hpp); false for a profile it does not have.
bool HangsUpAfterMeasuring(std::string_view profile);

// The characteristics a device of a profile is subscribed to on every connection: its measurements, and
// for a glucose meter the context and the Record Access Control Point its stored records come through.
// Empty for BTHome (advertisements only) and for a name that is not a profile.
std::vector<std::uint16_t> MeasurementCharacteristics(std::string_view profile);

struct ProfileValue {
  std::string metric;  // a catalogue name; the unit is the catalogue's
  double value = 0;
  friend bool operator==(const ProfileValue&, const ProfileValue&) = default;
};

// One decoded characteristic value.
struct Measurement {
  // Clinical values the device vouches for. A special value (NaN, NRes, INF) or a status that says the
  // measurement is invalid leaves its value out; the reason is in `flags` and `details`.
  std::vector<ProfileValue> values;
  core::QualityFlags flags;
  std::optional<core::CivilTime> device_local_time;  // the device clock (local, no zone)
  bool device_clock_not_set = false;                 // the device says its clock is not set
  std::optional<std::uint16_t> sequence;             // glucose record number
  std::optional<std::uint8_t> user;                  // the device's user slot (0xFF: unknown)
  // Cuff pressure while the cuff inflates: shown by `decode`, never stored or alerted.
  bool intermediate = false;
  bool context_follows = false;  // glucose: a context with the same sequence number comes next
  // What the device said beyond the values ("site": "finger", "status": "cuff_loose"), for decode
  // output and debug logs; never values.
  std::vector<std::pair<std::string, std::string>> details;

  friend bool operator==(const Measurement&, const Measurement&) = default;
};

Result<Measurement> ParseBloodPressure(std::span<const std::uint8_t> value);  // 0x2A35, 0x2A36
Result<Measurement> ParseIntermediateCuffPressure(std::span<const std::uint8_t> value);
Result<Measurement> ParseTemperature(std::span<const std::uint8_t> value);     // 0x2A1C, 0x2A1E
Result<Measurement> ParseHeartRate(std::span<const std::uint8_t> value);       // 0x2A37
Result<Measurement> ParsePlxSpotCheck(std::span<const std::uint8_t> value);    // 0x2A5E
Result<Measurement> ParsePlxContinuous(std::span<const std::uint8_t> value);   // 0x2A5F
Result<Measurement> ParseWeight(std::span<const std::uint8_t> value);          // 0x2A9D
Result<Measurement> ParseGlucose(std::span<const std::uint8_t> value);         // 0x2A18
Result<Measurement> ParseGlucoseContext(std::span<const std::uint8_t> value);  // 0x2A34
Result<Measurement> ParseBatteryLevel(std::span<const std::uint8_t> value);    // 0x2A19

// The parser for a characteristic, by 16-bit UUID; nullptr for one the gateway does not decode.
using CharacteristicParser = Result<Measurement> (*)(std::span<const std::uint8_t>);
CharacteristicParser FindParser(std::uint16_t uuid16);
// The characteristics FindParser knows, in UUID order.
std::span<const std::uint16_t> ParsedCharacteristics();

// A Device Information string (manufacturer, model, serial, revisions): UTF-8 without terminator.
// Invalid UTF-8 and control characters become '?', trailing NULs (some firmware pads) are dropped,
// and the text is cut to 64 bytes.
std::string ParseInformationString(std::span<const std::uint8_t> value);

// The 10-byte Current Time value (Bluetooth 0x2A2B) for a local time. `weekday` 1 = Monday .. 7 = Sunday.
std::vector<std::uint8_t> EncodeCurrentTime(const core::CivilTime& local_time, unsigned weekday,
                                            std::uint8_t adjust_reason);
// The 7-byte Bluetooth Date Time value, which some cuffs take in Date Time 0x2A08 (docs/ble.md).
std::vector<std::uint8_t> EncodeDateTime(const core::CivilTime& local_time);

}  // namespace ehg::devices::ble
