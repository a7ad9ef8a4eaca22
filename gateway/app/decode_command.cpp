#include "gateway/app/decode_command.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <iterator>
#include <sstream>

#include "devices/ble_profiles/bthome.hpp"
#include "devices/ble_profiles/profiles.hpp"
#include "devices/serial_protocols/decoder.hpp"
#include "gateway/app/exit_codes.hpp"
#include "gateway/core/bounded_file.hpp"
#include "gateway/core/json_writer.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::app {
namespace {

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

std::string_view UnitOf(std::string_view metric) {
  if (metric == "cuff_pressure") return "mm[Hg]";  // shown while inflating, never a catalogue reading
  const core::MetricInfo* info = core::FindMetric(metric);
  return info != nullptr ? info->unit : std::string_view();
}

// What every printed reading starts with: metric, value, unit and quality flags. The object stays open for
// the caller's fields; PrintLine closes and prints it.
void ReadingObject(core::JsonWriter& json, std::string_view metric, double value,
                   core::QualityFlags quality) {
  json.BeginObject().Key("metric").String(metric).Key("value").Number(value).Key("unit").String(
      UnitOf(metric));
  json.Key("flags").BeginArray();
  for (const std::string& name : quality.Names())
    json.String(name);
  json.EndArray();
}

void PrintLine(core::JsonWriter& json) {
  std::cout << std::move(json.EndObject()).Take() << "\n";
}

void Print(const devices::serial::Sample& sample, std::string_view metric, double value) {
  core::JsonWriter json;
  ReadingObject(json, metric, value, sample.flags);
  if (sample.device_time) json.Key("device_time").String(core::FormatIso8601(*sample.device_time));
  if (sample.device_local_time)
    json.Key("device_local_time").String(core::FormatCivilTime(*sample.device_local_time));
  if (sample.sequence) json.Key("sequence").Unsigned(*sample.sequence);
  if (sample.user != 1) json.Key("user").Unsigned(sample.user);
  if (sample.battery_low) json.Key("battery_low").Bool(true);
  PrintLine(json);
}

// Details with the same key (a device can report several) are joined with commas, in their order.
void PrintDetails(core::JsonWriter& json, const std::vector<std::pair<std::string, std::string>>& details) {
  if (details.empty()) return;
  std::vector<std::pair<std::string, std::string>> grouped;
  for (const auto& [key, value] : details) {
    const auto same = std::find_if(grouped.begin(), grouped.end(),
                                   [&key = key](const auto& entry) { return entry.first == key; });
    if (same != grouped.end()) {
      same->second += "," + value;
    } else {
      grouped.emplace_back(key, value);
    }
  }
  json.Key("details").BeginObject();
  for (const auto& [key, value] : grouped)
    json.Key(key).String(value);
  json.EndObject();
}

void PrintMeasurement(const devices::ble::Measurement& measurement, const devices::ble::ProfileValue& value) {
  core::JsonWriter json;
  ReadingObject(json, value.metric, value.value, measurement.flags);
  if (measurement.device_local_time) {
    json.Key("device_local_time").String(core::FormatCivilTime(*measurement.device_local_time));
  }
  if (measurement.device_clock_not_set) json.Key("device_clock_not_set").Bool(true);
  if (measurement.sequence) json.Key("sequence").Unsigned(*measurement.sequence);
  if (measurement.user) json.Key("user").Unsigned(*measurement.user);
  if (measurement.intermediate) json.Key("intermediate").Bool(true);
  PrintDetails(json, measurement.details);
  PrintLine(json);
}

int DecodeCharacteristic(const DecodeRequest& request, const std::vector<std::uint8_t>& bytes) {
  const std::string_view id = std::string_view(request.format).substr(4);
  std::optional<std::uint16_t> uuid16;
  if (id.size() == 4)
    uuid16 = devices::ble::Uuid16("0000" + std::string(id) + "-0000-1000-8000-00805f9b34fb");
  const devices::ble::CharacteristicParser parser = uuid16 ? devices::ble::FindParser(*uuid16) : nullptr;
  if (parser == nullptr) {
    std::cerr << "error: unknown characteristic \"" << request.format << "\"; one of:";
    for (const std::uint16_t known : devices::ble::ParsedCharacteristics()) {
      char name[16];
      std::snprintf(name, sizeof name, " ble:%04X", known);
      std::cerr << name;
    }
    std::cerr << "\n";
    return kExitUsage;
  }
  auto measurement = parser(bytes);
  if (!measurement) {
    std::cerr << "error: " << measurement.error().message << "\n";
    return 1;
  }
  for (const devices::ble::ProfileValue& value : measurement->values)
    PrintMeasurement(*measurement, value);
  std::cerr << request.format << ": " << bytes.size() << " bytes, " << measurement->values.size()
            << " readings";
  if (measurement->values.empty()) {
    std::cerr << " (no value the device vouches for";
    for (const auto& [key, value] : measurement->details)
      std::cerr << "; " << key << ": " << value;
    std::cerr << ")";
  }
  std::cerr << "\n";
  return 0;
}

int DecodeBthomeAdvertisement(const DecodeRequest& request, const std::vector<std::uint8_t>& bytes) {
  std::optional<devices::ble::BthomeKey> key;
  if (!request.key.empty()) {
    key = devices::ble::ParseKey(request.key);
    if (!key) {
      std::cerr << "error: --key takes the device's key as 32 hex digits\n";
      return kExitUsage;
    }
  }
  devices::ble::BluetoothAddress address{};
  if (!request.address.empty()) {
    auto parsed = devices::ble::ParseAddress(request.address);
    if (!parsed) {
      std::cerr << "error: --address takes the device address as AA:BB:CC:DD:EE:FF\n";
      return kExitUsage;
    }
    address = *parsed;
  } else if (key) {
    std::cerr
        << "error: an encrypted packet needs the device address (--address AA:BB:CC:DD:EE:FF): it is part "
           "of the nonce\n";
    return kExitUsage;
  }
  auto packet = devices::ble::DecodeBthome(bytes, key, address);
  if (!packet) {
    std::cerr << "error: " << packet.error().message << "\n";
    return 1;
  }
  auto print = [&](const std::string& metric, double value,
                   const std::function<void(core::JsonWriter&)>& extra) {
    core::JsonWriter json;
    ReadingObject(json, metric, value, {});
    if (packet->timestamp) {
      json.Key("device_time")
          .String(core::FormatIso8601(core::WallTime(std::chrono::seconds(*packet->timestamp))));
    }
    if (packet->packet_id) json.Key("packet_id").Unsigned(*packet->packet_id);
    if (packet->counter) json.Key("counter").Unsigned(*packet->counter);
    if (extra) extra(json);
    PrintLine(json);
  };
  for (const devices::ble::ProfileValue& value : packet->values)
    print(value.metric, value.value, {});
  for (const devices::ble::BthomeButtonEvent& button : packet->buttons) {
    print("button", button.code, [&](core::JsonWriter& json) {
      json.Key("event").String(button.name);
      json.Key("button").Unsigned(button.button);
    });
  }
  std::cerr << "bthome: " << bytes.size() << " bytes, " << (packet->encrypted ? "encrypted" : "plain")
            << (packet->trigger_based ? ", trigger-based" : "") << ", "
            << packet->values.size() + packet->buttons.size() << " readings";
  if (packet->battery_low) std::cerr << ", battery low";
  for (const auto& [key_name, value] : packet->details)
    std::cerr << "; " << key_name << ": " << value;
  std::cerr << "\n";
  return 0;
}

}  // namespace

