// Long windows and ninety days in the home: what a 24-hour trend and a 7-day baseline rule on a 1 Hz
// oximeter cost, and what 90 days of a home's history cost the store.
//
//   windows_bench [--part replay|startup|all] [--readings N] [--runs R] [--history-days 0,1,30,90]
//                 [--startup-runs R] [--ingest-seconds S] [--ingest-rounds R] [--work DIR] [--keep]
//
// Replay: `ehealth-gateway replay` of N oximeter readings (SpO2 and pulse rate at 1 Hz, generated here,
// deterministically, into DIR; two signals: an exacerbation and a slow decline) with
// examples/copd-resident.json, and with the same config plus a 24 h trend and a 7-day baseline rule on
// SpO2; the runs alternate, wall time is the median, peak RSS is the child's high-water mark (wait4). The
// timed runs discard the timeline (/dev/null); one more run of each keeps it to count what the rules raised,
// so a fast run cannot be a run in which they did nothing.
//
// Start-up (`--part startup`, also `store`): for each D, the store as schema 8 keeps a home's history
// after D days of running with the default windows (a 1 Hz oximeter and five spot devices; raw readings
// for the last 7 days, minute summaries with their flags and each source's newest values for all of it,
// the hourly retention pass applied as it ran), generated directly and checked first against what
// Store::Write and Store::PruneReadings store. Then: its size; the real daemon from exec to READY=1 on a
// notify socket (COPD config plus the two rules, so the rebuild restores their windows), with the
// database's pages evicted from the page cache first (a boot) and without (a restart); the store calls of
// the start timed one by one, and the background whole-file check; the hourly retention pass an hour
// later (Store::PruneReadings in steps of 5000); and ingest (Store::Write of the pipeline's batches) on
// each history against an empty store. 0 days is an empty store, the fixed cost (and ingest's baseline,
// measured whether reported or not).
//
// Prints Markdown (scripts/bench puts it into docs/benchmarks.md); progress on stderr.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <numbers>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "alerts/evaluator.hpp"
#include "gateway/config/config.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/log.hpp"
#include "gateway/core/vital_signs.hpp"
#include "gateway/pipeline/event_bodies.hpp"
#include "gateway/store/store.hpp"
#include "gateway/tz/time_zone.hpp"
#include "tests/bench/bench_support.hpp"
#include "tests/bench/notify_socket.hpp"
#include "tests/support/mqtt/mqtt_fixtures.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Settings {
  std::string part = "all";
  std::size_t readings = 1'000'000;
  int runs = 5;
  std::vector<int> history_days{0, 1, 30, 90};  // 0: an empty store, the fixed cost
  int startup_runs = 3;
  int ingest_seconds = 60;  // the daemon's batches: one each 50 ms of receive time
  int ingest_rounds = 3;
  std::string work;   // empty: a temporary directory, removed at the end
  bool keep = false;  // keep the largest history's database and its config (to profile the daemon on it)
};

// Configured as a clinician would, like the example's own SpO2 rules: the change must hold for 10
// minutes, clear by a margin and stay clear for 30 minutes (without them a noisy 1 Hz signal drifting
// through the limit raises and resolves an alert every few seconds, and the replay measures that).
constexpr const char* kTrendRule =
    R"({"id": "spo2-trend-24h", "kind": "trend", "metric": "spo2", "fall": 4, "window_hours": 24,
        "for_minutes": 10, "hysteresis": 1, "clear_for_minutes": 30, "severity": "medium"})";
constexpr const char* kBaselineRule =
    R"({"id": "spo2-baseline-7d", "kind": "baseline", "metric": "spo2", "below_by": 4, "baseline_days": 7,
        "min_readings": 100, "for_minutes": 10, "hysteresis": 1, "clear_for_minutes": 30, "severity": "medium"})";
// The COPD example's oximeter: the device the readings come from.
constexpr const char* kDevice = "oximeter";
constexpr std::int64_t kDaySeconds = 86'400;

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot read " + path.string());
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  if (!file) throw std::runtime_error("cannot write " + path.string());
}

fs::path SourceFile(const char* relative) {
  return fs::path(EHG_SOURCE_DIR) / relative;
}

// The COPD example with the trend and baseline rules first in its rule list.
std::string WithWindowRules(const std::string& config) {
  const std::string marker = "\"rules\": [";
  const auto at = config.find(marker);
  if (at == std::string::npos) throw std::runtime_error("the COPD example has no rule list");
  std::string text = config;
  text.insert(at + marker.size(), std::string("\n    ") + kTrendRule + ",\n    " + kBaselineRule + ",");
  return text;
}

// ---- The signal: a resident's SpO2 and pulse rate, one value each per second, a pure function of time.

std::uint64_t Mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double Unit(std::uint64_t key) {  // [0, 1)
  return static_cast<double>(Mix(key) >> 11) * 0x1.0p-53;
}

// A deterioration: SpO2 falls by `points` (and the pulse rises by 10 /min) linearly over `down_s` from
// `start_s` (Unix seconds), holds for `hold_s`, and comes back linearly over `up_s`.
struct Episode {
  std::int64_t start_s = 0;
  std::int64_t down_s = 1;
  std::int64_t hold_s = 0;
  std::int64_t up_s = 1;
  double points = 0;

  double Depth(std::int64_t t) const {  // 0 = normal, 1 = the full deterioration
    const auto part = [](std::int64_t done, std::int64_t length) {
      return std::clamp(static_cast<double>(done) / static_cast<double>(std::max<std::int64_t>(length, 1)),
                        0.0, 1.0);
    };
    if (t < start_s) return 0;
    if (t < start_s + down_s) return part(t - start_s, down_s);
    if (t < start_s + down_s + hold_s) return 1;
    return 1 - part(t - start_s - down_s - hold_s, up_s);
  }
};

struct Sample {
  int spo2 = 0;
  int pulse = 0;
  bool artefact = false;  // a motion artefact: flagged, implausibly low, not clinically usable
};

// A day-night rhythm (SpO2 95 +- 0.3 %, pulse 72 +- 6 /min), uniform noise of +-1 % and +-3 /min before
// the oximeter's rounding to whole numbers, a 40-second dip of 2 % once in every two hours (coughing,
// talking), one reading in 500 a motion artefact, and the episode when given.
Sample Oximetry(std::int64_t t, const Episode* episode) {
  const auto key = static_cast<std::uint64_t>(t);
  const double phase = 2 * std::numbers::pi *
                       static_cast<double>(((t % kDaySeconds) + kDaySeconds) % kDaySeconds) /
                       static_cast<double>(kDaySeconds);
  double spo2 = 95.0 - 0.3 * std::cos(phase);
  double pulse = 72.0 - 6.0 * std::cos(phase);
  const std::int64_t block = t / 7200;
  const auto dip_at =
      static_cast<std::int64_t>(Mix(static_cast<std::uint64_t>(block) ^ 0xd1b54a32d192ed03ULL) % 7160);
  if (t - block * 7200 >= dip_at && t - block * 7200 < dip_at + 40) spo2 -= 2;
  if (episode != nullptr) {
    const double depth = episode->Depth(t);
    spo2 -= episode->points * depth;
    pulse += 10 * depth;
  }
  Sample sample;
  sample.artefact = Unit(key * 4 + 2) < 0.002;
  if (sample.artefact) spo2 -= 6 + 6 * Unit(key * 4 + 3);
  sample.spo2 = static_cast<int>(std::lround(std::min(100.0, spo2 + (Unit(key * 4) - 0.5) * 2.0)));
  sample.pulse = static_cast<int>(std::lround(pulse + (Unit(key * 4 + 1) - 0.5) * 6.0));
  return sample;
}

// ---- Child processes with their resource use.

struct ChildRun {
  double seconds = 0;
  double cpu_seconds = 0;
  double peak_rss_mib = 0;
  int exit_code = -1;
};

ChildRun RunChild(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const auto started = Steady::now();
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(spawned));
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) throw std::runtime_error("wait4 failed");
  ChildRun run;
  run.seconds = ehg::bench::Seconds(Steady::now() - started);
  const auto tv = [](const timeval& value) {
    return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6;
  };
  run.cpu_seconds = tv(usage.ru_utime) + tv(usage.ru_stime);
  run.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

double Min(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::min_element(values.begin(), values.end());
}

// ---- Replay.

constexpr std::int64_t kReplayStart = 1'772'409'600;  // Monday 2 March 2026 00:00 UTC

// The two recordings, each of N lines (SpO2 and pulse rate each second, N / 2 seconds).
struct Signal {
  std::string name;
  std::string file;
  std::string description;
  Episode episode;
};

std::vector<Signal> Signals(std::size_t lines) {
  const auto span = static_cast<std::int64_t>((lines + 1) / 2);
  // An exacerbation after about 4.5 days (of 5.8 with a million lines): SpO2 down 8 % in 30 minutes,
  // 10 hours there, back in 30 minutes (shorter recordings: the same shape, scaled).
  const std::int64_t ramp = std::min<std::int64_t>(1800, span / 50);
  const Episode exacerbation{kReplayStart + span * 78 / 100, ramp,
                             std::min<std::int64_t>(10 * 3600, span / 10), ramp, 8};
  // A slow decline of 6 % over the last 43 hours (at most half the recording), no recovery.
  const std::int64_t length = std::min<std::int64_t>(43 * 3600, span / 2);
  const Episode decline{kReplayStart + span - length, length, 0, 1, 6};
  const auto hours = [](std::int64_t seconds) {
    const std::int64_t rounded = (seconds + 1800) / 3600;
    return std::to_string(rounded) + (rounded == 1 ? " hour" : " hours");
  };
  return {
      {"exacerbation", "oximeter-exacerbation.jsonl",
       "SpO2 down 8 % in " + std::to_string(ramp / 60) + " minutes, " + hours(exacerbation.hold_s) +
           " there, back in " + std::to_string(ramp / 60) + " minutes",
       exacerbation},
      {"slow decline", "oximeter-decline.jsonl", "SpO2 down 6 % over the last " + hours(length), decline}};
}

