// Properties every decoder must have, whatever the device family: the same samples for any chunking of
// a stream, and resynchronisation after garbage.
#include <doctest/doctest.h>

#include <random>

#include "devices/serial_protocols/decoders.hpp"
#include "devices/sim/serial_frames.hpp"
#include "serial_test_support.hpp"

using ehg::devices::serial::Sample;
using ehg::devices::sim::OximeterFrame;
using serial_test::WithValues;

namespace {

// A valid stream of `count` measurements as the device family sends it, with some finger-out frames.
std::vector<std::uint8_t> ValidStream(std::string_view protocol, int count, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> spo2(85, 100);
  std::uniform_int_distribution<int> pulse(40, 180);
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < count; ++i) {
    OximeterFrame frame;
    frame.spo2 = spo2(random);
    frame.pulse_rate = pulse(random);
    frame.pleth = i % 100;
    frame.finger_out = i % 7 == 3;
    frame.low_perfusion = i % 5 == 1;
    std::vector<std::uint8_t> more;
    if (protocol == "contec-cms50-5") more = ehg::devices::sim::EncodeContec5(frame);
    if (protocol == "contec-cms50-9") more = ehg::devices::sim::EncodeContec9(frame);
    if (protocol == "nonin-df8") more = ehg::devices::sim::EncodeNoninDf8(frame);
    std::array<int, 25> pleth{};
    for (std::size_t p = 0; p < pleth.size(); ++p)
      pleth[p] = static_cast<int>(p * 4);
    if (protocol == "nonin-df2") more = ehg::devices::sim::EncodeNoninDf2Packet(frame, pleth);
    if (protocol == "nonin-df7") more = ehg::devices::sim::EncodeNoninDf7Packet(frame, pleth);
    if (protocol == "ascii") {
      const std::string line = ehg::devices::sim::EncodeAsciiLine(frame);
      more.assign(line.begin(), line.end());
    }
    if (protocol == "beurer-bm") {
      ehg::devices::sim::BloodPressureRecord record;
      record.systolic = 100 + frame.spo2;
      record.diastolic = frame.pulse_rate / 2 + 20;
      record.pulse = frame.pulse_rate;
      record.day = 1 + i % 28;
      record.minute = i % 60;
      more = ehg::devices::sim::EncodeBeurerRecord(record);
    }
    bytes.insert(bytes.end(), more.begin(), more.end());
  }
  return bytes;
}

// Measurements per protocol unit, so that each stream has several samples with values.
int Units(std::string_view protocol) {
  return protocol.starts_with("nonin-df2") || protocol.starts_with("nonin-df7") ? 4 : 12;
}

struct Decoded {
  std::vector<Sample> samples;
  ehg::devices::serial::DecoderStats stats;
};

Decoded DecodeInChunks(std::string_view protocol, const std::vector<std::uint8_t>& bytes,
                       const std::vector<std::size_t>& cuts) {
  auto decoder = ehg::devices::serial::MakeDecoder(protocol);
  Decoded decoded;
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    decoder->Feed(std::span(bytes).subspan(from, cut - from), decoded.samples);
    from = cut;
  }
  decoder->Feed(std::span(bytes).subspan(from), decoded.samples);
  decoded.stats = decoder->stats();
  return decoded;
}

std::vector<std::uint8_t> Garbage(std::mt19937& random, std::size_t length) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> bytes(length);
  for (auto& b : bytes)
    b = static_cast<std::uint8_t>(byte(random));
  return bytes;
}

// The last `n` elements of `all`.
std::vector<Sample> Tail(const std::vector<Sample>& all, std::size_t n) {
  return {all.end() - static_cast<std::ptrdiff_t>(std::min(n, all.size())), all.end()};
}

}  // namespace

TEST_CASE("Every split of a stream into two reads gives the same samples and counters as one read") {
  for (const std::string_view protocol : ehg::devices::serial::ProtocolNames()) {
    CAPTURE(protocol);
    std::mt19937 random(7);
    // Garbage inside the stream, so that resynchronisation is split too.
    auto bytes = ValidStream(protocol, Units(protocol) / 2, 1);
    const auto middle = Garbage(random, 23);
    const auto rest = ValidStream(protocol, Units(protocol) / 2, 2);
    bytes.insert(bytes.end(), middle.begin(), middle.end());
    bytes.insert(bytes.end(), rest.begin(), rest.end());
    const Decoded whole = DecodeInChunks(protocol, bytes, {});
    REQUIRE_FALSE(WithValues(whole.samples).empty());
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
      const Decoded split = DecodeInChunks(protocol, bytes, {cut});
      CHECK_MESSAGE(split.samples == whole.samples, "split at byte " << cut);
      CHECK_MESSAGE(split.stats == whole.stats, "split at byte " << cut);
    }
  }
}

