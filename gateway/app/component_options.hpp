#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alerts/time_zone.hpp"
#include "devices/ble/ble_manager.hpp"
#include "devices/serial/serial_driver.hpp"
#include "gateway/config/config.hpp"
#include "gateway/pipeline/pipeline.hpp"
#include "gateway/uplink/uplink.hpp"

// The config turned into each component's options (pure: nothing starts, nothing is opened).
namespace ehg::app {

// A device clock's local time (no zone) in the resident's zone; nullopt for a date that does not exist.
devices::serial::LocalTimeConverter LocalToUtc(std::shared_ptr<const alerts::TimeZone> zone);

// A UTC instant as the resident's wall clock shows it: what BLE devices want written into their clocks.
std::function<core::CivilTime(core::WallTime)> UtcToLocal(std::shared_ptr<const alerts::TimeZone> zone);

// One driver's options per "serial" device of the config, in config order.
std::vector<devices::serial::SerialDeviceOptions> SerialDevices(const config::Config& config,
                                                                std::shared_ptr<const alerts::TimeZone> zone);

// The BLE manager's options for the config's "ble" devices; nullopt when it has none (no bus is opened).
// last_sequence asks the database at storage.path for a glucose meter's last stored record.
std::optional<devices::ble::BleOptions> BleDevices(const config::Config& config,
                                                   std::shared_ptr<const alerts::TimeZone> zone);

// The heartbeat interval: a heartbeat.set the uplink stored (when in range) wins over the config's.
std::chrono::seconds HeartbeatInterval(const config::Config& config,
                                       const std::map<std::string, std::string>& settings);

// The first "sim" device of a config a binary without simulators cannot run, as a config error; nothing
// when `simulators_linked` (ehealth-gateway-tools) or the config has none.
std::optional<std::string> UnsupportedSimulatedDevice(const config::Config& config, bool simulators_linked);

pipeline::PipelineOptions PipelineOptionsFor(const config::Config& config);

// `settings`: what the uplink stored (heartbeat.set).
uplink::UplinkOptions UplinkOptionsFor(const config::Config& config,
                                       const std::map<std::string, std::string>& settings);

}  // namespace ehg::app
