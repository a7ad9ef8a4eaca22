#pragma once

#include <string>
#include <vector>

#include "gateway/config/config.hpp"

// The security floor (docs/security.md): what only the local config file may set. A signed remote
// `config.apply` may change the care settings (rules, devices on serial ports the local file names and
// BLE devices, the resident's time zone, the heartbeat interval, the log level between info and warning)
// and nothing else: not the broker, TLS, keys, the replay limits, storage, the
// status page, the pipeline or the uplink's transport settings, and never a development flag, even one
// the local file already sets. So a stolen or misused command key cannot lower security, for good or
// for a while.
namespace ehg::config {

// The config keys (JSON paths) in which `remote` would lower or move the floor that `local` sets, in
// file order. Empty: `remote` may be applied. Anything not on the allowed list counts, so a setting
// added to Config later is part of the floor until someone decides otherwise.
std::vector<std::string> SecurityFloorViolations(const Config& local, const Config& remote);

}  // namespace ehg::config
