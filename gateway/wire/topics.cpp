#include "gateway/wire/topics.hpp"

namespace ehg::wire {

Topics::Topics(const std::string& tenant, const std::string& gateway_id)
    : base("ehealth/v1/" + tenant + "/" + gateway_id + "/"),
      status(base + "status"),
      command(base + "cmd"),
      command_result(base + "cmd/result") {}

std::string Topics::Event(core::EventKind kind) const {
  return base + std::string(core::TopicSuffix(kind));
}

}  // namespace ehg::wire
