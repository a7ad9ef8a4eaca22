#include "devices/sim/serial_simulator.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numbers>
#include <span>

#include "gateway/core/device_catalog.hpp"

namespace ehg::devices::sim {
namespace {

using Steady = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kTick{20};  // a USB-serial adapter hands bytes over in bursts like this

bool IsContecCommand(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 9 && bytes[0] == 0x7D && bytes[1] == 0x81 &&
         std::all_of(bytes.begin() + 3, bytes.begin() + 9, [](std::uint8_t b) { return b == 0x80; });
}

// Frames per second of each stream (Nonin DF2/DF7: 75 five-byte frames, 25 to a packet).
double FramesPerSecond(std::string_view protocol) {
  if (protocol == "contec-cms50-5" || protocol == "contec-cms50-9") return 60;
  if (protocol == "nonin-df2" || protocol == "nonin-df7") return 75;
  if (protocol == "beurer-bm") return 0;
  return 1;  // nonin-df8, ascii
}

}  // namespace

SerialSimulator::SerialSimulator(SerialSimulatorOptions options)
    : options_(std::move(options)), random_(options_.seed), records_(options_.records) {
  physiology_.spo2 = 96;
  physiology_.pulse = 72;
  std::stable_sort(options_.scenario.begin(), options_.scenario.end(),
                   [](const ScenarioChange& a, const ScenarioChange& b) { return a.after < b.after; });
  started_ = Steady::now();
  next_frame_ = started_;
  last_keepalive_ = started_;
}

SerialSimulator::~SerialSimulator() {
  Unplug();
}

Result<void> SerialSimulator::Plug() {
  Unplug();
  int master = -1;
  int slave = -1;
  std::array<char, 128> name{};
  if (::openpty(&master, &slave, name.data(), nullptr, nullptr) != 0) {
    return Fail(Errc::kIo, std::string("openpty: ") + std::strerror(errno));
  }
  // Raw from the start: no echo of what the gateway sends, no line editing of binary frames.
  termios settings{};
  ::tcgetattr(slave, &settings);
  ::cfmakeraw(&settings);
  ::tcsetattr(slave, TCSANOW, &settings);
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  std::error_code error;
  std::filesystem::remove(options_.link, error);
  std::filesystem::create_symlink(name.data(), options_.link, error);
  if (error) {
    ::close(master);
    ::close(slave);
    return Fail(Errc::kIo, "cannot link " + options_.link.string() + ": " + error.message());
  }
  {
    std::lock_guard lock(mutex_);
    master_ = master;
    slave_ = slave;  // held open so the pty survives the gateway closing and reopening it
    pty_path_ = name.data();
  }
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
  return {};
}

void SerialSimulator::Unplug() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (master_ < 0) return;
  std::error_code error;
  std::filesystem::remove(options_.link, error);
  ::close(master_);
  ::close(slave_);
  master_ = slave_ = -1;
  streaming_ = false;
  input_.clear();
  packet_.clear();
  packet_sent_ = 0;
}

std::vector<SerialSimulator::Command> SerialSimulator::commands() const {
  std::lock_guard lock(mutex_);
  return commands_;
}

std::optional<termios> SerialSimulator::LineSettings() const {
  std::lock_guard lock(mutex_);
  termios settings{};
  if (slave_ < 0 || ::tcgetattr(slave_, &settings) != 0) return std::nullopt;
  return settings;
}

std::filesystem::path SerialSimulator::pty_path() const {
  std::lock_guard lock(mutex_);
  return pty_path_;
}

void SerialSimulator::AddRecord(const BloodPressureRecord& record) {
  std::lock_guard lock(mutex_);
  records_.push_back(record);
}

