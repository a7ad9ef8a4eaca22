#include "tests/support/private_bus.hpp"

#include <fstream>
#include <stdexcept>
#include <thread>

namespace ehg::test {
namespace {

Process StartDaemon(const std::filesystem::path& config) {
  return Process::Start(
      {"/usr/bin/dbus-daemon", "--nofork", "--nopidfile", "--config-file=" + config.string()});
}

std::filesystem::path WriteConfig(const TempDir& dir, const std::string& socket) {
  const auto config = dir / "bus.conf";
  std::ofstream out(config);
  out << R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)"
      << socket << R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow send_type="method_call"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
)";
  return config;
}

}  // namespace

PrivateBus::PrivateBus()
    : address_("unix:path=" + (dir_ / "bus").string()),
      daemon_(StartDaemon(WriteConfig(dir_, (dir_ / "bus").string()))) {
  for (int i = 0; i < 500 && !std::filesystem::exists(dir_ / "bus"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!std::filesystem::exists(dir_ / "bus")) {
    throw std::runtime_error("dbus-daemon did not start: " + daemon_.Output());
  }
}

}  // namespace ehg::test
