#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "devices/ble/ble_manager.hpp"
#include "devices/serial/serial_driver.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/telemetry.hpp"
#include "gateway/http/status.hpp"
#include "gateway/pipeline/pipeline.hpp"
#include "gateway/store/store.hpp"
#include "gateway/uplink/uplink.hpp"

namespace ehg::app {

// Builds one http::StatusSnapshot per request from the daemon's live components, on a status page
// thread: atomics, thread-safe getters and the database's own read connection. It holds references to
// the daemon's members (the components may be replaced on reload: devices under devices_mutex).
class StatusCollector {
 public:
  StatusCollector(const config::Config& config, const core::SystemClock& clock,
                  const core::SteadyTime& started, const std::unique_ptr<uplink::Uplink>& uplink,
                  const std::unique_ptr<pipeline::Pipeline>& pipeline,
                  const std::vector<std::unique_ptr<devices::serial::SerialDriver>>& serial,
                  const std::unique_ptr<devices::ble::BleManager>& ble, std::mutex& devices_mutex,
                  const core::telemetry::Registry& telemetry)
      : config_(config),
        clock_(clock),
        started_(started),
        uplink_(uplink),
        pipeline_(pipeline),
        serial_(serial),
        ble_(ble),
        devices_mutex_(devices_mutex),
        telemetry_(telemetry) {}

  http::StatusSnapshot CollectStatus();

 private:
  // devices_mutex_ held.
  http::DeviceView DeviceStatus(const config::DeviceConfig& device, const pipeline::ActivityReport& activity,
                                const std::vector<store::DeviceRecord>* stored,
                                const std::vector<devices::ble::BleDeviceStats>& ble_stats,
                                bool bluez_present, http::StatusSnapshot& status);

  const config::Config& config_;
  const core::SystemClock& clock_;
  const core::SteadyTime& started_;
  const std::unique_ptr<uplink::Uplink>& uplink_;
  const std::unique_ptr<pipeline::Pipeline>& pipeline_;
  const std::vector<std::unique_ptr<devices::serial::SerialDriver>>& serial_;
  const std::unique_ptr<devices::ble::BleManager>& ble_;
  std::mutex& devices_mutex_;
  const core::telemetry::Registry& telemetry_;  // every component's counters
};

}  // namespace ehg::app
