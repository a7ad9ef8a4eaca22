#include "alerts/window.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace ehg::alerts {
namespace {

std::int64_t Ms(core::WallTime time) {
  return time.time_since_epoch().count();
}

core::WallTime FromMs(std::int64_t ms) {
  return core::WallTime{std::chrono::milliseconds{ms}};
}

std::int64_t FloorDiv(std::int64_t value, std::int64_t divisor) {
  const std::int64_t quotient = value / divisor;
  return (value % divisor != 0 && value < 0) ? quotient - 1 : quotient;
}

}  // namespace

WindowSample WindowSample::Of(const Evidence& reading) {
  return WindowSample{reading.time,     1,
                      reading.value,    reading.value,
                      reading.time,     reading.device_id,
                      reading.value,    reading.time,
                      reading.device_id};
}

std::chrono::milliseconds BucketWidthFor(std::chrono::seconds window) {
  using namespace std::chrono;
  static constexpr std::array<milliseconds, 9> kWidths{
      seconds{1}, seconds{5}, seconds{15}, minutes{1}, minutes{5}, minutes{15}, hours{1}, hours{3}, hours{6}};
  for (const milliseconds width : kWidths) {
    if (duration_cast<milliseconds>(window) <= width * static_cast<std::int64_t>(kMaxWindowBuckets))
      return width;
  }
  return kWidths.back();
}

BucketWindow::BucketWindow(std::string metric, std::string unit, std::chrono::milliseconds width,
                           std::chrono::seconds span)
    : metric_(std::move(metric)),
      unit_(std::move(unit)),
      width_ms_(std::max<std::int64_t>(1, width.count())) {
  const auto span_ms = std::chrono::duration_cast<std::chrono::milliseconds>(span).count();
  // The window, the partial bucket at each end, and the bucket of the newest sample.
  const auto needed = static_cast<std::size_t>(span_ms / width_ms_ + 3);
  capacity_ = 1;
  while (capacity_ < needed)
    capacity_ <<= 1;
  tree_.assign(2 * capacity_, Node{});
}

BucketWindow::Node BucketWindow::Combine(const Node& left, const Node& right) {
  if (left.count == 0) return right;
  if (right.count == 0) return left;
  Node node;
  node.count = left.count + right.count;
  node.sum = left.sum + right.sum;
  const bool left_min = left.min <= right.min;
  node.min = left_min ? left.min : right.min;
  node.min_ms = left_min ? left.min_ms : right.min_ms;
  node.min_device = left_min ? left.min_device : right.min_device;
  const bool left_max = left.max >= right.max;
  node.max = left_max ? left.max : right.max;
  node.max_ms = left_max ? left.max_ms : right.max_ms;
  node.max_device = left_max ? left.max_device : right.max_device;
  return node;
}

std::int64_t BucketWindow::BucketOf(core::WallTime time) const {
  return FloorDiv(Ms(time), width_ms_);
}

std::size_t BucketWindow::SlotOf(std::int64_t bucket) const {
  const auto capacity = static_cast<std::int64_t>(capacity_);
  return static_cast<std::size_t>(((bucket % capacity) + capacity) % capacity);
}

void BucketWindow::Rebuild(std::size_t slot) {
  for (std::size_t node = (capacity_ + slot) / 2; node >= 1; node /= 2)
    tree_[node] = Combine(tree_[2 * node], tree_[2 * node + 1]);
}

void BucketWindow::Remember(std::size_t slot) {
  if (journal_ && !journal_->whole) journal_->leaves.emplace_back(slot, tree_[capacity_ + slot]);
}

void BucketWindow::BeginJournal() {
  journal_ = Journal{{}, std::nullopt, newest_, empty_, devices_.size()};
}

void BucketWindow::EndJournal() {
  journal_.reset();
}

