#include "devices/ble_profiles/bthome.hpp"

#include <doctest/doctest.h>

#include "ble_test_support.hpp"

using namespace ehg::devices::ble;
using ble_test::Hex;

namespace {

const BluetoothAddress kAddress = *ParseAddress("54:48:E6:8F:80:A5");
const BthomeKey kKey = *ParseKey("231d39c1d7cc1ab1aee224cd096db932");

BthomePacket Decoded(std::string_view hex, std::optional<BthomeKey> key = std::nullopt) {
  auto result = DecodeBthome(Hex(hex), key, kAddress);
  INFO(hex);
  REQUIRE_MESSAGE(result.has_value(), (result ? std::string() : result.error().message));
  return *result;
}

std::optional<double> ValueOf(const BthomePacket& packet, std::string_view metric) {
  for (const auto& value : packet.values)
    if (value.metric == metric) return value.value;
  return std::nullopt;
}

}  // namespace

TEST_CASE("BTHome plain vectors: packet id, battery, temperature, humidity") {
  const BthomePacket p = Decoded("40 00 09 01 5D 02 5D 09 03 B7 18");
  CHECK_FALSE(p.encrypted);
  CHECK(p.packet_id == 9);
  CHECK(ValueOf(p, "battery") == 93);
  CHECK(ValueOf(p, "ambient_temperature") == 23.97);
  CHECK(ValueOf(p, "relative_humidity") == 63.27);
  CHECK(ValueOf(Decoded("40 02 C4 09 03 BF 13"), "ambient_temperature") == 25.0);
  CHECK(ValueOf(Decoded("40 57 EA"), "ambient_temperature") == -22);
  CHECK(ValueOf(Decoded("40 58 EA"), "ambient_temperature") == -7.7);
  CHECK(ValueOf(Decoded("40 45 11 01"), "ambient_temperature") == 27.3);
  CHECK(ValueOf(Decoded("40 02 CA 09"), "ambient_temperature") == 25.06);
}

TEST_CASE("BTHome buttons: trigger-based press, several buttons, long and hold") {
  const BthomePacket press = Decoded("44 00 21 01 5E 3A 01");
  CHECK(press.trigger_based);
  CHECK(press.packet_id == 33);
  REQUIRE(press.buttons.size() == 1);
  CHECK(press.buttons[0] == BthomeButtonEvent{1, 1, "press"});
  const BthomePacket three = Decoded("40 3A 00 3A 01 3A 03");
  REQUIRE(three.buttons.size() == 2);
  CHECK(three.buttons[0] == BthomeButtonEvent{2, 1, "press"});
  CHECK(three.buttons[1] == BthomeButtonEvent{3, 3, "triple_press"});
  CHECK(Decoded("40 3A 04").buttons[0].name == "long_press");
  CHECK(Decoded("40 3A 80").buttons[0].name == "hold_press");
  CHECK_FALSE(DecodeBthome(Hex("40 3A 07"), std::nullopt, kAddress).has_value());
}

TEST_CASE("BTHome binary sensors: motion, door, occupancy, window, opening") {
  CHECK(ValueOf(Decoded("40 21 01"), "motion") == 1);
  CHECK(ValueOf(Decoded("40 21 00"), "motion") == 0);
  CHECK(ValueOf(Decoded("40 1A 01"), "door") == 1);
  CHECK(ValueOf(Decoded("40 23 01"), "motion") == 1);
  CHECK(ValueOf(Decoded("40 2D 01"), "door") == 1);
  CHECK(ValueOf(Decoded("40 11 00"), "door") == 0);
  CHECK(Decoded("40 15 01").battery_low);
  CHECK_FALSE(DecodeBthome(Hex("40 21 02"), std::nullopt, kAddress).has_value());
}

TEST_CASE("BTHome text, raw, timestamp and firmware objects are skipped by their sizes") {
  const BthomePacket p =
      Decoded("40 01 64 50 5D 39 61 64 53 0C 48 65 6C 6C 6F 20 57 6F 72 6C 64 21 F2 00 01 06");
  CHECK(ValueOf(p, "battery") == 100);
  CHECK(p.timestamp == 0x6461395D);
  CHECK_FALSE(DecodeBthome(Hex("40 53 0C 48 65"), std::nullopt, kAddress).has_value());
  CHECK_FALSE(DecodeBthome(Hex("40 53"), std::nullopt, kAddress).has_value());
}

TEST_CASE("BTHome stops at an unknown object and keeps what came before") {
  const BthomePacket p = Decoded("40 01 50 B7 01 02 03");
  CHECK(ValueOf(p, "battery") == 80);
  REQUIRE_FALSE(p.details.empty());
  CHECK(p.details.back() == std::pair<std::string, std::string>{"stopped_at", "unknown object 0xb7"});
}

TEST_CASE("BTHome truncated objects and wrong versions are refused") {
  CHECK_FALSE(DecodeBthome(Hex(""), std::nullopt, kAddress).has_value());
  CHECK_FALSE(DecodeBthome(Hex("40 02 CA"), std::nullopt, kAddress).has_value());
  CHECK_FALSE(DecodeBthome(Hex("40 01 65"), std::nullopt, kAddress).has_value());
  auto v1 = DecodeBthome(Hex("20 02 CA 09"), std::nullopt, kAddress);
  REQUIRE_FALSE(v1.has_value());
  CHECK(v1.error().message.find("version 1") != std::string::npos);
}

