#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/serial_protocols/decoder.hpp"
#include "gateway/core/result.hpp"

// The decoder of each protocol. Use MakeDecoder(name); the classes are visible for the tests and for
// the driver's Beurer session, which reads records one at a time.
namespace ehg::devices::serial {

// Contec CMS50D+/E, old firmware: free-running 5-byte frames, sync bit 7 on the first byte only.
class ContecLegacyDecoder final : public Decoder {
 protected:
  Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) override;
  std::size_t MaxFrame() const override { return 5; }
};

// Contec firmware 4.6+ ("V7.0"): a type byte (bit 7 clear), a byte holding the data bytes' bit 7s,
// then data bytes with bit 7 set. Real-time data is type 0x01, 9 bytes.
class ContecV7Decoder final : public Decoder {
 protected:
  Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) override;
  std::size_t MaxFrame() const override { return 32; }
};

// Nonin DF2 and DF7 share a 25-frame packet whose frames each carry one byte of the packet table.
class NoninPacketDecoder : public Decoder {
 protected:
  void OnFrame(std::uint8_t status, std::int32_t pleth, std::uint8_t table_byte, std::vector<Sample>& out);

 private:
  int frame_ = 0;  // 1..25 inside a packet, 0 before the first SYNC frame
  std::array<std::uint8_t, 26> table_{};
  core::QualityFlags packet_flags_;
};

class NoninDf2Decoder final : public NoninPacketDecoder {
 protected:
  Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) override;
  std::size_t MaxFrame() const override { return 5; }
};

class NoninDf7Decoder final : public NoninPacketDecoder {
 protected:
  Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) override;
  std::size_t MaxFrame() const override { return 5; }
};

// Nonin DF8: 4 bytes once per second, bit 7 set on the status byte only.
class NoninDf8Decoder final : public Decoder {
 protected:
  Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) override;
  std::size_t MaxFrame() const override { return 4; }
};

// Beurer BM-series memory records (9 bytes, answer to `A3 nn`). They carry no sync marker, so in a
// stream a record is recognised by its fields being possible (date, time, systolic above diastolic).
class BeurerRecordDecoder final : public Decoder {
 protected:
  Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) override;
  std::size_t MaxFrame() const override { return kBeurerRecordSize; }

 public:
  static constexpr std::size_t kBeurerRecordSize = 9;
};

// A Beurer record, or why it is impossible (no values in the message).
std::optional<Sample> DecodeBeurerRecord(std::span<const std::uint8_t, 9> record, std::string& why);

// Text lines for integrators and test rigs (docs/serial.md):
//   spo2=97 % pulse_rate=72 /min flags=low_perfusion time=2026-03-23T08:00:00Z seq=17
class AsciiLineDecoder final : public Decoder {
 public:
  static constexpr std::size_t kMaxLine = 256;

 protected:
  Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) override;
  std::size_t MaxFrame() const override { return kMaxLine; }

 private:
  bool discarding_long_line_ = false;
};

// Parses one line without its end-of-line; an error message names the token, never a value.
tl::expected<std::optional<Sample>, std::string> ParseAsciiLine(std::string_view line);

}  // namespace ehg::devices::serial
