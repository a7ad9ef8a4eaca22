#include "gateway/transport/tcp_nodelay.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace {

// A listening socket on 127.0.0.1 with an ephemeral port, and one client connected to it.
struct Connection {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int accepted = -1;
  int port = 0;
  Connection() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(listener, 1) == 0);
    REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port = ntohs(address.sin_port);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    accepted = accept(listener, nullptr, nullptr);
  }
  ~Connection() {
    close(accepted);
    close(client);
    close(listener);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

bool NoDelay(int fd) {
  int value = 0;
  socklen_t length = sizeof value;
  REQUIRE(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length) == 0);
  return value != 0;
}

}  // namespace

TEST_CASE("Nagle is turned off on the connection to the broker port and nowhere else") {
  Connection broker;
  Connection other;
  REQUIRE_FALSE(NoDelay(broker.client));  // the kernel's default, as paho leaves it
  CHECK(ehg::transport::DisableNagleOnConnectionsToPort(broker.port) == 1);
  CHECK(NoDelay(broker.client));
  CHECK_FALSE(NoDelay(other.client));
  CHECK_FALSE(NoDelay(broker.accepted));  // its peer port is the client's, not the broker's
  CHECK(ehg::transport::DisableNagleOnConnectionsToPort(1) == 0);
  // A reconnect: a second connection to the same broker port. Only it is changed; the first one is
  // already without Nagle and stays so.
  const int again = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(broker.port));
  REQUIRE(connect(again, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  const int accepted_again = accept(broker.listener, nullptr, nullptr);
  REQUIRE_FALSE(NoDelay(again));
  CHECK(ehg::transport::DisableNagleOnConnectionsToPort(broker.port) == 1);
  CHECK(NoDelay(again));
  CHECK(NoDelay(broker.client));
  close(accepted_again);
  close(again);
}
