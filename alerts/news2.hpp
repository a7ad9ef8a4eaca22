#pragma once

#include <optional>
#include <string_view>
#include <vector>

// NEWS2 (Royal College of Physicians, 2017), the bands of its chart as docs/rules.md describes them. Pure.
namespace ehg::alerts {

enum class News2Parameter {
  kRespirationRate,
  kSpO2,
  kAirOrOxygen,
  kSystolicBp,
  kPulse,
  kConsciousness,
  kTemperature,
};
inline constexpr std::size_t kNews2ParameterCount = 7;

std::string_view ToString(News2Parameter parameter);
std::optional<News2Parameter> ParseNews2Parameter(std::string_view name);

// Scale 2 is for hypercapnic respiratory failure (target SpO2 88-92 %), chosen per resident.
enum class SpO2Scale { kScale1 = 1, kScale2 = 2 };

// ACVPU as the `consciousness` metric codes it.
enum class Consciousness { kAlert = 0, kNewConfusion = 1, kVoice = 2, kPain = 3, kUnresponsive = 4 };

// Whatever is known; an empty parameter is left out of the score (and makes it partial).
struct News2Inputs {
  std::optional<double> respiration_rate;  // /min
  std::optional<double> spo2;              // %
  std::optional<bool> supplemental_oxygen;
  std::optional<double> systolic_bp;  // mm[Hg]
  std::optional<double> pulse;        // /min
  std::optional<Consciousness> consciousness;
  std::optional<double> temperature;  // Cel
};

// Low 0-4; low-medium: 0-4 with one parameter scoring 3; medium 5-6; high 7 or more.
enum class News2Risk { kLow = 0, kLowMedium = 1, kMedium = 2, kHigh = 3 };
std::string_view ToString(News2Risk risk);
std::optional<News2Risk> ParseNews2Risk(std::string_view name);

struct News2SubScore {
  News2Parameter parameter;
  double value = 0;  // as scored, after rounding to the band's resolution
  int score = 0;

  friend bool operator==(const News2SubScore&, const News2SubScore&) = default;
};

struct News2Score {
  int total = 0;
  News2Risk risk = News2Risk::kLow;
  SpO2Scale scale = SpO2Scale::kScale1;
  bool partial = false;                   // some of the seven parameters were not known
  std::vector<News2SubScore> components;  // the parameters used, in chart order

  friend bool operator==(const News2Score&, const News2Score&) = default;
};

// The chart's bands are integers (temperature: one decimal). A value in between is rounded half up to
// that resolution before banding: SpO2 95.5 scores as 96, pulse 90.4 as 90, 38.05 degC as 38.1.
double RoundForNews2(News2Parameter parameter, double value);

int ScoreRespirationRate(double per_minute);
int ScoreSpO2(double percent, SpO2Scale scale, bool on_oxygen);
int ScoreAirOrOxygen(bool on_oxygen);
int ScoreSystolicBp(double mm_hg);
int ScorePulse(double per_minute);
int ScoreConsciousness(Consciousness level);
int ScoreTemperature(double celsius);

// Scores what is known. On scale 2, SpO2 >= 93 scores as on air unless oxygen is known to be given.
News2Score ComputeNews2(const News2Inputs& inputs, SpO2Scale scale);

}  // namespace ehg::alerts
