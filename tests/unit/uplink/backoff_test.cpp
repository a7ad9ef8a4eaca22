#include "gateway/uplink/backoff.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ehg::uplink::ReconnectBackoff;

TEST_CASE("Reconnect delays double from 1 s up to the cap, each within the upper half of its step") {
  for (const double random : {0.0, 0.5, 0.999}) {
    CAPTURE(random);
    ReconnectBackoff backoff(1s, 60s, [=] { return random; });
    std::chrono::milliseconds step = 1s;
    for (int attempt = 0; attempt < 12; ++attempt) {
      CAPTURE(attempt);
      const auto delay = backoff.Next();
      CHECK(delay >= step / 2);
      CHECK(delay <= step);
      step = std::min<std::chrono::milliseconds>(step * 2, 60s);
    }
  }
}

TEST_CASE("The jitter spreads delays and Reset starts again at the first step") {
  double value = 0.0;
  ReconnectBackoff backoff(1s, 60s, [&] { return value; });
  CHECK(backoff.Next() == 500ms);
  value = 0.999;
  CHECK(backoff.Next() > 1990ms);  // second step: 1-2 s
  CHECK(backoff.attempts() == 2);
  backoff.Reset();
  value = 0.0;
  CHECK(backoff.Next() == 500ms);
}

TEST_CASE("A very long outage never overflows the delay") {
  ReconnectBackoff backoff(1s, 60s, [] { return 0.999; });
  for (int attempt = 0; attempt < 100'000; ++attempt)
    (void)backoff.Next();
  const auto delay = backoff.Next();
  CHECK(delay <= 60s);
  CHECK(delay >= 30s);
}

TEST_CASE("A random source outside 0..1 is clamped") {
  ReconnectBackoff high(1s, 60s, [] { return 7.0; });
  CHECK(high.Next() == 1000ms);
  ReconnectBackoff low(1s, 60s, [] { return -3.0; });
  CHECK(low.Next() == 500ms);
}
