#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cctype>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "devices/serial/decoder.hpp"
#include "gateway/app/daemon.hpp"
#include "gateway/core/metrics.hpp"

namespace ehg::app {
namespace {

constexpr int kExitUsage = 64;

std::optional<std::vector<std::uint8_t>> ParseHex(std::string_view text) {
  std::vector<std::uint8_t> bytes;
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == ':' || c == '\n' || c == '\t' || c == ',') {
      if (high >= 0) return std::nullopt;  // a lone digit between separators
      continue;
    }
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && high < 0) {
      ++i;  // 0x prefix
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    const int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
    if (high < 0) {
      high = digit;
    } else {
      bytes.push_back(static_cast<std::uint8_t>(high * 16 + digit));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return bytes;
}

void Print(const devices::serial::Sample& sample, std::string_view metric, double value) {
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  object.set("metric", std::string(metric));
  object.set("value", value);
  const core::MetricInfo* info = core::FindMetric(metric);
  object.set("unit", info != nullptr ? std::string(info->unit) : std::string());
  Poco::JSON::Array flags;
  for (const std::string& name : sample.flags.Names())
    flags.add(name);
  object.set("flags", flags);
  if (sample.device_time) object.set("device_time", core::FormatIso8601(*sample.device_time));
  if (sample.device_local_time) object.set("device_local_time", core::FormatCivilTime(*sample.device_local_time));
  if (sample.sequence) object.set("sequence", *sample.sequence);
  if (sample.user != 1) object.set("user", sample.user);
  if (sample.battery_low) object.set("battery_low", true);
  object.stringify(std::cout);
  std::cout << "\n";
}

}  // namespace

int DecodeBytes(const DecodeRequest& request) {
  auto decoder = devices::serial::MakeDecoder(request.format);
  if (!decoder) {
    std::cerr << "error: unknown format \"" << request.format << "\"; one of:";
    for (const std::string_view name : devices::serial::ProtocolNames())
      std::cerr << " " << name;
    std::cerr << "\n";
    return kExitUsage;
  }
  std::vector<std::uint8_t> bytes;
  if (!request.file.empty()) {
    std::ifstream stream(request.file, std::ios::binary);
    if (!stream) {
      std::cerr << "error: cannot read " << request.file.string() << "\n";
      return kExitUsage;
    }
    bytes.assign(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());
  } else {
    auto parsed = ParseHex(request.hex);
    if (!parsed) {
      std::cerr << "error: --hex takes pairs of hex digits (e.g. \"01 E0 85 D5\"), optionally separated by "
                   "spaces or colons\n";
      return kExitUsage;
    }
    bytes = std::move(*parsed);
  }

  std::vector<devices::serial::Sample> samples;
  decoder->Feed(bytes, samples);
  std::size_t readings = 0;
  std::size_t without_values = 0;
  for (const devices::serial::Sample& sample : samples) {
    for (const devices::serial::DecodedValue& value : sample.values) {
      Print(sample, value.metric, value.value);
      ++readings;
    }
    if (request.waveform && sample.pleth) {
      Print(sample, "pleth", *sample.pleth);
      ++readings;
    }
    if (sample.values.empty() && !sample.flags.Clean()) ++without_values;
  }
  const devices::serial::DecoderStats& stats = decoder->stats();
  std::cerr << request.format << ": " << stats.bytes << " bytes, " << stats.frames << " frames, " << readings
            << " readings";
  if (without_values > 0) std::cerr << ", " << without_values << " frames without a clinical value (finger out, searching or sensor error)";
  if (stats.bad_frames > 0) std::cerr << ", " << stats.bad_frames << " refused frames (last: " << stats.last_error << ")";
  if (stats.discarded_bytes > 0) std::cerr << ", " << stats.discarded_bytes << " bytes skipped";
  if (decoder->buffered() > 0) std::cerr << ", " << decoder->buffered() << " bytes at the end are an incomplete frame";
  if (stats.incomplete_packets > 0) std::cerr << ", " << stats.incomplete_packets << " incomplete packets";
  std::cerr << "\n";
  if (stats.frames == 0) {
    std::cerr << "error: no " << request.format << " frame in the input";
    if (!stats.last_error.empty()) std::cerr << " (" << stats.last_error << ")";
    std::cerr << "; is it the right format?\n";
    return 1;
  }
  return 0;
}

}  // namespace ehg::app
