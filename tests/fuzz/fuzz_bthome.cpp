// BTHome advertisements are broadcast by anything in radio range, including an attacker: any bytes must
// decode or be refused, plain or encrypted, never crash; decrypted garbage must fail the integrity check.
#include <cmath>
#include <cstdlib>
#include <span>

#include "devices/ble_profiles/bthome.hpp"

namespace {

const ehg::devices::ble::BthomeKey kKey{0x23, 0x1d, 0x39, 0xc1, 0xd7, 0xcc, 0x1a, 0xb1,
                                        0xae, 0xe2, 0x24, 0xcd, 0x09, 0x6d, 0xb9, 0x32};
const ehg::devices::ble::BluetoothAddress kAddress{0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5};

void Check(const ehg::Result<ehg::devices::ble::BthomePacket>& packet,
           ehg::devices::ble::BthomeDeduplicator& dedup) {
  if (!packet) {
    if (packet.error().message.empty()) std::abort();
    return;
  }
  for (const auto& value : packet->values) {
    if (!std::isfinite(value.value)) std::abort();
  }
  (void)dedup.Check(*packet);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  static ehg::devices::ble::BthomeDeduplicator dedup;
  Check(ehg::devices::ble::DecodeBthome(bytes, std::nullopt, kAddress), dedup);
  Check(ehg::devices::ble::DecodeBthome(bytes, kKey, kAddress), dedup);
  // Plain object lists also go through the encrypted path, so the fuzzer reaches the object decoder
  // behind a valid integrity check.
  if (size > 0 && size < 200) {
    const auto sealed = ehg::devices::ble::EncryptBthome(bytes.subspan(1), 0x41, data[0], kKey, kAddress);
    auto opened = ehg::devices::ble::DecodeBthome(sealed, kKey, kAddress);
    if (!opened && opened.error().message.find("integrity") != std::string::npos) std::abort();
    Check(opened, dedup);
  }
  return 0;
}
