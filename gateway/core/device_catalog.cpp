#include "gateway/core/device_catalog.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace ehg::core {
namespace {

using enum DeviceConnection;
using enum DeviceTiming;

// Field order: link, name, measures, description, timing, user_slots, polled, hangs_up.
constexpr std::array kDeviceKinds{
    DeviceKind{kSerial, "contec-cms50-5", "spo2, pulse_rate (pleth waveform)",
               "Contec CMS50D+/E pulse oximeter, old firmware (5-byte frames, 19200 8O1)", kStreaming},
    DeviceKind{
        kSerial, "contec-cms50-9", "spo2, pulse_rate, perfusion_index (pleth waveform)",
        "Contec CMS50D+/E firmware 4.6+ and CMS50E(W) (9-byte packets, 115200 8N1, started by the gateway)",
        kStreaming},
    DeviceKind{kSerial, "nonin-df2", "spo2, pulse_rate (pleth waveform)",
               "Nonin OEM III, Xpod, 9560 in Data Format 2 (9600 8N1)", kStreaming},
    DeviceKind{kSerial, "nonin-df7", "spo2, pulse_rate (16-bit pleth waveform)",
               "Nonin OEM III, Xpod, 9560 in Data Format 7 (9600 8N1)", kStreaming},
    DeviceKind{kSerial, "nonin-df8", "spo2, pulse_rate", "Nonin pulse oximeters in Data Format 8 (9600 8N1)",
               kStreaming},
    DeviceKind{kSerial, "beurer-bm", "bp.systolic, bp.diastolic, pulse_rate",
               "Beurer BM65 and other BM blood pressure monitors with a serial cable (memory read every "
               "poll_interval)",
               kStoredRecords, /*user_slots=*/true, /*polled=*/true},
    // Lines with their own time stamps can be old when they arrive.
    DeviceKind{kSerial, "ascii", "any vital sign of the catalogue",
               "the gateway's line format for integrators' devices and test rigs (9600 8N1)", kStoredRecords},

    DeviceKind{kBle, "blood_pressure", "bp.systolic, bp.diastolic, bp.mean, pulse_rate",
               "Bluetooth blood pressure cuff (GATT Blood Pressure service)", kStoredRecords,
               /*user_slots=*/true, false, /*hangs_up=*/true},
    DeviceKind{kBle, "thermometer", "body_temperature",
               "Bluetooth thermometer (GATT Health Thermometer service)", kStoredRecords, false, false,
               /*hangs_up=*/true},
    DeviceKind{kBle, "heart_rate", "heart_rate, rr_interval",
               "Bluetooth heart-rate strap (GATT Heart Rate service)", kStreaming},
    DeviceKind{kBle, "pulse_oximeter", "spo2, pulse_rate, perfusion_index",
               "Bluetooth pulse oximeter (GATT Pulse Oximeter service: spot checks and continuous)",
               kStoredRecords},
    DeviceKind{kBle, "weight_scale", "body_weight, bmi, body_height",
               "Bluetooth scale (GATT Weight Scale service)", kStoredRecords, /*user_slots=*/true, false,
               /*hangs_up=*/true},
    DeviceKind{kBle, "glucose", "glucose",
               "Bluetooth glucose meter (GATT Glucose service, records read by RACP)", kStoredRecords, false,
               false, /*hangs_up=*/true},
    DeviceKind{kBle, "bthome", "button, motion, door, ambient_temperature, relative_humidity, battery",
               "BTHome v2 sensors and alarm buttons (advertisements, optionally encrypted)", kStreaming},

    // Simulated residents' devices (ehealth-gateway-tools only): realistic, noisy readings on a schedule.
    DeviceKind{kSimulated, "blood_pressure", "bp.systolic, bp.diastolic, bp.mean, pulse_rate",
               "a simulated blood pressure monitor", kStreaming},
    DeviceKind{kSimulated, "pulse_oximeter", "spo2, pulse_rate, perfusion_index",
               "a simulated pulse oximeter", kStreaming},
    DeviceKind{kSimulated, "thermometer", "body_temperature", "a simulated thermometer", kStreaming},
    DeviceKind{kSimulated, "weight_scale", "body_weight", "a simulated scale", kStreaming},
};

constexpr std::size_t CountOf(DeviceConnection link) {
  return static_cast<std::size_t>(
      std::count_if(kDeviceKinds.begin(), kDeviceKinds.end(),
                    [link](const DeviceKind& kind) { return kind.link == link; }));
}

template <DeviceConnection link>
constexpr std::array<std::string_view, CountOf(link)> NamesOf() {
  std::array<std::string_view, CountOf(link)> names{};
  std::size_t next = 0;
  for (const DeviceKind& kind : kDeviceKinds) {
    if (kind.link == link) names[next++] = kind.name;
  }
  return names;
}

constexpr auto kSerialNames = NamesOf<kSerial>();
constexpr auto kBleNames = NamesOf<kBle>();
constexpr auto kSimulatedNames = NamesOf<kSimulated>();

}  // namespace

std::span<const DeviceKind> DeviceKinds() {
  return kDeviceKinds;
}

const DeviceKind* FindDeviceKind(DeviceConnection link, std::string_view name) {
  for (const DeviceKind& kind : kDeviceKinds) {
    if (kind.link == link && kind.name == name) return &kind;
  }
  return nullptr;
}

std::span<const std::string_view> DeviceKindNames(DeviceConnection link) {
  switch (link) {
    case kSerial:
      return kSerialNames;
    case kBle:
      return kBleNames;
    case kSimulated:
      return kSimulatedNames;
  }
  return {};
}

}  // namespace ehg::core
