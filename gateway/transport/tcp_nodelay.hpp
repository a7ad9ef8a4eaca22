#pragma once

namespace ehg::transport {

// Turns off Nagle's algorithm on every connected TCP socket of this process whose peer port is `port`,
// and returns how many it changed (a socket already without Nagle is left alone and not counted).
// paho.mqtt.c has no socket option hook and leaves Nagle on: an alert published right behind a large
// observation message then waits for the broker's delayed ACK (40 ms, twice: the 80 ms tail measured in
// tests/bench/alert_latency_bench, docs/benchmarks.md). Setting it on the session's socket once it is
// connected is allowed at any time; another socket to the same port (a session being retired) only
// gains from it too.
int DisableNagleOnConnectionsToPort(int port);

}  // namespace ehg::transport
