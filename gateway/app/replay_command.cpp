#include "gateway/app/replay_command.hpp"

#include <iostream>
#include <type_traits>
#include <variant>

#include "gateway/app/exit_codes.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/cli_input.hpp"
#include "gateway/pipeline/event_bodies.hpp"
#include "gateway/replay/reading_line.hpp"
#include "gateway/replay/replay.hpp"
#include "gateway/tz/time_zone.hpp"

namespace ehg::app {
namespace {

std::string Describe(const replay::AlertReference& reference) {
  return std::visit(
      [](const auto& by) -> std::string {
        using T = std::decay_t<decltype(by)>;
        if constexpr (std::is_same_v<T, replay::AlertById>) {
          return "alert \"" + replay::EscapeForTerminal(by.alert_id) + "\"";
        } else {
          static_assert(std::is_same_v<T, replay::AlertByRule>);
          std::string text = "rule \"" + replay::EscapeForTerminal(by.rule_id) + "\"";
          if (!by.device_id.empty())
            text += " and device \"" + replay::EscapeForTerminal(by.device_id) + "\"";
          return text;
        }
      },
      reference);
}

}  // namespace

int ReplayReadings(const ReplayRequest& request) {
  if (auto refused = core::RefuseUnusableInput("replay", request.config_path, core::kConfigFile, kExitConfig))
    return *refused;
  const config::ConfigResult config = config::LoadConfig(request.config_path);
  if (!config) {
    for (const config::ConfigError& error : config.error())
      std::cerr << request.config_path.string() << ": " << error.ToString() << "\n";
    return kExitConfig;
  }
  auto zone = tz::LoadTimeZone(config->resident.time_zone);
  if (!zone) {
    std::cerr << request.config_path.string() << ": " << zone.error().message << "\n";
    return kExitConfig;
  }
  const std::string path = request.readings_path.string();
  auto input = replay::ReadingsFile::Open(request.readings_path);
  if (!input) {
    std::cerr << "replay: " << input.error().message << "\n";
    return core::IsUnusableInput(input.error()) ? kExitNoInput : kExitFailure;
  }
  std::optional<core::WallTime> until;
  if (!request.until.empty()) {
    auto parsed = core::ParseIso8601Explained(request.until);
    if (!parsed) {
      std::cerr << "--until: " << parsed.error().message << "\n";
      return kExitFailure;
    }
    until = *parsed;
  }

  std::map<std::string, core::DeviceClockTolerance> clock_tolerances;
  for (const config::DeviceConfig& device : config->devices)
    clock_tolerances[device.id] = config::ClockTolerance(device);
  replay::Replay replay(config->rules, *zone, request.tick, std::move(clock_tolerances));
  const auto print = [](const std::vector<replay::TimelineEntry>& entries) {
    for (const replay::TimelineEntry& entry : entries)
      std::cout << pipeline::AlertTimelineEntry(entry.time, entry.change.kind, entry.change.alert) << "\n";
  };
  std::uint64_t invalid = 0;
  const auto report = [&](std::string_view message) {
    std::cerr << path << ":" << input->line_number() << ": " << message << "\n";
  };
  std::string line;
  while (true) {
    auto next = input->ReadLine(line);
    if (!next) {
      ++invalid;
      std::cerr << path << ": " << next.error().message << " after line " << input->line_number() << "\n";
      break;
    }
    if (*next == replay::ReadingsFile::Next::kEnd) break;
    if (*next == replay::ReadingsFile::Next::kTooLong) {
      ++invalid;
      report("line longer than " + std::to_string(replay::kMaxLineBytes) + " bytes");
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto parsed = replay::ParseReplayLine(line);
    if (!parsed) {
      ++invalid;
      report(parsed.error());
      continue;
    }
    std::visit(
        [&](const auto& item) {
          using T = std::decay_t<decltype(item)>;
          if constexpr (std::is_same_v<T, core::Reading>) {
            print(replay.Feed(item));
          } else {
            static_assert(std::is_same_v<T, replay::ReplayAction>);
            const replay::ActionReplayed done = replay.Apply(item);
            print(done.timeline);
            switch (done.outcome) {
              case alerts::ActionOutcome::kDone:
                break;
              case alerts::ActionOutcome::kAlreadyDone:
                report(std::string(replay::ToString(item.kind)) + ": alert " + done.alert_id +
                       " was already acknowledged (no change)");
                break;
              case alerts::ActionOutcome::kUnknownAlert:
                report(std::string(replay::ToString(item.kind)) + ": no open alert for " +
                       Describe(item.alert) + " at " + core::FormatIso8601(item.time));
                break;
            }
          }
        },
        *parsed);
  }
  if (until) print(replay.RunUntil(*until));
  std::cout.flush();

  const replay::ReplaySummary& summary = replay.summary();
  std::cerr << "replayed " << summary.readings << " readings and " << summary.actions
            << " actions: " << summary.raised << " raised, " << summary.updated << " updated, "
            << summary.escalated << " escalated, " << summary.acknowledged << " acknowledged, "
            << summary.resolved << " resolved; " << summary.suppressed_repeats << " repeats suppressed, "
            << summary.unreliable << " unreliable, " << summary.duplicates << " duplicates, "
            << summary.out_of_order << " out of order (" << summary.late_beyond_horizon
            << " too old to raise), " << summary.device_clock_suspect << " with an implausible device time, "
            << summary.actions_without_alert << " actions without an open alert, " << invalid
            << " invalid lines\n";
  return invalid == 0 && summary.actions_without_alert == 0 ? kExitOk : kExitFailure;
}

}  // namespace ehg::app
