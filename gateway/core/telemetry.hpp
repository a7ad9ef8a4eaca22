#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

// The gateway's own counters and gauges (what /metrics and /api/status export), as opposed to the
// vital signs it measures (core/vital_signs.hpp). A component declares each family once (name, help,
// label names) on a Registry and keeps the handles it gets back; renderers read one Snapshot of every
// family, so a counter cannot be declared and forgotten by the exports. Std only.
namespace ehg::core::telemetry {

enum class Kind { kCounter, kGauge };

// One family: Prometheus' metric name (counters end in `_total`), its help line and its label names.
struct Family {
  std::string name;
  std::string help;
  std::vector<std::string> labels;
};

// What the gateway could not keep or send, by reason: one family that several components share
// (docs/status-page.md lists the reasons).
const Family& DroppedFamily();

namespace detail {
struct Cell {
  std::atomic<std::uint64_t> count{0};
  std::atomic<double> gauge{0};
  std::function<double()> read;  // a gauge read when rendered
};
}  // namespace detail

// A monotonic count; a copyable pointer into its registry. Adding is one relaxed atomic add, lock-free.
// It offers the std::atomic operations the components used before the registry (`++`, `+=`, `load`,
// the conversion), so their counting code reads as it did.
class Counter {
 public:
  void Add(std::uint64_t amount = 1) const noexcept {
    cell_->count.fetch_add(amount, std::memory_order_relaxed);
  }
  std::uint64_t Value() const noexcept { return cell_->count.load(std::memory_order_relaxed); }

  const Counter& operator++() const noexcept {
    Add();
    return *this;
  }
  const Counter& operator+=(std::uint64_t amount) const noexcept {
    Add(amount);
    return *this;
  }
  std::uint64_t load() const noexcept { return Value(); }      // NOLINT(readability-identifier-naming)
  operator std::uint64_t() const noexcept { return Value(); }  // NOLINT(google-explicit-constructor)

 private:
  friend class Registry;
  explicit Counter(detail::Cell* cell) : cell_(cell) {}
  detail::Cell* cell_;
};

// A value that goes up and down (now, not cumulative).
class Gauge {
 public:
  void Set(double value) const noexcept { cell_->gauge.store(value, std::memory_order_relaxed); }
  double Value() const noexcept { return cell_->gauge.load(std::memory_order_relaxed); }
  void store(double value) const noexcept { Set(value); }  // NOLINT(readability-identifier-naming)
  double load() const noexcept { return Value(); }         // NOLINT(readability-identifier-naming)

 private:
  friend class Registry;
  explicit Gauge(detail::Cell* cell) : cell_(cell) {}
  detail::Cell* cell_;
};

struct Sample {
  std::vector<std::string> label_values;  // in the order of the family's labels
  double value = 0;
};

struct FamilySnapshot {
  Family family;
  Kind kind = Kind::kCounter;
  std::vector<Sample> samples;  // sorted by label values
};

// Every family, sorted by name, read under the registry's lock: no family or series is half there.
using Snapshot = std::vector<FamilySnapshot>;

// The value of one series of a snapshot; 0 when it is not registered (nothing counted).
double ValueOf(const Snapshot& snapshot, std::string_view name,
               const std::vector<std::string>& label_values = {});
const FamilySnapshot* FindFamily(const Snapshot& snapshot, std::string_view name);

// Thread-safe. Declaring takes a lock (components do it once, at construction); counting does not.
// Declaring a family again with the same kind, help and labels returns the same family, and the same
// label values the same series: two serial drivers count their drops into one series. A family declared
// again differently, a counter not named `..._total`, a name or label name Prometheus does not take, or
// label values not matching the label names are programming errors: std::logic_error.
// Handles stay valid while the registry lives: it must outlive the components that count into it.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  Counter AddCounter(const Family& family, const std::vector<std::string>& label_values = {});
  Gauge AddGauge(const Family& family, const std::vector<std::string>& label_values = {});
  // Read at each Collect, on the collecting thread and under the registry's lock: `read` must be quick,
  // thread-safe and must not use the registry; what it reads must outlive the registry's use.
  void AddGaugeCallback(const Family& family, const std::vector<std::string>& label_values,
                        std::function<double()> read);

  Snapshot Collect() const;

 private:
  struct FamilyData {
    Family family;
    Kind kind = Kind::kCounter;
    std::map<std::vector<std::string>, std::unique_ptr<detail::Cell>> series;
  };
  detail::Cell& Declare(const Family& family, Kind kind, const std::vector<std::string>& label_values);

  mutable std::mutex mutex_;
  std::map<std::string, FamilyData, std::less<>> families_;
};

// The components' counters when their options name no registry (unit tests, tools): they count into a
// registry of their own, so their code never checks for a missing one.
class OwnOrShared {
 public:
  explicit OwnOrShared(Registry* shared)
      : own_(shared == nullptr ? std::make_unique<Registry>() : nullptr),
        registry_(shared == nullptr ? own_.get() : shared) {}
  Registry& get() const { return *registry_; }

 private:
  std::unique_ptr<Registry> own_;
  Registry* registry_;
};

}  // namespace ehg::core::telemetry
