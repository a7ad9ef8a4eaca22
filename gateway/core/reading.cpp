#include "gateway/core/reading.hpp"

#include <array>
#include <cmath>
#include <utility>

#include "gateway/core/vital_signs.hpp"

namespace ehg::core {
namespace {

constexpr std::array<std::pair<QualityFlag, std::string_view>, 10> kFlagNames{{
    {QualityFlag::kMotionArtefact, "motion_artefact"},
    {QualityFlag::kCuffLoose, "cuff_loose"},
    {QualityFlag::kFingerOut, "finger_out"},
    {QualityFlag::kSearching, "searching"},
    {QualityFlag::kLowPerfusion, "low_perfusion"},
    {QualityFlag::kOutOfTrack, "out_of_track"},
    {QualityFlag::kIrregularPulse, "irregular_pulse"},
    {QualityFlag::kSensorError, "sensor_error"},
    {QualityFlag::kDeviceOutOfRange, "device_out_of_range"},
    {QualityFlag::kImprecise, "imprecise"},
}};

std::string FormatBound(double bound) {
  std::string text = std::to_string(bound);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

std::vector<std::string> QualityFlags::Names() const {
  std::vector<std::string> names;
  for (unsigned bit = 0; bit < 32; ++bit) {
    const std::uint32_t mask = 1u << bit;
    if ((bits_ & mask) == 0) continue;
    std::string name = "bit_" + std::to_string(bit);
    for (const auto& [flag, flag_name] : kFlagNames) {
      if (static_cast<std::uint32_t>(flag) == mask) name = std::string(flag_name);
    }
    names.push_back(std::move(name));
  }
  return names;
}

std::optional<QualityFlag> QualityFlags::FromName(std::string_view name) {
  for (const auto& [flag, flag_name] : kFlagNames) {
    if (flag_name == name) return flag;
  }
  return std::nullopt;
}

bool ClinicallyUsable(const Reading& reading) {
  return reading.flags.Clean() && !reading.time_uncertain;
}

Result<void> ValidateReading(const Reading& reading) {
  const MetricInfo* metric = FindMetric(reading.metric);
  if (metric == nullptr) return Fail(Errc::kRejected, "unknown metric '" + reading.metric + "'");
  if (reading.unit != metric->unit) {
    return Fail(Errc::kRejected, "metric " + reading.metric + " must be in unit '" +
                                     std::string(metric->unit) + "', got '" + reading.unit + "'");
  }
  if (!std::isfinite(reading.value)) {
    return Fail(Errc::kRejected, "metric " + reading.metric + ": value is not a finite number");
  }
  if (reading.value < metric->min_value || reading.value > metric->max_value) {
    return Fail(Errc::kRejected, "metric " + reading.metric + ": value outside the physical range [" +
                                     FormatBound(metric->min_value) + ", " + FormatBound(metric->max_value) +
                                     "]");
  }
  if (reading.device_id.empty()) return Fail(Errc::kRejected, "reading without a device id");
  return {};
}

}  // namespace ehg::core
