#include "devices/serial_protocols/decoder.hpp"

#include <algorithm>

#include "devices/serial_protocols/decoders.hpp"
#include "gateway/core/device_catalog.hpp"

namespace ehg::devices::serial {
namespace {

// Contec "V7.0" command packets: 7D 81 <command> 80 80 80 80 80 80.
std::vector<std::uint8_t> ContecCommand(std::uint8_t command) {
  return {0x7D, 0x81, command, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
}

}  // namespace

void Decoder::Feed(std::span<const std::uint8_t> bytes, std::vector<Sample>& out) {
  stats_.bytes += bytes.size();
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  while (start_ < buffer_.size()) {
    const std::span<const std::uint8_t> available(buffer_.data() + start_, buffer_.size() - start_);
    Parsed parsed = Parse(available, out);
    if (parsed.step == Step::kNeedMore) {
      if (available.size() < MaxFrame()) break;
      // A parser that cannot decide on a full frame's worth of bytes would grow the buffer forever.
      parsed = {Step::kSkip, 1};
    }
    const std::size_t length = std::clamp<std::size_t>(parsed.length, 1, available.size());
    switch (parsed.step) {
      case Step::kFrame:
        ++stats_.frames;
        break;
      case Step::kBadFrame:
        ++stats_.bad_frames;
        break;
      case Step::kSkip:
      case Step::kNeedMore:
        stats_.discarded_bytes += length;
        break;
    }
    start_ += length;
  }
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ >= 4096) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
}

std::size_t FindHighBit(std::span<const std::uint8_t> bytes, std::size_t from, bool set) {
  for (std::size_t i = from; i < bytes.size(); ++i) {
    if (((bytes[i] & 0x80) != 0) == set) return i;
  }
  return bytes.size();
}

Decoder::Parsed Decoder::FrameStartingWithHighBit(std::span<const std::uint8_t> a, std::size_t length) {
  if ((a[0] & 0x80) == 0) return {Step::kSkip, FindHighBit(a, 0, true)};
  const std::size_t next_start = FindHighBit(a, 1, true);
  if (next_start < std::min(length, a.size())) {
    stats_.last_error = "frame cut short by the next frame start (byte lost)";
    return {Step::kBadFrame, next_start};
  }
  if (a.size() < length) return {Step::kNeedMore, 0};
  return {Step::kFrame, length};
}

std::span<const std::string_view> ProtocolNames() {
  return core::DeviceKindNames(core::DeviceConnection::kSerial);
}

std::optional<ProtocolInfo> FindProtocol(std::string_view name) {
  const core::DeviceKind* kind = core::FindDeviceKind(core::DeviceConnection::kSerial, name);
  if (kind == nullptr) return std::nullopt;
  ProtocolInfo info;
  info.name = kind->name;
  info.request_response = kind->polled;
  if (name == "contec-cms50-5") {
    info.baud = 19200;
    info.parity = Parity::kOdd;
    info.waveform_hz = 60;
  } else if (name == "contec-cms50-9") {
    info.baud = 115200;
    info.start_command = ContecCommand(0xA1);
    // The device stops streaming after about 30 s without it.
    info.keepalive = ContecCommand(0xAF);
    info.keepalive_interval = std::chrono::seconds(5);
    info.waveform_hz = 60;
  } else if (name == "nonin-df2" || name == "nonin-df7") {
    info.waveform_hz = 75;
  } else if (name == "beurer-bm") {
    info.baud = 4800;
  }
  return info;
}

std::unique_ptr<Decoder> MakeDecoder(std::string_view protocol) {
  if (protocol == "contec-cms50-5") return std::make_unique<ContecLegacyDecoder>();
  if (protocol == "contec-cms50-9") return std::make_unique<ContecV7Decoder>();
  if (protocol == "nonin-df2") return std::make_unique<NoninDf2Decoder>();
  if (protocol == "nonin-df7") return std::make_unique<NoninDf7Decoder>();
  if (protocol == "nonin-df8") return std::make_unique<NoninDf8Decoder>();
  if (protocol == "beurer-bm") return std::make_unique<BeurerRecordDecoder>();
  if (protocol == "ascii") return std::make_unique<AsciiLineDecoder>();
  return nullptr;
}

}  // namespace ehg::devices::serial