int DecodeBytes(const DecodeRequest& request) {
  std::vector<std::uint8_t> bytes;
  if (!request.file.empty()) {
    auto text = core::ReadCheckedFile(request.file, core::kCaptureFile);
    if (!text) {
      std::cerr << "error: " << text.error().message << "\n";
      return kExitNoInput;
    }
    bytes.assign(text->begin(), text->end());
  } else {
    auto parsed = ParseHex(request.hex);
    if (!parsed) {
      std::cerr << "error: --hex takes pairs of hex digits (e.g. \"01 E0 85 D5\"), optionally separated by "
                   "spaces or colons\n";
      return kExitUsage;
    }
    bytes = std::move(*parsed);
  }
  if (request.format.rfind("ble:", 0) == 0) return DecodeCharacteristic(request, bytes);
  if (request.format == "bthome") return DecodeBthomeAdvertisement(request, bytes);
  if (!request.key.empty() || !request.address.empty()) {
    std::cerr << "error: --key and --address are for --format bthome\n";
    return kExitUsage;
  }
  auto decoder = devices::serial::MakeDecoder(request.format);
  if (!decoder) {
    std::cerr << "error: unknown format \"" << request.format << "\"; one of:";
    for (const std::string_view name : devices::serial::ProtocolNames())
      std::cerr << " " << name;
    std::cerr << " ble:XXXX (a characteristic, e.g. ble:2A35) bthome\n";
    return kExitUsage;
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
  if (without_values > 0)
    std::cerr << ", " << without_values
              << " frames without a clinical value (finger out, searching or sensor error)";
  if (stats.bad_frames > 0)
    std::cerr << ", " << stats.bad_frames << " refused frames (last: " << stats.last_error << ")";
  if (stats.discarded_bytes > 0) std::cerr << ", " << stats.discarded_bytes << " bytes skipped";
  if (decoder->buffered() > 0)
    std::cerr << ", " << decoder->buffered() << " bytes at the end are an incomplete frame";
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
