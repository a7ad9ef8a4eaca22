#pragma once

#include <string>

#include "gateway/core/event.hpp"

namespace ehg::wire {

// The MQTT topics of one gateway (docs/mqtt.md): ehealth/v1/{tenant}/{gateway}/...
struct Topics {
  Topics(const std::string& tenant, const std::string& gateway_id);

  std::string Event(core::EventKind kind) const;  // event/alert, event/observation, ..., cmd/result
  std::string base;
  std::string status;
  std::string command;
  std::string command_result;
};

}  // namespace ehg::wire
