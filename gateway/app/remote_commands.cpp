#include "gateway/app/remote_commands.hpp"

#include <sstream>

#include "gateway/app/component_options.hpp"
#include "gateway/config/security_floor.hpp"
#include "gateway/core/json_writer.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/overloaded.hpp"

namespace ehg::app {

uplink::CommandOutcome RemoteCommands::ApplyConfig(const wire::ConfigApply& apply) {
  auto local = port_.ReadLocalConfigText();
  if (!local)
    return {false, "the local config file does not read, nothing changed: " + local.error().message};
  return ApplyConfigText(apply.text, *local);
}

uplink::CommandOutcome RemoteCommands::ApplyConfigText(const std::string& text,
                                                       const std::string& local_text) {
  const std::filesystem::path base = std::filesystem::absolute(config_path_).parent_path();
  // Relative paths resolve as LoadConfig resolves them in the local file, so equal texts compare equal.
  config::ConfigResult parsed = config::ParseConfig(text, base);
  if (!parsed) {
    const auto& errors = parsed.error();
    return {false, "invalid config, nothing changed: " + errors.front().ToString() +
                       (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : "")};
  }
  // The floor is what the local file says now (what the next start takes, local edits included); a
  // remote config may differ from it only in care settings. When the local file does not read, nothing
  // remote replaces it: the installer fixes it on site (and config_ belongs to the main thread).
  const config::ConfigResult on_disk = config::ParseConfig(local_text, base);
  if (!on_disk) {
    return {false,
            "the local config file does not read, nothing changed: " + on_disk.error().front().ToString()};
  }
  const std::vector<std::string> touched = config::SecurityFloorViolations(*on_disk, *parsed);
  if (!touched.empty()) {
    std::string keys;
    for (const std::string& key : touched)
      keys += (keys.empty() ? "" : ", ") + key;
    core::LogWarning("remote config refused: it touches the security floor", {{"keys", keys}});
    return {false,
            "refused, nothing changed: only the local config file may set " + keys +
                " (a remote config may change rules, devices on the serial ports the local file names, "
                "resident.time_zone, uplink.heartbeat_seconds and gateway.log_level between info and "
                "warning; docs/security.md)"};
  }
  if (const auto unsupported = UnsupportedSimulatedDevice(*parsed, simulators_linked_)) {
    return {false, "invalid config, nothing changed: " + *unsupported};
  }
  if (const auto unusable = port_.UnusableFiles(*parsed)) return {false, *unusable};
  const std::filesystem::path previous = config_path_.string() + ".previous";
  if (auto written = port_.WriteConfig(text, previous); !written) {
    return {false, "could not write the config, the previous one stays: " + written.error().message};
  }
  core::LogInfo("config replaced by command",
                {{"config", config_path_.string()}, {"previous", previous.string()}});
  port_.Reload();
  return {true, "config written (previous kept as " + previous.filename().string() +
                    ") and reloading; broker, uplink, storage and security changes apply after a restart"};
}

uplink::CommandOutcome RemoteCommands::ApplyRules(const wire::RulesApply& rules) {
  // The file is read once: the floor is checked against the same text the new rules go into, so a local
  // edit made meanwhile is neither lost nor judged by an older file.
  auto local = port_.ReadLocalConfigText();
  if (!local)
    return {false, "the local config file does not read, nothing changed: " + local.error().message};
  auto changed = config::WithRules(*local, rules.rules);
  if (!changed)
    return {false, "the local config file does not read, nothing changed: " + changed.error().message};
  uplink::CommandOutcome outcome = ApplyConfigText(*changed, *local);
  if (outcome.ok) outcome.detail = "rules replaced; " + outcome.detail;
  return outcome;
}

uplink::CommandOutcome RemoteCommands::Apply(const wire::ConfigChange& change) {
  return std::visit(core::Overloaded{[this](const wire::ConfigApply& apply) { return ApplyConfig(apply); },
                                     [this](const wire::RulesApply& rules) { return ApplyRules(rules); }},
                    change);
}

uplink::CommandOutcome RemoteCommands::RequestUpdate(const wire::UpdateRequest& update,
                                                     const std::string& command_id) {
  auto critical = port_.CountOpenCriticalAlerts();
  if (!critical) return {false, "cannot check for open critical alerts: " + critical.error().message};
  if (*critical > 0) {
    return {false, "a critical alert is open: no update starts until it is resolved"};
  }
  core::JsonWriter body;
  body.BeginObject().Key("version").String(update.version).Key("command_id").String(command_id);
  body.Key("requested_at").String(core::FormatIso8601(clock_.Now())).EndObject();
  if (auto written = port_.WriteUpdateRequest(std::move(body).Take() + "\n"); !written) {
    return {false, "could not write the update request: " + written.error().message};
  }
  core::LogInfo("update requested", {{"version", update.version}});
  return {true, "update to " + update.version + " requested; the update helper reports the outcome"};
}

}  // namespace ehg::app
