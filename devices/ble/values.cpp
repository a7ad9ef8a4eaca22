#include <sdbus-c++/sdbus-c++.h>

#include "devices/ble/ble_manager_impl.hpp"
#include "devices/ble_profiles/measurement_rules.hpp"
#include "devices/ble_profiles/profiles.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/vital_signs.hpp"

// Values: characteristic values and BTHome advertisements into readings (docs/ble.md, "Characteristics
// and what becomes a reading", "BTHome"), and their delivery with the device events to the pipeline,
// offered again while it refuses them (docs/architecture.md, "Threads").
namespace ehg::devices::ble {

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxPendingReadings = 10'000;
constexpr auto kRetryRefusedDelivery = 200ms;

}  // namespace

void BleManager::Impl::OnValue(Device& device, std::uint16_t uuid16, const std::vector<std::uint8_t>& value) {
  ++device.stats.values;
  device.stats.last_contact = clock.Now();
  if (uuid16 == uuid::kRecordAccessControlPoint) {
    OnRecordAccess(device, value);
    return;
  }
  const CharacteristicParser parser = FindParser(uuid16);
  if (parser == nullptr) return;
  auto measurement = parser(value);
  if (!measurement) {
    ++device.stats.parse_errors;
    SetError(device, measurement.error().message, "", false);
    core::LogWarning("device value refused",
                     {{"device", device.options.device_id}, {"reason", measurement.error().message}});
    return;
  }
  if (measurement->intermediate || uuid16 == uuid::kGlucoseContext) return;
  if (JudgeUserSlot(device.options.user, measurement->user) == UserSlot::kOtherUser) {
    ++device.stats.other_users;
    core::LogInfo(
        "measurement of another user of the device skipped",
        {{"device", device.options.device_id}, {"user", static_cast<unsigned>(*measurement->user)}});
    return;
  }
  if (measurement->sequence) device.records.Saw(*measurement->sequence);
  const std::optional<core::WallTime> device_time = ClaimedDeviceTime(*measurement, options.local_to_utc);
  for (const ProfileValue& profile_value : measurement->values) {
    core::Reading reading = MakeReading(device, profile_value.metric, profile_value.value);
    reading.device_time = device_time;
    reading.flags = measurement->flags;
    if (measurement->sequence) reading.sequence = *measurement->sequence;
    Queue(device, std::move(reading));
  }
  Flush();
}

void BleManager::Impl::OnServiceData(Device& device, const sdbus::Variant& variant) {
  std::map<std::string, sdbus::Variant> data;
  try {
    data = variant.get<std::map<std::string, sdbus::Variant>>();
  } catch (const sdbus::Error&) {
    return;
  }
  auto entry = data.find(Uuid128(uuid::kBthomeServiceData));
  if (entry == data.end()) return;
  std::vector<std::uint8_t> bytes;
  try {
    bytes = entry->second.get<std::vector<std::uint8_t>>();
  } catch (const sdbus::Error&) {
    return;
  }
  ++device.stats.values;
  device.stats.last_contact = clock.Now();
  auto packet = DecodeBthome(bytes, device.key, device.address);
  if (!packet) {
    ++device.stats.parse_errors;
    SetError(device, packet.error().message, "", false);
    LogOnce(device, "advertisement refused", packet.error().message);
    return;
  }
  switch (device.dedup.Check(*packet)) {
    case BthomeDeduplicator::Verdict::kDuplicate:
      ++device.stats.duplicates;
      return;
    case BthomeDeduplicator::Verdict::kReplay:
      ++device.stats.replays;
      LogOnce(device, "advertisement refused", "old counter (replayed packet)");
      return;
    case BthomeDeduplicator::Verdict::kNew:
      break;
  }
  Apply(device, link_event::AdvertisementAccepted{});
  for (const ProfileValue& value : packet->values)
    Queue(device, MakeReading(device, value.metric, value.value));
  for (const BthomeButtonEvent& button : packet->buttons) {
    ButtonMeaning meaning = ButtonMeaning::kEmergency;
    for (const auto& [name, configured] : device.options.button_meanings) {
      if (name == button.name) meaning = configured;
    }
    if (meaning == ButtonMeaning::kIgnore) {
      core::LogInfo("button event ignored by configuration",
                    {{"device", device.options.device_id}, {"event", button.name}});
      continue;
    }
    core::LogInfo("button pressed", {{"device", device.options.device_id}, {"event", button.name}});
    Queue(device, MakeReading(device, "button", button.code));
  }
  if (packet->battery_low) core::LogWarning("battery low", {{"device", device.options.device_id}});
  Flush();
}

core::Reading BleManager::Impl::MakeReading(const Device& device, const std::string& metric,
                                            double value) const {
  core::Reading reading;
  reading.device_id = device.options.device_id;
  reading.metric = metric;
  reading.value = value;
  const core::MetricInfo* info = core::FindMetric(metric);
  reading.unit = info != nullptr ? std::string(info->unit) : std::string();
  reading.received_at = clock.Now();
  reading.time_uncertain = !clock.WallClockSynchronised();
  return reading;
}

void BleManager::Impl::Queue(Device& device, core::Reading reading) {
  ++device.stats.readings;
  pending.push_back(std::move(reading));
  while (pending.size() > kMaxPendingReadings) {
    pending.pop_front();
    readings_dropped.Add();
    if (const std::uint64_t dropped = readings_dropped.Value(); dropped % 1000 == 1) {
      core::LogError("pipeline not taking readings; oldest dropped", {{"dropped_total", dropped}});
    }
  }
}

void BleManager::Impl::Report(Device& device, bool connected, const std::string& detail) {
  device.stats.connected = connected;
  if (statuses == nullptr) return;
  pending_statuses.push_back({device.options.device_id, connected, detail, clock.Now()});
  Flush();
}

void BleManager::Impl::Flush() {
  while (statuses != nullptr && !pending_statuses.empty()) {
    if (!statuses->ReportDeviceStatus(pending_statuses.front())) break;
    pending_statuses.pop_front();
  }
  while (!pending.empty()) {
    if (!sink.Submit(pending.front())) break;
    pending.pop_front();
  }
  if ((!pending.empty() || !pending_statuses.empty()) && flush_timer == 0) {
    flush_timer =
        loop->PostAfter(std::chrono::duration_cast<std::chrono::milliseconds>(kRetryRefusedDelivery), [this] {
          flush_timer = 0;
          Flush();
        });
  }
}

}  // namespace ehg::devices::ble