void WriteReplayReadings(const fs::path& path, std::size_t lines, const Episode& episode) {
  std::ofstream out(path);
  std::size_t written = 0;
  for (std::int64_t t = kReplayStart; written < lines; ++t) {
    const Sample sample = Oximetry(t, &episode);
    const std::string time = ehg::core::FormatIso8601(ehg::core::WallTime{std::chrono::seconds{t}});
    const std::string flags = sample.artefact ? R"(, "flags": ["motion_artefact"])" : "";
    out << R"({"time": ")" << time << R"(", "device": ")" << kDevice << R"(", "metric": "spo2", "value": )"
        << sample.spo2 << R"(, "unit": "%")" << flags << "}\n";
    if (++written == lines) break;
    out << R"({"time": ")" << time << R"(", "device": ")" << kDevice
        << R"(", "metric": "pulse_rate", "value": )" << sample.pulse << R"(, "unit": "/min")" << flags
        << "}\n";
    ++written;
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

struct ReplayCase {
  std::string signal;
  std::string config_name;
  fs::path config;
  fs::path readings;
  std::vector<double> seconds;
  std::vector<double> cpu_seconds;
  std::vector<double> peak_rss_mib;
  std::map<std::string, int> raised;  // by rule
  std::map<std::string, int> resolved;
  std::size_t timeline_lines = 0;
  std::string summary;  // replay's own summary line (stderr)
};

// The value of "key":"..." in a timeline line.
std::string JsonString(const std::string& line, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  const auto at = line.find(marker);
  if (at == std::string::npos) return {};
  const auto from = at + marker.size();
  return line.substr(from, line.find('"', from) - from);
}

void CountTimeline(const fs::path& timeline, ReplayCase& replay) {
  std::ifstream file(timeline);
  for (std::string line; std::getline(file, line);) {
    ++replay.timeline_lines;
    const std::string change = JsonString(line, "change");
    const std::string rule = JsonString(line, "rule_id");
    if (change == "raised") ++replay.raised[rule];
    if (change == "resolved") ++replay.resolved[rule];
  }
}

std::string LastLine(const fs::path& path) {
  std::ifstream file(path);
  std::string line, last;
  while (std::getline(file, line))
    if (!line.empty()) last = line;
  return last;
}

