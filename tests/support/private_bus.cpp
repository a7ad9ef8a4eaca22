#include "tests/support/private_bus.hpp"

#include <fstream>
#include <stdexcept>

namespace ehg::test {
namespace {

Process StartDaemon(const std::filesystem::path& config) {
  return Process::Start(
      {"/usr/bin/dbus-daemon", "--nofork", "--nopidfile", "--print-address", "--config-file=" + config.string()});
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
  // The address is printed once the daemon listens; the socket file alone appears before that (bind
  // before listen), and a client connecting in between is refused: seen on a loaded machine.
  if (!daemon_.WaitForOutput("unix:path=", std::chrono::seconds(30))) {
    throw std::runtime_error("dbus-daemon did not start: " + daemon_.Output());
  }
}

}  // namespace ehg::test
