#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/reading.hpp"

// Pure, incremental decoders for serial medical devices (byte layouts: docs/serial.md). Bytes go in
// with any chunking; complete frames come out as samples. Garbage is skipped and counted, never read
// past the end of what arrived, and the decoder resynchronises on the next plausible frame.
namespace ehg::devices::serial {

using core::CivilTime;

struct DecodedValue {
  std::string metric;  // a catalogue name (gateway/core/vital_signs.hpp); the unit is the catalogue's
  double value = 0;

  friend bool operator==(const DecodedValue&, const DecodedValue&) = default;
};

// What one frame (or one Nonin packet, or one record) says.
struct Sample {
  // Clinical values the device vouches for. Never filled when the device reports a finger out, a probe
  // error or that it is still searching for a pulse.
  std::vector<DecodedValue> values;
  core::QualityFlags flags;
  std::optional<std::int32_t> pleth;  // one waveform point, in the device's own scale
  bool battery_low = false;
  // A stored record (blood pressure monitor memory, a timestamped ASCII line): delivered as it is,
  // never averaged with others.
  std::optional<core::WallTime> device_time;   // device time in UTC (ASCII lines carry a zone)
  std::optional<CivilTime> device_local_time;  // device clock without zone (Beurer)
  std::optional<std::uint32_t> sequence;
  unsigned user = 1;  // the device's user slot; monitors with two users mark the second one

  bool IsRecord() const { return device_time || device_local_time || sequence; }
  friend bool operator==(const Sample&, const Sample&) = default;
};

struct DecoderStats {
  std::uint64_t bytes = 0;
  std::uint64_t frames = 0;              // frames of the protocol accepted (including non-measurement ones)
  std::uint64_t discarded_bytes = 0;     // skipped while looking for a frame start
  std::uint64_t bad_frames = 0;          // framed but refused: checksum, impossible field, wrong length
  std::uint64_t incomplete_packets = 0;  // Nonin packets cut short by a new packet start
  std::string last_error;                // what was wrong with the last refused frame (no values in it)

  friend bool operator==(const DecoderStats&, const DecoderStats&) = default;
};

// Index of the first byte from `from` whose bit 7 is `set`, else the size.
std::size_t FindHighBit(std::span<const std::uint8_t> bytes, std::size_t from, bool set);

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Appends the samples completed by these bytes. Any split of a stream gives the same samples.
  void Feed(std::span<const std::uint8_t> bytes, std::vector<Sample>& out);
  const DecoderStats& stats() const { return stats_; }
  // Bytes held back waiting for the rest of a frame.
  std::size_t buffered() const { return buffer_.size() - start_; }

 protected:
  enum class Step { kNeedMore, kFrame, kSkip, kBadFrame };
  struct Parsed {
    Step step = Step::kNeedMore;
    std::size_t length = 0;  // bytes consumed by a frame, skipped, or refused
  };
  // Looks at the bytes from a possible frame start. Must decide (frame, skip or bad) once it holds
  // kMaxFrame bytes, so the buffer stays bounded.
  virtual Parsed Parse(std::span<const std::uint8_t> available, std::vector<Sample>& out) = 0;
  virtual std::size_t MaxFrame() const = 0;

  // Framing of the streams whose frames start at the only byte with bit 7 set (Contec 5-byte, Nonin
  // DF8): kFrame when `length` bytes form a frame, else what to skip, refuse or wait for.
  Parsed FrameStartingWithHighBit(std::span<const std::uint8_t> available, std::size_t length);

  DecoderStats stats_;

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t start_ = 0;
};

enum class Parity { kNone, kOdd, kEven };

// How the driver talks to a device family. Every protocol uses 8 data bits and 1 stop bit. Software
// flow control stays off even where vendor tools enable it: these streams are binary, and a kernel
// that obeys XON/XOFF would swallow data bytes 0x11 and 0x13 (a pleth point, a pulse rate of 19).
struct ProtocolInfo {
  std::string_view name;
  unsigned baud = 9600;
  Parity parity = Parity::kNone;
  std::vector<std::uint8_t> start_command;  // sent after opening and when the stream went quiet
  std::vector<std::uint8_t> keepalive;      // sent every keepalive_interval while open
  std::chrono::milliseconds keepalive_interval{0};
  double waveform_hz = 0;         // pleth points per second, 0 when the protocol carries none
  bool request_response = false;  // the driver asks for stored records (Beurer)
};

// The serial protocols of the device catalogue (gateway/core/device_catalog.hpp), in its order.
std::span<const std::string_view> ProtocolNames();
// The line settings of a catalogue protocol; nullopt for a name the catalogue does not have.
std::optional<ProtocolInfo> FindProtocol(std::string_view name);
// The decoder of a catalogue protocol; nullptr for any other name.
std::unique_ptr<Decoder> MakeDecoder(std::string_view protocol);

}  // namespace ehg::devices::serial