void SerialSimulator::Run() {
  // Like the real devices: the Contec V7.0 streams once started, a polled monitor only answers.
  const core::DeviceKind* kind = core::FindDeviceKind(core::DeviceConnection::kSerial, options_.protocol);
  const bool needs_start = options_.protocol == "contec-cms50-9";
  streaming_ = !needs_start && !(kind != nullptr && kind->polled);
  next_frame_ = Steady::now();
  std::vector<std::uint8_t> buffer(4096);
  while (!stop_) {
    pollfd wait{master_, POLLIN, 0};
    ::poll(&wait, 1, static_cast<int>(kTick.count()));
    std::vector<std::uint8_t> out;
    const ssize_t count = ::read(master_, buffer.data(), buffer.size());
    if (count > 0) {
      HandleInput({buffer.begin(), buffer.begin() + count}, out);
    }
    const auto now = Steady::now();
    if (needs_start && streaming_ && now - last_keepalive_ > options_.keepalive_timeout) {
      streaming_ = false;  // as the real device: no keep-alive, no live data
    }
    if (streaming_ && !silent_)
      GenerateDue(now, out);
    else
      next_frame_ = now;
    Transmit(out);
  }
}

void SerialSimulator::HandleInput(const std::vector<std::uint8_t>& bytes, std::vector<std::uint8_t>& reply) {
  input_.insert(input_.end(), bytes.begin(), bytes.end());
  std::vector<Command> seen;
  const auto now = Steady::now();
  if (options_.protocol == "contec-cms50-9") {
    while (!input_.empty()) {
      const auto start = std::find(input_.begin(), input_.end(), std::uint8_t{0x7D});
      input_.erase(input_.begin(), start);
      if (input_.size() < 9) break;
      if (!IsContecCommand(input_)) {
        input_.erase(input_.begin());
        continue;
      }
      const std::uint8_t command = input_[2];
      seen.push_back({now, {input_.begin(), input_.begin() + 9}});
      input_.erase(input_.begin(), input_.begin() + 9);
      if (command == 0xA1) {
        streaming_ = true;
        last_keepalive_ = now;
      } else if (command == 0xAF) {
        last_keepalive_ = now;
      } else if (command == 0xA2) {
        streaming_ = false;
      }
    }
  } else if (options_.protocol == "beurer-bm") {
    std::lock_guard lock(mutex_);
    while (!input_.empty()) {
      const std::uint8_t command = input_.front();
      if (command == 0xA3) {
        if (input_.size() < 2) break;
        const std::size_t index = input_[1];
        seen.push_back({now, {0xA3, input_[1]}});
        input_.erase(input_.begin(), input_.begin() + 2);
        if (index >= 1 && index <= records_.size()) {
          const auto record = EncodeBeurerRecord(records_[index - 1]);
          reply.insert(reply.end(), record.begin(), record.end());
          ++frames_sent_;
        }
        continue;
      }
      seen.push_back({now, {command}});
      input_.erase(input_.begin());
      if (command == 0xAA) reply.push_back(0x55);
      if (command == 0xA2)
        reply.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(records_.size(), 255)));
      if (command == 0xA4) {
        const std::string description = "BM65 simulated monitor         ";  // 32 ASCII bytes
        reply.insert(reply.end(), description.begin(), description.begin() + 32);
      }
    }
  } else {
    seen.push_back({now, input_});
    input_.clear();
  }
  std::lock_guard lock(mutex_);
  commands_.insert(commands_.end(), seen.begin(), seen.end());
}

OximeterFrame SerialSimulator::NextFrame(double seconds) {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - started_);
  while (next_change_ < options_.scenario.size() && options_.scenario[next_change_].after <= elapsed) {
    const ScenarioChange& change = options_.scenario[next_change_++];
    if (change.parameter == "finger_out") {
      finger_out_ = change.value >= 0.5;
    } else {
      SetPhysiology(physiology_, change.parameter, change.value);
    }
  }
  std::normal_distribution<double> spo2_noise(0, 0.6);
  std::normal_distribution<double> pulse_noise(0, 1.2);
  OximeterFrame frame;
  frame.spo2 = static_cast<int>(std::clamp(std::lround(physiology_.spo2 + spo2_noise(random_)), 50L, 100L));
  frame.pulse_rate =
      static_cast<int>(std::clamp(std::lround(physiology_.pulse + pulse_noise(random_)), 25L, 250L));
  frame.perfusion_index = physiology_.perfusion_index;
  frame.low_perfusion = physiology_.perfusion_index < 0.4;
  frame.finger_out = finger_out_;
  // A pulse wave: one cycle per beat.
  const double phase = std::fmod(seconds * physiology_.pulse / 60.0, 1.0);
  frame.pleth = finger_out_ ? 0 : static_cast<int>(64 + 50 * std::sin(2 * std::numbers::pi * phase));
  if (options_.shape) options_.shape(value_sets_, frame);
  ++value_sets_;
  return frame;
}

