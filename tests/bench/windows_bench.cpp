// Long windows: what a 24-hour trend and a 7-day baseline rule on a 1 Hz oximeter cost.
//
//   windows_bench [--part replay|startup|all] [--readings N] [--runs R] [--history-days 0,1,30,90]
//                 [--startup-runs R] [--work DIR] [--keep]
//
// Replay: `ehealth-gateway replay` of N oximeter readings (SpO2 and pulse rate at 1 Hz, generated here,
// deterministically, into DIR; two signals: an exacerbation and a slow decline) with
// examples/copd-resident.json, and with the same config plus a 24 h trend and a 7-day baseline rule on
// SpO2; the runs alternate, wall time is the median, peak RSS is the child's high-water mark (wait4). The
// timed runs discard the timeline (/dev/null); one more run of each keeps it to count what the rules raised,
// so a fast run cannot be a run in which they did nothing.
//
// Start-up: a store with D days of 1 Hz oximeter history (readings and the per-minute summaries the
// gateway keeps beside them, schema version 7), then the real daemon from exec to READY=1 on a notify
// socket, with the COPD config plus the same two rules (so the rebuild restores their windows), with the
// database's pages evicted from the page cache first (a boot) and without (a restart); 0 days is an
// empty store, the fixed cost. Then the store
// calls the rebuild makes, timed one by one in this process, to show where the time goes.
//
// Prints Markdown tables (scripts/bench puts them into docs/benchmarks.md); progress on stderr.
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
#include "gateway/core/metrics.hpp"
#include "gateway/store/store.hpp"
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
  std::string work;   // empty: a temporary directory, removed at the end
  bool keep = false;  // keep the last start-up database and its config (to profile the daemon on it)
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

// ---- Start-up.

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

struct History {
  std::uint64_t readings = 0;
  std::uint64_t minutes = 0;
  double seconds = 0;
};

// `days` of history up to `now`: the schema made by the gateway's own store (Store::Open creates and
// migrates it; the oximeter's device row through Store::Write), then the rows inserted directly, in a few
// large transactions, as Store::Write stores them: one row per reading (no device time: a streaming
// oximeter has none) and one reading_minutes row per metric, device and minute (readings, the usable
// ones' count, sum, first lowest and first highest with their times).
History BuildHistory(const fs::path& database, std::int64_t first, std::int64_t end) {
  const ehg::core::WallTime now{std::chrono::seconds{end}};
  const auto started = Steady::now();
  {
    ehg::core::SystemClock clock(true);
    auto store = ehg::store::Store::Open({database, 64ull * 1024 * 1024, 0}, clock);
    if (!store) throw std::runtime_error("store: " + store.error().message);
    ehg::store::WriteBatch batch;
    batch.devices.push_back({kDevice, now, true, std::nullopt, "", now});
    if (auto written = (*store)->Write(batch); !written)
      throw std::runtime_error("store: " + written.error().message);
  }
  SQLite::Database db(database.string(), SQLite::OPEN_READWRITE);
  db.exec("PRAGMA journal_mode = OFF");  // a generator: a crash means generating again
  db.exec("PRAGMA synchronous = OFF");
  db.exec("PRAGMA cache_size = -524288");
  SQLite::Statement insert(
      db,
      "INSERT INTO readings (device_id, metric, value, unit, device_time_ms, received_ms, "
      "time_uncertain, flags, sequence, claimed_device_time_ms) VALUES (?, ?, ?, ?, NULL, ?, 0, ?, "
      "NULL, NULL)");
  SQLite::Statement minute_row(db,
                               "INSERT INTO reading_minutes (metric, minute_ms, device_id, readings, usable, "
                               "usable_sum, usable_min, usable_min_ms, usable_max, usable_max_ms) VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const auto artefact_bits = static_cast<std::int64_t>(
      ehg::core::QualityFlags().Set(ehg::core::QualityFlag::kMotionArtefact).bits());
  struct Minute {
    std::int64_t readings = 0, usable = 0;
    double sum = 0, low = 0, high = 0;
    std::int64_t low_ms = 0, high_ms = 0;
  };
  History history;
  const std::int64_t first_minute = first - ((first % 60) + 60) % 60;
  std::optional<SQLite::Transaction> transaction;
  int minutes_in_transaction = 0;
  for (std::int64_t minute = first_minute; minute < end; minute += 60) {
    if (!transaction) transaction.emplace(db);
    Minute spo2, pulse;
    for (std::int64_t t = std::max(minute, first); t < std::min(minute + 60, end); ++t) {
      const Sample sample = Oximetry(t, nullptr);  // a quiet history
      const std::int64_t ms = t * 1000;
      const auto add = [&](const char* metric, const char* unit, int value, Minute& summary) {
        insert.bind(1, kDevice);
        insert.bind(2, metric);
        insert.bind(3, static_cast<double>(value));
        insert.bind(4, unit);
        insert.bind(5, ms);
        insert.bind(6, sample.artefact ? artefact_bits : std::int64_t{0});
        insert.exec();
        insert.reset();
        ++history.readings;
        ++summary.readings;
        if (sample.artefact) return;
        const double v = value;
        if (summary.usable == 0 || v < summary.low) {
          summary.low = v;
          summary.low_ms = ms;
        }
        if (summary.usable == 0 || v > summary.high) {
          summary.high = v;
          summary.high_ms = ms;
        }
        ++summary.usable;
        summary.sum += v;
      };
      add("spo2", "%", sample.spo2, spo2);
      add("pulse_rate", "/min", sample.pulse, pulse);
    }
    for (const auto& [metric, summary] : {std::pair{"spo2", spo2}, std::pair{"pulse_rate", pulse}}) {
      if (summary.readings == 0) continue;
      minute_row.bind(1, metric);
      minute_row.bind(2, minute * 1000);
      minute_row.bind(3, kDevice);
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
      minute_row.exec();
      minute_row.reset();
      ++history.minutes;
    }
    if (++minutes_in_transaction == 8000) {  // about a million readings per transaction
      transaction->commit();
      transaction.reset();
      minutes_in_transaction = 0;
    }
  }
  if (transaction) transaction->commit();
  db.exec("PRAGMA journal_mode = WAL");  // as the gateway leaves it
  history.seconds = ehg::bench::Seconds(Steady::now() - started);
  return history;
}

