#include "alerts/news2.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using ehg::alerts::ComputeNews2;
using ehg::alerts::Consciousness;
using ehg::alerts::News2Inputs;
using ehg::alerts::News2Parameter;
using ehg::alerts::News2Risk;
using ehg::alerts::SpO2Scale;

namespace {

struct Band {
  double value;
  int score;
};

}  // namespace

// Each vector is the last and the first value of every band on the RCP chart.
TEST_CASE("NEWS2 respiration rate: every band edge") {
  for (const Band band :
       std::vector<Band>{{8, 3}, {9, 1}, {11, 1}, {12, 0}, {20, 0}, {21, 2}, {24, 2}, {25, 3}}) {
    CAPTURE(band.value);
    CHECK(ehg::alerts::ScoreRespirationRate(band.value) == band.score);
  }
}

TEST_CASE("NEWS2 SpO2 scale 1: every band edge") {
  for (const Band band : std::vector<Band>{{91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}, {100, 0}}) {
    CAPTURE(band.value);
    CHECK(ehg::alerts::ScoreSpO2(band.value, SpO2Scale::kScale1, false) == band.score);
    CHECK(ehg::alerts::ScoreSpO2(band.value, SpO2Scale::kScale1, true) == band.score);
  }
}

TEST_CASE("NEWS2 SpO2 scale 2: every band edge, on air and on oxygen") {
  for (const Band band : std::vector<Band>{{83, 3}, {84, 2}, {85, 2}, {86, 1}, {87, 1}, {88, 0}, {92, 0}}) {
    CAPTURE(band.value);
    CHECK(ehg::alerts::ScoreSpO2(band.value, SpO2Scale::kScale2, false) == band.score);
    CHECK(ehg::alerts::ScoreSpO2(band.value, SpO2Scale::kScale2, true) == band.score);
  }
  // 93 and above: 0 on air; scored upwards on oxygen (over-oxygenation of a CO2 retainer).
  for (const Band band : std::vector<Band>{{93, 1}, {94, 1}, {95, 2}, {96, 2}, {97, 3}, {100, 3}}) {
    CAPTURE(band.value);
    CHECK(ehg::alerts::ScoreSpO2(band.value, SpO2Scale::kScale2, false) == 0);
    CHECK(ehg::alerts::ScoreSpO2(band.value, SpO2Scale::kScale2, true) == band.score);
  }
}

TEST_CASE("NEWS2 air or oxygen, consciousness") {
  CHECK(ehg::alerts::ScoreAirOrOxygen(false) == 0);
  CHECK(ehg::alerts::ScoreAirOrOxygen(true) == 2);
  CHECK(ehg::alerts::ScoreConsciousness(Consciousness::kAlert) == 0);
  for (const Consciousness level : {Consciousness::kNewConfusion, Consciousness::kVoice, Consciousness::kPain,
                                    Consciousness::kUnresponsive}) {
    CHECK(ehg::alerts::ScoreConsciousness(level) == 3);
  }
}

TEST_CASE("NEWS2 systolic blood pressure: every band edge") {
  for (const Band band :
       std::vector<Band>{{90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1}, {111, 0}, {219, 0}, {220, 3}}) {
    CAPTURE(band.value);
    CHECK(ehg::alerts::ScoreSystolicBp(band.value) == band.score);
  }
}

TEST_CASE("NEWS2 pulse: every band edge") {
  for (const Band band : std::vector<Band>{
           {40, 3}, {41, 1}, {50, 1}, {51, 0}, {90, 0}, {91, 1}, {110, 1}, {111, 2}, {130, 2}, {131, 3}}) {
    CAPTURE(band.value);
    CHECK(ehg::alerts::ScorePulse(band.value) == band.score);
  }
}

TEST_CASE("NEWS2 temperature: every band edge at one decimal") {
  for (const Band band : std::vector<Band>{
           {35.0, 3}, {35.1, 1}, {36.0, 1}, {36.1, 0}, {38.0, 0}, {38.1, 1}, {39.0, 1}, {39.1, 2}}) {
    CAPTURE(band.value);
    CHECK(ehg::alerts::ScoreTemperature(band.value) == band.score);
  }
}

