#include "gateway/core/event.hpp"

#include <sys/random.h>

#include <cerrno>

#include "gateway/core/bug.hpp"

namespace ehg::core {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 64 bits from the kernel's generator (getrandom(2)), one call per id. Not std::random_device: libstdc++
// prefers the CPU's RDSEED instruction, which on some processors (the AMD EPYC of the benchmark machine)
// fails so often that its retry loop took 44 % of the pipeline's CPU time (ingest at 0.20x plain SQLite
// inserts instead of 0.70x). A pool shared across calls would be cheaper still, but a fork would copy
// it into the child, and ids must never repeat.
std::uint64_t RandomBits() {
  std::uint64_t bits = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(&bits);
  std::size_t got = 0;
  while (got < sizeof bits) {
    const ssize_t read = ::getrandom(bytes + got, sizeof bits - got, 0);
    if (read > 0) {
      got += static_cast<std::size_t>(read);
    } else if (errno != EINTR) {
      Bug("getrandom failed: no random bits for event ids");
    }
  }
  return bits;
}

}  // namespace

std::optional<EventId> EventId::Parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::array<std::uint8_t, 16> bytes{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int high = HexValue(text[i]);
    const int low = HexValue(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[byte++] = static_cast<std::uint8_t>(high * 16 + low);
    i += 2;
  }
  return EventId(bytes);
}

std::string EventId::ToString() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += kDigits[bytes_[i] >> 4];
    text += kDigits[bytes_[i] & 0x0f];
  }
  return text;
}

std::uint64_t EventId::UnixMilliseconds() const {
  std::uint64_t milliseconds = 0;
  for (std::size_t i = 0; i < 6; ++i)
    milliseconds = (milliseconds << 8) | bytes_[i];
  return milliseconds;
}

EventId EventIdGenerator::Next() {
  const auto now = static_cast<std::uint64_t>(clock_.Now().time_since_epoch().count());
  const std::uint64_t random = RandomBits();
  std::uint64_t milliseconds = 0;
  std::uint16_t counter = 0;
  {
    std::lock_guard lock(mutex_);
    if (now > last_milliseconds_) {
      last_milliseconds_ = now;
      // Start low in the 12-bit space so thousands of ids fit into one millisecond before borrowing.
      counter_ = static_cast<std::uint16_t>(random >> 62);
    } else if (++counter_ > 0x0fff) {
      ++last_milliseconds_;
      counter_ = 0;
    }
    milliseconds = last_milliseconds_;
    counter = counter_;
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < 6; ++i)
    bytes[i] = static_cast<std::uint8_t>(milliseconds >> (8 * (5 - i)));
  bytes[6] = static_cast<std::uint8_t>(0x70 | ((counter >> 8) & 0x0f));  // version 7
  bytes[7] = static_cast<std::uint8_t>(counter & 0xff);
  for (std::size_t i = 8; i < 16; ++i)
    bytes[i] = static_cast<std::uint8_t>(random >> (8 * (15 - i)));
  bytes[8] = static_cast<std::uint8_t>(0x80 | (bytes[8] & 0x3f));  // RFC 9562 variant
  return EventId(bytes);
}

std::string_view ToString(EventKind kind) {
  switch (kind) {
    case EventKind::kObservation:
      return "observation";
    case EventKind::kAlert:
      return "alert";
    case EventKind::kDevice:
      return "device";
    case EventKind::kGateway:
      return "gateway";
    case EventKind::kCommandResult:
      return "command_result";
  }
  return "observation";
}

std::optional<EventKind> ParseEventKind(std::string_view name) {
  for (const EventKind kind : {EventKind::kObservation, EventKind::kAlert, EventKind::kDevice,
                               EventKind::kGateway, EventKind::kCommandResult}) {
    if (ToString(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string_view TopicSuffix(EventKind kind) {
  switch (kind) {
    case EventKind::kObservation:
      return "event/observation";
    case EventKind::kAlert:
      return "event/alert";
    case EventKind::kDevice:
      return "event/device";
    case EventKind::kGateway:
      return "event/gateway";
    case EventKind::kCommandResult:
      return "cmd/result";
  }
  return "event/observation";
}

}  // namespace ehg::core