// The same history written by Store::Write, the gateway's own writer, in batches of an hour's readings.
// Returns readings per second.
double WriteHistoryThroughStore(const fs::path& database, std::int64_t first, std::int64_t end) {
  ehg::core::SystemClock clock(true);
  auto store = ehg::store::Store::Open({database, 64ull * 1024 * 1024, 0}, clock);
  if (!store) throw std::runtime_error("store: " + store.error().message);
  const auto started = Steady::now();
  ehg::store::WriteBatch batch;
  const auto write = [&] {
    if (auto written = (*store)->Write(batch); !written)
      throw std::runtime_error("store: " + written.error().message);
    batch.readings.clear();
  };
  for (std::int64_t t = first; t < end; ++t) {
    const Sample sample = Oximetry(t, nullptr);
    for (const auto& [metric, unit, value] :
         {std::tuple{"spo2", "%", sample.spo2}, std::tuple{"pulse_rate", "/min", sample.pulse}}) {
      ehg::core::Reading reading;
      reading.device_id = kDevice;
      reading.metric = metric;
      reading.unit = unit;
      reading.value = value;
      reading.received_at = ehg::core::WallTime{std::chrono::seconds{t}};
      if (sample.artefact) reading.flags.Set(ehg::core::QualityFlag::kMotionArtefact);
      batch.readings.push_back(std::move(reading));
    }
    if (batch.readings.size() >= 7200) write();
  }
  if (!batch.readings.empty()) write();
  return 2.0 * static_cast<double>(end - first) / ehg::bench::Seconds(Steady::now() - started);
}

std::vector<std::string> Rows(const fs::path& database, const std::string& select) {
  SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
  SQLite::Statement query(db, select);
  std::vector<std::string> rows;
  while (query.executeStep())
    rows.push_back(query.getColumn(0).getString());
  return rows;
}

