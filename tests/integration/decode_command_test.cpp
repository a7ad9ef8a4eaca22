// The installer's and integrator's view of the serial decoders: `ehealth-gateway decode` and
// `ehealth-gateway simulate-serial`.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>

#include "devices/serial/serial_driver.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::test::RunCommand;

TEST_CASE("decode prints one JSON object per reading for the reference capture") {
  const auto result =
      RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "contec-cms50-9", "--hex", "01 E0 85 D5 9A BD E3 FF FF"});
  CHECK(result.exit_code == 0);
  CHECK(result.output.find(R"({"metric":"spo2","value":99,"unit":"%","flags":[]})") != std::string::npos);
  CHECK(result.output.find(R"({"metric":"pulse_rate","value":61,"unit":"/min","flags":[]})") != std::string::npos);
  CHECK(result.output.find("contec-cms50-9: 9 bytes, 1 frames, 2 readings") != std::string::npos);
}

TEST_CASE("decode shows flags and device time, and reads raw bytes from a file") {
  ehg::test::TempDir dir;
  const auto file = dir / "beurer.bin";
  {
    std::ofstream out(file, std::ios::binary);
    const unsigned char record[] = {0x80, 0x5F, 0x37, 0x48, 0x83, 0x0F, 0x07, 0x1E, 0x98};
    out.write(reinterpret_cast<const char*>(record), sizeof record);
  }
  const auto result = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "beurer-bm", "--file", file.string()});
  CHECK(result.exit_code == 0);
  CHECK(result.output.find(
            R"({"metric":"bp.systolic","value":120,"unit":"mm[Hg]","flags":["motion_artefact","irregular_pulse"],"device_local_time":"2024-03-15T07:30:00"})") !=
        std::string::npos);
  const auto finger_out = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "nonin-df8", "--hex", "83 7F 7F 08"});
  CHECK(finger_out.exit_code == 0);
  CHECK(finger_out.output.find("\"metric\"") == std::string::npos);
  CHECK(finger_out.output.find("1 frames without a clinical value") != std::string::npos);
}

TEST_CASE("decode gives a clear error for undecodable input and bad arguments") {
  const auto wrong_format = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "contec-cms50-9", "--hex", "85 35 08 48 61"});
  CHECK(wrong_format.exit_code == 1);
  CHECK(wrong_format.output.find("error: no contec-cms50-9 frame in the input (unknown packet type 0x48); is it the right format?") !=
        std::string::npos);
  const auto unknown = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "cms50", "--hex", "00"});
  CHECK(unknown.exit_code == 64);
  CHECK(unknown.output.find("unknown format \"cms50\"; one of: contec-cms50-5 contec-cms50-9") != std::string::npos);
  const auto odd = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "ascii", "--hex", "0A 1"});
  CHECK(odd.exit_code == 64);
  CHECK(odd.output.find("--hex takes pairs of hex digits") != std::string::npos);
  const auto missing = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "ascii"});
  CHECK(missing.exit_code == 64);
}

TEST_CASE("simulate-serial serves a device on a pty link that the serial driver reads") {
  ehg::test::TempDir dir;
  const auto link = dir / "df8";
  auto simulator = ehg::test::Process::Start({EHG_GATEWAY_BINARY, "simulate-serial", "--protocol", "nonin-df8",
                                              "--link", link.string(), "--scenario", "0:spo2=93"});
  REQUIRE(ehg::test::WaitUntil([&] { return std::filesystem::exists(link); }));

  struct Sink final : ehg::core::ReadingSink {
    std::mutex mutex;
    std::vector<ehg::core::Reading> readings;
    bool Submit(ehg::core::Reading reading, ehg::core::ReadingDone) override {
      std::lock_guard lock(mutex);
      readings.push_back(std::move(reading));
      return true;
    }
    std::size_t Count() {
      std::lock_guard lock(mutex);
      return readings.size();
    }
  } sink;
  ehg::devices::serial::SerialDeviceOptions options;
  options.device_id = "oximeter";
  options.port = link;
  options.protocol = ehg::devices::serial::FindProtocol("nonin-df8").value();
  const ehg::core::SystemClock clock(true);
  ehg::devices::serial::SerialDriver driver(options, sink, nullptr, clock);
  driver.Start();
  REQUIRE(ehg::test::WaitUntil([&] { return sink.Count() >= 4; }, 8s));
  driver.Stop();
  simulator.Signal(SIGTERM);
  CHECK(simulator.Wait(5s) == 0);
  CHECK_FALSE(std::filesystem::exists(link));
  for (const auto& reading : sink.readings) {
    if (reading.metric == "spo2") CHECK(std::abs(reading.value - 93) <= 3);
  }
}
