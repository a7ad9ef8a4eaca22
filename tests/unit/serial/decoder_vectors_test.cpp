// Worked example frames of each serial protocol (real captures where there are any) and the edge cases of
// each layout. The byte layouts and these frames are in docs/protocols.md: "the reference" in the test
// names below means the frames listed there.
#include <doctest/doctest.h>

#include "devices/serial_protocols/decoders.hpp"
#include "serial_test_support.hpp"

using ehg::core::QualityFlag;
using serial_test::Decode;
using serial_test::Hex;
using serial_test::ValueOf;
using serial_test::WithValues;

TEST_CASE("Contec 5-byte frames from the reference decode to pulse, SpO2 and pleth") {
  const auto samples = Decode("contec-cms50-5", Hex("85 35 08 48 61  85 35 48 02 60"));
  REQUIRE(samples.size() == 2);
  CHECK(samples[0].pleth == 53);
  CHECK(ValueOf(samples[0], "pulse_rate") == 72);
  CHECK(ValueOf(samples[0], "spo2") == 97);
  CHECK(samples[0].flags.Clean());
  // Bit 6 of byte 2 is bit 7 of the pulse rate: 0x80 | 2.
  CHECK(ValueOf(samples[1], "pulse_rate") == 130);
  CHECK(ValueOf(samples[1], "spo2") == 96);
}

TEST_CASE("Contec 5-byte frames with finger out, searching or probe error carry no clinical value") {
  // Byte 0 bit 4: searching too long (finger out); byte 2 bit 5: searching; byte 2 bit 4: probe error.
  const auto samples = Decode("contec-cms50-5", Hex("95 35 08 48 61  85 35 28 48 61  85 35 18 48 61"));
  REQUIRE(samples.size() == 3);
  CHECK(samples[0].flags.Has(QualityFlag::kFingerOut));
  CHECK(samples[1].flags.Has(QualityFlag::kSearching));
  CHECK(samples[2].flags.Has(QualityFlag::kSensorError));
  for (const auto& sample : samples) {
    CHECK(sample.values.empty());
    CHECK(sample.pleth == 53);  // the waveform is still the device's
  }
}

TEST_CASE("Contec 5-byte no-value markers (SpO2 127 or 0, pulse 255 or 0) give no value") {
  // SpO2 0x7F with pulse 0xFF (bit 6 of byte 2 set, 0x7F); then SpO2 0 and pulse 0.
  const auto samples = Decode("contec-cms50-5", Hex("85 35 48 7F 7F  85 35 08 00 00"));
  REQUIRE(samples.size() == 2);
  CHECK(samples[0].values.empty());
  CHECK(samples[1].values.empty());
}

TEST_CASE("Contec 9-byte real capture from MarkMLl decodes to pulse 61 and SpO2 99 without PI") {
  const auto samples = Decode("contec-cms50-9", Hex("01 E0 85 D5 9A BD E3 FF FF"));
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].pleth == 85);
  CHECK(ValueOf(samples[0], "pulse_rate") == 61);
  CHECK(ValueOf(samples[0], "spo2") == 99);
  CHECK_FALSE(ValueOf(samples[0], "perfusion_index"));  // PI invalid bit and 0xFFFF
  CHECK(samples[0].flags.Clean());
}

TEST_CASE("Contec 9-byte high-bit byte restores bit 7 of the pulse rate") {
  const auto samples = Decode("contec-cms50-9", Hex("01 88 85 D5 9A 82 E1 80 80"));
  REQUIRE(samples.size() == 1);
  CHECK(ValueOf(samples[0], "pulse_rate") == 130);
  CHECK(ValueOf(samples[0], "spo2") == 97);
}

TEST_CASE("Contec 9-byte perfusion index in hundredths of a percent when valid") {
  // d2 = 0x05 (PI valid), d5..d6 = 0x0140 = 320 -> 3.20 %: bit 7 of d5/d6 clear.
  const auto samples = Decode("contec-cms50-9", Hex("01 80 85 D5 85 C8 E1 C0 81"));
  REQUIRE(samples.size() == 1);
  CHECK(ValueOf(samples[0], "perfusion_index") == doctest::Approx(3.20));
  CHECK(ValueOf(samples[0], "pulse_rate") == 72);
}