TEST_CASE("BTHome encrypted vectors from bthome.io and bthome-ble decrypt") {
  const BthomePacket io = Decoded("41 E4 45 F3 C9 96 2B 33 22 11 00 6C 7C 45 19", kKey);
  CHECK(io.encrypted);
  CHECK(io.counter == 0x00112233);
  CHECK(ValueOf(io, "ambient_temperature") == 25.06);
  CHECK(ValueOf(io, "relative_humidity") == 50.55);
  const BthomePacket ble = Decoded("41 A4 72 66 C9 5F 73 00 11 22 33 78 23 72 14", kKey);
  CHECK(ble.counter == 0x33221100);
  CHECK(ValueOf(ble, "relative_humidity") == 50.55);
  CHECK(ValueOf(Decoded("41 87 B9 00 11 22 33 72 B0 23 1F", kKey), "motion") == 1);
}

TEST_CASE("BTHome encryption refusals: tampered, wrong key, wrong address, no key, downgrade") {
  auto tampered = DecodeBthome(Hex("41 E4 45 F3 C9 96 2A 33 22 11 00 6C 7C 45 19"), kKey, kAddress);
  REQUIRE_FALSE(tampered.has_value());
  CHECK(tampered.error().message.find("integrity") != std::string::npos);
  BthomeKey other = kKey;
  other[0] ^= 1;
  CHECK_FALSE(DecodeBthome(Hex("41 E4 45 F3 C9 96 2B 33 22 11 00 6C 7C 45 19"), other, kAddress).has_value());
  BluetoothAddress elsewhere = kAddress;
  elsewhere[5] ^= 1;
  CHECK_FALSE(DecodeBthome(Hex("41 E4 45 F3 C9 96 2B 33 22 11 00 6C 7C 45 19"), kKey, elsewhere).has_value());
  auto no_key = DecodeBthome(Hex("41 E4 45 F3 C9 96 2B 33 22 11 00 6C 7C 45 19"), std::nullopt, kAddress);
  REQUIRE_FALSE(no_key.has_value());
  CHECK(no_key.error().message.find("no key") != std::string::npos);
  auto downgrade = DecodeBthome(Hex("40 21 01"), kKey, kAddress);
  REQUIRE_FALSE(downgrade.has_value());
  CHECK(downgrade.error().message.find("downgrade") != std::string::npos);
  CHECK_FALSE(DecodeBthome(Hex("41 01 02 03 04 05 06 07"), kKey, kAddress).has_value());
}

// The reference vector: the encrypted example of the BTHome v2 format's description, decoded in
// docs/ble.md ("decode") and docs/protocols.md ("BTHome v2 advertisements").
TEST_CASE("BTHome encrypting and decrypting round trip with the reference vector") {
  CHECK(EncryptBthome(Hex("02 CA 09 03 BF 13"), 0x41, 0x00112233, kKey, kAddress) ==
        Hex("41 E4 45 F3 C9 96 2B 33 22 11 00 6C 7C 45 19"));
  const auto packet = EncryptBthome(Hex("00 07 3A 04"), 0x45, 77, kKey, kAddress);
  auto decoded = DecodeBthome(packet, kKey, kAddress);
  REQUIRE(decoded.has_value());
  CHECK(decoded->trigger_based);
  CHECK(decoded->counter == 77);
  CHECK(decoded->packet_id == 7);
  REQUIRE(decoded->buttons.size() == 1);
  CHECK(decoded->buttons[0].name == "long_press");
}

TEST_CASE("BTHome deduplication: same packet id, repeated and replayed counters") {
  BthomeDeduplicator plain;
  BthomePacket packet;
  packet.packet_id = 9;
  CHECK(plain.Check(packet) == BthomeDeduplicator::Verdict::kNew);
  CHECK(plain.Check(packet) == BthomeDeduplicator::Verdict::kDuplicate);
  packet.packet_id = 10;
  CHECK(plain.Check(packet) == BthomeDeduplicator::Verdict::kNew);
  packet.packet_id = 9;  // a device that restarted counts from anywhere
  CHECK(plain.Check(packet) == BthomeDeduplicator::Verdict::kNew);

  BthomeDeduplicator encrypted;
  BthomePacket secret;
  secret.counter = 100;
  CHECK(encrypted.Check(secret) == BthomeDeduplicator::Verdict::kNew);
  CHECK(encrypted.Check(secret) == BthomeDeduplicator::Verdict::kDuplicate);
  secret.counter = 99;
  CHECK(encrypted.Check(secret) == BthomeDeduplicator::Verdict::kReplay);
  secret.counter = 101;
  CHECK(encrypted.Check(secret) == BthomeDeduplicator::Verdict::kNew);
}

TEST_CASE("BTHome addresses and keys parse strictly") {
  CHECK(ParseAddress("54:48:E6:8F:80:A5") == BluetoothAddress{0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5});
  CHECK_FALSE(ParseAddress("54:48:E6:8F:80").has_value());
  CHECK_FALSE(ParseAddress("54-48-E6-8F-80-A5").has_value());
  CHECK_FALSE(ParseKey("231d39c1d7cc1ab1aee224cd096db93").has_value());
  CHECK_FALSE(ParseKey("231d39c1d7cc1ab1aee224cd096db9zz").has_value());
}
