#include "tests/support/ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <stdexcept>

namespace ehg::test {
namespace {

bool Bindable(int port) {
  const int descriptor = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (descriptor < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool bound = ::bind(descriptor, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(descriptor);
  return bound;
}

int EphemeralLow() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (!(range >> low)) return 32768;  // the kernel's default
  return low;
}

}  // namespace

int UnusedLoopbackPort() {
  constexpr int kLowest = 10000;
  const int below = EphemeralLow();
  if (below - kLowest < 1000) throw std::runtime_error("test ports: the ephemeral range starts too low");
  static thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> pick(kLowest, below - 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = pick(random);
    if (Bindable(port)) return port;
  }
  throw std::runtime_error("test ports: no unused loopback port below the ephemeral range");
}

}  // namespace ehg::test
