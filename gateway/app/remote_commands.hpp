#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/config/config.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"
#include "gateway/uplink/uplink.hpp"

namespace ehg::app {

// What the remote commands do outside themselves: files, the store, the reload. The daemon's port works
// on the real files; the unit tests give a fake.
class RemoteCommandPort {
 public:
  virtual ~RemoteCommandPort() = default;
  // The local config file's text as the next start would read it (the security floor, and what
  // rules.apply changes).
  virtual Result<std::string> ReadLocalConfigText() = 0;
  // Why a candidate config cannot run (a file it names unusable, keys that do not load); nothing if it can.
  virtual std::optional<std::string> UnusableFiles(const config::Config& candidate) = 0;
  // Replaces the config file atomically, the old one kept as `previous`.
  virtual Result<void> WriteConfig(std::string_view text, const std::filesystem::path& previous) = 0;
  // Loads the written config like SIGHUP does.
  virtual void Reload() = 0;
  virtual Result<std::uint64_t> CountOpenCriticalAlerts() = 0;
  // The request file the (root) update helper takes: the only thing it reads from the daemon.
  virtual Result<void> WriteUpdateRequest(std::string_view body) = 0;
};

// config.apply, rules.apply and update.request from the care system: what is checked before anything changes,
// and the command result's wording. Each call either changes nothing (ok false, the reason) or does it all.
class RemoteCommands {
 public:
  RemoteCommands(std::filesystem::path config_path, bool simulators_linked, RemoteCommandPort& port,
                 const core::Clock& clock)
      : config_path_(std::move(config_path)),
        simulators_linked_(simulators_linked),
        port_(port),
        clock_(clock) {}

  // The new file is validated as a whole (the security floor of the local file, named files, keys, the
  // devices this binary can run), written atomically with the old one kept beside it, then reloaded.
  uplink::CommandOutcome ApplyConfig(const wire::ConfigApply& apply);
  // The local file with its rules replaced, applied as ApplyConfig applies a file.
  uplink::CommandOutcome ApplyRules(const wire::RulesApply& rules);
  uplink::CommandOutcome Apply(const wire::ConfigChange& change);

  // Refused while a critical alert is open; otherwise writes the request for the update helper.
  uplink::CommandOutcome RequestUpdate(const wire::UpdateRequest& update, const std::string& command_id);

 private:
  // `text` checked against the local file's text (its security floor) and applied.
  uplink::CommandOutcome ApplyConfigText(const std::string& text, const std::string& local_text);

  std::filesystem::path config_path_;
  bool simulators_linked_;
  RemoteCommandPort& port_;
  const core::Clock& clock_;
};

}  // namespace ehg::app
