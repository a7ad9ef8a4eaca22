#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "devices/ble_profiles/profiles.hpp"
#include "gateway/core/result.hpp"

// BTHome v2 advertisements (service data 0xFCD2, BTHome v2 format), plain or AES-128-CCM encrypted.
// Pure: bytes (and a key) in, values out.
namespace ehg::devices::ble {

using BthomeKey = std::array<std::uint8_t, 16>;
using BluetoothAddress = std::array<std::uint8_t, 6>;  // display order: AA:BB:... -> {0xAA, 0xBB, ...}

std::optional<BluetoothAddress> ParseAddress(std::string_view text);  // "54:48:E6:8F:80:A5"
std::optional<BthomeKey> ParseKey(std::string_view hex);              // 32 hex digits

struct BthomeButtonEvent {
  unsigned button = 1;    // 1-based: a device with three buttons sends three button objects
  std::uint8_t code = 0;  // 1 press, 2 double, 3 triple, 4 long, 5 long double, 6 long triple, 0x80 hold
  std::string name;       // "press", "double_press", ... ("none" objects are not listed)
  friend bool operator==(const BthomeButtonEvent&, const BthomeButtonEvent&) = default;
};

struct BthomePacket {
  bool encrypted = false;
  bool trigger_based = false;  // sends only when something happens: silence is not a fault
  std::optional<std::uint8_t> packet_id;
  std::optional<std::uint32_t> counter;  // encrypted packets: strictly increasing per device
  // Catalogue readings: battery, ambient_temperature, relative_humidity, motion (0/1), door (0/1).
  std::vector<ProfileValue> values;
  std::vector<BthomeButtonEvent> buttons;
  bool battery_low = false;
  std::optional<std::uint32_t> timestamp;  // object 0x50, seconds since 1970 UTC
  // Objects decoded but not used, by name; "stopped_at" names an object id this build does not know
  // (the objects after it cannot be read: their sizes are unknown).
  std::vector<std::pair<std::string, std::string>> details;
};

// Decodes the service-data value (UUID already stripped, as BlueZ gives it). A device with a key must
// send encrypted packets: a plaintext packet from it is refused (downgrade). `address` is needed only
// for encrypted packets (it is part of the nonce).
Result<BthomePacket> DecodeBthome(std::span<const std::uint8_t> service_data,
                                  const std::optional<BthomeKey>& key, const BluetoothAddress& address);

// Encrypts a plaintext object list the way a BTHome device does (for simulators and tests).
std::vector<std::uint8_t> EncryptBthome(std::span<const std::uint8_t> objects, std::uint8_t info,
                                        std::uint32_t counter, const BthomeKey& key,
                                        const BluetoothAddress& address);

// Drops advertisements already seen: BlueZ reports one advertisement several times, and devices repeat a
// packet for seconds to make sure it is heard. Encrypted packets must also advance the counter, so a
// recorded advertisement replayed later is refused. One per device; pure.
class BthomeDeduplicator {
 public:
  enum class Verdict { kNew, kDuplicate, kReplay };
  Verdict Check(const BthomePacket& packet);

 private:
  std::optional<std::uint8_t> last_packet_id_;
  std::optional<std::uint32_t> last_counter_;
};

}  // namespace ehg::devices::ble
