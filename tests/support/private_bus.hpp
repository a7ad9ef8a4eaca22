#pragma once

#include <string>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace ehg::test {

// A dbus-daemon of our own with the system bus's type and an allow-all policy, listening on a socket in a
// temporary directory: BlueZ's bus without systemd, root or a radio. Stopped on destruction.
class PrivateBus {
 public:
  PrivateBus();
  const std::string& address() const { return address_; }  // "unix:path=..."

 private:
  TempDir dir_;
  std::string address_;
  Process daemon_;
};

}  // namespace ehg::test
