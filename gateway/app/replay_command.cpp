#include <fstream>
#include <iostream>

#include "gateway/app/daemon.hpp"
#include "gateway/config/config.hpp"
#include "gateway/pipeline/event_bodies.hpp"
#include "gateway/replay/reading_line.hpp"
#include "gateway/replay/replay.hpp"

namespace ehg::app {

int ReplayReadings(const ReplayRequest& request) {
  const config::ConfigResult config = config::LoadConfig(request.config_path);
  if (!config) {
    for (const config::ConfigError& error : config.error())
      std::cerr << request.config_path.string() << ": " << error.ToString() << "\n";
    return kExitConfig;
  }
  auto zone = config::LoadTimeZone(config->resident.time_zone);
  if (!zone) {
    std::cerr << request.config_path.string() << ": " << zone.error().message << "\n";
    return kExitConfig;
  }
  std::ifstream input(request.readings_path, std::ios::binary);
  if (!input) {
    std::cerr << "cannot read " << request.readings_path.string() << "\n";
    return kExitFailure;
  }
  std::optional<core::WallTime> until;
  if (!request.until.empty()) {
    until = core::ParseIso8601(request.until);
    if (!until) {
      std::cerr << "--until: not an ISO 8601 time with a zone: " << request.until << "\n";
      return kExitFailure;
    }
  }

  replay::Replay replay(config->rules, *zone, request.tick);
  const auto print = [](const std::vector<replay::TimelineEntry>& entries) {
    for (const replay::TimelineEntry& entry : entries)
      std::cout << pipeline::AlertTimelineEntry(entry.time, entry.change.kind, entry.change.alert) << "\n";
  };
  std::uint64_t invalid = 0;
  std::uint64_t line_number = 0;
  for (std::string line; std::getline(input, line);) {
    ++line_number;
    if (line.empty() || line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto reading = replay::ParseReadingLine(line);
    if (!reading) {
      ++invalid;
      std::cerr << request.readings_path.string() << ":" << line_number << ": " << reading.error() << "\n";
      continue;
    }
    print(replay.Feed(*reading));
  }
  if (until) print(replay.RunUntil(*until));
  std::cout.flush();

  const replay::ReplaySummary& summary = replay.summary();
  std::cerr << "replayed " << summary.readings << " readings: " << summary.raised << " raised, "
            << summary.updated << " updated, " << summary.escalated << " escalated, " << summary.resolved
            << " resolved; " << summary.suppressed_repeats << " repeats suppressed, " << summary.unreliable
            << " unreliable, " << summary.duplicates << " duplicates, " << summary.out_of_order
            << " out of order, " << invalid << " invalid lines\n";
  return invalid == 0 ? kExitOk : kExitFailure;
}

}  // namespace ehg::app