void SerialSimulator::GenerateDue(Steady::time_point now, std::vector<std::uint8_t>& out) {
  const double rate = FramesPerSecond(options_.protocol);
  if (rate <= 0) return;
  const auto period = std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(1.0 / rate));
  const std::string& protocol = options_.protocol;
  while (next_frame_ <= now) {
    const double seconds = std::chrono::duration<double>(next_frame_ - started_).count();
    next_frame_ += period;
    if (protocol == "nonin-df2" || protocol == "nonin-df7") {
      AppendNoninFrame(seconds, out);
      continue;
    }
    const OximeterFrame frame = NextFrame(seconds);
    completed_.push_back(value_sets_ - 1);
    std::vector<std::uint8_t> bytes;
    if (protocol == "contec-cms50-5") bytes = EncodeContec5(frame);
    if (protocol == "contec-cms50-9") bytes = EncodeContec9(frame);
    if (protocol == "nonin-df8") bytes = EncodeNoninDf8(frame);
    if (protocol == "ascii") {
      const std::string line = EncodeAsciiLine(frame);
      bytes.assign(line.begin(), line.end());
    }
    out.insert(out.end(), bytes.begin(), bytes.end());
    ++frames_sent_;
  }
}

// Nonin DF2/DF7 send one 5-byte frame every 1/75 s; the values of a packet are fixed when it starts.
void SerialSimulator::AppendNoninFrame(double seconds, std::vector<std::uint8_t>& out) {
  constexpr std::size_t kFrameBytes = 5;
  if (packet_sent_ >= packet_.size()) {
    const OximeterFrame frame = NextFrame(seconds);
    std::array<int, 25> pleth{};
    for (std::size_t i = 0; i < pleth.size(); ++i) {
      const double t = seconds + static_cast<double>(i) / 75.0;
      const double wave = std::sin(2 * std::numbers::pi * std::fmod(t * physiology_.pulse / 60.0, 1.0));
      pleth[i] = options_.protocol == "nonin-df2" ? static_cast<int>(128 + 100 * wave)
                                                  : static_cast<int>(32768 + 20000 * wave);
    }
    packet_ = options_.protocol == "nonin-df2" ? EncodeNoninDf2Packet(frame, pleth)
                                               : EncodeNoninDf7Packet(frame, pleth);
    packet_sent_ = 0;
  }
  const auto from = packet_.begin() + static_cast<std::ptrdiff_t>(packet_sent_);
  out.insert(out.end(), from, from + kFrameBytes);
  packet_sent_ += kFrameBytes;
  if (packet_sent_ >= packet_.size()) completed_.push_back(value_sets_ - 1);
  ++frames_sent_;
}

void SerialSimulator::Transmit(std::vector<std::uint8_t>& bytes) {
  if (bytes.empty()) {
    completed_.clear();
    return;
  }
  if (options_.byte_drop_rate > 0) {
    std::bernoulli_distribution drop(options_.byte_drop_rate);
    std::erase_if(bytes, [&](std::uint8_t) { return drop(random_); });
  }
  // Nobody reading: the pty buffer fills and the rest is lost, as bytes on a wire nobody listens to.
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t count = ::write(master_, bytes.data() + written, bytes.size() - written);
    if (count <= 0) break;
    written += static_cast<std::size_t>(count);
  }
  if (options_.sent) {
    const auto now = Steady::now();
    for (const std::uint64_t n : completed_)
      options_.sent(n, now);
  }
  completed_.clear();
}

}  // namespace ehg::devices::sim
