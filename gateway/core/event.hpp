#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"

namespace ehg::core {

// A UUIDv7 (RFC 9562): time-ordered, so ids sort roughly by creation, and 74 random bits make ids from
// thousands of gateways unique without coordination. Receivers dedupe on it.
class EventId {
 public:
  EventId() = default;
  explicit EventId(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  static std::optional<EventId> Parse(std::string_view text);
  std::string ToString() const;  // 8-4-4-4-12 lowercase hex
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  std::uint64_t UnixMilliseconds() const;
  bool IsNil() const { return bytes_ == std::array<std::uint8_t, 16>{}; }

  friend auto operator<=>(const EventId&, const EventId&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

// Makes UUIDv7 ids that are strictly increasing within this process, even when the wall clock stands
// still or steps back (a 12-bit counter in rand_a, then borrowing the next millisecond). Thread-safe.
class EventIdGenerator {
 public:
  explicit EventIdGenerator(const Clock& clock) : clock_(clock) {}
  EventId Next();

 private:
  const Clock& clock_;
  std::mutex mutex_;
  std::uint64_t last_milliseconds_ = 0;
  std::uint16_t counter_ = 0;
};

enum class EventKind { kObservation, kAlert, kDevice, kGateway, kCommandResult };

// Lower value = sent first. Critical alerts jump any backlog; bulk observations go last and are the only
// events the outbox may drop under storage pressure.
enum class Priority : int { kCritical = 0, kHigh = 1, kNormal = 2, kBulk = 3 };

std::string_view ToString(EventKind kind);
std::optional<EventKind> ParseEventKind(std::string_view name);
// The topic below ehealth/v1/{tenant}/{gateway}/ that carries this kind of event.
std::string_view TopicSuffix(EventKind kind);

struct Event {
  EventId id;
  EventKind kind = EventKind::kObservation;
  Priority priority = Priority::kBulk;
  WallTime created{};
  std::string body;  // JSON text, before the end-to-end envelope is applied at publish time
};

}  // namespace ehg::core
