// The config's devices: serial, BLE and simulated. The protocol and profile names each type accepts, and
// what each kind allows (user slots, polling) and how it times its readings, come from the device
// catalogue (gateway/core/device_catalog.hpp).
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <set>

#include "alerts/evaluator.hpp"
#include "gateway/config/parsers.hpp"
#include "gateway/core/device_catalog.hpp"

namespace ehg::config {
namespace {

using core::DeviceKind;
using core::DeviceConnection;
using detail::Errors;
using detail::Expected;
using detail::Field;
using detail::JoinNames;
using detail::ObjectReader;

// Scenario parameters with the range a simulated resident may be driven to.
struct ScenarioParameter {
  std::string_view name;
  double min;
  double max;
};
constexpr std::array<ScenarioParameter, 7> kScenarioParameters{{{"systolic", 60, 260},
                                                                {"diastolic", 30, 160},
                                                                {"pulse", 30, 220},
                                                                {"spo2", 70, 100},
                                                                {"perfusion_index", 0.2, 20},
                                                                {"temperature", 33, 42},
                                                                {"weight", 20, 250}}};
constexpr std::array<std::string_view, kScenarioParameters.size()> kScenarioParameterNames = [] {
  std::array<std::string_view, kScenarioParameters.size()> names{};
  for (std::size_t i = 0; i < names.size(); ++i)
    names[i] = kScenarioParameters[i].name;
  return names;
}();

// The BLE profile whose devices are heard in advertisements and may carry a key and buttons.
constexpr std::string_view kBthomeProfile = "bthome";

bool IsBluetoothAddress(std::string_view text) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2) {
      if (text[i] != ':') return false;
    } else if (!detail::IsHex(text.substr(i, 1))) {
      return false;
    }
  }
  return true;
}

// "blood_pressure or weight_scale": the kinds of a link that have a property, for "only a ..." errors.
std::string KindsWith(DeviceConnection link, bool DeviceKind::*property) {
  std::string names;
  for (const DeviceKind& kind : core::DeviceKinds()) {
    if (kind.link != link || !(kind.*property)) continue;
    if (!names.empty()) names += " or ";
    names += kind.name;
  }
  return names;
}

// The `profile` or `protocol` key of a device: one of its link's names in the catalogue.
std::optional<std::string> ReadKindName(ObjectReader& reader, std::string_view key, DeviceConnection link) {
  const std::span<const std::string_view> names = core::DeviceKindNames(link);
  const Field field = reader.Required(key, "one of " + JoinNames(names));
  return field ? detail::ReadChoice(field, reader.errors(), names) : std::nullopt;
}

