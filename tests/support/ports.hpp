#pragma once

// Ports for the test servers (mosquitto, PostgreSQL, status pages) on loopback.
namespace ehg::test {

// A loopback TCP port nobody listens on now, taken from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range). A port from bind(0) comes from that range, the same one every
// outgoing connection's source port is taken from, so between choosing it and a server binding it,
// any connection of a parallel test could take it. Below the range only another server can.
int UnusedLoopbackPort();

}  // namespace ehg::test
