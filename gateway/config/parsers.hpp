#pragma once

#include <filesystem>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/config/reader.hpp"

// The config parser by concern (not part of the library's interface): the sections (sections.cpp), the
// devices (devices.cpp) and the rules (rules.cpp). config.cpp reads the top level and calls these.
namespace ehg::config::detail {

// One section each, read from its object; each reports its unknown keys (ObjectReader::Finish).
// Relative file paths are resolved against `base`.
void ParseGateway(ObjectReader& reader, GatewayConfig& out);
void ParseResident(ObjectReader& reader, ResidentConfig& out);
void ParseBroker(ObjectReader& reader, BrokerConfig& out);
void ParseTls(ObjectReader& reader, TlsConfig& out, const std::filesystem::path& base);
void ParseSecurity(ObjectReader& reader, SecurityConfig& out, const std::filesystem::path& base);
void ParseStorage(ObjectReader& reader, StorageConfig& out, const std::filesystem::path& base);
void ParsePipeline(ObjectReader& reader, PipelineConfig& out);
void ParseUplink(ObjectReader& reader, UplinkConfig& out);
void ParseBluetooth(ObjectReader& reader, BluetoothConfig& out);
void ParseStatusPage(ObjectReader& reader, StatusPageConfig& out, const std::filesystem::path& base);

// The `devices` array: serial, BLE and simulated devices.
void ParseDevices(const Field& devices, Errors& errors, std::vector<DeviceConfig>& out);

// The `rules` array, each rule read by the parser of its kind.
void ParseRules(const Field& rules, Errors& errors, alerts::RuleSet& out);
// Every configured device is supervised for silence by the device_silent rules.
void SuperviseDeviceSilence(const std::vector<DeviceConfig>& devices, alerts::RuleSet& rules);

}  // namespace ehg::config::detail