void ParseScenario(const Field& steps, Errors& errors, SimulatedDeviceConfig& settings) {
  if (steps->type != core::JsonValue::Type::kArray) {
    errors.Add(steps.path, Expected("an array of scenario steps", *steps), steps.value);
    return;
  }
  for (std::size_t i = 0; i < steps->items.size(); ++i) {
    const Field step = steps.Item(i);
    if (step->type != core::JsonValue::Type::kObject) {
      errors.Add(step.path, Expected("a scenario step such as {\"after_seconds\": 60, \"spo2\": 86}", *step),
                 step.value);
      continue;
    }
    ObjectReader reader(*step, step.path, errors);
    std::optional<double> after;
    if (const Field after_field = reader.Required("after_seconds", "seconds since the device started"))
      after = detail::ReadNumber(after_field, errors, 0, 30 * 86'400, "seconds");
    std::size_t parameters = 0;
    for (const ScenarioParameter& parameter : kScenarioParameters) {
      const Field value = reader.Optional(parameter.name);
      if (!value) continue;
      ++parameters;
      const auto number = detail::ReadNumber(value, errors, parameter.min, parameter.max, "a value");
      if (number && after) {
        settings.scenario.push_back(
            {std::chrono::milliseconds(std::llround(*after * 1000)), std::string(parameter.name), *number});
      }
    }
    if (parameters == 0) {
      errors.Add(step.path, "a scenario step sets at least one of " + JoinNames(kScenarioParameterNames),
                 step.value);
    }
    reader.Finish();
  }
  std::stable_sort(settings.scenario.begin(), settings.scenario.end(),
                   [](const ScenarioStep& a, const ScenarioStep& b) { return a.after < b.after; });
}

void ParseSimulatedDevice(ObjectReader& reader, DeviceConfig& device) {
  SimulatedDeviceConfig settings;
  if (auto profile = ReadKindName(reader, "profile", DeviceConnection::kSimulated)) settings.profile = *profile;
  if (auto seconds = reader.Number("interval_seconds", 0.001, 86'400, "seconds"))
    settings.interval = std::chrono::milliseconds(std::llround(*seconds * 1000));
  if (auto seed = reader.Integer("seed", 0, std::int64_t{1} << 53, "a random seed"))
    settings.seed = static_cast<std::uint64_t>(*seed);
  if (auto rate = reader.Number("artefact_rate", 0, 1, "a share")) settings.artefact_rate = *rate;
  if (const Field scenario = reader.Optional("scenario")) ParseScenario(scenario, reader.errors(), settings);
  device.settings = settings;
}

void ParseSerialDevice(ObjectReader& reader, DeviceConfig& device) {
  Errors& errors = reader.errors();
  SerialDeviceConfig settings;
  constexpr std::string_view kPortExpected = "a device path such as /dev/ttyUSB0";
  if (const Field port = reader.Required("port", kPortExpected)) {
    // Normally /dev/serial/by-id/...; any absolute path to a tty works (a simulator's pty link).
    if (port->type == core::JsonValue::Type::kString && port->text.starts_with("/") &&
        port->text.size() > 1) {
      settings.port = port->text;
    } else {
      errors.Add(port.path, Expected(kPortExpected, *port), port.value);
    }
  }
  if (auto protocol = ReadKindName(reader, "protocol", DeviceConnection::kSerial)) settings.protocol = *protocol;
  // 0: every sample is a reading at once.
  if (auto window = reader.Duration("window", std::chrono::seconds{1}, std::chrono::hours{1}, true))
    settings.window = *window;
  if (auto flag = reader.Bool("forward_waveform")) settings.forward_waveform = *flag;
  // An unknown protocol (already reported) allows neither of the keys below.
  const DeviceKind* kind = core::FindDeviceKind(DeviceConnection::kSerial, settings.protocol);
  if (const Field user = reader.Optional("user")) {
    if (kind == nullptr || !kind->user_slots) {
      errors.Add(
          user.path,
          "only a " + KindsWith(DeviceConnection::kSerial, &DeviceKind::user_slots) + " monitor has user slots",
          user.value);
    } else if (auto slot = detail::ReadInteger(user, errors, 1, 2, "a user slot")) {
      settings.user = static_cast<unsigned>(*slot);
    }
  }
  constexpr std::string_view kPollInterval = "poll_interval";
  if (auto poll = reader.Duration(kPollInterval, std::chrono::seconds{10}, std::chrono::days{1})) {
    if (kind != nullptr && kind->polled) {
      settings.poll_interval = *poll;
    } else {
      errors.Add(reader.PathOf(kPollInterval),
                 "only a " + KindsWith(DeviceConnection::kSerial, &DeviceKind::polled) +
                     " monitor is polled; streaming devices send by themselves",
                 nullptr);
    }
  }
  device.settings = settings;
}

// bthome: what each button event means.
void ParseButtons(const Field& buttons, Errors& errors, BleDeviceConfig& settings) {
  static constexpr std::array<std::string_view, 7> kEvents{
      "press",     "double_press", "triple_press", "long_press", "long_double_press", "long_triple_press",
      "hold_press"};
  static constexpr std::array<std::string_view, 2> kMeanings{"emergency", "ignore"};
  if (settings.profile != kBthomeProfile && !settings.profile.empty()) {
    errors.Add(buttons.path, "only a " + std::string(kBthomeProfile) + " device has buttons", buttons.value);
    return;
  }
  if (buttons->type != core::JsonValue::Type::kObject) {
    errors.Add(buttons.path,
               Expected("an object of button events, e.g. {\"double_press\": \"ignore\"}", *buttons),
               buttons.value);
    return;
  }
  for (const core::JsonMember& member : buttons->members) {
    const Field event{&member.value, buttons.path + "." + member.key};
    if (std::find(kEvents.begin(), kEvents.end(), member.key) == kEvents.end()) {
      errors.Add(event.path, "unknown button event; one of " + JoinNames(kEvents), event.value);
      continue;
    }
    if (auto meaning = detail::ReadChoice(event, errors, kMeanings)) settings.buttons[member.key] = *meaning;
  }
}

void ParseBleDevice(ObjectReader& reader, DeviceConfig& device) {
  Errors& errors = reader.errors();
  BleDeviceConfig settings;
  constexpr std::string_view kAddressExpected = "a Bluetooth address such as \"A4:C1:38:12:34:56\"";
  if (const Field address = reader.Required("address", kAddressExpected)) {
    if (address->type == core::JsonValue::Type::kString && IsBluetoothAddress(address->text)) {
      settings.address = address->text;
      std::transform(settings.address.begin(), settings.address.end(), settings.address.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    } else {
      errors.Add(address.path, Expected(kAddressExpected, *address), address.value);
    }
  }
  if (auto profile = ReadKindName(reader, "profile", DeviceConnection::kBle)) settings.profile = *profile;
  // An unknown profile (already reported) is not judged again below.
  const bool known_profile = !settings.profile.empty();
  constexpr std::string_view kBthomeKey = "bthome_key";
  if (const Field key = reader.Optional(kBthomeKey)) {
    constexpr std::string_view kKeyExpected = "a 128-bit key as 32 hex digits";
    if (key->type == core::JsonValue::Type::kString && key->text.size() == 32 && detail::IsHex(key->text)) {
      settings.bthome_key_hex = key->text;
    } else {
      errors.Add(key.path, Expected(kKeyExpected, *key), key.value);
    }
    if (settings.profile != kBthomeProfile && known_profile) {
      errors.Add(key.path,
                 "only a " + std::string(kBthomeProfile) + " device takes a " + std::string(kBthomeKey),
                 key.value);
    }
  }
  if (const Field buttons = reader.Optional("buttons")) ParseButtons(buttons, errors, settings);
  if (const Field user = reader.Optional("user")) {
    const DeviceKind* kind = core::FindDeviceKind(DeviceConnection::kBle, settings.profile);
    if (known_profile && (kind == nullptr || !kind->user_slots)) {
      errors.Add(user.path,
                 "only a " + KindsWith(DeviceConnection::kBle, &DeviceKind::user_slots) + " device has user slots",
                 user.value);
    } else if (auto slot = detail::ReadInteger(user, errors, 1, 254, "user slot")) {
      settings.user = static_cast<unsigned>(*slot);
    }
  }
  device.settings = settings;
}

// The config's device types: a new one is a row here and a parser above.
struct DeviceType {
  std::string_view name;
  void (*parse)(ObjectReader& reader, DeviceConfig& device);
};
constexpr std::array<DeviceType, 3> kDeviceTypes{{
    {"sim", ParseSimulatedDevice},
    {"serial", ParseSerialDevice},
    {"ble", ParseBleDevice},
}};
constexpr std::array<std::string_view, kDeviceTypes.size()> kDeviceTypeNames = [] {
  std::array<std::string_view, kDeviceTypes.size()> names{};
  for (std::size_t i = 0; i < names.size(); ++i)
    names[i] = kDeviceTypes[i].name;
  return names;
}();

std::optional<DeviceConfig> ParseDevice(const Field& object, Errors& errors, std::set<std::string>& seen) {
  ObjectReader reader(*object, object.path, errors);
  const detail::ErrorMark mark(errors);
  DeviceConfig device;
  constexpr std::string_view kIdExpected = "a device id of 1-64 letters, digits, '-', '_' or '.'";
  if (const Field id = reader.Required("id", kIdExpected)) {
    if (id->type != core::JsonValue::Type::kString || !detail::IsIdentifier(id->text, 1, 64, true)) {
      errors.Add(id.path, Expected(kIdExpected, *id), id.value);
    } else if (!seen.insert(id->text).second) {
      errors.Add(id.path, "duplicate device id \"" + id->text + "\"", id.value);
    } else {
      device.id = id->text;
    }
  }
  const Field type_field = reader.Required("type", "one of " + JoinNames(kDeviceTypeNames));
  const auto type_name = type_field ? detail::ReadChoice(type_field, errors, kDeviceTypeNames) : std::nullopt;
  // Without a type the other keys cannot be judged; report only what was said above.
  if (!type_name) return std::nullopt;
  device.expected_interval =
      reader.Duration("expected_interval", std::chrono::minutes{1}, std::chrono::days{14});
  // No further ahead than the engine takes readings at all.
  device.clock_ahead =
      reader.Duration("clock_ahead", std::chrono::seconds{1},
                      std::chrono::duration_cast<std::chrono::seconds>(alerts::kFurthestAhead), true);
  device.clock_behind = reader.Duration("clock_behind", std::chrono::seconds{1}, std::chrono::days{90}, true);
  for (const DeviceType& type : kDeviceTypes) {
    if (type.name == *type_name) type.parse(reader, device);
  }
  reader.Finish();
  return mark.Clean() ? std::optional<DeviceConfig>(std::move(device)) : std::nullopt;
}

}  // namespace

namespace detail {

void ParseDevices(const Field& devices, Errors& errors, std::vector<DeviceConfig>& out) {
  if (devices->type != core::JsonValue::Type::kArray) {
    errors.Add(devices.path, Expected("an array of devices", *devices), devices.value);
    return;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < devices->items.size(); ++i) {
    const Field item = devices.Item(i);
    if (item->type != core::JsonValue::Type::kObject) {
      errors.Add(item.path, Expected("a device object", *item), item.value);
      continue;
    }
    if (auto device = ParseDevice(item, errors, seen)) out.push_back(std::move(*device));
  }
}

}  // namespace detail

std::chrono::seconds ExpectedInterval(const DeviceConfig& device) {
  if (device.expected_interval) return *device.expected_interval;
  if (const auto* simulated = std::get_if<SimulatedDeviceConfig>(&device.settings)) {
    return std::max<std::chrono::seconds>(std::chrono::minutes{1},
                                          std::chrono::ceil<std::chrono::seconds>(simulated->interval * 3));
  }
  return std::chrono::hours{26};
}

core::DeviceTiming Timing(const DeviceConfig& device) {
  using core::DeviceTiming;
  struct Visitor {
    DeviceTiming operator()(const SimulatedDeviceConfig&) const { return DeviceTiming::kStreaming; }
    DeviceTiming operator()(const SerialDeviceConfig& serial) const {
      const DeviceKind* kind = core::FindDeviceKind(DeviceConnection::kSerial, serial.protocol);
      return kind != nullptr ? kind->timing : DeviceTiming::kStreaming;
    }
    DeviceTiming operator()(const BleDeviceConfig& ble) const {
      const DeviceKind* kind = core::FindDeviceKind(DeviceConnection::kBle, ble.profile);
      return kind != nullptr ? kind->timing : DeviceTiming::kStoredRecords;
    }
  };
  return std::visit(Visitor{}, device.settings);
}

core::DeviceClockTolerance ClockTolerance(const DeviceConfig& device) {
  core::DeviceClockTolerance tolerance = core::DefaultClockTolerance(Timing(device));
  if (device.clock_ahead) tolerance.ahead = *device.clock_ahead;
  if (device.clock_behind) tolerance.behind = *device.clock_behind;
  return tolerance;
}

std::span<const std::string_view> ScenarioParameters() {
  return kScenarioParameterNames;
}

}  // namespace ehg::config
