#pragma once

#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// What every benchmark needs: the machine it ran on, a process's CPU time and memory from /proc, and
// percentiles. Header-only: each benchmark is one program.
namespace ehg::bench {

inline std::string Machine() {
  utsname name{};
  uname(&name);
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return std::string(name.machine) + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores, " +
         model + ", Linux " + name.release;
}

// User + system CPU seconds the process has used so far.
inline double CpuSeconds(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto after_name = text.rfind(')');
  if (after_name == std::string::npos) return 0;
  std::istringstream fields(text.substr(after_name + 2));
  std::string field;
  // Fields after the name start at 3 (state); utime and stime are 14 and 15.
  std::uint64_t utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A VmRSS / VmHWM style line of /proc/<pid>/status, in MiB.
inline std::optional<double> StatusMiB(pid_t pid, const std::string& key) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::stod(line.substr(key.size() + 1)) / 1024.0;
    }
  }
  return std::nullopt;
}
inline double RssMiB(pid_t pid) {
  return StatusMiB(pid, "VmRSS").value_or(0);
}
inline double PeakRssMiB(pid_t pid) {
  return StatusMiB(pid, "VmHWM").value_or(0);
}

// Nearest-rank percentile of values (sorted here), p in (0, 100].
inline double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

inline double Seconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

}  // namespace ehg::bench
