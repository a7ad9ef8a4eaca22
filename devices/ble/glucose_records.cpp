#include <sdbus-c++/sdbus-c++.h>

#include "devices/ble/ble_manager_impl.hpp"
#include "devices/ble_profiles/profiles.hpp"
#include "devices/ble_profiles/racp.hpp"
#include "gateway/core/log.hpp"

// A glucose meter's stored records (docs/ble.md, "Glucose meters: Record Access Control Point"): the
// request after subscribing, the abort when the LinkMachine's records deadline passes, and the meter's
// answers. Which records to ask for and what an answer means: devices/ble_profiles/record_transfer.hpp.
namespace ehg::devices::ble {

namespace {

void WriteRacp(sdbus::IProxy& racp, const std::vector<std::uint8_t>& value,
               std::function<void(const sdbus::Error*)> done) {
  std::map<std::string, sdbus::Variant> write_options{{"type", sdbus::Variant(std::string("request"))}};
  racp.callMethodAsync("WriteValue")
      .onInterface(bluez::kCharacteristic)
      .withArguments(value, write_options)
      .uponReplyInvoke(std::move(done));
}

}  // namespace

bool BleManager::Impl::FetchesRecords(const Device& device) const {
  return device.options.profile == "glucose" &&
         CharacteristicPath(device, uuid::kRecordAccessControlPoint).has_value();
}

void BleManager::Impl::RequestRecords(Device& device) {
  const auto racp_path = CharacteristicPath(device, uuid::kRecordAccessControlPoint);
  if (!racp_path) return;
  const std::string id = device.options.device_id;
  const std::uint64_t generation = device.link.generation();
  std::optional<std::uint32_t> stored;
  if (options.last_sequence) stored = options.last_sequence(id);
  const RecordRequest request = device.records.NextRequest(stored);
  device.stats.last_record_requested_from = request.first_sequence.value_or(0);
  ++device.stats.records_requested;
  core::LogInfo("requesting stored records",
                {{"device", id},
                 {"from_sequence", static_cast<std::uint64_t>(*device.stats.last_record_requested_from)}});
  WriteRacp(ProxyFor(*racp_path), request.bytes, [this, id, generation](const sdbus::Error* error) {
    Device* found = Find(id);
    if (found == nullptr || error == nullptr) return;
    if (Apply(*found, link_event::RecordsEnded{generation}).stale_reply) return;
    NoteBluezError(*found, "record request refused; retried at the next connection", *error);
  });
}

void BleManager::Impl::AbortRecords(Device& device) {
  const auto racp_path = CharacteristicPath(device, uuid::kRecordAccessControlPoint);
  if (!racp_path) return;
  core::LogWarning("record transfer timed out; aborting it", {{"device", device.options.device_id}});
  WriteRacp(ProxyFor(*racp_path), racp::Abort(), [](const sdbus::Error*) {});
}

void BleManager::Impl::OnRecordAccess(Device& device, const std::vector<std::uint8_t>& value) {
  auto indication = racp::ParseIndication(value);
  if (!indication) {
    ++device.stats.parse_errors;
    core::LogWarning("record access indication refused",
                     {{"device", device.options.device_id}, {"reason", indication.error().message}});
    return;
  }
  if (const auto* count = std::get_if<racp::NumberOfRecords>(&*indication)) {
    core::LogInfo("stored records on the device",
                  {{"device", device.options.device_id}, {"count", count->count}});
    return;
  }
  const auto& response = std::get<racp::Response>(*indication);
  const RecordAnswer answer = JudgeRecordAnswer(response);
  if (answer.answers_abort) ++device.stats.record_transfers_aborted;
  // Indications come only on the link that asked: the current one.
  if (answer.ends_transfer) Apply(device, link_event::RecordsEnded{device.link.generation()});
  const std::string outcome = racp::ResponseCodeName(response.code);
  if (answer.failed) {
    SetError(device, "record access: " + outcome, "", false);
    core::LogWarning("record transfer failed", {{"device", device.options.device_id}, {"outcome", outcome}});
  } else {
    core::LogInfo("record transfer finished", {{"device", device.options.device_id}, {"outcome", outcome}});
  }
}

}  // namespace ehg::devices::ble
