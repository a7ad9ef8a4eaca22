#include "devices/serial_protocols/aggregator.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::core::QualityFlag;
using ehg::core::Reading;
using ehg::core::WallTime;
using ehg::devices::serial::AggregationOptions;
using ehg::devices::serial::Aggregator;
using ehg::devices::serial::Sample;

namespace {
const WallTime kStart{std::chrono::milliseconds{1'774'000'000'000}};

Sample Oximetry(double spo2, double pulse, ehg::core::QualityFlags flags = {}) {
  Sample sample;
  sample.values = {{"spo2", spo2}, {"pulse_rate", pulse}};
  sample.flags = flags;
  sample.pleth = 40;
  return sample;
}

const Reading* Find(const std::vector<Reading>& readings, std::string_view metric) {
  for (const Reading& reading : readings) {
    if (reading.metric == metric) return &reading;
  }
  return nullptr;
}
}  // namespace

TEST_CASE("Streaming frames become one reading per metric per window: the lower median") {
  Aggregator aggregator("oximeter", AggregationOptions{1000ms, false});
  std::vector<Reading> out;
  const double spo2[] = {97, 95, 99, 96};
  for (int i = 0; i < 4; ++i)
    aggregator.Add(Oximetry(spo2[i], 70 + i), kStart + i * 200ms, false, out);
  CHECK(out.empty());                                             // the window is still open
  aggregator.Add(Oximetry(90, 60), kStart + 1000ms, false, out);  // opens the next window
  REQUIRE(out.size() == 2);
  const Reading* saturation = Find(out, "spo2");
  REQUIRE(saturation);
  CHECK(saturation->value == 96);  // of 95 96 97 99: the lower middle, a value the device sent
  CHECK(saturation->unit == "%");
  CHECK(saturation->device_id == "oximeter");
  CHECK(saturation->received_at == kStart + 600ms);  // the last sample in the window
  CHECK_FALSE(saturation->device_time);
  CHECK(Find(out, "pulse_rate")->value == 71);
  CHECK(Find(out, "pulse_rate")->unit == "/min");
}

TEST_CASE("A zero window makes every sample a reading at once, flags and finger-out rules kept") {
  Aggregator aggregator("oximeter", AggregationOptions{0ms, false});
  std::vector<Reading> out;
  aggregator.Add(Oximetry(97, 70), kStart, false, out);
  REQUIRE(out.size() == 2);  // not held back until the next sample arrives
  CHECK(Find(out, "spo2")->value == 97);
  CHECK(Find(out, "spo2")->received_at == kStart);
  out.clear();
  aggregator.Add(Oximetry(86, 71, ehg::core::QualityFlags().Set(QualityFlag::kMotionArtefact)),
                 kStart + 333ms, true, out);
  REQUIRE(out.size() == 2);
  CHECK(Find(out, "spo2")->value == 86);
  CHECK(Find(out, "spo2")->flags.Has(QualityFlag::kMotionArtefact));
  CHECK(Find(out, "spo2")->time_uncertain);
  out.clear();
  Sample finger_out;
  finger_out.flags.Set(QualityFlag::kFingerOut);
  aggregator.Add(finger_out, kStart + 666ms, false, out);
  CHECK(out.empty());
  aggregator.Flush(kStart + 5s, true, out);
  CHECK(out.empty());
}

TEST_CASE("A window where the finger was out throughout yields no clinical reading") {
  Aggregator aggregator("oximeter", AggregationOptions{1000ms, false});
  std::vector<Reading> out;
  Sample finger_out;
  finger_out.flags.Set(QualityFlag::kFingerOut);
  finger_out.pleth = 3;
  for (int i = 0; i < 60; ++i)
    aggregator.Add(finger_out, kStart + i * 17ms, false, out);
  aggregator.Flush(kStart + 5s, true, out);
  CHECK(out.empty());
}

TEST_CASE("Quality flags of the frames that carried a value travel with the window's reading") {
  Aggregator aggregator("oximeter", AggregationOptions{1000ms, false});
  std::vector<Reading> out;
  aggregator.Add(Oximetry(97, 70), kStart, false, out);
  aggregator.Add(Oximetry(96, 70, ehg::core::QualityFlags().Set(QualityFlag::kLowPerfusion)), kStart + 100ms,
                 false, out);
  aggregator.Add(Oximetry(97, 70), kStart + 200ms, true, out);
  aggregator.Flush(kStart + 1000ms, false, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].flags.Has(QualityFlag::kLowPerfusion));
  CHECK(out[0].time_uncertain);  // one sample arrived while the clock was not synchronised
}

TEST_CASE("Flush closes a window only after its end unless forced") {
  Aggregator aggregator("oximeter", AggregationOptions{2000ms, false});
  std::vector<Reading> out;
  aggregator.Add(Oximetry(97, 70), kStart, false, out);
  aggregator.Flush(kStart + 1999ms, false, out);
  CHECK(out.empty());
  aggregator.Flush(kStart + 2000ms, false, out);
  CHECK(out.size() == 2);
  out.clear();
  aggregator.Add(Oximetry(97, 70), kStart + 3s, false, out);
  aggregator.Flush(kStart + 3s, true, out);
  CHECK(out.size() == 2);
}

TEST_CASE("Waveform points become pleth readings only when configured") {
  std::vector<Reading> out;
  Aggregator quiet("oximeter", AggregationOptions{1000ms, false});
  Aggregator waveform("oximeter", AggregationOptions{1000ms, true});
  for (int i = 0; i < 75; ++i) {
    Sample point;
    point.pleth = i;
    quiet.Add(point, kStart + i * 13ms, false, out);
  }
  CHECK(out.empty());
  for (int i = 0; i < 75; ++i) {
    Sample point;
    point.pleth = i;
    waveform.Add(point, kStart + i * 13ms, false, out);
  }
  REQUIRE(out.size() == 75);
  CHECK(out[10].metric == "pleth");
  CHECK(out[10].value == 10);
  CHECK(out[10].received_at == kStart + 130ms);
  CHECK(ehg::core::ValidateReading(out[10]));
}

TEST_CASE("Records pass through one by one with their device time converted from local time") {
  const WallTime converted{std::chrono::milliseconds{1'710'484'200'000}};
  Aggregator aggregator("bp-monitor", AggregationOptions{1000ms, false},
                        [&](const ehg::devices::serial::CivilTime& time) -> std::optional<WallTime> {
                          CHECK(time.hour == 7);
                          return converted;
                        });
  Sample record;
  record.values = {{"bp.systolic", 120}, {"bp.diastolic", 80}};
  record.device_local_time = ehg::devices::serial::CivilTime{2024, 3, 15, 7, 30, 0};
  record.flags.Set(QualityFlag::kIrregularPulse);
  std::vector<Reading> out;
  aggregator.Add(record, kStart, false, out);
  aggregator.Add(record, kStart + 10ms, false, out);
  REQUIRE(out.size() == 4);  // never averaged, even when two arrive together
  CHECK(out[0].metric == "bp.systolic");
  CHECK(out[0].device_time == converted);
  CHECK(out[0].received_at == kStart);
  CHECK(out[0].flags.Has(QualityFlag::kIrregularPulse));
  CHECK(out[1].unit == "mm[Hg]");
}
