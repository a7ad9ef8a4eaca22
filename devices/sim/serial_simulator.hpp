#pragma once

#include <termios.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "devices/sim/measurement_generator.hpp"
#include "devices/sim/serial_frames.hpp"
#include "devices/sim/simulated_source.hpp"
#include "gateway/core/result.hpp"

namespace ehg::devices::sim {

struct SerialSimulatorOptions {
  std::string protocol;  // a serial protocol of the device catalogue (gateway/core/device_catalog.hpp)
  // A symbolic link to the pty, as udev makes /dev/serial/by-id/... point to /dev/ttyUSBn.
  std::filesystem::path link;
  std::uint64_t seed = 1;
  // spo2, pulse, perfusion_index as for every simulator, and finger_out (1 = finger out, 0 = back in).
  std::vector<ScenarioChange> scenario;
  double byte_drop_rate = 0;  // share of bytes lost on the wire
  // contec-cms50-9: live data stops this long after the last start command or keep-alive.
  std::chrono::milliseconds keepalive_timeout{30'000};
  std::vector<BloodPressureRecord> records;  // beurer-bm: the monitor's memory, oldest first
  // For benchmarks, called on the simulator's thread. `shape` may change each value set before it is
  // encoded (number n counts from 0: one per frame, one per 25-frame packet for Nonin DF2/DF7);
  // `sent` is told when the last byte of value set n was written to the pty.
  std::function<void(std::uint64_t n, OximeterFrame& frame)> shape;
  std::function<void(std::uint64_t n, std::chrono::steady_clock::time_point written)> sent;
};

// A serial medical device on a pseudo-terminal: writes the device family's byte stream with realistic
// values, noise, dropped bytes and finger-out periods, follows a scenario, and answers the commands the
// real device answers (Contec start/keep-alive/stop, Beurer memory download). Unplug() closes the pty
// as pulling the USB cable does; Plug() creates a new one, usually under a new /dev/pts number.
class SerialSimulator {
 public:
  explicit SerialSimulator(SerialSimulatorOptions options);
  ~SerialSimulator();
  SerialSimulator(const SerialSimulator&) = delete;
  SerialSimulator& operator=(const SerialSimulator&) = delete;

  Result<void> Plug();
  void Unplug();

  struct Command {
    std::chrono::steady_clock::time_point at;
    std::vector<std::uint8_t> bytes;
  };
  // Everything the gateway wrote, one entry per recognised command (raw chunks otherwise).
  std::vector<Command> commands() const;
  std::uint64_t frames_sent() const { return frames_sent_.load(); }
  // A streaming oximeter switched off (true) and on again, its cable still plugged in: silence.
  void SetSilent(bool silent) { silent_ = silent; }
  bool streaming() const { return streaming_.load(); }
  // The tty's line settings as the program that opened it set them.
  std::optional<termios> LineSettings() const;
  std::filesystem::path pty_path() const;
  void AddRecord(const BloodPressureRecord& record);

 private:
  void Run();
  void HandleInput(const std::vector<std::uint8_t>& bytes, std::vector<std::uint8_t>& reply);
  void GenerateDue(std::chrono::steady_clock::time_point now, std::vector<std::uint8_t>& out);
  OximeterFrame NextFrame(double seconds);
  void Transmit(std::vector<std::uint8_t>& bytes);
  void AppendNoninFrame(double seconds, std::vector<std::uint8_t>& out);

  SerialSimulatorOptions options_;
  std::mt19937_64 random_;
  Physiology physiology_;
  bool finger_out_ = false;
  std::size_t next_change_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point next_frame_;
  std::chrono::steady_clock::time_point last_keepalive_;
  std::vector<std::uint8_t> input_;
  std::uint64_t value_sets_ = 0;          // OximeterFrames made (the n of shape and sent)
  std::vector<std::uint64_t> completed_;  // value sets whose last byte is in the next write
  std::vector<std::uint8_t> packet_;      // Nonin: the packet being sent, 5 bytes at a time
  std::size_t packet_sent_ = 0;

  mutable std::mutex mutex_;
  int master_ = -1;
  int slave_ = -1;
  std::filesystem::path pty_path_;
  std::vector<Command> commands_;
  std::vector<BloodPressureRecord> records_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> streaming_{false};
  std::atomic<bool> silent_{false};
  std::atomic<std::uint64_t> frames_sent_{0};
  std::thread thread_;
};

}  // namespace ehg::devices::sim
