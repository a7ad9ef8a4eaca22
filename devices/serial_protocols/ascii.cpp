// A documented text format for integrators and test rigs (docs/serial.md).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "devices/serial_protocols/decoders.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::devices::serial {
namespace {

std::vector<std::string_view> Tokens(std::string_view line) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) tokens.push_back(line.substr(start, i - start));
  }
  return tokens;
}

template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) return std::nullopt;
  }
  return value;
}

bool Printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

}  // namespace

tl::expected<std::optional<Sample>, std::string> ParseAsciiLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!Printable(line)) return tl::unexpected(std::string("line with control or non-ASCII characters"));
  const std::vector<std::string_view> tokens = Tokens(line);
  if (tokens.empty() || tokens.front().starts_with('#')) return std::optional<Sample>{};

  Sample sample;
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view token = tokens[i];
    const std::size_t equals = token.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return tl::unexpected("expected key=value, got a token of " + std::to_string(token.size()) +
                            " characters");
    }
    const std::string_view key = token.substr(0, equals);
    const std::string_view text = token.substr(equals + 1);
    const std::string name = "'" + std::string(key.substr(0, 40)) + "'";
    if (!seen.insert(key).second) return tl::unexpected("key " + name + " given twice");
    if (key == "flags") {
      std::size_t start = 0;
      while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const auto flag = core::QualityFlags::FromName(text.substr(start, comma - start));
        if (!flag) return tl::unexpected(std::string("unknown quality flag in flags"));
        sample.flags.Set(*flag);
        start = comma + 1;
      }
    } else if (key == "time") {
      sample.device_time = core::ParseIso8601(text);
      if (!sample.device_time) return tl::unexpected(std::string("time is not ISO 8601 with a zone"));
    } else if (key == "seq") {
      sample.sequence = ParseNumber<std::uint32_t>(text);
      if (!sample.sequence) return tl::unexpected(std::string("seq is not a whole number"));
    } else if (key == "pleth") {
      sample.pleth = ParseNumber<std::int32_t>(text);
      if (!sample.pleth) return tl::unexpected(std::string("pleth is not a whole number"));
    } else if (const core::MetricInfo* metric = core::FindMetric(key)) {
      const auto value = ParseNumber<double>(text);
      if (!value) return tl::unexpected("metric " + name + ": not a number");
      // An optional unit follows as its own token; it must be the catalogue's (no silent conversion).
      if (i + 1 < tokens.size() && tokens[i + 1].find('=') == std::string_view::npos) {
        if (tokens[i + 1] != metric->unit) {
          return tl::unexpected("metric " + name + ": unit must be '" + std::string(metric->unit) + "'");
        }
        ++i;
      }
      sample.values.push_back({std::string(metric->name), *value});
    } else {
      return tl::unexpected("unknown key " + name);
    }
  }
  if (sample.flags.Has(core::QualityFlag::kFingerOut) || sample.flags.Has(core::QualityFlag::kSearching) ||
      sample.flags.Has(core::QualityFlag::kSensorError)) {
    sample.values.clear();  // the device said its values are not real
  }
  return sample;
}

Decoder::Parsed AsciiLineDecoder::Parse(std::span<const std::uint8_t> a, std::vector<Sample>& out) {
  if (discarding_long_line_) {
    const auto newline = std::find(a.begin(), a.end(), std::uint8_t{'\n'});
    if (newline == a.end()) return {Step::kSkip, a.size()};
    discarding_long_line_ = false;
    return {Step::kSkip, static_cast<std::size_t>(newline - a.begin()) + 1};
  }
  // Only the first kMaxLine bytes may hold the end of the line, however many have arrived.
  const auto limit = a.begin() + static_cast<std::ptrdiff_t>(std::min(a.size(), kMaxLine));
  const auto newline = std::find(a.begin(), limit, std::uint8_t{'\n'});
  if (newline == limit) {
    if (a.size() < kMaxLine) return {Step::kNeedMore, 0};
    discarding_long_line_ = true;
    stats_.last_error = "line longer than " + std::to_string(kMaxLine) + " bytes";
    return {Step::kBadFrame, kMaxLine};
  }
  const auto length = static_cast<std::size_t>(newline - a.begin());
  const std::string_view line(reinterpret_cast<const char*>(a.data()), length);
  auto parsed = ParseAsciiLine(line);
  if (!parsed) {
    stats_.last_error = parsed.error();
    return {Step::kBadFrame, length + 1};
  }
  if (*parsed) out.push_back(std::move(**parsed));
  return {Step::kFrame, length + 1};
}

}  // namespace ehg::devices::serial
