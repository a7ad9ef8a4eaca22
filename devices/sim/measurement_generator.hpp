#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/reading.hpp"

namespace ehg::devices::sim {

enum class Profile { kBloodPressure, kPulseOximeter, kThermometer, kWeightScale };

std::optional<Profile> ParseProfile(std::string_view name);
std::string_view ToString(Profile profile);

// Where the simulated resident's values sit; a scenario moves them (e.g. SpO2 falling to 86 %).
struct Physiology {
  double systolic = 132;
  double diastolic = 82;
  double pulse = 74;
  double spo2 = 95;
  double perfusion_index = 3.2;
  double temperature = 36.8;
  double weight = 81.5;
};

// Sets one named physiology parameter (systolic, diastolic, pulse, spo2, perfusion_index, temperature,
// weight); false for an unknown name.
bool SetPhysiology(Physiology& physiology, std::string_view parameter, double value);

// Produces one measurement's readings the way a real device of the profile reports them: values at
// the device's resolution, measurement noise, slow day-to-day drift, and now and then a measurement
// flagged unreliable (cuff loose, motion, finger out). Deterministic for a given seed. Pure.
class MeasurementGenerator {
 public:
  MeasurementGenerator(Profile profile, std::uint64_t seed, double artefact_rate);

  std::vector<core::Reading> Next(const std::string& device_id, core::WallTime now, bool time_uncertain);

  Physiology& physiology() { return physiology_; }
  Profile profile() const { return profile_; }

 private:
  double Noise(double standard_deviation);
  bool Artefact();

  Profile profile_;
  std::mt19937_64 random_;
  double artefact_rate_;
  Physiology physiology_;
  double drift_ = 0;  // slow random walk shared by the profile's main value
};

}  // namespace ehg::devices::sim