TEST_CASE("NEWS2 values between the chart's steps round half up to the band's resolution") {
  CHECK(ehg::alerts::ScoreSpO2(95.5, SpO2Scale::kScale1, false) == 0);  // 96
  CHECK(ehg::alerts::ScoreSpO2(95.4, SpO2Scale::kScale1, false) == 1);  // 95
  CHECK(ehg::alerts::ScorePulse(90.4) == 0);                            // 90
  CHECK(ehg::alerts::ScorePulse(90.5) == 1);                            // 91
  CHECK(ehg::alerts::ScoreTemperature(38.05) == 1);     // 38.1, although 38.05 is 38.0499... in binary
  CHECK(ehg::alerts::ScoreTemperature(38.04) == 0);     // 38.0
  CHECK(ehg::alerts::ScoreTemperature(35.04) == 3);     // 35.0
  CHECK(ehg::alerts::ScoreSystolicBp(110.5) == 0);      // 111
  CHECK(ehg::alerts::ScoreRespirationRate(20.5) == 2);  // 21
  CHECK(ehg::alerts::RoundForNews2(News2Parameter::kTemperature, 37.25) == doctest::Approx(37.3));
}

TEST_CASE("NEWS2 aggregate: a complete score with every sub-score in chart order") {
  News2Inputs inputs;
  inputs.respiration_rate = 22;                  // 2
  inputs.spo2 = 93;                              // 2 (scale 1)
  inputs.supplemental_oxygen = true;             // 2
  inputs.systolic_bp = 105;                      // 1
  inputs.pulse = 115;                            // 2
  inputs.consciousness = Consciousness::kAlert;  // 0
  inputs.temperature = 38.5;                     // 1
  const auto score = ComputeNews2(inputs, SpO2Scale::kScale1);
  CHECK(score.total == 10);
  CHECK(score.risk == News2Risk::kHigh);
  CHECK_FALSE(score.partial);
  REQUIRE(score.components.size() == 7);
  const std::vector<int> expected{2, 2, 2, 1, 2, 0, 1};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(score.components[i].score == expected[i]);
  }
  CHECK(score.components[0].parameter == News2Parameter::kRespirationRate);
  CHECK(score.components[6].parameter == News2Parameter::kTemperature);
}

TEST_CASE("NEWS2 clinical risk: 0-4 low, a single 3 low-medium, 5-6 medium, 7+ high") {
  News2Inputs inputs;
  inputs.pulse = 95;          // 1
  inputs.temperature = 38.5;  // 1
  inputs.systolic_bp = 105;   // 1
  inputs.spo2 = 95;           // 1
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).total == 4);
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).risk == News2Risk::kLow);
  inputs.spo2 = 91;  // 3
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).total == 6);
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).risk == News2Risk::kMedium);
  inputs = {};
  inputs.spo2 = 91;  // a single 3, total 3
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).risk == News2Risk::kLowMedium);
  inputs.pulse = 115;  // +2: total 5
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).risk == News2Risk::kMedium);
  inputs.temperature = 39.5;  // +2: total 7
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).risk == News2Risk::kHigh);
  inputs = {};
  inputs.pulse = 115;
  inputs.temperature = 39.5;  // total 4, no single 3
  CHECK(ComputeNews2(inputs, SpO2Scale::kScale1).risk == News2Risk::kLow);
}

TEST_CASE("NEWS2 without respiration rate or consciousness is partial and lists what it used") {
  News2Inputs inputs;
  inputs.spo2 = 90;
  inputs.pulse = 100;
  const auto score = ComputeNews2(inputs, SpO2Scale::kScale2);
  CHECK(score.partial);
  CHECK(score.scale == SpO2Scale::kScale2);
  REQUIRE(score.components.size() == 2);
  CHECK(score.components[0].parameter == News2Parameter::kSpO2);
  CHECK(score.components[0].score == 0);  // 90 is in the scale-2 target range
  CHECK(score.components[1].parameter == News2Parameter::kPulse);
  CHECK(score.components[1].score == 1);
  CHECK(ComputeNews2({}, SpO2Scale::kScale1).components.empty());
}

TEST_CASE("NEWS2 names parse back") {
  for (const auto parameter :
       {News2Parameter::kRespirationRate, News2Parameter::kSpO2, News2Parameter::kAirOrOxygen,
        News2Parameter::kSystolicBp, News2Parameter::kPulse, News2Parameter::kConsciousness,
        News2Parameter::kTemperature}) {
    CHECK(ehg::alerts::ParseNews2Parameter(ehg::alerts::ToString(parameter)) == parameter);
  }
  for (const auto risk : {News2Risk::kLow, News2Risk::kLowMedium, News2Risk::kMedium, News2Risk::kHigh})
    CHECK(ehg::alerts::ParseNews2Risk(ehg::alerts::ToString(risk)) == risk);
}