void BucketWindow::Undo() {
  if (!journal_) return;
  Journal journal = std::move(*journal_);
  journal_.reset();
  // The whole tree, when taken, is the state after the leaf changes recorded before it.
  if (journal.whole) tree_ = std::move(*journal.whole);
  for (auto it = journal.leaves.rbegin(); it != journal.leaves.rend(); ++it) {
    tree_[capacity_ + it->first] = it->second;
    Rebuild(it->first);
  }
  newest_ = journal.newest;
  empty_ = journal.empty;
  devices_.resize(journal.devices);
}

void BucketWindow::Clear(std::size_t slot) {
  if (tree_[capacity_ + slot].count == 0) return;
  Remember(slot);
  tree_[capacity_ + slot] = Node{};
  Rebuild(slot);
}

void BucketWindow::Merge(std::size_t slot, const Node& node) {
  Remember(slot);
  Node& leaf = tree_[capacity_ + slot];
  leaf = Combine(leaf, node);
  Rebuild(slot);
}

std::uint32_t BucketWindow::DeviceIndex(const std::string& device) {
  const auto found = std::find(devices_.begin(), devices_.end(), device);
  if (found != devices_.end()) return static_cast<std::uint32_t>(found - devices_.begin());
  devices_.push_back(device);
  return static_cast<std::uint32_t>(devices_.size() - 1);
}

bool BucketWindow::Add(const WindowSample& sample) {
  if (sample.count == 0) return true;
  const std::int64_t bucket = BucketOf(sample.time);
  const auto capacity = static_cast<std::int64_t>(capacity_);
  if (empty_) {
    newest_ = bucket;
    empty_ = false;
  } else if (bucket > newest_) {
    // The slots the ring moves onto still hold buckets one turn older: empty them.
    if (bucket - newest_ >= capacity) {
      if (journal_ && !journal_->whole) journal_->whole = tree_;
      std::fill(tree_.begin(), tree_.end(), Node{});
    } else {
      for (std::int64_t passed = newest_ + 1; passed <= bucket; ++passed)
        Clear(SlotOf(passed));
    }
    newest_ = bucket;
  } else if (bucket <= newest_ - capacity) {
    return false;
  }
  Node node;
  node.count = sample.count;
  node.sum = sample.sum;
  node.min = sample.min;
  node.min_ms = Ms(sample.min_time);
  node.min_device = DeviceIndex(sample.min_device);
  node.max = sample.max;
  node.max_ms = Ms(sample.max_time);
  node.max_device = DeviceIndex(sample.max_device);
  Merge(SlotOf(bucket), node);
  return true;
}

BucketWindow::Node BucketWindow::Range(std::size_t first, std::size_t last) const {
  Node left_part;
  Node right_part;
  for (std::size_t left = first + capacity_, right = last + capacity_ + 1; left < right;
       left /= 2, right /= 2) {
    if (left & 1) left_part = Combine(left_part, tree_[left++]);
    if (right & 1) right_part = Combine(tree_[--right], right_part);
  }
  return Combine(left_part, right_part);
}

WindowSummary BucketWindow::Query(core::WallTime from, core::WallTime to) const {
  WindowSummary summary;
  if (empty_ || to < from) return summary;
  const std::int64_t lowest = std::max(BucketOf(from), newest_ - static_cast<std::int64_t>(capacity_) + 1);
  const std::int64_t highest = std::min(BucketOf(to), newest_);
  if (lowest > highest) return summary;
  const std::size_t first = SlotOf(lowest);
  const std::size_t last = SlotOf(highest);
  const Node node = first <= last ? Range(first, last) : Combine(Range(first, capacity_ - 1), Range(0, last));
  if (node.count == 0) return summary;
  summary.count = node.count;
  summary.sum = node.sum;
  summary.lowest = Evidence{devices_[node.min_device], metric_, node.min, unit_, FromMs(node.min_ms)};
  summary.highest = Evidence{devices_[node.max_device], metric_, node.max, unit_, FromMs(node.max_ms)};
  return summary;
}

}  // namespace ehg::alerts
