#pragma once

#include <filesystem>

namespace ehg::app {

// The running daemon's summary from its local API (status_page in the config). Exit codes as monitoring
// plugins use them: 0 ok, 1 warning, 2 critical (something needs attention), 3 unknown (the daemon or
// its status page cannot be reached, or the config cannot be read).
inline constexpr int kStatusOk = 0;
inline constexpr int kStatusWarning = 1;
inline constexpr int kStatusCritical = 2;
inline constexpr int kStatusUnknown = 3;
struct StatusRequest {
  std::filesystem::path config = "/etc/ehealth-gateway/gateway.json";
  bool json = false;  // print /api/status as it came
};
int PrintStatus(const StatusRequest& request);

}  // namespace ehg::app
