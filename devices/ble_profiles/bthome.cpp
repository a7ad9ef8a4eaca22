#include "devices/ble_profiles/bthome.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>

namespace ehg::devices::ble {
namespace {

enum class Use {
  kDetail,
  kValue,
  kBinaryValue,
  kBattery,
  kBatteryLow,
  kButton,
  kPacketId,
  kTimestamp,
  kSkip
};

struct ObjectType {
  std::uint8_t id;
  const char* name;
  std::uint8_t size;  // 0: a length byte follows the id
  bool is_signed;
  double factor;
  Use use;
  const char* metric;  // for kValue / kBinaryValue
};

// The object ids of the BTHome v2 format (bthome.io; bthome-ble agrees). Anything else stops decoding.
constexpr ObjectType kObjects[] = {
    {0x00, "packet_id", 1, false, 1, Use::kPacketId, nullptr},
    {0x01, "battery", 1, false, 1, Use::kBattery, "battery"},
    {0x02, "temperature", 2, true, 0.01, Use::kValue, "ambient_temperature"},
    {0x03, "humidity", 2, false, 0.01, Use::kValue, "relative_humidity"},
    {0x04, "pressure", 3, false, 0.01, Use::kDetail, nullptr},
    {0x05, "illuminance", 3, false, 0.01, Use::kDetail, nullptr},
    {0x06, "mass_kg", 2, false, 0.01, Use::kDetail, nullptr},
    {0x07, "mass_lb", 2, false, 0.01, Use::kDetail, nullptr},
    {0x08, "dew_point", 2, true, 0.01, Use::kDetail, nullptr},
    {0x09, "count", 1, false, 1, Use::kDetail, nullptr},
    {0x0C, "voltage", 2, false, 0.001, Use::kDetail, nullptr},
    {0x0F, "generic_boolean", 1, false, 1, Use::kDetail, nullptr},
    {0x10, "power", 1, false, 1, Use::kDetail, nullptr},
    {0x11, "opening", 1, false, 1, Use::kBinaryValue, "door"},
    {0x12, "co2", 2, false, 1, Use::kDetail, nullptr},
    {0x14, "moisture", 2, false, 0.01, Use::kDetail, nullptr},
    {0x15, "battery_low", 1, false, 1, Use::kBatteryLow, nullptr},
    {0x16, "battery_charging", 1, false, 1, Use::kDetail, nullptr},
    {0x17, "carbon_monoxide", 1, false, 1, Use::kDetail, nullptr},
    {0x18, "cold", 1, false, 1, Use::kDetail, nullptr},
    {0x19, "connectivity", 1, false, 1, Use::kDetail, nullptr},
    {0x1A, "door", 1, false, 1, Use::kBinaryValue, "door"},
    {0x1B, "garage_door", 1, false, 1, Use::kDetail, nullptr},
    {0x1C, "gas", 1, false, 1, Use::kDetail, nullptr},
    {0x1D, "heat", 1, false, 1, Use::kDetail, nullptr},
    {0x1E, "light", 1, false, 1, Use::kDetail, nullptr},
    {0x1F, "lock", 1, false, 1, Use::kDetail, nullptr},
    {0x20, "moisture_binary", 1, false, 1, Use::kDetail, nullptr},
    {0x21, "motion", 1, false, 1, Use::kBinaryValue, "motion"},
    {0x22, "moving", 1, false, 1, Use::kDetail, nullptr},
    {0x23, "occupancy", 1, false, 1, Use::kBinaryValue, "motion"},
    {0x24, "plug", 1, false, 1, Use::kDetail, nullptr},
    {0x25, "presence", 1, false, 1, Use::kDetail, nullptr},
    {0x26, "problem", 1, false, 1, Use::kDetail, nullptr},
    {0x27, "running", 1, false, 1, Use::kDetail, nullptr},
    {0x28, "safety", 1, false, 1, Use::kDetail, nullptr},
    {0x29, "smoke", 1, false, 1, Use::kDetail, nullptr},
    {0x2A, "sound", 1, false, 1, Use::kDetail, nullptr},
    {0x2B, "tamper", 1, false, 1, Use::kDetail, nullptr},
    {0x2C, "vibration", 1, false, 1, Use::kDetail, nullptr},
    {0x2D, "window", 1, false, 1, Use::kBinaryValue, "door"},
    {0x2E, "humidity", 1, false, 1, Use::kValue, "relative_humidity"},
    {0x2F, "moisture", 1, false, 1, Use::kDetail, nullptr},
    {0x3A, "button", 1, false, 1, Use::kButton, nullptr},
    {0x3C, "dimmer", 2, false, 1, Use::kDetail, nullptr},
    {0x3D, "count", 2, false, 1, Use::kDetail, nullptr},
    {0x3E, "count", 4, false, 1, Use::kDetail, nullptr},
    {0x45, "temperature", 2, true, 0.1, Use::kValue, "ambient_temperature"},
    {0x50, "timestamp", 4, false, 1, Use::kTimestamp, nullptr},
    {0x53, "text", 0, false, 1, Use::kSkip, nullptr},
    {0x54, "raw", 0, false, 1, Use::kSkip, nullptr},
    {0x57, "temperature", 1, true, 1, Use::kValue, "ambient_temperature"},
    {0x58, "temperature", 1, true, 0.35, Use::kValue, "ambient_temperature"},
    {0xF0, "device_type_id", 2, false, 1, Use::kDetail, nullptr},
    {0xF1, "firmware_version", 4, false, 1, Use::kSkip, nullptr},
    {0xF2, "firmware_version", 3, false, 1, Use::kSkip, nullptr},
};

const ObjectType* FindObject(std::uint8_t id) {
  for (const ObjectType& type : kObjects) {
    if (type.id == id) return &type;
  }
  return nullptr;
}

const char* ButtonEventName(std::uint8_t code) {
  switch (code) {
    case 0x00:
      return "none";
    case 0x01:
      return "press";
    case 0x02:
      return "double_press";
    case 0x03:
      return "triple_press";
    case 0x04:
      return "long_press";
    case 0x05:
      return "long_double_press";
    case 0x06:
      return "long_triple_press";
    case 0x80:
      return "hold_press";
    default:
      return nullptr;
  }
}

std::string Hex(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", value & 0xFFu);
  return text;
}

double Rounded(double value, double factor) {
  // Factors are 10^-n (or 0.35): round to the decimals the factor carries so 2506 * 0.01 prints 25.06.
  const double scale = factor < 1 ? 1000.0 : 1.0;
  return std::round(value * factor * scale) / scale;
}

struct EvpContext {
  struct Free {
    void operator()(EVP_CIPHER_CTX* owned) const { EVP_CIPHER_CTX_free(owned); }
  };
  std::unique_ptr<EVP_CIPHER_CTX, Free> context{EVP_CIPHER_CTX_new()};
};

std::array<std::uint8_t, 13> Nonce(const BluetoothAddress& address, std::uint8_t info,
                                   std::span<const std::uint8_t, 4> counter) {
  std::array<std::uint8_t, 13> nonce{};
  std::copy(address.begin(), address.end(), nonce.begin());
  nonce[6] = 0xD2;
  nonce[7] = 0xFC;
  nonce[8] = info;
  std::copy(counter.begin(), counter.end(), nonce.begin() + 9);
  return nonce;
}

Result<std::vector<std::uint8_t>> Decrypt(std::span<const std::uint8_t> data, const BthomeKey& key,
                                          const BluetoothAddress& address) {
  // info(1) ciphertext(n) counter(4) mic(4)
  const std::size_t ciphertext_size = data.size() - 9;
  const auto counter = data.subspan(1 + ciphertext_size).first<4>();
  const auto mic = data.subspan(1 + ciphertext_size + 4, 4);
  const auto nonce = Nonce(address, data[0], counter);
  EvpContext evp;
  EVP_CIPHER_CTX* context = evp.context.get();
  std::vector<std::uint8_t> plain(ciphertext_size);
  int length = 0;
  std::array<std::uint8_t, 4> tag{};
  std::copy(mic.begin(), mic.end(), tag.begin());
  const bool ok =
      context != nullptr && EVP_DecryptInit_ex(context, EVP_aes_128_ccm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_CCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_CCM_SET_TAG, static_cast<int>(tag.size()), tag.data()) == 1 &&
      EVP_DecryptInit_ex(context, nullptr, nullptr, key.data(), nonce.data()) == 1 &&
      EVP_DecryptUpdate(context, nullptr, &length, nullptr, static_cast<int>(ciphertext_size)) == 1 &&
      // CCM checks the tag in this call: it fails for a wrong key, a wrong address or altered bytes.
      EVP_DecryptUpdate(context, plain.data(), &length, data.data() + 1, static_cast<int>(ciphertext_size)) ==
          1;
  if (!ok)
    return Fail(Errc::kRejected, "bthome: message integrity check failed (wrong key or altered packet)");
  return plain;
}

Result<void> DecodeObjects(std::span<const std::uint8_t> objects, BthomePacket& out) {
  std::size_t i = 0;
  unsigned buttons = 0;
  while (i < objects.size()) {
    const std::uint8_t id = objects[i];
    const ObjectType* type = FindObject(id);
    if (type == nullptr) {
      out.details.emplace_back("stopped_at", "unknown object " + Hex(id));
      return {};
    }
    std::size_t size = type->size;
    std::size_t start = i + 1;
    if (size == 0) {
      if (start >= objects.size())
        return Fail(Errc::kParse, "bthome: object " + Hex(id) + " without its length");
      size = objects[start];
      ++start;
    }
    if (start + size > objects.size()) {
      return Fail(Errc::kParse, "bthome: object " + Hex(id) + " (" + type->name + ") needs " +
                                    std::to_string(size) + " bytes, " +
                                    std::to_string(objects.size() - start) + " left");
    }
    std::uint32_t raw = 0;
    for (std::size_t k = 0; k < size && k < 4; ++k)
      raw |= static_cast<std::uint32_t>(objects[start + k]) << (8 * k);
    double number = raw;
    if (type->is_signed && size < 4) {
      const std::uint32_t sign = 1u << (8 * size - 1);
      number = (raw & sign) ? static_cast<double>(raw) - static_cast<double>(sign) * 2 : raw;
    }
    switch (type->use) {
      case Use::kPacketId:
        out.packet_id = static_cast<std::uint8_t>(raw);
        break;
      case Use::kBattery:
        if (raw > 100) return Fail(Errc::kParse, "bthome: battery above 100 %");
        out.values.push_back({type->metric, number});
        break;
      case Use::kValue:
        out.values.push_back({type->metric, Rounded(number, type->factor)});
        break;
      case Use::kBinaryValue:
        if (raw > 1) return Fail(Errc::kParse, "bthome: binary object " + Hex(id) + " is neither 0 nor 1");
        out.values.push_back({type->metric, number});
        break;
      case Use::kBatteryLow:
        out.battery_low = raw != 0;
        break;
      case Use::kButton: {
        ++buttons;
        const char* name = ButtonEventName(static_cast<std::uint8_t>(raw));
        if (name == nullptr) return Fail(Errc::kParse, "bthome: unknown button event " + Hex(raw));
        if (raw != 0) out.buttons.push_back({buttons, static_cast<std::uint8_t>(raw), name});
        break;
      }
      case Use::kTimestamp:
        out.timestamp = raw;
        break;
      case Use::kDetail:
        out.details.emplace_back(type->name, "present");
        break;
      case Use::kSkip:
        break;
    }
    i = start + size;
  }
  return {};
}

int HexDigit(char c) {
  const int lower = std::tolower(static_cast<unsigned char>(c));
  if (lower >= '0' && lower <= '9') return lower - '0';
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<BluetoothAddress> ParseAddress(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  BluetoothAddress address{};
  for (std::size_t i = 0; i < 6; ++i) {
    const int high = HexDigit(text[i * 3]);
    const int low = HexDigit(text[i * 3 + 1]);
    if (high < 0 || low < 0 || (i < 5 && text[i * 3 + 2] != ':')) return std::nullopt;
    address[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return address;
}

std::optional<BthomeKey> ParseKey(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  BthomeKey key{};
  for (std::size_t i = 0; i < 16; ++i) {
    const int high = HexDigit(hex[i * 2]);
    const int low = HexDigit(hex[i * 2 + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return key;
}

Result<BthomePacket> DecodeBthome(std::span<const std::uint8_t> service_data,
                                  const std::optional<BthomeKey>& key, const BluetoothAddress& address) {
  if (service_data.empty()) return Fail(Errc::kParse, "bthome: empty service data");
  const std::uint8_t info = service_data[0];
  if ((info >> 5) != 2) {
    return Fail(Errc::kUnsupported,
                "bthome: version " + std::to_string(info >> 5) + " (only version 2 is read)");
  }
  BthomePacket packet;
  packet.encrypted = (info & 0x01) != 0;
  packet.trigger_based = (info & 0x04) != 0;
  if (!packet.encrypted) {
    if (key)
      return Fail(Errc::kRejected,
                  "bthome: unencrypted packet from a device with a key (refused as a downgrade)");
    auto decoded = DecodeObjects(service_data.subspan(1), packet);
    if (!decoded) return tl::unexpected(decoded.error());
    return packet;
  }
  if (!key) return Fail(Errc::kRejected, "bthome: encrypted packet and no key configured for this device");
  if (service_data.size() < 1 + 4 + 4)
    return Fail(Errc::kParse, "bthome: encrypted packet shorter than 9 bytes");
  const auto counter = service_data.subspan(service_data.size() - 8, 4);
  packet.counter = static_cast<std::uint32_t>(counter[0]) | static_cast<std::uint32_t>(counter[1]) << 8 |
                   static_cast<std::uint32_t>(counter[2]) << 16 |
                   static_cast<std::uint32_t>(counter[3]) << 24;
  auto plain = Decrypt(service_data, *key, address);
  if (!plain) return tl::unexpected(plain.error());
  auto decoded = DecodeObjects(*plain, packet);
  if (!decoded) return tl::unexpected(decoded.error());
  return packet;
}

std::vector<std::uint8_t> EncryptBthome(std::span<const std::uint8_t> objects, std::uint8_t info,
                                        std::uint32_t counter, const BthomeKey& key,
                                        const BluetoothAddress& address) {
  const std::array<std::uint8_t, 4> counter_bytes{
      static_cast<std::uint8_t>(counter), static_cast<std::uint8_t>(counter >> 8),
      static_cast<std::uint8_t>(counter >> 16), static_cast<std::uint8_t>(counter >> 24)};
  const auto nonce = Nonce(address, info, counter_bytes);
  EvpContext evp;
  EVP_CIPHER_CTX* context = evp.context.get();
  std::vector<std::uint8_t> out(1 + objects.size() + 8);
  out[0] = info;
  int length = 0;
  std::array<std::uint8_t, 4> tag{};
  const bool ok =
      context != nullptr && EVP_EncryptInit_ex(context, EVP_aes_128_ccm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_CCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_CCM_SET_TAG, static_cast<int>(tag.size()), nullptr) == 1 &&
      EVP_EncryptInit_ex(context, nullptr, nullptr, key.data(), nonce.data()) == 1 &&
      EVP_EncryptUpdate(context, nullptr, &length, nullptr, static_cast<int>(objects.size())) == 1 &&
      EVP_EncryptUpdate(context, out.data() + 1, &length, objects.data(), static_cast<int>(objects.size())) ==
          1 &&
      EVP_EncryptFinal_ex(context, out.data() + 1 + objects.size(), &length) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_CCM_GET_TAG, static_cast<int>(tag.size()), tag.data()) == 1;
  if (!ok) return {};
  std::copy(counter_bytes.begin(), counter_bytes.end(),
            out.begin() + 1 + static_cast<std::ptrdiff_t>(objects.size()));
  std::copy(tag.begin(), tag.end(), out.begin() + 1 + static_cast<std::ptrdiff_t>(objects.size()) + 4);
  return out;
}

BthomeDeduplicator::Verdict BthomeDeduplicator::Check(const BthomePacket& packet) {
  if (packet.counter) {
    if (last_counter_ && *packet.counter <= *last_counter_) {
      return *packet.counter == *last_counter_ ? Verdict::kDuplicate : Verdict::kReplay;
    }
    last_counter_ = packet.counter;
    last_packet_id_ = packet.packet_id;
    return Verdict::kNew;
  }
  if (packet.packet_id) {
    if (last_packet_id_ && *packet.packet_id == *last_packet_id_) return Verdict::kDuplicate;
    last_packet_id_ = packet.packet_id;
  }
  return Verdict::kNew;
}

}  // namespace ehg::devices::ble
