#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerts/alert.hpp"
#include "gateway/core/clock.hpp"

// The readings of one metric over a sliding time window, kept as fixed time buckets instead of raw
// history, so a window of any length at any sampling rate costs bounded memory and O(log buckets) work
// per reading (a segment tree over a ring of buckets). Pure; not thread-safe.
namespace ehg::alerts {

// One reading, or the stored summary of several in one bucket (a minute, on restart).
struct WindowSample {
  core::WallTime time{};  // places the sample in its bucket
  std::uint64_t count = 1;
  double sum = 0;
  double min = 0;
  core::WallTime min_time{};
  std::string min_device;
  double max = 0;
  core::WallTime max_time{};
  std::string max_device;

  static WindowSample Of(const Evidence& reading);
};

// What the buckets of a time range hold.
struct WindowSummary {
  std::uint64_t count = 0;
  double sum = 0;
  Evidence lowest;   // the lowest reading of the range (device, value, time)
  Evidence highest;  // the highest

  double Mean() const { return count > 0 ? sum / static_cast<double>(count) : 0; }
};

// The bucket width for a window: the smallest of 1 s, 5 s, 15 s, 1 min, 5 min, 15 min, 1 h, 3 h, 6 h
// that keeps the window within kMaxWindowBuckets buckets. Widths of a minute and more are whole minutes,
// so stored per-minute summaries fill them exactly on restart.
std::chrono::milliseconds BucketWidthFor(std::chrono::seconds window);
inline constexpr std::size_t kMaxWindowBuckets = 4000;
// The longest window a rule may have (kMaxWindowBuckets of the widest bucket).
inline constexpr std::chrono::seconds kMaxWindow{std::chrono::hours{6} * kMaxWindowBuckets};

class BucketWindow {
 public:
  // Covers at least `span` back from the newest sample, in buckets of `width`.
  BucketWindow(std::string metric, std::string unit, std::chrono::milliseconds width,
               std::chrono::seconds span);

  // Adds a sample. A sample older than the ring covers is ignored (false): no window can reach it.
  bool Add(const WindowSample& sample);
  // The buckets that overlap [from, to]: the range rounded outwards to whole buckets, so a window is
  // never shorter than asked, and at most one bucket width longer.
  WindowSummary Query(core::WallTime from, core::WallTime to) const;

  // Undo for a transaction that may fail (the pipeline's savepoint): while a journal is open, every
  // change records what it replaced, so Undo() puts the window back exactly and cheaply (a batch touches
  // a few buckets; copying the whole window for every batch would cost more than the batch).
  void BeginJournal();
  void Undo();
  void EndJournal();

  const std::string& metric() const { return metric_; }
  std::chrono::milliseconds width() const { return std::chrono::milliseconds{width_ms_}; }
  std::size_t capacity() const { return capacity_; }

  // The contents: two windows holding the same buckets are equal, whatever their journals.
  friend bool operator==(const BucketWindow& a, const BucketWindow& b) {
    return a.metric_ == b.metric_ && a.unit_ == b.unit_ && a.width_ms_ == b.width_ms_ &&
           a.capacity_ == b.capacity_ && a.tree_ == b.tree_ && a.devices_ == b.devices_ &&
           a.newest_ == b.newest_ && a.empty_ == b.empty_;
  }

 private:
  struct Node {
    std::uint64_t count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    std::int64_t min_ms = 0;
    std::int64_t max_ms = 0;
    std::uint32_t min_device = 0;
    std::uint32_t max_device = 0;

    friend bool operator==(const Node&, const Node&) = default;
  };
  static Node Combine(const Node& left, const Node& right);
  std::int64_t BucketOf(core::WallTime time) const;
  std::size_t SlotOf(std::int64_t bucket) const;
  void Clear(std::size_t slot);
  void Merge(std::size_t slot, const Node& node);
  void Rebuild(std::size_t slot);
  Node Range(std::size_t first, std::size_t last) const;  // slots, inclusive
  std::uint32_t DeviceIndex(const std::string& device);

  std::string metric_;
  std::string unit_;
  std::int64_t width_ms_;
  std::size_t capacity_;    // a power of two
  std::vector<Node> tree_;  // tree_[capacity_ + slot] is the bucket in that slot
  std::vector<std::string> devices_;
  std::int64_t newest_ = 0;  // the newest bucket number seen (valid when !tree_.empty())
  bool empty_ = true;

  struct Journal {
    std::vector<std::pair<std::size_t, Node>> leaves;  // slot and the leaf it replaced, in order
    std::optional<std::vector<Node>> whole;            // the tree before a change that emptied it all
    std::int64_t newest = 0;
    bool empty = true;
    std::size_t devices = 0;
  };
  std::optional<Journal> journal_;
  void Remember(std::size_t slot);
};

}  // namespace ehg::alerts