TEST_CASE("Contec 9-byte probe error and searching frames carry no clinical value") {
  // High-bit byte bit 0 -> d0 bit 7 (probe error / finger out); bit 1 -> d1 bit 7 (searching).
  const auto samples = Decode("contec-cms50-9", Hex("01 81 85 D5 9A BD E3 FF FF  01 82 85 D5 9A BD E3 FF FF"));
  REQUIRE(samples.size() == 2);
  CHECK(samples[0].flags.Has(QualityFlag::kFingerOut));
  CHECK(samples[1].flags.Has(QualityFlag::kSearching));
  CHECK(samples[0].values.empty());
  CHECK(samples[1].values.empty());
}

TEST_CASE("Contec 9-byte replies and unknown packet types are framed and skipped, then live data decodes") {
  auto decoder = ehg::devices::serial::MakeDecoder("contec-cms50-9");
  std::vector<ehg::devices::serial::Sample> samples;
  // Command feedback (0x0B, 4 bytes), an unknown type 0x3C with 3 data bytes, then real-time data.
  decoder->Feed(Hex("0B 80 A1 80  3C 80 81 82  01 E0 85 D5 9A BD E3 FF FF"), samples);
  REQUIRE(samples.size() == 1);
  CHECK(ValueOf(samples[0], "spo2") == 99);
  CHECK(decoder->stats().frames == 2);
  CHECK(decoder->stats().bad_frames == 1);
  CHECK(decoder->stats().last_error == "unknown packet type 0x3C");
}

TEST_CASE("Contec 9-byte packet cut short by a lost byte is refused, not misread") {
  auto decoder = ehg::devices::serial::MakeDecoder("contec-cms50-9");
  std::vector<ehg::devices::serial::Sample> samples;
  decoder->Feed(Hex("01 E0 85 D5 9A BD E3 FF  01 E0 85 D5 9A BD E3 FF FF"), samples);
  REQUIRE(samples.size() == 1);
  CHECK(decoder->stats().bad_frames == 1);
  CHECK(decoder->stats().last_error.find("cut short") != std::string::npos);
}

namespace {
// A DF2 packet: the three frames docs/protocols.md lists for the tests (HR 72, SpO2 97), then 22 more.
std::vector<std::uint8_t> Df2Packet(std::uint8_t status, std::uint8_t stat2 = 0) {
  std::vector<std::uint8_t> bytes = Hex("01 81 50 00 D2  01 80 52 48 1B  01 80 55 61 37");
  bytes[1] = static_cast<std::uint8_t>(bytes[1] | status);
  bytes[4] = static_cast<std::uint8_t>(bytes[0] + bytes[1] + bytes[2] + bytes[3]);
  for (int frame = 4; frame <= 25; ++frame) {
    const std::uint8_t table = frame == 8 ? stat2 : 0;
    const std::uint8_t frame_status = static_cast<std::uint8_t>(0x80 | status);
    const std::uint8_t pleth = static_cast<std::uint8_t>(0x50 + frame);
    bytes.insert(bytes.end(), {0x01, frame_status, pleth, table,
                               static_cast<std::uint8_t>(0x01 + frame_status + pleth + table)});
  }
  return bytes;
}
}  // namespace

TEST_CASE("Nonin DF2 real frames from mattjlewis pass the checksum and give the waveform") {
  const auto samples = Decode("nonin-df2", Hex("01 80 49 00 CA  01 80 46 4A 11  01 81 AF 00 31"));
  REQUIRE(samples.size() == 3);
  CHECK(samples[0].pleth == 0x49);
  CHECK(samples[1].pleth == 0x46);
  CHECK(samples[2].pleth == 0xAF);
  CHECK(WithValues(samples).empty());  // values come at the end of a packet that began with SYNC
}

TEST_CASE("Nonin DF2 packet of 25 frames gives HR 72 and SpO2 97 from the reference frames") {
  const auto samples = Decode("nonin-df2", Df2Packet(0));
  REQUIRE(samples.size() == 25);
  const auto valued = WithValues(samples);
  REQUIRE(valued.size() == 1);
  CHECK(ValueOf(valued[0], "pulse_rate") == 72);
  CHECK(ValueOf(valued[0], "spo2") == 97);
  CHECK(valued[0].flags.Clean());
  CHECK_FALSE(valued[0].battery_low);
}

