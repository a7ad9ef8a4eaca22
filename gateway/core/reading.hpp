#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

namespace ehg::core {

// Why a value may not be trusted clinically. A reading with any of these never triggers a clinical rule.
enum class QualityFlag : std::uint32_t {
  kMotionArtefact = 1u << 0,
  kCuffLoose = 1u << 1,
  kFingerOut = 1u << 2,
  kSearching = 1u << 3,     // oximeter has not locked onto a pulse yet
  kLowPerfusion = 1u << 4,  // weak signal, value unreliable
  kOutOfTrack = 1u << 5,    // device reports the value as not tracking
  kIrregularPulse = 1u << 6,
  kSensorError = 1u << 7,
  kDeviceOutOfRange = 1u << 8,  // the device itself flags the value as outside its measuring range
  kImprecise = 1u << 9,         // e.g. body movement during measurement, improper position
};

class QualityFlags {
 public:
  constexpr QualityFlags() = default;
  constexpr explicit QualityFlags(std::uint32_t bits) : bits_(bits) {}

  constexpr QualityFlags& Set(QualityFlag flag) {
    bits_ |= static_cast<std::uint32_t>(flag);
    return *this;
  }
  constexpr bool Has(QualityFlag flag) const { return (bits_ & static_cast<std::uint32_t>(flag)) != 0; }
  constexpr bool Clean() const { return bits_ == 0; }
  constexpr std::uint32_t bits() const { return bits_; }
  friend constexpr bool operator==(QualityFlags, QualityFlags) = default;

  // Stable snake_case names ("finger_out", ...), in bit order; unknown bits appear as "bit_N".
  std::vector<std::string> Names() const;
  static std::optional<QualityFlag> FromName(std::string_view name);

 private:
  std::uint32_t bits_ = 0;
};

// One value from one device. Drivers build it; the pipeline validates, stores and evaluates it.
struct Reading {
  std::string device_id;
  std::string metric;  // a catalogue name (gateway/core/vital_signs.hpp)
  double value = 0;
  std::string unit;  // UCUM, must equal the catalogue unit
  std::optional<WallTime> device_time;
  WallTime received_at{};
  // The gateway's wall clock was not synchronised when the reading arrived: received_at may be wrong.
  bool time_uncertain = false;
  QualityFlags flags;
  // A device-provided record number (glucose meters, BLE record access), for duplicate detection.
  std::optional<std::uint32_t> sequence;
  // The device's time was implausible against the receive time (gateway/core/device_time.hpp): it is
  // kept as the device's claim, but the reading counts at its receive time.
  bool device_clock_suspect = false;
  // A stored record whose device time was implausible: when it was measured is unknown, the receive time
  // is only its latest possible time. It may raise an alert, never resolve or clear one.
  bool taken_at_unknown = false;

  // The time the measurement was taken, as well as the gateway knows it: the device's time when it has
  // a plausible one, else the receive time.
  WallTime EffectiveTime() const { return device_time && !device_clock_suspect ? *device_time : received_at; }
};

// A reading may drive a clinical rule only when nothing marks its value as unreliable (quality flags)
// and the gateway's clock was synchronised when it arrived.
bool ClinicallyUsable(const Reading& reading);

// Checks a reading against the metric catalogue: known metric, catalogue unit, finite value inside the
// physical range. The error message names the metric and the range, never the value.
Result<void> ValidateReading(const Reading& reading);

}  // namespace ehg::core
