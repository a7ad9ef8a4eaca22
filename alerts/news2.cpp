#include "alerts/news2.hpp"

#include <array>
#include <cmath>
#include <utility>

namespace ehg::alerts {
namespace {

constexpr std::array<std::pair<News2Parameter, std::string_view>, kNews2ParameterCount> kParameterNames{{
    {News2Parameter::kRespirationRate, "respiration_rate"},
    {News2Parameter::kSpO2, "spo2"},
    {News2Parameter::kAirOrOxygen, "air_or_oxygen"},
    {News2Parameter::kSystolicBp, "systolic_bp"},
    {News2Parameter::kPulse, "pulse"},
    {News2Parameter::kConsciousness, "consciousness"},
    {News2Parameter::kTemperature, "temperature"},
}};

constexpr std::array<std::pair<News2Risk, std::string_view>, 4> kRiskNames{{
    {News2Risk::kLow, "low"},
    {News2Risk::kLowMedium, "low_medium"},
    {News2Risk::kMedium, "medium"},
    {News2Risk::kHigh, "high"},
}};

// Half up at `resolution`. The small nudge keeps decimal halves that binary cannot hold exactly
// (38.05 is 38.04999...) on the side a person reading the display would expect.
double RoundHalfUp(double value, int steps_per_unit) {
  const double steps = static_cast<double>(steps_per_unit);
  // Divided (not multiplied by 0.1) so 38.4 comes back as the double nearest 38.4.
  return std::floor(value * steps + 0.5 + 1e-9) / steps;
}

}  // namespace

std::string_view ToString(News2Parameter parameter) {
  for (const auto& [value, name] : kParameterNames) {
    if (value == parameter) return name;
  }
  return "unknown";
}

std::optional<News2Parameter> ParseNews2Parameter(std::string_view name) {
  for (const auto& [value, value_name] : kParameterNames) {
    if (value_name == name) return value;
  }
  return std::nullopt;
}

std::string_view ToString(News2Risk risk) {
  for (const auto& [value, name] : kRiskNames) {
    if (value == risk) return name;
  }
  return "low";
}

std::optional<News2Risk> ParseNews2Risk(std::string_view name) {
  for (const auto& [value, value_name] : kRiskNames) {
    if (value_name == name) return value;
  }
  return std::nullopt;
}

double RoundForNews2(News2Parameter parameter, double value) {
  return RoundHalfUp(value, parameter == News2Parameter::kTemperature ? 10 : 1);
}

int ScoreRespirationRate(double per_minute) {
  const double rate = RoundForNews2(News2Parameter::kRespirationRate, per_minute);
  if (rate <= 8) return 3;
  if (rate <= 11) return 1;
  if (rate <= 20) return 0;
  if (rate <= 24) return 2;
  return 3;
}

int ScoreSpO2(double percent, SpO2Scale scale, bool on_oxygen) {
  const double spo2 = RoundForNews2(News2Parameter::kSpO2, percent);
  if (scale == SpO2Scale::kScale1) {
    if (spo2 <= 91) return 3;
    if (spo2 <= 93) return 2;
    if (spo2 <= 95) return 1;
    return 0;
  }
  if (spo2 <= 83) return 3;
  if (spo2 <= 85) return 2;
  if (spo2 <= 87) return 1;
  if (spo2 <= 92 || !on_oxygen) return 0;
  if (spo2 <= 94) return 1;
  if (spo2 <= 96) return 2;
  return 3;
}

int ScoreAirOrOxygen(bool on_oxygen) {
  return on_oxygen ? 2 : 0;
}

int ScoreSystolicBp(double mm_hg) {
  const double systolic = RoundForNews2(News2Parameter::kSystolicBp, mm_hg);
  if (systolic <= 90) return 3;
  if (systolic <= 100) return 2;
  if (systolic <= 110) return 1;
  if (systolic <= 219) return 0;
  return 3;
}

int ScorePulse(double per_minute) {
  const double pulse = RoundForNews2(News2Parameter::kPulse, per_minute);
  if (pulse <= 40) return 3;
  if (pulse <= 50) return 1;
  if (pulse <= 90) return 0;
  if (pulse <= 110) return 1;
  if (pulse <= 130) return 2;
  return 3;
}

int ScoreConsciousness(Consciousness level) {
  return level == Consciousness::kAlert ? 0 : 3;
}

int ScoreTemperature(double celsius) {
  const double temperature = RoundForNews2(News2Parameter::kTemperature, celsius);
  // Compared in tenths so that 35.0 and 36.0 fall on the side the chart puts them.
  const long tenths = std::lround(temperature * 10);
  if (tenths <= 350) return 3;
  if (tenths <= 360) return 1;
  if (tenths <= 380) return 0;
  if (tenths <= 390) return 1;
  return 2;
}

News2Score ComputeNews2(const News2Inputs& inputs, SpO2Scale scale) {
  News2Score result;
  result.scale = scale;
  const auto add = [&result](News2Parameter parameter, double value, int score) {
    result.components.push_back({parameter, RoundForNews2(parameter, value), score});
    result.total += score;
  };
  if (inputs.respiration_rate) {
    add(News2Parameter::kRespirationRate, *inputs.respiration_rate,
        ScoreRespirationRate(*inputs.respiration_rate));
  }
  if (inputs.spo2) {
    add(News2Parameter::kSpO2, *inputs.spo2,
        ScoreSpO2(*inputs.spo2, scale, inputs.supplemental_oxygen.value_or(false)));
  }
  if (inputs.supplemental_oxygen) {
    add(News2Parameter::kAirOrOxygen, *inputs.supplemental_oxygen ? 1 : 0,
        ScoreAirOrOxygen(*inputs.supplemental_oxygen));
  }
  if (inputs.systolic_bp)
    add(News2Parameter::kSystolicBp, *inputs.systolic_bp, ScoreSystolicBp(*inputs.systolic_bp));
  if (inputs.pulse) add(News2Parameter::kPulse, *inputs.pulse, ScorePulse(*inputs.pulse));
  if (inputs.consciousness) {
    add(News2Parameter::kConsciousness, static_cast<double>(*inputs.consciousness),
        ScoreConsciousness(*inputs.consciousness));
  }
  if (inputs.temperature)
    add(News2Parameter::kTemperature, *inputs.temperature, ScoreTemperature(*inputs.temperature));

  result.partial = result.components.size() < kNews2ParameterCount;
  bool single_three = false;
  for (const News2SubScore& component : result.components)
    single_three = single_three || component.score == 3;
  if (result.total >= 7) {
    result.risk = News2Risk::kHigh;
  } else if (result.total >= 5) {
    result.risk = News2Risk::kMedium;
  } else if (single_three) {
    result.risk = News2Risk::kLowMedium;
  } else {
    result.risk = News2Risk::kLow;
  }
  return result;
}

}  // namespace ehg::alerts