TEST_CASE("Nonin DF2 status bits become quality flags and a sensor alarm removes the values") {
  const auto artefact = WithValues(Decode("nonin-df2", Df2Packet(0x20)));
  REQUIRE(artefact.size() == 1);
  CHECK(artefact[0].flags.Has(QualityFlag::kMotionArtefact));
  const auto out_of_track = WithValues(Decode("nonin-df2", Df2Packet(0x10)));
  REQUIRE(out_of_track.size() == 1);
  CHECK(out_of_track[0].flags.Has(QualityFlag::kOutOfTrack));
  const auto red = WithValues(Decode("nonin-df2", Df2Packet(0x04)));
  REQUIRE(red.size() == 1);
  CHECK(red[0].flags.Has(QualityFlag::kLowPerfusion));
  const auto green = WithValues(Decode("nonin-df2", Df2Packet(0x02)));
  REQUIRE(green.size() == 1);
  CHECK(green[0].flags.Clean());
  // SNSA (finger removed) and SNSD (sensor disconnected): flagged, no values.
  for (const std::uint8_t status : {std::uint8_t{0x08}, std::uint8_t{0x40}}) {
    const auto samples = Decode("nonin-df2", Df2Packet(status));
    REQUIRE(samples.size() == 25);
    CHECK(WithValues(samples).empty());
    CHECK_FALSE(samples.back().flags.Clean());
  }
}

TEST_CASE("Nonin DF2 STAT2 low battery bit is reported") {
  const auto samples = WithValues(Decode("nonin-df2", Df2Packet(0, 0x01)));
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].battery_low);
}

TEST_CASE("Nonin DF2 missing-data markers HR 511 and SpO2 127 give no value") {
  std::vector<std::uint8_t> bytes;
  const std::uint8_t table[4] = {0, 0x03, 0x7F, 0x7F};
  for (int frame = 1; frame <= 25; ++frame) {
    const std::uint8_t status = frame == 1 ? 0x81 : 0x80;
    const std::uint8_t value = frame <= 3 ? table[frame] : 0;
    bytes.insert(bytes.end(), {0x01, status, 0x40, value, static_cast<std::uint8_t>(0x01 + status + 0x40 + value)});
  }
  const auto samples = Decode("nonin-df2", bytes);
  REQUIRE(samples.size() == 25);
  CHECK(WithValues(samples).empty());
}

TEST_CASE("Nonin DF2 frame with a wrong checksum is refused and the stream resynchronises") {
  auto decoder = ehg::devices::serial::MakeDecoder("nonin-df2");
  std::vector<ehg::devices::serial::Sample> samples;
  decoder->Feed(Hex("01 80 49 00 CB  01 80 46 4A 11"), samples);
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].pleth == 0x46);
  CHECK(decoder->stats().bad_frames == 1);
  CHECK(decoder->stats().last_error == "checksum mismatch");
}

TEST_CASE("Nonin DF2 packet cut short by a new SYNC is counted, and the new packet decodes") {
  auto decoder = ehg::devices::serial::MakeDecoder("nonin-df2");
  std::vector<ehg::devices::serial::Sample> samples;
  auto bytes = Df2Packet(0);
  bytes.resize(10 * 5);  // ten frames of a packet, then a whole one
  const auto whole = Df2Packet(0);
  bytes.insert(bytes.end(), whole.begin(), whole.end());
  decoder->Feed(bytes, samples);
  CHECK(WithValues(samples).size() == 1);
  CHECK(decoder->stats().incomplete_packets == 1);
}

TEST_CASE("Nonin DF7 carries 16-bit pleth and the same packet table") {
  std::vector<std::uint8_t> bytes;
  const std::uint8_t table[4] = {0, 0x00, 0x48, 0x61};
  for (int frame = 1; frame <= 25; ++frame) {
    const std::uint8_t status = frame == 1 ? 0x83 : 0x82;
    const std::uint8_t value = frame <= 3 ? table[frame] : 0;
    const std::uint8_t high = 0x12;
    const std::uint8_t low = static_cast<std::uint8_t>(0x30 + frame);
    bytes.insert(bytes.end(), {status, high, low, value, static_cast<std::uint8_t>(status + high + low + value)});
  }
  const auto samples = Decode("nonin-df7", bytes);
  REQUIRE(samples.size() == 25);
  CHECK(samples[0].pleth == 0x1231);
  const auto valued = WithValues(samples);
  REQUIRE(valued.size() == 1);
  CHECK(ValueOf(valued[0], "pulse_rate") == 72);
  CHECK(ValueOf(valued[0], "spo2") == 97);
}

TEST_CASE("Nonin DF8 examples from the reference: 72/97, 130/98 and missing with sensor alarm") {
  const auto samples = Decode("nonin-df8", Hex("80 48 61 20  81 02 62 00  83 7F 7F 08"));
  REQUIRE(samples.size() == 3);
  CHECK(ValueOf(samples[0], "pulse_rate") == 72);
  CHECK(ValueOf(samples[0], "spo2") == 97);
  CHECK(ValueOf(samples[1], "pulse_rate") == 130);  // HR bits 8-7 in the status byte, combined with |
  CHECK(ValueOf(samples[1], "spo2") == 98);
  CHECK(samples[2].values.empty());
  CHECK(samples[2].flags.Has(QualityFlag::kFingerOut));
}

