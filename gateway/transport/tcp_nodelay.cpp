#include "gateway/transport/tcp_nodelay.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>

namespace ehg::transport {

namespace {

int PeerPort(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return -1;
  if (peer.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&peer)->sin_port);
  if (peer.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_port);
  return -1;
}

}  // namespace

int DisableNagleOnConnectionsToPort(int port) {
  // Per descriptor: fstat and one getsockopt, no path lookup. The first version read every
  // /proc/self/fd link (two path walks each) and asked every socket for its peer: a load-generator
  // process with 250 connections paid that scan on each of its reconnections, in paho's one callback
  // thread that also delivers every connection's messages.
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return 0;
  const int own = dirfd(directory);
  int changed = 0;
  while (const dirent* entry = readdir(directory)) {
    char* end = nullptr;
    const long number = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || number < 0 || number == own) continue;
    const int fd = static_cast<int>(number);
    struct stat status {};
    if (fstat(fd, &status) != 0 || !S_ISSOCK(status.st_mode)) continue;
    // Fails on anything but TCP (a Unix socket, a UDP one); skips a socket already without Nagle.
    int no_delay = 0;
    socklen_t length = sizeof no_delay;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &no_delay, &length) != 0 || no_delay != 0) continue;
    if (PeerPort(fd) != port) continue;
    const int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0) ++changed;
  }
  closedir(directory);
  return changed;
}

}  // namespace ehg::transport
