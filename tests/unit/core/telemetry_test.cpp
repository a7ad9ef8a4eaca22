#include "gateway/core/telemetry.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <thread>
#include <vector>

using ehg::core::telemetry::Family;
using ehg::core::telemetry::Kind;
using ehg::core::telemetry::Registry;
using ehg::core::telemetry::ValueOf;

TEST_CASE("A counter declared once counts into its series, and the snapshot shows it under its labels") {
  Registry registry;
  const Family refused{"ehg_test_refused_total", "Refused things.", {"reason"}};
  const auto full = registry.AddCounter(refused, {"queue_full"});
  const auto stopping = registry.AddCounter(refused, {"stopping"});
  ++full;
  full += 4;
  stopping.Add();
  CHECK(full.Value() == 5);
  CHECK(full == 5);  // reads like the std::atomic it replaced

  const auto snapshot = registry.Collect();
  REQUIRE(snapshot.size() == 1);
  CHECK(snapshot[0].family.name == "ehg_test_refused_total");
  CHECK(snapshot[0].family.help == "Refused things.");
  CHECK(snapshot[0].kind == Kind::kCounter);
  REQUIRE(snapshot[0].samples.size() == 2);
  CHECK(ValueOf(snapshot, "ehg_test_refused_total", {"queue_full"}) == 5);
  CHECK(ValueOf(snapshot, "ehg_test_refused_total", {"stopping"}) == 1);
  CHECK(ValueOf(snapshot, "ehg_test_refused_total", {"other"}) == 0);
  CHECK(ValueOf(snapshot, "ehg_not_declared_total") == 0);
}

TEST_CASE("Declaring the same series twice shares one cell: two drivers count their drops together") {
  Registry registry;
  const auto first = registry.AddCounter(ehg::core::telemetry::DroppedFamily(), {"queue_full"});
  const auto second = registry.AddCounter(ehg::core::telemetry::DroppedFamily(), {"queue_full"});
  first.Add(2);
  second.Add(3);
  CHECK(first.Value() == 5);
  CHECK(ValueOf(registry.Collect(), "ehg_dropped_total", {"queue_full"}) == 5);
}

TEST_CASE("A family declared again differently, or against the naming rules, is refused") {
  Registry registry;
  registry.AddCounter({"ehg_a_total", "A.", {"reason"}}, {"x"});
  CHECK_THROWS_AS(registry.AddCounter({"ehg_a_total", "Other help.", {"reason"}}, {"x"}), std::logic_error);
  CHECK_THROWS_AS(registry.AddCounter({"ehg_a_total", "A.", {"why"}}, {"x"}), std::logic_error);
  CHECK_THROWS_AS(registry.AddGauge({"ehg_a_total", "A.", {"reason"}}, {"x"}), std::logic_error);
  CHECK_THROWS_AS(registry.AddCounter({"ehg_a_total", "A.", {"reason"}}, {}), std::logic_error);
  CHECK_THROWS_AS(registry.AddCounter({"ehg_no_suffix", "B.", {}}), std::logic_error);
  CHECK_THROWS_AS(registry.AddGauge({"ehg_gauge_total", "B.", {}}), std::logic_error);
  CHECK_THROWS_AS(registry.AddCounter({"ehg-dash_total", "B.", {}}), std::logic_error);
  CHECK_THROWS_AS(registry.AddCounter({"ehg_b_total", "B.", {"le"}}, {"1"}), std::logic_error);
  CHECK_THROWS_AS(registry.AddCounter({"ehg_b_total", "B.", {"x", "x"}}, {"1", "2"}), std::logic_error);
  CHECK_THROWS_AS(registry.AddCounter({"ehg_b_total", "two\nlines", {}}), std::logic_error);
  CHECK(registry.Collect().size() == 1);  // nothing refused was half registered
}

TEST_CASE("Gauges are set, or read from their callback when collected") {
  Registry registry;
  const auto open = registry.AddGauge({"ehg_test_open", "Open now.", {}});
  open.Set(3);
  open.store(2);
  double level = 0.25;
  registry.AddGaugeCallback({"ehg_test_level_ratio", "Level.", {"device"}}, {"a"},
                            [&level] { return level; });
  auto snapshot = registry.Collect();
  CHECK(ValueOf(snapshot, "ehg_test_open") == 2);
  CHECK(ValueOf(snapshot, "ehg_test_level_ratio", {"a"}) == 0.25);
  level = 0.5;
  snapshot = registry.Collect();
  CHECK(ValueOf(snapshot, "ehg_test_level_ratio", {"a"}) == 0.5);
  REQUIRE(snapshot.size() == 2);
  CHECK(snapshot[0].family.name < snapshot[1].family.name);  // sorted by name
  CHECK(snapshot[0].kind == Kind::kGauge);
}

TEST_CASE("Counting from several threads while others declare and collect loses nothing") {
  Registry registry;
  const auto counted = registry.AddCounter({"ehg_test_counted_total", "Counted.", {}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, &counted, t] {
      for (int i = 0; i < 10'000; ++i) {
        ++counted;
        if (i % 1000 == 0) {
          registry.AddCounter({"ehg_test_thread_total", "Per thread.", {"thread"}}, {std::to_string(t)})
              .Add();
          (void)registry.Collect();
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  const auto snapshot = registry.Collect();
  CHECK(ValueOf(snapshot, "ehg_test_counted_total") == 40'000);
  CHECK(ValueOf(snapshot, "ehg_test_thread_total", {"3"}) == 10);
}

TEST_CASE("A component without a registry of its own gets one, and one given is used") {
  ehg::core::telemetry::OwnOrShared own(nullptr);
  own.get().AddCounter({"ehg_test_total", "T.", {}}).Add();
  CHECK(own.get().Collect().size() == 1);
  Registry shared;
  ehg::core::telemetry::OwnOrShared using_shared(&shared);
  CHECK(&using_shared.get() == &shared);
}