TEST_CASE("Nonin DF8 status bits: out of track, low perfusion, artefact, and marginal perfusion is not a flag") {
  const auto samples = Decode("nonin-df8", Hex("A0 48 61 00  90 48 61 00  84 48 61 00  88 48 61 00  80 48 61 01"));
  REQUIRE(samples.size() == 5);
  CHECK(samples[0].flags.Has(QualityFlag::kOutOfTrack));
  CHECK(samples[1].flags.Has(QualityFlag::kLowPerfusion));
  CHECK(samples[2].flags.Has(QualityFlag::kMotionArtefact));
  CHECK(samples[3].flags.Clean());
  CHECK(samples[4].battery_low);
  for (const auto& sample : samples)
    CHECK(ValueOf(sample, "spo2") == 97);
}

TEST_CASE("Beurer record from the reference: 120/80 mmHg, pulse 72, 2024-03-15 07:30") {
  const auto samples = Decode("beurer-bm", Hex("80 5F 37 48 03 0F 07 1E 18"));
  REQUIRE(samples.size() == 1);
  CHECK(ValueOf(samples[0], "bp.systolic") == 120);
  CHECK(ValueOf(samples[0], "bp.diastolic") == 80);
  CHECK(ValueOf(samples[0], "pulse_rate") == 72);
  REQUIRE(samples[0].device_local_time);
  CHECK(*samples[0].device_local_time == ehg::devices::serial::CivilTime{2024, 3, 15, 7, 30, 0});
  CHECK(samples[0].user == 1);
  CHECK(samples[0].flags.Clean());
}

TEST_CASE("Beurer record flag bits: movement, arrhythmia and the second user") {
  const auto samples = Decode("beurer-bm", Hex("80 5F 37 48 83 8F 07 1E 98"));
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].flags.Has(QualityFlag::kMotionArtefact));
  CHECK(samples[0].flags.Has(QualityFlag::kIrregularPulse));
  CHECK(samples[0].user == 2);
  CHECK(samples[0].device_local_time->year == 2024);
}

TEST_CASE("Beurer records with an impossible date, time or pressure are refused") {
  std::string why;
  const auto month_13 = Hex("80 5F 37 48 0D 0F 07 1E 18");
  CHECK_FALSE(ehg::devices::serial::DecodeBeurerRecord(std::span<const std::uint8_t, 9>(month_13.data(), 9), why));
  CHECK(why == "record with an impossible date or time");
  const auto minute_60 = Hex("80 5F 37 48 03 0F 07 3C 18");
  CHECK_FALSE(ehg::devices::serial::DecodeBeurerRecord(std::span<const std::uint8_t, 9>(minute_60.data(), 9), why));
  const auto inverted = Hex("80 37 5F 48 03 0F 07 1E 18");
  CHECK_FALSE(ehg::devices::serial::DecodeBeurerRecord(std::span<const std::uint8_t, 9>(inverted.data(), 9), why));
  CHECK(why == "record with systolic not above diastolic");
}

TEST_CASE("Every protocol name has a decoder and line settings, unknown names have neither") {
  for (const std::string_view name : ehg::devices::serial::ProtocolNames()) {
    CAPTURE(name);
    CHECK(ehg::devices::serial::MakeDecoder(name) != nullptr);
    const auto info = ehg::devices::serial::FindProtocol(name);
    REQUIRE(info);
    CHECK(info->name == name);
  }
  CHECK(ehg::devices::serial::MakeDecoder("contec") == nullptr);
  CHECK_FALSE(ehg::devices::serial::FindProtocol("contec"));
  const auto contec9 = ehg::devices::serial::FindProtocol("contec-cms50-9");
  CHECK(contec9->baud == 115200);
  CHECK(contec9->start_command == Hex("7D 81 A1 80 80 80 80 80 80"));
  CHECK(contec9->keepalive == Hex("7D 81 AF 80 80 80 80 80 80"));
  CHECK(ehg::devices::serial::FindProtocol("contec-cms50-5")->parity == ehg::devices::serial::Parity::kOdd);
  CHECK(ehg::devices::serial::FindProtocol("beurer-bm")->baud == 4800);
}