// BuildHistory must store what the gateway stores: six hours of history (not starting on a minute) both
// ways, every reading and every minute summary compared. Returns Store::Write's readings per second.
double CheckHistoryAgainstStore(const fs::path& dir) {
  const fs::path direct = dir / "direct.db", through_store = dir / "store.db";
  const std::int64_t end = 1'780'000'017, first = end - 6 * 3600 - 23;
  (void)BuildHistory(direct, first, end);
  const double rate = WriteHistoryThroughStore(through_store, first, end);
  for (const char* select :
       {"SELECT quote(device_id)||quote(metric)||quote(value)||quote(unit)||quote(device_time_ms)||"
        "quote(received_ms)||quote(time_uncertain)||quote(flags)||quote(sequence)||quote(claimed_device_time_ms) "
        "FROM readings ORDER BY id",
        "SELECT quote(metric)||quote(minute_ms)||quote(device_id)||quote(readings)||quote(usable)||"
        "quote(usable_sum)||quote(usable_min)||quote(usable_min_ms)||quote(usable_max)||quote(usable_max_ms) "
        "FROM reading_minutes ORDER BY metric, minute_ms, device_id"}) {
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
  for (const fs::path& file : {direct, through_store}) {
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(file.string() + suffix);
  }
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
// (offline is normal; READY does not wait for it), the COPD example's devices and rules plus the trend
// and baseline rules. The serial port and BlueZ are absent here: the drivers keep trying in the
// background, as at a boot before the USB adapter appears.
std::string DaemonConfig(const fs::path& dir, const fs::path& database) {
  const auto& pki = ehg::test::TestPki::Get();
  const std::string copd = WithWindowRules(ReadFile(SourceFile("examples/copd-resident.json")));
  const auto devices = copd.find("\"devices\": [");
  if (devices == std::string::npos) throw std::runtime_error("the COPD example has no device list");
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
  )" + copd.substr(devices);
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
  Start start{std::chrono::duration<double, std::milli>(*ready - started).count(),
              ehg::bench::PeakRssMiB(gateway.pid())};
  gateway.Signal(SIGTERM);
  if (!gateway.Wait(60s)) throw std::runtime_error("the gateway did not stop: " + gateway.Output());
  return start;
}

// The store calls of the pipeline's rebuild (RestoreEngineState in gateway/pipeline/pipeline.cpp at this
// commit), one by one, in milliseconds.
struct Breakdown {
  double open_ms = 0;         // Store::Open: PRAGMA quick_check, schema check
  double quick_check_ms = 0;  // the check alone, on a second connection
  double windows_ms = 0;      // the per-minute summaries of every window
  std::uint64_t window_minutes = 0;
  double latest_ms = 0;  // the newest reading per source over 60 days (three queries)
  double rest_ms = 0;    // open alerts, rule states, devices
};

// `cold`: the database's pages are evicted before the check and again before the store opens.
Breakdown TimeRebuildQueries(const fs::path& database, const fs::path& config_path, ehg::core::WallTime now,
                             bool cold) {
  Breakdown breakdown;
  const auto config = ehg::config::LoadConfig(config_path);
  if (!config) throw std::runtime_error("the bench config does not parse");
  auto zone = ehg::config::LoadTimeZone(config->resident.time_zone);
  if (!zone) throw std::runtime_error("no time zone");
  const ehg::alerts::Evaluator evaluator(config->rules, *zone);
  const auto timed = [](auto&& call) {
    const auto started = Steady::now();
    call();
    return std::chrono::duration<double, std::milli>(Steady::now() - started).count();
  };
  if (cold) EvictDatabase(database);
  {
    SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
    breakdown.quick_check_ms = timed([&] { db.exec("PRAGMA quick_check"); });
  }
  if (cold) EvictDatabase(database);
  ehg::core::SystemClock clock(true);
  std::unique_ptr<ehg::store::Store> store;
  breakdown.open_ms = timed([&] {
    auto opened = ehg::store::Store::Open({database, 64ull * 1024 * 1024, 0}, clock);
    if (!opened) throw std::runtime_error("store: " + opened.error().message);
    store = std::move(*opened);
  });
  breakdown.rest_ms = timed([&] {
    (void)store->LoadDevices();
    (void)store->LoadOpenAlerts();
    (void)store->LoadRuleStates();
  });
  breakdown.windows_ms = timed([&] {
    for (const ehg::alerts::WindowSpec& spec : evaluator.Windows()) {
      auto minutes = store->LoadUsableMinutes(spec.metric, now - spec.span - spec.bucket, now + 24h);
      if (!minutes) throw std::runtime_error("store: " + minutes.error().message);
      breakdown.window_minutes += minutes->size();
    }
  });
  breakdown.latest_ms = timed([&] {
    const ehg::core::WallTime recent = now - std::chrono::days{60};
    std::vector<std::string> event_metrics;
    for (const ehg::core::MetricInfo& metric : ehg::core::AllMetrics()) {
      if (metric.kind == ehg::core::MetricKind::kEvent) event_metrics.emplace_back(metric.name);
    }
    // The three queries of Pipeline::RestoreEngineState.
    for (int kind = 0; kind < 3; ++kind) {
      ehg::store::ReadingQuery query;
      query.since = recent;
      query.until = now + 24h;
      query.latest_per_source = true;
      query.usable_only = kind == 1;
      if (kind == 2) {
        query.metrics = event_metrics;
        query.nonzero_only = true;
      }
      if (auto readings = store->LoadReadings(query); !readings)
        throw std::runtime_error("store: " + readings.error().message);
    }
  });
  return breakdown;
}

std::string HistoryName(int days) {
  return days == 0 ? "none (empty store)" : std::to_string(days) + (days == 1 ? " day" : " days");
}

void BenchStartup(const Settings& settings, const fs::path& work) {
  const std::string binary = EHG_GATEWAY_BINARY;
  const fs::path dir = work / "startup";
  fs::remove_all(dir);
  fs::create_directories(dir);
  MakeKeys(binary, dir);
  const fs::path database = dir / "gateway.db";
  WriteFile(dir / "gateway.json", DaemonConfig(dir, database));
  const double store_rate = CheckHistoryAgainstStore(dir);

  struct Row {
    int days = 0;
    History history;
    std::uint64_t bytes = 0;
    std::vector<double> cold_ms, warm_ms, rss_mib;
    Breakdown cold, warm;
  };
  std::vector<Row> rows;
  for (const int days : settings.history_days) {
    fs::remove(database);
    fs::remove(database.string() + "-wal");
    fs::remove(database.string() + "-shm");
    std::cerr << "== windows: building " << days << " days of 1 Hz history\n";
    const auto now =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    const std::int64_t end = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    Row row{days, BuildHistory(database, end - days * kDaySeconds, end), 0, {}, {}, {}, {}, {}};
    row.bytes = DatabaseBytes(database);
    std::cerr << "== windows: " << row.history.readings << " readings in " << row.history.seconds << " s, "
              << static_cast<double>(row.bytes) / 1048576.0 << " MiB\n";
    // A boot (nothing of the file in the page cache) and a restart (all of it there), alternating.
    for (int run = 0; run < settings.startup_runs; ++run) {
      EvictDatabase(database);
      const Start cold = StartDaemon(binary, dir);
      const Start warm = StartDaemon(binary, dir);
      row.cold_ms.push_back(cold.ready_ms);
      row.warm_ms.push_back(warm.ready_ms);
      row.rss_mib.push_back(warm.rss_at_ready_mib);
      std::cerr << "== windows: " << days << " days: READY after " << cold.ready_ms << " ms (cold), "
                << warm.ready_ms << " ms (warm)\n";
    }
    const auto now_after =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    row.cold = TimeRebuildQueries(database, dir / "gateway.json", now_after, true);
    row.warm = TimeRebuildQueries(database, dir / "gateway.json", now_after, false);
    rows.push_back(row);
  }
  if (!settings.keep) fs::remove_all(dir);

  std::printf(
      "Start-up rebuild: `ehealth-gateway run` from exec to READY=1 (the notify socket), the COPD example's "
      "devices and rules plus the 24 h trend and 7-day baseline on SpO2, a store with D days of SpO2 and "
      "pulse rate at 1 Hz; median of %d runs each: cold = the database's pages evicted from the page "
      "cache first (a boot), warm = right after a run (a restart)\n",
      settings.startup_runs);
  std::printf(
      "The history is inserted directly (transactions of about a million readings); six hours of it "
      "written both ways were compared row by row with what Store::Write stores (same readings, same "
      "minute summaries). Store::Write itself, in batches of an hour: %.0f readings/s.\n",
      store_rate);
  std::printf("Machine: %s\n\n", ehg::bench::Machine().c_str());
  std::printf(
      "| history | readings | database MiB | READY cold ms | READY warm ms | RSS at READY MiB | generated "
      "in s |\n|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    std::printf("| %s | %llu | %.0f | %.0f | %.0f | %.1f | %.0f |\n", HistoryName(row.days).c_str(),
                static_cast<unsigned long long>(row.history.readings),
                static_cast<double>(row.bytes) / 1048576.0, Median(row.cold_ms), Median(row.warm_ms),
                Median(row.rss_mib), row.history.seconds);
  }
  std::printf(
      "\nWhere the time goes: the store calls of the rebuild, timed one by one in the bench process "
      "(cold, then warm; ms)\n\n");
  std::printf(
      "| history | Store::Open (cold / warm) | PRAGMA quick_check alone (cold / warm) | window summaries "
      "(rows) | newest reading per source, 60 days, 3 queries | alerts, rule states, devices |\n"
      "|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    std::printf("| %s | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f (%llu) | %.0f / %.0f | %.1f / %.1f |\n",
                HistoryName(row.days).c_str(), row.cold.open_ms, row.warm.open_ms, row.cold.quick_check_ms,
                row.warm.quick_check_ms, row.cold.windows_ms, row.warm.windows_ms,
                static_cast<unsigned long long>(row.warm.window_minutes), row.cold.latest_ms,
                row.warm.latest_ms, row.cold.rest_ms, row.warm.rest_ms);
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
    else if (flag == "--work")
      settings.work = value;
    else if (flag == "--history-days") {
      settings.history_days.clear();
      std::istringstream list(value);
      for (std::string day; std::getline(list, day, ',');)
        settings.history_days.push_back(std::stoi(day));
    } else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  if (settings.part != "replay" && settings.part != "startup" && settings.part != "all") {
    std::cerr << "--part: replay, startup or all\n";
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
