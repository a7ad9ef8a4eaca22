// The installer's and integrator's view of the serial decoders: `ehealth-gateway decode` and
// `ehealth-gateway-tools simulate-serial`.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>

#include "devices/serial/serial_driver.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::test::RunCommand;

// The reference capture: a real Contec 9-byte packet, the worked example of docs/serial.md and
// docs/protocols.md.
TEST_CASE("decode prints one JSON object per reading for the reference capture") {
  const auto result = RunCommand(
      {EHG_GATEWAY_BINARY, "decode", "--format", "contec-cms50-9", "--hex", "01 E0 85 D5 9A BD E3 FF FF"});
  CHECK(result.exit_code == 0);
  CHECK(result.output.find(R"({"metric":"spo2","value":99,"unit":"%","flags":[]})") != std::string::npos);
  CHECK(result.output.find(R"({"metric":"pulse_rate","value":61,"unit":"/min","flags":[]})") !=
        std::string::npos);
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
  const auto result =
      RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "beurer-bm", "--file", file.string()});
  CHECK(result.exit_code == 0);
  CHECK(
      result.output.find(
          R"({"metric":"bp.systolic","value":120,"unit":"mm[Hg]","flags":["motion_artefact","irregular_pulse"],"device_local_time":"2024-03-15T07:30:00"})") !=
      std::string::npos);
  const auto finger_out =
      RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "nonin-df8", "--hex", "83 7F 7F 08"});
  CHECK(finger_out.exit_code == 0);
  CHECK(finger_out.output.find("\"metric\"") == std::string::npos);
  CHECK(finger_out.output.find("1 frames without a clinical value") != std::string::npos);
}

TEST_CASE("decode gives a clear error for undecodable input and bad arguments") {
  const auto wrong_format =
      RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "contec-cms50-9", "--hex", "85 35 08 48 61"});
  CHECK(wrong_format.exit_code == 1);
  CHECK(wrong_format.output.find("error: no contec-cms50-9 frame in the input (unknown packet type 0x48); is "
                                 "it the right format?") != std::string::npos);
  const auto unknown = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "cms50", "--hex", "00"});
  CHECK(unknown.exit_code == 64);
  CHECK(unknown.output.find("unknown format \"cms50\"; one of: contec-cms50-5 contec-cms50-9") !=
        std::string::npos);
  const auto odd = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "ascii", "--hex", "0A 1"});
  CHECK(odd.exit_code == 64);
  CHECK(odd.output.find("--hex takes pairs of hex digits") != std::string::npos);
  const auto missing = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "ascii"});
  CHECK(missing.exit_code == 64);
}

TEST_CASE("decode reads every BLE characteristic the gateway subscribes to") {
  struct Case {
    const char* format;
    const char* hex;
    const char* expected;
  };
  const Case cases[] = {
      {"ble:2A35", "1E 7D 00 50 00 5F 00 E8 07 03 0F 07 1E 00 48 00 01 00 00",
       R"({"metric":"bp.systolic","value":125,"unit":"mm[Hg]","flags":[],"device_local_time":"2024-03-15T07:30:00","user":1})"},
      {"ble:2A1C", "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04",
       R"({"metric":"body_temperature","value":37.6,"unit":"Cel","flags":[],"device_local_time":"2012-12-05T11:50:27","details":{"site":"finger"}})"},
      {"ble:2A37", "16 48 20 03", R"({"metric":"rr_interval","value":781.25,"unit":"ms","flags":[])"},
      {"ble:2A5E", "00 61 00 48 00", R"({"metric":"spo2","value":97,"unit":"%","flags":[]})"},
      {"ble:2A5F", "00 62 00 40 00", R"({"metric":"pulse_rate","value":64,"unit":"/min","flags":[]})"},
      {"ble:2A9D", "00 8C 3C", R"({"metric":"body_weight","value":77.5,"unit":"kg","flags":[]})"},
      {"ble:2A18", "06 06 00 E8 07 03 0F 08 00 00 37 C0 11",
       R"({"metric":"glucose","value":5.5,"unit":"mmol/L","flags":[],"device_local_time":"2024-03-15T08:00:00","sequence":6,)"},
      {"ble:2A34", "02 05 00 01",
       "ble:2A34: 4 bytes, 0 readings (no value the device vouches for; meal: preprandial)"},
      {"ble:2A19", "5A", R"({"metric":"battery","value":90,"unit":"%","flags":[]})"},
      {"bthome", "40 00 09 01 5D 02 5D 09 03 B7 18",
       R"({"metric":"ambient_temperature","value":23.97,"unit":"Cel","flags":[],"packet_id":9})"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.format);
    const auto result = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", c.format, "--hex", c.hex});
    CHECK(result.exit_code == 0);
    CHECK_MESSAGE(result.output.find(c.expected) != std::string::npos, result.output);
  }
}

TEST_CASE("decode bthome decrypts with key and address and refuses what it cannot trust") {
  const char* packet = "41 E4 45 F3 C9 96 2B 33 22 11 00 6C 7C 45 19";
  const auto ok = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "bthome", "--hex", packet, "--key",
                              "231d39c1d7cc1ab1aee224cd096db932", "--address", "54:48:E6:8F:80:A5"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find(
            R"({"metric":"relative_humidity","value":50.55,"unit":"%","flags":[],"counter":1122867})") !=
        std::string::npos);
  const auto wrong_key =
      RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "bthome", "--hex", packet, "--key",
                  "231d39c1d7cc1ab1aee224cd096db933", "--address", "54:48:E6:8F:80:A5"});
  CHECK(wrong_key.exit_code == 1);
  CHECK(wrong_key.output.find("message integrity check failed") != std::string::npos);
  const auto no_address = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "bthome", "--hex", packet,
                                      "--key", "231d39c1d7cc1ab1aee224cd096db932"});
  CHECK(no_address.exit_code == 64);
  CHECK(no_address.output.find("needs the device address") != std::string::npos);
  const auto no_key = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "bthome", "--hex", packet});
  CHECK(no_key.exit_code == 1);
  CHECK(no_key.output.find("no key configured") != std::string::npos);
}

TEST_CASE("decode names the field a short BLE value is missing and lists the characteristics") {
  const auto short_value =
      RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "ble:2A37", "--hex", "17 01 01"});
  CHECK(short_value.exit_code == 1);
  CHECK(short_value.output.find(
            "heart rate measurement (0x2A37): 3 bytes, but flags 0x17 announce at least 5") !=
        std::string::npos);
  const auto unknown = RunCommand({EHG_GATEWAY_BINARY, "decode", "--format", "ble:2A00", "--hex", "00"});
  CHECK(unknown.exit_code == 64);
  CHECK(unknown.output.find("ble:2A35") != std::string::npos);
}

TEST_CASE("simulate-serial serves a device on a pty link that the serial driver reads") {
  ehg::test::TempDir dir;
  const auto link = dir / "df8";
  auto simulator =
      ehg::test::Process::Start({EHG_TOOLS_BINARY, "simulate-serial", "--protocol", "nonin-df8", "--link",
                                 link.string(), "--scenario", "0:spo2=93"});
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