TEST_CASE("One byte per read and random read sizes give the same samples as one read") {
  for (const std::string_view protocol : ehg::devices::serial::ProtocolNames()) {
    CAPTURE(protocol);
    std::mt19937 random(11);
    auto bytes = ValidStream(protocol, Units(protocol), 3);
    const Decoded whole = DecodeInChunks(protocol, bytes, {});
    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < bytes.size(); ++i)
      every_byte.push_back(i);
    CHECK(DecodeInChunks(protocol, bytes, every_byte).samples == whole.samples);
    for (int round = 0; round < 20; ++round) {
      std::vector<std::size_t> cuts;
      std::uniform_int_distribution<std::size_t> step(1, 40);
      for (std::size_t at = step(random); at < bytes.size(); at += step(random))
        cuts.push_back(at);
      CHECK(DecodeInChunks(protocol, bytes, cuts).samples == whole.samples);
    }
  }
}

TEST_CASE("After random garbage every decoder finds the frames again") {
  for (const std::string_view protocol : ehg::devices::serial::ProtocolNames()) {
    CAPTURE(protocol);
    const auto valid = ValidStream(protocol, Units(protocol), 5);
    const auto expected = WithValues(DecodeInChunks(protocol, valid, {}).samples);
    REQUIRE(expected.size() >= 3);
    std::mt19937 random(13);
    for (int round = 0; round < 200; ++round) {
      CAPTURE(round);
      std::uniform_int_distribution<std::size_t> length(1, 300);
      auto bytes = Garbage(random, length(random));
      const std::size_t garbage = bytes.size();
      bytes.insert(bytes.end(), valid.begin(), valid.end());
      const Decoded decoded = DecodeInChunks(protocol, bytes, {});
      // The garbage may swallow the first frame it runs into (and, for records without a sync marker,
      // one more); everything after that decodes exactly.
      const std::size_t must_match = expected.size() - (protocol == "beurer-bm" ? 2 : 1);
      CHECK(Tail(WithValues(decoded.samples), must_match) == Tail(expected, must_match));
      CHECK(decoded.stats.discarded_bytes + decoded.stats.bad_frames > 0);
      CHECK(decoded.stats.bytes == garbage + valid.size());
    }
  }
}

TEST_CASE("A byte dropped from every frame in turn costs at most that frame") {
  for (const std::string_view protocol : ehg::devices::serial::ProtocolNames()) {
    CAPTURE(protocol);
    const auto valid = ValidStream(protocol, Units(protocol), 9);
    const auto expected = WithValues(DecodeInChunks(protocol, valid, {}).samples);
    for (std::size_t dropped = 0; dropped < valid.size(); ++dropped) {
      auto bytes = valid;
      bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(dropped));
      const auto decoded = WithValues(DecodeInChunks(protocol, bytes, {}).samples);
      CHECK_MESSAGE(decoded.size() + 2 >= expected.size(), "byte " << dropped << " dropped");
      // The last measurement is intact unless the byte came from it.
      if (dropped < valid.size() / 2 && !decoded.empty()) {
        CHECK_MESSAGE(decoded.back() == expected.back(), "byte " << dropped << " dropped");
      }
    }
  }
}

TEST_CASE("Contec 9-byte: a long run of data bytes after an unknown type is refused the same way in any split") {
  // Found by fuzz_serial_contec_cms50_9: the refused length depended on how many bytes had arrived.
  std::vector<std::uint8_t> bytes(71, 0xEF);  // a 0x00 type byte, then 70 data bytes
  bytes.front() = 0x00;
  const auto frame = serial_test::Hex("01 E0 85 D5 9A BD E3 FF FF");
  bytes.insert(bytes.end(), frame.begin(), frame.end());
  const Decoded whole = DecodeInChunks("contec-cms50-9", bytes, {});
  CHECK(whole.stats.bad_frames == 1);
  CHECK(WithValues(whole.samples).size() == 1);
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    const Decoded split = DecodeInChunks("contec-cms50-9", bytes, {cut});
    CHECK_MESSAGE(split.stats == whole.stats, "split at byte " << cut);
    CHECK_MESSAGE(split.samples == whole.samples, "split at byte " << cut);
  }
}