void BenchReplay(const Settings& settings, const fs::path& work) {
  const std::string binary = EHG_GATEWAY_BINARY;
  const fs::path copd = SourceFile("examples/copd-resident.json");
  WriteFile(work / "copd-with-windows.json", WithWindowRules(ReadFile(copd)));
  const std::vector<Signal> signals = Signals(settings.readings);
  std::vector<ReplayCase> cases;
  double generate_seconds = 0;
  for (const Signal& signal : signals) {
    std::cerr << "== windows: writing " << settings.readings << " readings (" << signal.name << ")\n";
    const auto started = Steady::now();
    WriteReplayReadings(work / signal.file, settings.readings, signal.episode);
    generate_seconds += ehg::bench::Seconds(Steady::now() - started);
    cases.push_back(
        {signal.name, "COPD example (12 rules)", copd, work / signal.file, {}, {}, {}, {}, {}, 0, {}});
    cases.push_back({signal.name,
                     "+ 24 h trend + 7-day baseline on SpO2",
                     work / "copd-with-windows.json",
                     work / signal.file,
                     {},
                     {},
                     {},
                     {},
                     {},
                     0,
                     {}});
  }
  const auto command = [&](const ReplayCase& replay) {
    return std::vector<std::string>{
        binary, "replay", "--config", replay.config.string(), "--readings", replay.readings.string()};
  };
  // One untimed run of each keeps the timeline to count what the rules raised; it also brings the file
  // into the page cache.
  for (ReplayCase& replay : cases) {
    const ChildRun run = RunChild(command(replay), work / "timeline.jsonl", work / "replay.err");
    replay.summary = LastLine(work / "replay.err");
    if (run.exit_code != 0 || replay.summary.find("replayed " + std::to_string(settings.readings) +
                                                  " readings") == std::string::npos)
      throw std::runtime_error("replay failed (" + std::to_string(run.exit_code) + "): " + replay.summary);
    CountTimeline(work / "timeline.jsonl", replay);
  }
  fs::remove(work / "timeline.jsonl");
  // The timed runs: the configs alternate, so a disturbance on the machine hits both alike.
  for (int round = 0; round < settings.runs; ++round) {
    for (ReplayCase& replay : cases) {
      const ChildRun run = RunChild(command(replay), "/dev/null", work / "replay.err");
      if (run.exit_code != 0) throw std::runtime_error("replay failed: " + LastLine(work / "replay.err"));
      replay.seconds.push_back(run.seconds);
      replay.cpu_seconds.push_back(run.cpu_seconds);
      replay.peak_rss_mib.push_back(run.peak_rss_mib);
      std::cerr << "== windows: replay, " << replay.signal << ", " << replay.config_name << ": "
                << run.seconds << " s, " << run.peak_rss_mib << " MiB\n";
    }
  }

  const auto span = static_cast<double>((settings.readings + 1) / 2);
  std::printf(
      "Replay: `ehealth-gateway replay` of %zu readings (SpO2 and pulse rate at 1 Hz from the COPD "
      "example's oximeter, %.1f days, files written in %.1f s), the timeline to /dev/null; wall time is the "
      "median of %d runs of each, the four alternating; peak RSS is the child's high-water mark (wait4)\n",
      settings.readings, span / static_cast<double>(kDaySeconds), generate_seconds, settings.runs);
  std::printf("Machine: %s\n\n", ehg::bench::Machine().c_str());
  for (const Signal& signal : signals)
    std::printf("- %s: %s\n", signal.name.c_str(), signal.description.c_str());
  std::printf(
      "\n| signal | config | median s | fastest s | CPU s (median) | readings/s | peak RSS MiB (max) | "
      "timeline lines | alerts raised (resolved), by rule |\n|---|---|---|---|---|---|---|---|---|\n");
  const auto max_of = [](const std::vector<double>& values) {
    return *std::max_element(values.begin(), values.end());
  };
  for (std::size_t i = 0; i + 1 < cases.size(); i += 2) {
    for (const ReplayCase& replay : {cases[i], cases[i + 1]}) {
      std::string alerts;
      for (const auto& [rule, count] : replay.raised) {
        if (!alerts.empty()) alerts += ", ";
        const auto resolved = replay.resolved.find(rule);
        alerts += rule + " " + std::to_string(count) + " (" +
                  std::to_string(resolved == replay.resolved.end() ? 0 : resolved->second) + ")";
      }
      const double median = Median(replay.seconds);
      std::printf("| %s | %s | %.2f | %.2f | %.2f | %.0f | %.1f | %zu | %s |\n", replay.signal.c_str(),
                  replay.config_name.c_str(), median, Min(replay.seconds), Median(replay.cpu_seconds),
                  static_cast<double>(settings.readings) / median, max_of(replay.peak_rss_mib),
                  replay.timeline_lines, alerts.empty() ? "none" : alerts.c_str());
    }
    const ReplayCase& without = cases[i];
    const ReplayCase& with = cases[i + 1];
    std::printf("| %s | with / without | %.2fx | %.2fx | %.2fx | | %.2fx | | |\n", with.signal.c_str(),
                Median(with.seconds) / Median(without.seconds), Min(with.seconds) / Min(without.seconds),
                Median(with.cpu_seconds) / Median(without.cpu_seconds),
                max_of(with.peak_rss_mib) / max_of(without.peak_rss_mib));
  }
  std::printf("\nReplay's own summaries (stderr):\n\n");
  for (const ReplayCase& replay : cases)
    std::printf("- %s, %s: `%s`\n", replay.signal.c_str(), replay.config_name.c_str(),
                replay.summary.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

// ---- Ninety days in the home: the store as schema 8 keeps it, start-up, ingest, retention.

// The page cache forgets the file (what a boot finds); dirty pages are written first.
void EvictFromPageCache(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

void EvictDatabase(const fs::path& database) {
  for (const char* suffix : {"", "-wal", "-shm"})
    EvictFromPageCache(database.string() + suffix);
}

std::uint64_t DatabaseBytes(const fs::path& database) {
  std::uint64_t bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code error;
    const auto size = fs::file_size(database.string() + suffix, error);
    if (!error) bytes += size;
  }
  return bytes;
}

void RemoveDatabase(const fs::path& database) {
  for (const char* suffix : {"", "-wal", "-shm"})
    fs::remove(database.string() + suffix);
}

// A copy of a closed database, on disk (fsynced) before it is used, so that writing back the copy's
// dirty pages does not land inside a measurement.
void CopyDatabase(const fs::path& from, const fs::path& to) {
  RemoveDatabase(to);
  for (const char* suffix : {"", "-wal"}) {
    const fs::path source = from.string() + suffix;
    if (!fs::exists(source)) continue;
    const fs::path target = to.string() + suffix;
    fs::copy_file(source, target, fs::copy_options::overwrite_existing);
    const int fd = open(target.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) throw std::runtime_error("cannot sync " + target.string());
    close(fd);
  }
}

double Milliseconds(Steady::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

// The home: the COPD example's oximeter at 1 Hz (SpO2 and pulse rate, Oximetry above, no episode) and
// five spot devices that measure a few times a day. The spot devices' records carry the device's own
// time (they arrive some seconds after the measurement), the glucose meter's also its record number.
constexpr const char* kBpCuff = "bp-cuff";
constexpr const char* kScale = "scale";
constexpr const char* kGlucoseMeter = "glucose-meter";
constexpr const char* kThermometer = "thermometer";
constexpr const char* kMotionSensor = "motion-sensor";
// The two the COPD example does not have, and the BTHome motion sensor (its alarm button is configured
// but never pressed in this history).
constexpr const char* kExtraDevices =
    R"({ "id": "scale", "type": "ble", "address": "C8:47:8C:10:22:31", "profile": "weight_scale" },
    { "id": "glucose-meter", "type": "ble", "address": "F0:5E:CD:42:19:8A", "profile": "glucose" },
    { "id": "motion-sensor", "type": "ble", "address": "3C:2E:F5:70:11:D4", "profile": "bthome" },)";

ehg::core::Reading MakeReading(const char* device, const char* metric, const char* unit, double value,
                               std::int64_t received_ms, std::optional<std::int64_t> device_ms = {},
                               std::optional<std::uint32_t> sequence = {}, std::uint32_t flags = 0) {
  ehg::core::Reading reading;
  reading.device_id = device;
  reading.metric = metric;
  reading.unit = unit;
  reading.value = value;
  reading.received_at = ehg::core::WallTime{std::chrono::milliseconds{received_ms}};
  if (device_ms) reading.device_time = ehg::core::WallTime{std::chrono::milliseconds{*device_ms}};
  reading.sequence = sequence;
  reading.flags = ehg::core::QualityFlags(flags);
  return reading;
}

std::int64_t Ms(ehg::core::WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

double Tenths(double value) {  // one decimal, as the devices report it
  return std::round(value * 10) / 10;
}

// The spot devices' readings of one UTC day, in the order they arrive (times of day in UTC).
std::vector<ehg::core::Reading> SpotReadingsOfDay(std::int64_t day) {
  std::vector<ehg::core::Reading> out;
  const std::int64_t midnight = day * kDaySeconds;
  const auto key = [&](int k) {
    return static_cast<std::uint64_t>(day) * 64 + static_cast<std::uint64_t>(k);
  };
  const auto jitter = [&](int k, std::int64_t range) {
    return static_cast<std::int64_t>(Mix(key(k) ^ 0x51edULL) % static_cast<std::uint64_t>(range));
  };
  const auto noise = [&](int k) { return 2 * Unit(key(k) ^ 0x7a3fULL) - 1; };  // [-1, 1)
  // Each BLE device's battery, read when it connects for its first measurement of the day: slowly
  // discharged, the battery changed every 200 days.
  const auto battery = [&](const char* device, std::int64_t received_s, std::int64_t offset) {
    const double level = 100.0 - static_cast<double>((day + offset) % 200) / 2.0;
    out.push_back(MakeReading(device, "battery", "%", level, received_s * 1000));
  };
  const std::uint32_t imprecise =
      ehg::core::QualityFlags().Set(ehg::core::QualityFlag::kImprecise).bits();  // body movement
  // Blood pressure in the morning and the evening: systolic, diastolic and pulse rate of one
  // measurement, one in 15 flagged for body movement.
  for (int k = 0; k < 2; ++k) {
    const std::int64_t taken = midnight + (k == 0 ? 7 : 19) * 3600 + jitter(k, 1800);
    const std::int64_t received = taken + 25;
    const std::uint32_t flags = (noise(k + 2) + 1) / 2 < 1.0 / 15 ? imprecise : 0;
    out.push_back(MakeReading(kBpCuff, "bp.systolic", "mm[Hg]", std::round(128 + 12 * noise(k + 4)),
                              received * 1000, taken * 1000, {}, flags));
    out.push_back(MakeReading(kBpCuff, "bp.diastolic", "mm[Hg]", std::round(82 + 7 * noise(k + 6)),
                              received * 1000, taken * 1000, {}, flags));
    out.push_back(MakeReading(kBpCuff, "pulse_rate", "/min", std::round(70 + 8 * noise(k + 8)),
                              received * 1000, taken * 1000, {}, flags));
    if (k == 0) battery(kBpCuff, received, 0);
  }
  // Weight before breakfast.
  {
    const std::int64_t taken = midnight + 6 * 3600 + 2700 + jitter(10, 1200);
    const std::int64_t received = taken + 8;
    out.push_back(MakeReading(kScale, "body_weight", "kg", Tenths(74 + 0.6 * noise(11)), received * 1000,
                              taken * 1000));
    battery(kScale, received, 50);
  }
  // Glucose four times a day, each record numbered by the meter; the meter sends it when it connects.
  for (int k = 0; k < 4; ++k) {
    const std::int64_t at[] = {7 * 3600 + 1800, 12 * 3600, 17 * 3600 + 1800, 22 * 3600};
    const std::int64_t taken = midnight + at[k] + jitter(12 + k, 1200);
    const std::int64_t received = taken + 40;
    const double after_meal = k == 1 || k == 2 ? 1.5 : 0;
    out.push_back(MakeReading(kGlucoseMeter, "glucose", "mmol/L",
                              Tenths(6.2 + after_meal + 1.2 * noise(16 + k)), received * 1000, taken * 1000,
                              static_cast<std::uint32_t>(1000 + day * 4 + k)));
    if (k == 0) battery(kGlucoseMeter, received, 100);
  }
  // Temperature once a day.
  {
    const std::int64_t taken = midnight + 8 * 3600 + 1800 + jitter(20, 3600);
    const std::int64_t received = taken + 5;
    out.push_back(MakeReading(kThermometer, "body_temperature", "Cel", Tenths(36.8 + 0.4 * noise(21)),
                              received * 1000, taken * 1000));
    battery(kThermometer, received, 150);
  }
  // The BTHome motion sensor streams (no device time): motion detected (1), cleared (0) 90 s later,
  // about every 20 minutes from 06:30 to 23:00; its battery at noon.
  int slot_index = 0;
  for (std::int64_t slot = midnight + 6 * 3600 + 1800; slot < midnight + 23 * 3600; slot += 1200) {
    const std::int64_t detected = slot + jitter(24 + slot_index++, 1100);
    out.push_back(MakeReading(kMotionSensor, "motion", "1", 1, detected * 1000));
    out.push_back(MakeReading(kMotionSensor, "motion", "1", 0, (detected + 90) * 1000));
  }
  battery(kMotionSensor, midnight + 12 * 3600 + 7, 199);
  std::stable_sort(out.begin(), out.end(), [](const ehg::core::Reading& a, const ehg::core::Reading& b) {
    return a.received_at < b.received_at;
  });
  return out;
}

// Every reading of the home received in [from_s, to_s), in the order they arrive: each second the
// oximeter's SpO2 and pulse rate, then the spot devices' readings received in that second.
class Home {
 public:
  void Readings(std::int64_t from_s, std::int64_t to_s, std::vector<ehg::core::Reading>& out) {
    for (std::int64_t t = from_s; t < to_s; ++t) {
      const Sample sample = Oximetry(t, nullptr);  // a quiet history
      const std::uint32_t flags = sample.artefact ? artefact_ : 0;
      out.push_back(MakeReading(kDevice, "spo2", "%", sample.spo2, t * 1000, {}, {}, flags));
      out.push_back(MakeReading(kDevice, "pulse_rate", "/min", sample.pulse, t * 1000, {}, {}, flags));
      const std::vector<ehg::core::Reading>& spots = SpotsOfDay(t / kDaySeconds);
      auto spot = std::lower_bound(
          spots.begin(), spots.end(), t * 1000,
          [](const ehg::core::Reading& r, std::int64_t ms) { return Ms(r.received_at) < ms; });
      for (; spot != spots.end() && Ms(spot->received_at) < (t + 1) * 1000; ++spot)
        out.push_back(*spot);
    }
  }

 private:
  const std::vector<ehg::core::Reading>& SpotsOfDay(std::int64_t day) {
    if (day != day_) {
      spots_ = SpotReadingsOfDay(day);
      day_ = day;
    }
    return spots_;
  }
  std::uint32_t artefact_ = ehg::core::QualityFlags().Set(ehg::core::QualityFlag::kMotionArtefact).bits();
  std::int64_t day_ = -1;
  std::vector<ehg::core::Reading> spots_;
};

// How long the store keeps raw readings and their summaries (storage.raw_readings_days and
// storage.readings_retention_days).
struct Retention {
  std::int64_t raw_s = 7 * kDaySeconds;
  std::int64_t summary_s = 90 * kDaySeconds;
};

// The retention pass runs hourly; in the history its hours end at `end` (the last pass ran just now).
std::int64_t FirstPassAfter(std::int64_t first, std::int64_t end) {
  return end - ((end - first - 1) / 3600) * 3600;
}

struct History {
  std::uint64_t received = 0;  // readings the home sent over the whole history
  std::uint64_t raw_kept = 0;  // raw readings in the file at the end
  std::uint64_t minutes = 0;   // minute summaries in the file
  std::uint64_t latest = 0;    // latest_readings rows
  std::uint64_t sources = 0;   // devices and metrics
  double seconds = 0;
};

// What Store::Write keeps per minute (SummariseMinutes in gateway/store/store.cpp).
struct Minute {
  std::int64_t readings = 0, usable = 0;
  double sum = 0, low = 0, high = 0;
  std::int64_t low_ms = 0, high_ms = 0;
  std::uint32_t flags = 0;
};

// The reading's stored columns from `first` on, as Store::Write binds them (BindReading).
void BindReadingColumns(SQLite::Statement& statement, int first, const ehg::core::Reading& reading) {
  statement.bind(first, reading.device_id);
  statement.bind(first + 1, reading.metric);
  statement.bind(first + 2, reading.value);
  statement.bind(first + 3, reading.unit);
  const bool plausible = reading.device_time && !reading.device_clock_suspect;
  if (plausible) {
    statement.bind(first + 4, Ms(*reading.device_time));
  } else {
    statement.bind(first + 4);
  }
  statement.bind(first + 5, Ms(reading.received_at));
  statement.bind(first + 6, reading.time_uncertain ? 1 : 0);
  statement.bind(first + 7, static_cast<std::int64_t>(reading.flags.bits()));
  if (reading.sequence) {
    statement.bind(first + 8, static_cast<std::int64_t>(*reading.sequence));
  } else {
    statement.bind(first + 8);
  }
  if (reading.device_time && reading.device_clock_suspect) {
    statement.bind(first + 9, Ms(*reading.device_time));
  } else {
    statement.bind(first + 9);
  }
}

std::uint64_t Count(SQLite::Database& db, const std::string& select) {
  return static_cast<std::uint64_t>(db.execAndGet(select).getInt64());
}

// The home's history from `first` to `end` as the gateway's store holds it after running that long:
// the schema made by the gateway's own Store::Open, then every reading inserted directly in the order it
// arrived, as Store::Write stores it (readings; per metric, device and minute of effective time the
// summary with its or-ed flags; per source the newest reading three ways in latest_readings), and the
// hourly retention pass at the same hours as the daemon's (raw readings received before the hour minus
// `raw_s` removed; summaries and newest values from before the hour minus `summary_s`), so the file has
// the free pages and the page layout of one that ran. A few large transactions, no journal: a
// generator (a crash means generating again). Then the devices' records through Store::Write.
History BuildHistory(const fs::path& database, std::int64_t first, std::int64_t end, Retention retention) {
  const auto started = Steady::now();
  {
    ehg::core::ManualClock clock(ehg::core::WallTime{std::chrono::seconds{end}});
    auto store = ehg::store::Store::Open({database, 64ull * 1024 * 1024, 0}, clock);
    if (!store) throw std::runtime_error("store: " + store.error().message);
  }
  History history;
  std::map<std::string, ehg::core::Reading> last_of_device;
  {
    SQLite::Database db(database.string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA journal_mode = OFF");
    db.exec("PRAGMA synchronous = OFF");
    db.exec("PRAGMA cache_size = -524288");
    SQLite::Statement insert(
        db,
        "INSERT INTO readings (device_id, metric, value, unit, device_time_ms, received_ms, "
        "time_uncertain, flags, sequence, claimed_device_time_ms) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    SQLite::Statement minute_row(
        db,
        "INSERT INTO reading_minutes (metric, minute_ms, device_id, readings, usable, "
        "usable_sum, usable_min, usable_min_ms, usable_max, usable_max_ms, flags) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    SQLite::Statement prune_raw(db, "DELETE FROM readings WHERE received_ms < ?");
    SQLite::Statement prune_minutes(db, "DELETE FROM reading_minutes WHERE minute_ms < ?");
    using MinuteKey = std::tuple<std::string, std::int64_t, std::string>;  // metric, minute, device
    std::map<MinuteKey, Minute> pending;
    using SourceKey = std::tuple<std::string, std::string, int>;  // device, metric, kind
    std::map<SourceKey, ehg::core::Reading> latest;
    const auto write_minute = [&](const MinuteKey& minute_key, const Minute& summary) {
      minute_row.bind(1, std::get<0>(minute_key));
      minute_row.bind(2, std::get<1>(minute_key));
      minute_row.bind(3, std::get<2>(minute_key));
      minute_row.bind(4, summary.readings);
      minute_row.bind(5, summary.usable);
      if (summary.usable > 0) {
        minute_row.bind(6, summary.sum);
        minute_row.bind(7, summary.low);
        minute_row.bind(8, summary.low_ms);
        minute_row.bind(9, summary.high);
        minute_row.bind(10, summary.high_ms);
      } else {
        for (int column = 6; column <= 10; ++column)
          minute_row.bind(column);
      }
      minute_row.bind(11, static_cast<std::int64_t>(summary.flags));
      minute_row.exec();
      minute_row.reset();
    };
    // Minutes no reading can reach any more (a spot device's record arrives within a minute of its time).
    const auto flush_minutes = [&](std::int64_t before_ms) {
      for (auto it = pending.begin(); it != pending.end();) {
        if (std::get<1>(it->first) < before_ms) {
          write_minute(it->first, it->second);
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    };
    const auto prune = [&](std::int64_t hour) {
      if (hour - retention.raw_s > first) {
        prune_raw.bind(1, (hour - retention.raw_s) * 1000);
        prune_raw.exec();
        prune_raw.reset();
      }
      if (hour - retention.summary_s > first - 3600) {
        const std::int64_t cutoff = (hour - retention.summary_s) * 1000;
        prune_minutes.bind(1, cutoff);
        prune_minutes.exec();
        prune_minutes.reset();
        std::erase_if(pending, [&](const auto& entry) { return std::get<1>(entry.first) < cutoff; });
        std::erase_if(latest, [&](const auto& entry) { return Ms(entry.second.EffectiveTime()) < cutoff; });
      }
    };
    Home home;
    std::vector<ehg::core::Reading> chunk;
    std::optional<SQLite::Transaction> transaction;
    int chunks_in_transaction = 0;
    std::int64_t next_pass = FirstPassAfter(first, end);
    for (std::int64_t from = first; from < end;) {
      const std::int64_t to = std::min({(from / 60 + 1) * 60, next_pass, end});
      if (!transaction) transaction.emplace(db);
      chunk.clear();
      home.Readings(from, to, chunk);
      for (const ehg::core::Reading& reading : chunk) {
        BindReadingColumns(insert, 1, reading);
        insert.exec();
        insert.reset();
        ++history.received;
        last_of_device[reading.device_id] = reading;
        const std::int64_t effective = Ms(reading.EffectiveTime());
        const std::int64_t minute_ms = effective - ((effective % 60'000) + 60'000) % 60'000;
        Minute& summary = pending[{reading.metric, minute_ms, reading.device_id}];
        ++summary.readings;
        summary.flags |= reading.flags.bits();
        const bool usable = ehg::core::ClinicallyUsable(reading);
        if (usable) {
          if (summary.usable == 0 || reading.value < summary.low) {
            summary.low = reading.value;
            summary.low_ms = effective;
          }
          if (summary.usable == 0 || reading.value > summary.high) {
            summary.high = reading.value;
            summary.high_ms = effective;
          }
          ++summary.usable;
          summary.sum += reading.value;
        }
        // The newest of each source (the later one on a tie), as Store::Write's upsert keeps it.
        const auto offer = [&](int kind) {
          auto [found, inserted] = latest.try_emplace({reading.device_id, reading.metric, kind}, reading);
          if (!inserted && Ms(found->second.EffectiveTime()) <= effective) found->second = reading;
        };
        offer(0);
        if (reading.flags.bits() == 0 && !reading.time_uncertain) offer(1);
        if (reading.value != 0) offer(2);
      }
      from = to;
      flush_minutes(from * 1000 - 120'000);
      if (from == next_pass) {
        prune(next_pass);
        next_pass += 3600;
      }
      if (++chunks_in_transaction == 8000) {  // about a million readings per transaction
        transaction->commit();
        transaction.reset();
        chunks_in_transaction = 0;
      }
    }
    if (!transaction) transaction.emplace(db);
    flush_minutes(std::numeric_limits<std::int64_t>::max());
    SQLite::Statement latest_row(
        db,
        "INSERT INTO latest_readings (device_id, metric, value, unit, device_time_ms, received_ms, "
        "time_uncertain, flags, sequence, claimed_device_time_ms, kind, effective_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const auto& [source, reading] : latest) {
      BindReadingColumns(latest_row, 1, reading);
      latest_row.bind(11, std::get<2>(source));
      latest_row.bind(12, Ms(reading.EffectiveTime()));
      latest_row.exec();
      latest_row.reset();
    }
    transaction->commit();
    db.exec("PRAGMA journal_mode = WAL");  // as the gateway leaves it
    history.raw_kept = Count(db, "SELECT count(*) FROM readings");
    history.minutes = Count(db, "SELECT count(*) FROM reading_minutes");
    history.latest = Count(db, "SELECT count(*) FROM latest_readings");
    history.sources =
        Count(db, "SELECT count(*) FROM (SELECT DISTINCT device_id, metric FROM latest_readings)");
  }
  // The devices' records, as the pipeline keeps them (last seen, battery).
  if (!last_of_device.empty()) {
    ehg::core::ManualClock clock(ehg::core::WallTime{std::chrono::seconds{end}});
    auto store = ehg::store::Store::Open({database, 64ull * 1024 * 1024, 0}, clock);
    if (!store) throw std::runtime_error("store: " + store.error().message);
    ehg::store::WriteBatch batch;
    for (const auto& [device, reading] : last_of_device) {
      ehg::store::DeviceRecord record{device, reading.received_at, std::nullopt, std::nullopt,
                                      "",     clock.Now()};
      batch.devices.push_back(record);
    }
    if (auto written = (*store)->Write(batch); !written)
      throw std::runtime_error("store: " + written.error().message);
  }
  history.seconds = ehg::bench::Seconds(Steady::now() - started);
  return history;
}

// The same history written by Store::Write, the gateway's own writer, in batches of the readings of an
// hour, each followed by the retention pass as the pipeline runs it (Store::PruneReadings in steps of
// 5000 until a step removes fewer). Returns Store::Write's readings per second.
double WriteHistoryThroughStore(const fs::path& database, std::int64_t first, std::int64_t end,
                                Retention retention) {
  ehg::core::ManualClock clock(ehg::core::WallTime{std::chrono::seconds{end}});
  auto store = ehg::store::Store::Open({database, 64ull * 1024 * 1024, 0}, clock);
  if (!store) throw std::runtime_error("store: " + store.error().message);
  Home home;
  ehg::store::WriteBatch batch;
  Steady::duration writing{};
  std::uint64_t written_readings = 0;
  std::int64_t next_pass = FirstPassAfter(first, end);
  for (std::int64_t from = first; from < end;) {
    const std::int64_t to = std::min(next_pass, end);
    batch.readings.clear();
    home.Readings(from, to, batch.readings);
    const auto started = Steady::now();
    if (auto written = (*store)->Write(batch); !written)
      throw std::runtime_error("store: " + written.error().message);
    writing += Steady::now() - started;
    written_readings += batch.readings.size();
    from = to;
    if (from == next_pass) {
      const ehg::core::WallTime hour{std::chrono::seconds{next_pass}};
      while (true) {
        auto removed = (*store)->PruneReadings(hour - std::chrono::seconds{retention.raw_s},
                                               hour - std::chrono::seconds{retention.summary_s}, 5000);
        if (!removed) throw std::runtime_error("store: " + removed.error().message);
        if (*removed < 5000) break;
      }
      next_pass += 3600;
    }
  }
  return static_cast<double>(written_readings) / ehg::bench::Seconds(writing);
}

std::vector<std::string> Rows(const fs::path& database, const std::string& select) {
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  SQLite::Statement query(db, select);
  std::vector<std::string> rows;
  while (query.executeStep())
    rows.push_back(query.getColumn(0).getString());
  return rows;
}

// The length of the self-check and its retention windows: every spot device measures in it, and raw
// readings, summaries and newest values are all pruned in it.
constexpr std::int64_t kCheckSeconds = 30 * 3600 + 23;
constexpr Retention kCheckRetention{6 * 3600, 20 * 3600};

// BuildHistory must store what the gateway stores: 30 hours of the home (not starting on a minute) both
// ways, with the hourly retention pass (raw readings kept 6 hours, summaries 20, so all of it is
// exercised), every stored reading (with its row id), minute summary (flags included) and newest value
// compared. Returns Store::Write's readings per second.
double CheckHistoryAgainstStore(const fs::path& dir) {
  const fs::path direct = dir / "direct.db", through_store = dir / "store.db";
  const std::int64_t end = 1'780'000'017, first = end - kCheckSeconds;
  (void)BuildHistory(direct, first, end, kCheckRetention);
  const double rate = WriteHistoryThroughStore(through_store, first, end, kCheckRetention);
  for (
      const char* select :
      {"SELECT quote(id)||quote(device_id)||quote(metric)||quote(value)||quote(unit)||quote(device_time_ms)||"
       "quote(received_ms)||quote(time_uncertain)||quote(flags)||quote(sequence)||quote(claimed_device_time_"
       "ms) "
       "FROM readings ORDER BY id",
       "SELECT quote(metric)||quote(minute_ms)||quote(device_id)||quote(readings)||quote(usable)||"
       "quote(usable_sum)||quote(usable_min)||quote(usable_min_ms)||quote(usable_max)||quote(usable_max_ms)||"
       "quote(flags) FROM reading_minutes ORDER BY metric, minute_ms, device_id",
       "SELECT "
       "quote(device_id)||quote(metric)||quote(kind)||quote(value)||quote(unit)||quote(device_time_ms)||"
       "quote(received_ms)||quote(time_uncertain)||quote(flags)||quote(sequence)||"
       "quote(claimed_device_time_ms)||quote(effective_ms) FROM latest_readings ORDER BY device_id, metric, "
       "kind",
       // What the check must cover: flagged minutes, numbered and device-timed records, pruned rows.
       "SELECT 'flagged minutes '||(SELECT count(*) FROM reading_minutes WHERE flags != 0)||', records with "
       "a number '||(SELECT count(*) FROM readings WHERE sequence IS NOT NULL)||', with a device time '||"
       "(SELECT count(*) FROM readings WHERE device_time_ms IS NOT NULL)||', first row '||"
       "(SELECT min(id) FROM readings)||', sources '||(SELECT count(*) FROM latest_readings)"}) {
    const auto ours = Rows(direct, select), theirs = Rows(through_store, select);
    if (ours.size() != theirs.size() || ours.empty())
      throw std::runtime_error("generated history: " + std::to_string(ours.size()) + " rows, Store::Write " +
                               std::to_string(theirs.size()) + ": " + select);
    for (std::size_t i = 0; i < ours.size(); ++i) {
      if (ours[i] != theirs[i])
        throw std::runtime_error("generated history differs from Store::Write's: " + ours[i] + " vs " +
                                 theirs[i]);
    }
  }
  const std::string coverage = Rows(direct,
                                    "SELECT (SELECT count(*) FROM reading_minutes WHERE flags != 0) > 0 "
                                    "AND (SELECT count(*) FROM readings WHERE sequence IS NOT NULL) > 0 "
                                    "AND (SELECT min(id) FROM readings) > 1 "
                                    "AND (SELECT min(minute_ms) FROM reading_minutes) > " +
                                        std::to_string(first * 1000 + 3600 * 1000))
                                   .front();
  if (coverage != "1") throw std::runtime_error("the self-check does not cover flags, records and pruning");
  RemoveDatabase(direct);
  RemoveDatabase(through_store);
  return rate;
}

void MakeKeys(const std::string& gateway, const fs::path& dir) {
  const auto public_of = [&](const fs::path& key) {
    const auto made = ehg::test::RunCommand({gateway, "keygen", "--out", key.string()});
    if (made.exit_code != 0) throw std::runtime_error("keygen failed: " + made.output);
    std::string jwk = made.output.substr(made.output.find('{'));
    while (!jwk.empty() && (jwk.back() == '\n' || jwk.back() == ' '))
      jwk.pop_back();
    return jwk;
  };
  public_of(dir / "gateway-signing.key");
  WriteFile(dir / "care-encryption.jwk", public_of(dir / "care-encryption.key"));
  WriteFile(dir / "care-commands.jwks", "{\"keys\":[" + public_of(dir / "care-commands.key") + "]}");
}

// A deployed gateway's config: TLS and end-to-end keys, the status page, a broker that is not reachable
// (offline is normal; READY does not wait for it), the COPD example's devices plus the scale, the
// glucose meter and the motion sensor, its rules plus the trend and baseline rules, default storage
// windows. The serial port and BlueZ are absent here: the drivers keep trying in the background, as at
// a boot before the USB adapter appears.
std::string DaemonConfig(const fs::path& dir, const fs::path& database) {
  const auto& pki = ehg::test::TestPki::Get();
  std::string copd = WithWindowRules(ReadFile(SourceFile("examples/copd-resident.json")));
  const std::string marker = "\"devices\": [";
  const auto devices = copd.find(marker);
  if (devices == std::string::npos) throw std::runtime_error("the COPD example has no device list");
  copd.insert(devices + marker.size(), std::string("\n    ") + kExtraDevices);
  return R"({
  "gateway": {"id": "gw-it-01", "tenant": "0301", "assume_clock_synchronised": true},
  "resident": {"pseudonym": "r-bench-0001", "time_zone": "Europe/Oslo"},
  "broker": {"uri": "ssl://127.0.0.1:)" +
         std::to_string(ehg::test::FreePort()) + R"("},
  "tls": {"ca_file": ")" +
         pki.File("ca.crt").string() + R"(", "cert_file": ")" + pki.File("gateway.crt").string() +
         R"(", "key_file": ")" + pki.File("gateway.key").string() + R"("},
  "security": {"gateway_key_file": ")" +
         (dir / "gateway-signing.key").string() + R"(", "recipient_key_file": ")" +
         (dir / "care-encryption.jwk").string() + R"(", "command_keys_file": ")" +
         (dir / "care-commands.jwks").string() + R"("},
  "storage": {"path": ")" +
         database.string() + R"("},
  "status_page": {"listen": "127.0.0.1:)" +
         std::to_string(ehg::test::FreePort()) + R"("},
  )" + copd.substr(copd.find(marker));
}

struct Start {
  double ready_ms = 0;
  double rss_at_ready_mib = 0;
};

Start StartDaemon(const std::string& binary, const fs::path& dir) {
  ehg::bench::NotifySocket notify(dir / "notify");
  const auto started = Steady::now();
  auto gateway = ehg::test::Process::Start({binary, "run", "--config", (dir / "gateway.json").string()},
                                           {notify.Environment()});
  const auto ready = notify.WaitForReady(600s);
  if (!ready) throw std::runtime_error("the gateway never said READY: " + gateway.Output());
  Start start{Milliseconds(*ready - started), ehg::bench::PeakRssMiB(gateway.pid())};
  gateway.Signal(SIGTERM);
  if (!gateway.Wait(60s)) throw std::runtime_error("the gateway did not stop: " + gateway.Output());
  return start;
}

// The store calls of the daemon's start (gateway/app/daemon.cpp) and the pipeline's rebuild
// (Pipeline::RestoreEngineState in gateway/pipeline/pipeline.cpp at this commit), in their order, one
// by one, in milliseconds; and the whole-file check the daemon runs in the background, off the start path.
struct Breakdown {
  double open_ms = 0;   // Store::Open: quick_check of the essential tables, schema version, WAL
  double state_ms = 0;  // settings, the outbox reader, devices, open alerts, rule states, conversion, counter
  double windows_ms = 0;  // the per-minute summaries of every window of a minute's buckets or more
  std::uint64_t window_minutes = 0;
  double raw_windows_ms = 0;  // windows of finer buckets, from raw readings
  std::uint64_t raw_window_readings = 0;
  double latest_ms = 0;  // the newest reading per source (three queries of latest_readings)
  std::uint64_t latest_rows = 0;
  double engine_ms = 0;      // the rule engine's part: windows rebuilt from those rows, newest values taken
  double whole_file_ms = 0;  // QuickCheckWholeFile
};

// `cold`: the database's pages are evicted before the whole-file check and again before the store opens.
Breakdown TimeRebuildQueries(const fs::path& database, const fs::path& config_path, ehg::core::WallTime now,
                             bool cold) {
  Breakdown breakdown;
  const auto config = ehg::config::LoadConfig(config_path);
  if (!config) throw std::runtime_error("the bench config does not parse");
  auto zone = ehg::tz::LoadTimeZone(config->resident.time_zone);
  if (!zone) throw std::runtime_error("no time zone");
  const ehg::alerts::Evaluator evaluator(config->rules, *zone);
  const auto timed = [](auto&& call) {
    const auto started = Steady::now();
    call();
    return Milliseconds(Steady::now() - started);
  };
  const auto check = [](const auto& result, const char* what) {
    if (!result) throw std::runtime_error(std::string("store: ") + what + ": " + result.error().message);
  };
  if (cold) EvictDatabase(database);
  breakdown.whole_file_ms = timed([&] {
    auto checked = ehg::store::QuickCheckWholeFile(database);
    check(checked, "whole-file check");
    if (*checked != "ok") throw std::runtime_error("the whole-file check found: " + *checked);
  });
  if (cold) EvictDatabase(database);
  ehg::core::SystemClock clock(true);
  std::unique_ptr<ehg::store::Store> store;
  breakdown.open_ms = timed([&] {
    auto opened = ehg::store::Store::Open({database, 64ull * 1024 * 1024, 0}, clock);
    check(opened, "open");
    store = std::move(*opened);
  });
  std::optional<std::int64_t> pending;
  breakdown.state_ms = timed([&] {
    check(store->LoadSettings(), "settings");
    auto reader = ehg::store::OutboxReader::Open(database);
    check(reader, "outbox reader");
    check((*reader)->Stats(), "outbox size");
    check(store->LoadDevices(), "devices");
    check(store->LoadOpenAlerts(), "open alerts");
    check(store->LoadRuleStates(), "rule states");
    auto minutes_pending = store->MinutesPendingThrough();
    check(minutes_pending, "summaries pending");
    pending = *minutes_pending;
    check(store->ConversionPendingThrough(), "conversion pending");
    check(store->ReadCounter(ehg::store::kDroppedObservations), "counter");
  });
  const ehg::core::WallTime until = now + ehg::alerts::kFurthestAhead;
  ehg::alerts::EngineState engine;
  for (const ehg::alerts::WindowSpec& spec : evaluator.Windows()) {
    const ehg::core::WallTime since = now - spec.span - spec.bucket;
    ehg::store::ReadingQuery raw;
    raw.metrics = {spec.metric};
    raw.since = since;
    raw.until = until;
    raw.usable_only = true;
    if (spec.bucket >= std::chrono::minutes{1}) {
      std::vector<ehg::store::MinuteSummary> minutes;
      breakdown.windows_ms += timed([&] {
        auto loaded = store->LoadUsableMinutes(spec.metric, since, until);
        check(loaded, "window summaries");
        minutes = std::move(*loaded);
      });
      breakdown.window_minutes += minutes.size();
      breakdown.engine_ms += timed([&] {
        for (const ehg::store::MinuteSummary& minute : minutes) {
          evaluator.RestoreWindow(
              engine, spec,
              ehg::alerts::WindowSample{minute.minute, minute.usable, minute.usable_sum, minute.usable_min,
                                        minute.usable_min_time, minute.device_id, minute.usable_max,
                                        minute.usable_max_time, minute.device_id});
        }
      });
      if (!pending) continue;
      raw.stored_through = *pending;
    }
    std::vector<ehg::core::Reading> readings;
    breakdown.raw_windows_ms += timed([&] {
      auto loaded = store->LoadReadings(raw);
      check(loaded, "window readings");
      readings = std::move(*loaded);
    });
    breakdown.raw_window_readings += readings.size();
    breakdown.engine_ms += timed([&] {
      for (const ehg::core::Reading& reading : readings) {
        const ehg::alerts::Evidence evidence{reading.device_id, reading.metric, reading.value, reading.unit,
                                             reading.EffectiveTime()};
        evaluator.RestoreWindow(engine, spec, ehg::alerts::WindowSample::Of(evidence));
      }
    });
  }
  std::vector<ehg::core::Reading> newest;
  breakdown.latest_ms = timed([&] {
    std::vector<std::string> event_metrics;
    for (const ehg::core::MetricInfo& metric : ehg::core::AllMetrics()) {
      if (metric.kind == ehg::core::MetricKind::kEvent) event_metrics.emplace_back(metric.name);
    }
    for (int kind = 0; kind < 3; ++kind) {
      ehg::store::ReadingQuery query;
      query.since = now - std::chrono::days{60};
      query.until = until;
      query.latest_per_source = true;
      query.usable_only = kind == 1;
      if (kind == 2) {
        query.metrics = event_metrics;
        query.nonzero_only = true;
      }
      auto readings = store->LoadReadings(query);
      check(readings, "newest readings");
      breakdown.latest_rows += readings->size();
      newest.insert(newest.end(), readings->begin(), readings->end());
    }
  });
  breakdown.engine_ms += timed([&] {
    for (const ehg::core::Reading& reading : newest)
      evaluator.RememberLatest(engine, reading);
  });
  return breakdown;
}

// ---- Ingest: Store::Write of batches of the pipeline's shape (the pipeline's duplicate check first).

struct IngestLoad {
  std::string name;
  std::vector<ehg::store::WriteBatch> batches;
  std::uint64_t readings = 0;
};

// `batches` batches of `per_batch` readings as the pipeline writes them: SpO2 and pulse rate pairs, each
// with its observation event (the pipeline's own body), the oximeter's device record; every 100th batch
// also a blood pressure measurement and a glucose record (device time, record number), with their
// devices' records. A batch each `spacing` of receive time from `start`.
IngestLoad MakeIngestLoad(std::string name, int batches, int per_batch, std::chrono::milliseconds spacing,
                          ehg::core::WallTime start) {
  ehg::core::SystemClock clock(true);
  ehg::core::EventIdGenerator ids(clock);
  const ehg::pipeline::EventContext context{"gw-it-01", "r-bench-0001"};
  IngestLoad load{std::move(name), {}, 0};
  for (int b = 0; b < batches; ++b) {
    const ehg::core::WallTime at = start + spacing * b;
    const std::int64_t at_ms = Ms(at);
    ehg::store::WriteBatch batch;
    for (int i = 0; i + 1 < per_batch; i += 2) {
      const Sample sample = Oximetry(at_ms / 1000 + i, nullptr);
      const std::uint32_t flags =
          sample.artefact ? ehg::core::QualityFlags().Set(ehg::core::QualityFlag::kMotionArtefact).bits() : 0;
      batch.readings.push_back(MakeReading(kDevice, "spo2", "%", sample.spo2, at_ms + i, {}, {}, flags));
      batch.readings.push_back(
          MakeReading(kDevice, "pulse_rate", "/min", sample.pulse, at_ms + i, {}, {}, flags));
    }
    batch.devices.push_back({kDevice, at, true, std::nullopt, "", at});
    if (b % 100 == 50) {
      const std::int64_t taken = at_ms - 30'000;
      for (const auto& [metric, value] :
           {std::pair{"bp.systolic", 131.0}, std::pair{"bp.diastolic", 84.0}, std::pair{"pulse_rate", 71.0}})
        batch.readings.push_back(
            MakeReading(kBpCuff, metric, metric[0] == 'b' ? "mm[Hg]" : "/min", value, at_ms, taken));
      batch.readings.push_back(MakeReading(kGlucoseMeter, "glucose", "mmol/L", 6.4, at_ms, taken,
                                           static_cast<std::uint32_t>(5'000'000 + b)));
      batch.devices.push_back({kBpCuff, at, true, std::nullopt, "", at});
      batch.devices.push_back({kGlucoseMeter, at, true, std::nullopt, "", at});
    }
    for (const ehg::core::Reading& reading : batch.readings) {
      ehg::core::Event event{
          ids.Next(), ehg::core::EventKind::kObservation, ehg::core::Priority::kBulk, at, {}};
      event.body = ehg::pipeline::ObservationBody(context, event.id, reading);
      batch.events.push_back(std::move(event));
    }
    load.readings += batch.readings.size();
    load.batches.push_back(std::move(batch));
  }
  return load;
}

// Readings per second of writing each load, one after the other, into a copy of `snapshot` (fsynced
// first, so in the page cache and clean).
std::vector<double> Ingest(const fs::path& snapshot, const fs::path& copy,
                           const std::vector<const IngestLoad*>& loads) {
  CopyDatabase(snapshot, copy);
  std::vector<double> rates;
  {
    ehg::core::SystemClock clock(true);
    auto store = ehg::store::Store::Open({copy, 64ull * 1024 * 1024, 0}, clock);
    if (!store) throw std::runtime_error("store: " + store.error().message);
    for (const IngestLoad* load : loads) {
      const auto started = Steady::now();
      for (const ehg::store::WriteBatch& batch : load->batches) {
        auto stored = (*store)->AlreadyStored(batch.readings);  // the pipeline's duplicate check
        if (!stored) throw std::runtime_error("store: " + stored.error().message);
        if (std::find(stored->begin(), stored->end(), true) != stored->end())
          throw std::runtime_error("ingest: a reading of the load was already stored");
        auto written = (*store)->Write(batch);
        if (!written) throw std::runtime_error("store: " + written.error().message);
        if (written->readings_refused) throw std::runtime_error("ingest: readings refused");
      }
      rates.push_back(static_cast<double>(load->readings) / ehg::bench::Seconds(Steady::now() - started));
    }
  }
  RemoveDatabase(copy);
  return rates;
}

// ---- The hourly retention pass.

struct Pass {
  std::uint64_t readings = 0;  // raw readings removed
  std::uint64_t minutes = 0;   // minute summaries removed
  int steps = 0;
  double total_ms = 0;
  double longest_step_ms = 0;
};

// The pass the pipeline runs at `at` (Pipeline::PruneStep: Store::PruneReadings in steps of 5000 until a
// step removes fewer) on a copy of `snapshot`; `cold`: the file evicted from the page cache first.
Pass RetentionPass(const fs::path& snapshot, const fs::path& copy, std::int64_t at, Retention retention,
                   bool cold) {
  CopyDatabase(snapshot, copy);
  const auto count_minutes = [&] {
    SQLite::Database db(copy.string(), SQLite::OPEN_READONLY);
    return Count(db, "SELECT count(*) FROM reading_minutes");
  };
  const std::uint64_t minutes_before = count_minutes();
  Pass pass;
  {
    ehg::core::ManualClock clock(ehg::core::WallTime{std::chrono::seconds{at}});
    auto store = ehg::store::Store::Open({copy, 64ull * 1024 * 1024, 0}, clock);
    if (!store) throw std::runtime_error("store: " + store.error().message);
    if (cold) EvictDatabase(copy);
    const ehg::core::WallTime now{std::chrono::seconds{at}};
    while (true) {
      const auto started = Steady::now();
      auto removed = (*store)->PruneReadings(now - std::chrono::seconds{retention.raw_s},
                                             now - std::chrono::seconds{retention.summary_s}, 5000);
      const double ms = Milliseconds(Steady::now() - started);
      if (!removed) throw std::runtime_error("store: " + removed.error().message);
      ++pass.steps;
      pass.total_ms += ms;
      pass.longest_step_ms = std::max(pass.longest_step_ms, ms);
      pass.readings += *removed;
      if (*removed < 5000) break;
    }
  }
  pass.minutes = minutes_before - count_minutes();
  RemoveDatabase(copy);
  return pass;
}

// ---- Sizes.

struct Size {
  std::uint64_t file_bytes = 0;      // the file and its WAL
  std::uint64_t free_bytes = 0;      // pages on the free list (reused before the file grows)
  std::uint64_t readings_bytes = 0;  // the readings table and its indexes (dbstat: whole pages)
  std::uint64_t minutes_bytes = 0;   // reading_minutes
};

Size MeasureSize(const fs::path& database) {
  Size size;
  size.file_bytes = DatabaseBytes(database);
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  const std::uint64_t page = Count(db, "PRAGMA page_size");
  size.free_bytes = Count(db, "PRAGMA freelist_count") * page;
  const auto table_bytes = [&](const char* table) {
    return Count(db,
                 std::string("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN (SELECT name FROM "
                             "sqlite_schema WHERE tbl_name = '") +
                     table + "')");
  };
  size.readings_bytes = table_bytes("readings");
  size.minutes_bytes = table_bytes("reading_minutes");
  return size;
}

std::string HistoryName(int days) {
  return days == 0 ? "none (empty store)" : std::to_string(days) + (days == 1 ? " day" : " days");
}

double Mb(std::uint64_t bytes) {
  return static_cast<double>(bytes) / 1e6;
}

const char* Verdict(bool met) {
  return met ? "met" : "**missed**";
}

void BenchStartup(const Settings& settings, const fs::path& work) {
  const std::string binary = EHG_GATEWAY_BINARY;
  const fs::path dir = work / "startup";
  fs::remove_all(dir);
  fs::create_directories(dir);
  MakeKeys(binary, dir);
  const fs::path database = dir / "gateway.db";
  WriteFile(dir / "gateway.json", DaemonConfig(dir, database));
  std::cerr << "== store: checking the generated history against Store::Write\n";
  const double store_rate = CheckHistoryAgainstStore(dir);
  const Retention retention;  // the defaults

  struct Row {
    int days = 0;
    History history;
    Size size;
    fs::path snapshot;
    std::int64_t end = 0;
    std::vector<double> cold_ms, warm_ms, rss_mib;
    Breakdown cold, warm;
    Pass pass_cold, pass_warm;
    std::vector<double> ingest_daemon, ingest_bulk;
  };
  std::vector<Row> rows;
  std::vector<int> days_list = settings.history_days;
  // Ingest is compared with an empty store: there is always one, reported or not.
  const bool empty_reported = std::find(days_list.begin(), days_list.end(), 0) != days_list.end();
  if (!empty_reported) days_list.insert(days_list.begin(), 0);
  for (const int days : days_list) {
    RemoveDatabase(database);
    std::cerr << "== store: building " << days << " days of the home's history\n";
    const std::int64_t end =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    Row row;
    row.days = days;
    row.end = end;
    row.history = BuildHistory(database, end - days * kDaySeconds, end, retention);
    row.size = MeasureSize(database);
    row.snapshot = dir / ("history-" + std::to_string(days) + ".db");
    CopyDatabase(database, row.snapshot);
    std::cerr << "== store: " << row.history.received << " readings received, " << row.history.raw_kept
              << " kept raw, " << row.history.minutes << " minute summaries, " << Mb(row.size.file_bytes)
              << " MB, in " << row.history.seconds << " s\n";
    // The hourly pass an hour after the history's last one, on copies of the file as generated.
    row.pass_cold = RetentionPass(row.snapshot, dir / "pass.db", end + 3600, retention, true);
    row.pass_warm = RetentionPass(row.snapshot, dir / "pass.db", end + 3600, retention, false);
    if (days == 0 && !empty_reported) {
      rows.push_back(row);
      continue;
    }
    // A boot (nothing of the file in the page cache) and a restart (all of it there), alternating.
    for (int run = 0; run < settings.startup_runs; ++run) {
      EvictDatabase(database);
      const Start cold = StartDaemon(binary, dir);
      const Start warm = StartDaemon(binary, dir);
      row.cold_ms.push_back(cold.ready_ms);
      row.warm_ms.push_back(warm.ready_ms);
      row.rss_mib.push_back(warm.rss_at_ready_mib);
      std::cerr << "== store: " << days << " days: READY after " << cold.ready_ms << " ms (cold), "
                << warm.ready_ms << " ms (warm)\n";
    }
    const auto now_after =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    row.cold = TimeRebuildQueries(database, dir / "gateway.json", now_after, true);
    row.warm = TimeRebuildQueries(database, dir / "gateway.json", now_after, false);
    rows.push_back(row);
  }

  // Ingest: the same batches into a copy of each history, the histories alternating round by round.
  const ehg::core::WallTime ingest_start =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) + 1s;
  const IngestLoad daemon_load =
      MakeIngestLoad("daemon", settings.ingest_seconds * 20, 10, 50ms, ingest_start);
  const IngestLoad bulk_load =
      MakeIngestLoad("bulk", std::max(2, settings.ingest_seconds * 2 / 3), 512, 2560ms,
                     ingest_start + std::chrono::seconds{settings.ingest_seconds + 60});
  for (int round = 0; round < settings.ingest_rounds; ++round) {
    for (Row& row : rows) {
      const std::vector<double> rates = Ingest(row.snapshot, dir / "ingest.db", {&daemon_load, &bulk_load});
      row.ingest_daemon.push_back(rates[0]);
      row.ingest_bulk.push_back(rates[1]);
      std::cerr << "== store: ingest, " << row.days << " days: " << row.ingest_daemon.back() << " / "
                << row.ingest_bulk.back() << " readings/s\n";
    }
  }
  const Row& empty = rows.front();
  const Row& largest = rows.back();
  if (!settings.keep) {
    fs::remove_all(dir);
  } else {
    for (const Row& row : rows)
      RemoveDatabase(row.snapshot);
  }

  const double empty_daemon = Median(empty.ingest_daemon), empty_bulk = Median(empty.ingest_bulk);
  const double ready_cold = Median(largest.cold_ms), ready_warm = Median(largest.warm_ms);
  const double daemon_ratio = Median(largest.ingest_daemon) / empty_daemon;
  const double bulk_ratio = Median(largest.ingest_bulk) / empty_bulk;
  const std::string at = HistoryName(largest.days);
  // The targets of issue 22, for the table at the top of docs/benchmarks.md (scripts/bench moves them).
  std::printf(
      "| 90 days in the home: start-up to READY < 300 ms with %s of history, boot (cold page cache) | %.0f "
      "ms | %s |\n",
      at.c_str(), ready_cold, Verdict(ready_cold < 300));
  std::printf("| 90 days in the home: the same, restart (warm page cache) | %.0f ms | %s |\n", ready_warm,
              Verdict(ready_warm < 300));
  std::printf(
      "| 90 days in the home: %s of a 1 Hz oximeter and five spot devices < 600 MB | %.0f MB | %s |\n",
      at.c_str(), Mb(largest.size.file_bytes), Verdict(largest.size.file_bytes < 600'000'000));
  std::printf(
      "| 90 days in the home: ingest with %s of history >= 0.8x an empty store (the daemon's batches; "
      "bulk batches) | %.2fx (%.2fx) | %s |\n",
      at.c_str(), daemon_ratio, bulk_ratio, Verdict(daemon_ratio >= 0.8 && bulk_ratio >= 0.8));
  std::printf("\n");

  std::printf(
      "Ninety days in the home: the store as schema 8 keeps a home's history after D days of running with "
      "the default windows (raw readings %lld days, minute summaries and newest values %lld days). The home: "
      "the COPD example's oximeter at 1 Hz (SpO2 and pulse rate; one reading in 500 a flagged motion "
      "artefact) and five spot devices: a blood pressure cuff (systolic, diastolic, pulse rate; morning and "
      "evening, one in 15 flagged for movement), a scale (once a day), a glucose meter (four times a day, "
      "numbered records), a thermometer (once a day), each with its own time on its records and its battery "
      "once a day, and a BTHome motion sensor (motion detected and cleared about every 20 minutes in the "
      "daytime, about %llu readings a day in all besides the oximeter).\n",
      static_cast<long long>(retention.raw_s / kDaySeconds),
      static_cast<long long>(retention.summary_s / kDaySeconds),
      static_cast<unsigned long long>(SpotReadingsOfDay(20'000).size()));
  std::printf(
      "The history is generated directly with SQLite in the order it arrived, with the hourly retention pass "
      "at the daemon's hours, so the file has the free pages and layout of one that ran; %lld hours of it "
      "(raw readings kept 6 hours, summaries 20, so every kind of pruning happens) written both ways were "
      "compared row by row with what Store::Write and Store::PruneReadings store (readings with their row "
      "ids, minute summaries with their flags, newest values). Store::Write itself, in batches of an hour: "
      "%.0f readings/s.\n",
      static_cast<long long>(kCheckSeconds / 3600), store_rate);
  std::printf("Machine: %s\n\n", ehg::bench::Machine().c_str());

  std::printf(
      "**Size and start-up.** READY: `ehealth-gateway run` from exec to READY=1 on the notify socket, with "
      "the "
      "COPD example's rules plus the 24 h trend and 7-day baseline on SpO2 and the home's six devices "
      "(none reachable); median of %d runs each, cold = the database's pages evicted from the page cache "
      "first (a boot), warm = right after a run (a restart). Database = the file and its WAL; free = pages "
      "the retention freed, which SQLite reuses before the file grows.\n\n",
      settings.startup_runs);
  std::printf(
      "| history | readings received | raw readings kept | minute summaries | sources | database MB | of "
      "which "
      "free MB | READY cold ms | READY warm ms | RSS at READY MiB | generated in s |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    if (row.days == 0 && !empty_reported) continue;
    std::printf("| %s | %llu | %llu | %llu | %llu | %.1f | %.1f | %.0f | %.0f | %.1f | %.0f |\n",
                HistoryName(row.days).c_str(), static_cast<unsigned long long>(row.history.received),
                static_cast<unsigned long long>(row.history.raw_kept),
                static_cast<unsigned long long>(row.history.minutes),
                static_cast<unsigned long long>(row.history.sources), Mb(row.size.file_bytes),
                Mb(row.size.free_bytes), Median(row.cold_ms), Median(row.warm_ms), Median(row.rss_mib),
                row.history.seconds);
  }
  std::printf(
      "\n**Bytes per row** (dbstat: whole pages of the table and its indexes, divided by its rows)\n\n"
      "| history | raw readings MB | bytes per raw reading | minute summaries MB | bytes per minute summary "
      "|\n"
      "|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    if (row.history.raw_kept == 0) continue;
    std::printf("| %s | %.1f | %.0f | %.1f | %.0f |\n", HistoryName(row.days).c_str(),
                Mb(row.size.readings_bytes),
                static_cast<double>(row.size.readings_bytes) / static_cast<double>(row.history.raw_kept),
                Mb(row.size.minutes_bytes),
                static_cast<double>(row.size.minutes_bytes) /
                    static_cast<double>(std::max<std::uint64_t>(1, row.history.minutes)));
  }
  std::printf(
      "\n**Where the start-up time goes**: the store calls of the start and the rebuild, in their order, "
      "and the rule engine's part of the rebuild (the windows filled from those rows, the newest values "
      "taken), timed one by one in the bench process (cold / warm, ms); the whole-file check is the one the "
      "daemon runs in the background (after an unclean stop, and weekly), not on the way to READY\n\n"
      "| history | Store::Open (essential tables checked) | settings, outbox, devices, alerts, rule states | "
      "window summaries (rows) | short windows from raw readings (rows) | newest reading per source, 3 "
      "queries (rows) | the rule engine's rebuild | QuickCheckWholeFile (background) |\n"
      "|---|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    if (row.days == 0 && !empty_reported) continue;
    std::printf(
        "| %s | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f (%llu) | %.1f / %.1f (%llu) | %.1f / %.1f (%llu) | "
        "%.1f / %.1f | %.0f / %.0f |\n",
        HistoryName(row.days).c_str(), row.cold.open_ms, row.warm.open_ms, row.cold.state_ms,
        row.warm.state_ms, row.cold.windows_ms, row.warm.windows_ms,
        static_cast<unsigned long long>(row.warm.window_minutes), row.cold.raw_windows_ms,
        row.warm.raw_windows_ms, static_cast<unsigned long long>(row.warm.raw_window_readings),
        row.cold.latest_ms, row.warm.latest_ms, static_cast<unsigned long long>(row.warm.latest_rows),
        row.cold.engine_ms, row.warm.engine_ms, row.cold.whole_file_ms, row.warm.whole_file_ms);
  }
  std::printf(
      "\n**Ingest**: Store::Write (after the pipeline's duplicate check, AlreadyStored) of the same batches "
      "into "
      "a copy of each history (the daemon's batches, then the bulk ones), back to back, WAL and "
      "synchronous=FULL as in the daemon; median of %d rounds, the histories alternating. Daemon's batches: "
      "%zu batches of 10 readings (a batch each 50 ms of "
      "receive time, %d s), each reading with its observation event (the pipeline's body) and the device's "
      "record, every 100th batch also a blood pressure measurement and a numbered glucose record. Bulk: %zu "
      "batches of 512 readings (the pipeline's largest batch) with their observations.\n\n"
      "| history | daemon's batches, readings/s | vs empty store | bulk, readings/s | vs empty store |\n"
      "|---|---|---|---|---|\n",
      settings.ingest_rounds, daemon_load.batches.size(), settings.ingest_seconds, bulk_load.batches.size());
  for (const Row& row : rows) {
    std::printf("| %s | %.0f | %.2f | %.0f | %.2f |\n", HistoryName(row.days).c_str(),
                Median(row.ingest_daemon), Median(row.ingest_daemon) / empty_daemon, Median(row.ingest_bulk),
                Median(row.ingest_bulk) / empty_bulk);
  }
  std::printf(
      "\n**The hourly retention pass**, an hour after the history's last: Store::PruneReadings in steps of "
      "5000 until a step removes fewer, as Pipeline::PruneStep runs it (raw readings received more than 7 "
      "days before, summaries and newest values from more than 90 days before), on a copy of the file as "
      "generated; cold = the file evicted from the page cache first. Each step is one transaction.\n\n"
      "| history | raw readings removed | minute summaries removed | steps | pass cold ms | pass warm ms | "
      "longest step cold / warm ms |\n|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    std::printf("| %s | %llu | %llu | %d | %.0f | %.0f | %.0f / %.0f |\n", HistoryName(row.days).c_str(),
                static_cast<unsigned long long>(row.pass_warm.readings),
                static_cast<unsigned long long>(row.pass_warm.minutes), row.pass_warm.steps,
                row.pass_cold.total_ms, row.pass_warm.total_ms, row.pass_cold.longest_step_ms,
                row.pass_warm.longest_step_ms);
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--keep") {
      settings.keep = true;
      --i;
      continue;
    }
    if (i + 1 == argc) {
      std::cerr << flag << " needs a value\n";
      return 2;
    }
    const std::string value = argv[i + 1];
    if (flag == "--part")
      settings.part = value;
    else if (flag == "--readings")
      settings.readings = std::stoul(value);
    else if (flag == "--runs")
      settings.runs = std::stoi(value);
    else if (flag == "--startup-runs")
      settings.startup_runs = std::stoi(value);
    else if (flag == "--ingest-seconds")
      settings.ingest_seconds = std::stoi(value);
    else if (flag == "--ingest-rounds")
      settings.ingest_rounds = std::stoi(value);
    else if (flag == "--work")
      settings.work = value;
    else if (flag == "--history-days") {
      settings.history_days.clear();
      std::istringstream list(value);
      for (std::string day; std::getline(list, day, ',');)
        settings.history_days.push_back(std::stoi(day));
      std::sort(settings.history_days.begin(), settings.history_days.end());
    } else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  if (settings.part == "store") settings.part = "startup";
  if (settings.part != "replay" && settings.part != "startup" && settings.part != "all") {
    std::cerr << "--part: replay, startup (or store) or all\n";
    return 2;
  }
  if (settings.history_days.empty() || settings.ingest_seconds < 1 || settings.ingest_rounds < 1 ||
      settings.startup_runs < 1) {
    std::cerr << "--history-days, --startup-runs, --ingest-seconds and --ingest-rounds need a value\n";
    return 2;
  }
  ehg::core::SetLogLevel(ehg::core::LogLevel::kError);
  try {
    std::optional<ehg::test::TempDir> temporary;
    fs::path work = settings.work;
    if (work.empty()) {
      temporary.emplace();
      work = temporary->path();
    }
    fs::create_directories(work);
    work = fs::absolute(work);  // the daemon's config names files in it
    if (settings.part != "startup") BenchReplay(settings, work);
    if (settings.part != "replay") BenchStartup(settings, work);
  } catch (const std::exception& error) {
    std::cerr << "windows_bench: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
