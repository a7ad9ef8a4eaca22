#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"

namespace fs = std::filesystem;

namespace {

// Every fixture begins with the errors it must produce: "// expect: path: message".
std::vector<std::string> ExpectedErrors(const fs::path& file) {
  std::ifstream stream(file);
  std::vector<std::string> expected;
  for (std::string line; std::getline(stream, line) && line.starts_with("// expect: ");) {
    expected.push_back(line.substr(11));
  }
  return expected;
}

std::vector<std::string> ActualErrors(const fs::path& file) {
  const auto loaded = ehg::config::LoadConfig(file);
  std::vector<std::string> actual;
  if (loaded) return actual;
  for (const auto& error : loaded.error())
    actual.push_back(error.path.empty() ? error.message : error.path + ": " + error.message);
  return actual;
}

}  // namespace

TEST_CASE("Each malformed config yields exactly its expected errors, all of them at once") {
  const fs::path directory = fs::path(EHG_FIXTURES_DIR) / "config" / "invalid";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory))
    files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 25);
  for (const fs::path& file : files) {
    CAPTURE(file.filename().string());
    const std::vector<std::string> expected = ExpectedErrors(file);
    REQUIRE_FALSE(expected.empty());
    CHECK(ActualErrors(file) == expected);
  }
}

TEST_CASE("Errors carry the line of the offending value") {
  const auto loaded = ehg::config::LoadConfig(fs::path(EHG_FIXTURES_DIR) / "config" / "invalid" /
                                              "device-port-is-a-number.json");
  REQUIRE_FALSE(loaded.has_value());
  REQUIRE(loaded.error().size() == 1);
  const auto& error = loaded.error()[0];
  // Find the line of the bad value independently of the parser.
  std::ifstream stream(fs::path(EHG_FIXTURES_DIR) / "config" / "invalid" / "device-port-is-a-number.json");
  int line_number = 0;
  int port_line = 0;
  for (std::string line; std::getline(stream, line);) {
    ++line_number;
    if (line.find("\"port\": 42") != std::string::npos) port_line = line_number;
  }
  REQUIRE(port_line > 0);
  CHECK(error.line == port_line);
  CHECK(error.ToString() == "devices[2].port: expected a device path such as /dev/ttyUSB0, got 42 (line " +
                                std::to_string(port_line) + ")");
}
