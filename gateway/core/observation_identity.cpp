#include "gateway/core/observation_identity.hpp"

namespace ehg::core {

std::string ObservationIdentifier(std::string_view gateway_id, std::string_view device_id,
                                  std::string_view subject, std::string_view metric, WallTime effective) {
  std::string identifier;
  identifier.reserve(gateway_id.size() + device_id.size() + subject.size() + metric.size() + 20);
  identifier.append(gateway_id).append("/").append(device_id).append("/").append(subject).append("/");
  identifier.append(metric).append("/").append(std::to_string(effective.time_since_epoch().count()));
  return identifier;
}

}  // namespace ehg::core
