#include "devices/sim/measurement_generator.hpp"

#include <algorithm>
#include <cmath>

namespace ehg::devices::sim {
namespace {

double RoundTo(double value, double step) {
  return std::round(value / step) * step;
}

core::Reading Make(const std::string& device_id, std::string_view metric, double value, std::string_view unit,
                   core::WallTime now, bool time_uncertain) {
  core::Reading reading;
  reading.device_id = device_id;
  reading.metric = std::string(metric);
  reading.value = value;
  reading.unit = std::string(unit);
  reading.device_time = now;
  reading.received_at = now;
  reading.time_uncertain = time_uncertain;
  return reading;
}

}  // namespace

std::optional<Profile> ParseProfile(std::string_view name) {
  for (const Profile profile :
       {Profile::kBloodPressure, Profile::kPulseOximeter, Profile::kThermometer, Profile::kWeightScale}) {
    if (ToString(profile) == name) return profile;
  }
  return std::nullopt;
}

std::string_view ToString(Profile profile) {
  switch (profile) {
    case Profile::kBloodPressure:
      return "blood_pressure";
    case Profile::kPulseOximeter:
      return "pulse_oximeter";
    case Profile::kThermometer:
      return "thermometer";
    case Profile::kWeightScale:
      return "weight_scale";
  }
  return "blood_pressure";
}

bool SetPhysiology(Physiology& physiology, std::string_view parameter, double value) {
  double* field = parameter == "systolic"          ? &physiology.systolic
                  : parameter == "diastolic"       ? &physiology.diastolic
                  : parameter == "pulse"           ? &physiology.pulse
                  : parameter == "spo2"            ? &physiology.spo2
                  : parameter == "perfusion_index" ? &physiology.perfusion_index
                  : parameter == "temperature"     ? &physiology.temperature
                  : parameter == "weight"          ? &physiology.weight
                                                   : nullptr;
  if (field == nullptr) return false;
  *field = value;
  return true;
}

MeasurementGenerator::MeasurementGenerator(Profile profile, std::uint64_t seed, double artefact_rate)
    : profile_(profile), random_(seed), artefact_rate_(artefact_rate) {}

double MeasurementGenerator::Noise(double standard_deviation) {
  return std::normal_distribution<double>(0.0, standard_deviation)(random_);
}

bool MeasurementGenerator::Artefact() {
  return std::uniform_real_distribution<double>(0, 1)(random_) < artefact_rate_;
}

std::vector<core::Reading> MeasurementGenerator::Next(const std::string& device_id, core::WallTime now,
                                                      bool time_uncertain) {
  drift_ = std::clamp(drift_ + Noise(0.05), -1.0, 1.0);
  std::vector<core::Reading> readings;
  const Physiology& p = physiology_;
  switch (profile_) {
    case Profile::kBloodPressure: {
      // Oscillometric cuffs report whole mmHg; beat-to-beat variation dominates the noise.
      const double systolic = std::clamp(RoundTo(p.systolic + 6 * drift_ + Noise(7), 1), 70.0, 240.0);
      const double diastolic =
          std::clamp(RoundTo(p.diastolic + 3 * drift_ + Noise(5), 1), 40.0, systolic - 15);
      const double mean = RoundTo(diastolic + (systolic - diastolic) / 3, 1);
      const double pulse = std::clamp(RoundTo(p.pulse + Noise(5), 1), 35.0, 180.0);
      readings.push_back(Make(device_id, "bp.systolic", systolic, "mm[Hg]", now, time_uncertain));
      readings.push_back(Make(device_id, "bp.diastolic", diastolic, "mm[Hg]", now, time_uncertain));
      readings.push_back(Make(device_id, "bp.mean", mean, "mm[Hg]", now, time_uncertain));
      readings.push_back(Make(device_id, "pulse_rate", pulse, "/min", now, time_uncertain));
      if (Artefact()) {
        const auto flag = std::uniform_int_distribution<int>(0, 2)(random_);
        const core::QualityFlag quality = flag == 0   ? core::QualityFlag::kCuffLoose
                                          : flag == 1 ? core::QualityFlag::kMotionArtefact
                                                      : core::QualityFlag::kIrregularPulse;
        for (core::Reading& reading : readings)
          reading.flags.Set(quality);
      }
      break;
    }
    case Profile::kPulseOximeter: {
      const bool artefact = Artefact();
      const double spo2 = std::clamp(RoundTo(p.spo2 + drift_ + Noise(1.0), 1), 70.0, 100.0);
      const double pulse = std::clamp(RoundTo(p.pulse + Noise(3), 1), 35.0, 200.0);
      const double perfusion = std::clamp(RoundTo(p.perfusion_index + Noise(0.6), 0.1), 0.2, 20.0);
      readings.push_back(Make(device_id, "spo2", spo2, "%", now, time_uncertain));
      readings.push_back(Make(device_id, "pulse_rate", pulse, "/min", now, time_uncertain));
      readings.push_back(Make(device_id, "perfusion_index", perfusion, "%", now, time_uncertain));
      if (artefact) {
        for (core::Reading& reading : readings)
          reading.flags.Set(core::QualityFlag::kMotionArtefact);
      }
      break;
    }
    case Profile::kThermometer: {
      const double temperature =
          std::clamp(RoundTo(p.temperature + 0.2 * drift_ + Noise(0.2), 0.1), 34.0, 42.0);
      readings.push_back(Make(device_id, "body_temperature", temperature, "Cel", now, time_uncertain));
      if (Artefact()) readings.back().flags.Set(core::QualityFlag::kImprecise);
      break;
    }
    case Profile::kWeightScale: {
      const double weight = std::clamp(RoundTo(p.weight + 0.6 * drift_ + Noise(0.25), 0.05), 20.0, 250.0);
      readings.push_back(Make(device_id, "body_weight", weight, "kg", now, time_uncertain));
      if (Artefact()) readings.back().flags.Set(core::QualityFlag::kImprecise);
      break;
    }
  }
  return readings;
}

}  // namespace ehg::devices::sim
