#include "gateway/core/telemetry.hpp"

#include <algorithm>
#include <stdexcept>

namespace ehg::core::telemetry {
namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9');
}

// Metric and label names as the exposition format takes them (no colons: those are for recording rules;
// no leading `__`: reserved).
bool ValidName(std::string_view name) {
  return !name.empty() && IsNameStart(name.front()) && std::all_of(name.begin(), name.end(), IsNameChar) &&
         !name.starts_with("__");
}

void Check(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("telemetry: " + what);
}

void CheckFamily(const Family& family, Kind kind) {
  Check(ValidName(family.name), "invalid metric name '" + family.name + "'");
  Check(!family.help.empty() && family.help.find('\n') == std::string::npos,
        family.name + ": help must be one non-empty line");
  Check((kind == Kind::kCounter) == family.name.ends_with("_total"),
        family.name + ": counters, and only counters, are named ..._total");
  for (const std::string& label : family.labels) {
    Check(ValidName(label) && label != "le" && label != "quantile",
          family.name + ": invalid label name '" + label + "'");
    Check(std::count(family.labels.begin(), family.labels.end(), label) == 1,
          family.name + ": label '" + label + "' twice");
  }
}

}  // namespace

const Family& DroppedFamily() {
  static const Family family{
      "ehg_dropped_total", "Data the gateway could not keep or send since start, by reason.", {"reason"}};
  return family;
}

Registry::~Registry() = default;

detail::Cell& Registry::Declare(const Family& family, Kind kind,
                                const std::vector<std::string>& label_values) {
  CheckFamily(family, kind);
  Check(label_values.size() == family.labels.size(),
        family.name + ": " + std::to_string(label_values.size()) + " label values for " +
            std::to_string(family.labels.size()) + " labels");
  std::lock_guard lock(mutex_);
  auto [found, inserted] = families_.try_emplace(family.name);
  FamilyData& data = found->second;
  if (inserted) {
    data.family = family;
    data.kind = kind;
  } else {
    Check(data.kind == kind && data.family.help == family.help && data.family.labels == family.labels,
          family.name + ": declared again differently");
  }
  std::unique_ptr<detail::Cell>& cell = data.series[label_values];
  if (!cell) cell = std::make_unique<detail::Cell>();
  return *cell;
}

Counter Registry::AddCounter(const Family& family, const std::vector<std::string>& label_values) {
  return Counter(&Declare(family, Kind::kCounter, label_values));
}

Gauge Registry::AddGauge(const Family& family, const std::vector<std::string>& label_values) {
  return Gauge(&Declare(family, Kind::kGauge, label_values));
}

void Registry::AddGaugeCallback(const Family& family, const std::vector<std::string>& label_values,
                                std::function<double()> read) {
  detail::Cell& cell = Declare(family, Kind::kGauge, label_values);
  std::lock_guard lock(mutex_);
  cell.read = std::move(read);
}

Snapshot Registry::Collect() const {
  std::lock_guard lock(mutex_);
  Snapshot snapshot;
  snapshot.reserve(families_.size());
  for (const auto& [name, data] : families_) {
    FamilySnapshot family{data.family, data.kind, {}};
    family.samples.reserve(data.series.size());
    for (const auto& [label_values, cell] : data.series) {
      double value = 0;
      if (data.kind == Kind::kCounter) {
        value = static_cast<double>(cell->count.load(std::memory_order_relaxed));
      } else if (cell->read) {
        value = cell->read();
      } else {
        value = cell->gauge.load(std::memory_order_relaxed);
      }
      family.samples.push_back({label_values, value});
    }
    snapshot.push_back(std::move(family));
  }
  return snapshot;
}

const FamilySnapshot* FindFamily(const Snapshot& snapshot, std::string_view name) {
  const auto found = std::lower_bound(
      snapshot.begin(), snapshot.end(), name,
      [](const FamilySnapshot& family, std::string_view wanted) { return family.family.name < wanted; });
  return found != snapshot.end() && found->family.name == name ? &*found : nullptr;
}

double ValueOf(const Snapshot& snapshot, std::string_view name,
               const std::vector<std::string>& label_values) {
  const FamilySnapshot* family = FindFamily(snapshot, name);
  if (family == nullptr) return 0;
  for (const Sample& sample : family->samples) {
    if (sample.label_values == label_values) return sample.value;
  }
  return 0;
}

}  // namespace ehg::core::telemetry
