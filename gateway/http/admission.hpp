#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/clock.hpp"
#include "gateway/http/status.hpp"

// Which connections the status page keeps when more arrive than it will hold, and how often it says so
// in the log. Pure: the server asks and tells, the clock is passed in.
namespace ehg::http {

struct AdmissionLimits {
  std::size_t per_address = 8;  // a browser opens up to 6 to one host
  std::size_t total = 128;      // far below the daemon's file limit
};

// The open connections of the page, each in one of three phases. When a new connection would exceed a
// limit, one connection is closed at once: a finished one that is only being drained if there is one,
// else the one that has waited longest for its request head, from the new connection's own address for
// the per-address limit, from the addresses holding most connections for the overall limit (the oldest
// among them when several hold as many). Addresses are client keys (access.hpp, ClientKey: an IPv6
// client is its /64), so one host cannot spread itself over fresh addresses. A real client sends its
// request within milliseconds of connecting, so the longest-waiting connection is the one least likely
// to be one; refusing the newcomer instead would let a few idle connections lock everyone out until
// their deadline. Connections being answered are never closed for a newcomer: when
// only those are left, the newcomer is refused.
class Admission {
 public:
  using Id = std::uint64_t;
  enum class Phase { kWaiting, kAnswering, kDraining };

  struct Decision {
    bool admitted = false;
    std::optional<Id> closed;                     // an older connection to close now (already forgotten here)
    bool closed_was_waiting = false;              // it had not sent its request: that is a refusal to count
    Refusal refusal = Refusal::kPerAddressLimit;  // the limit that made room or refused
  };

  explicit Admission(AdmissionLimits limits = {}) : limits_(limits) {}

  // Ids must grow with time (the oldest connection has the smallest id).
  Decision Admit(Id id, const std::string& address);
  void SetPhase(Id id, Phase phase);
  void Remove(Id id);
  std::size_t size() const { return connections_.size(); }
  std::size_t ConnectionsFrom(const std::string& address) const;

 private:
  struct Connection {
    std::string address;
    Phase phase = Phase::kWaiting;
  };
  // The connection to close for a newcomer among those `eligible` accepts; nullopt when none may go.
  template <typename Eligible>
  std::optional<Id> Victim(Eligible eligible) const;
  void Forget(std::map<Id, Connection>::iterator connection);

  AdmissionLimits limits_;
  std::map<Id, Connection> connections_;
  std::map<std::string, std::size_t> per_address_;
};

// At most one log line per kind of event and interval; the next line says how many were not logged.
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::seconds interval = std::chrono::seconds(10)) : interval_(interval) {}

  // nullopt: do not log this one. Otherwise log it, with the number of events since the last line.
  std::optional<std::uint64_t> Allow(std::string_view kind, core::SteadyTime now);

 private:
  struct Kind {
    core::SteadyTime last_logged{};
    bool logged = false;
    std::uint64_t suppressed = 0;
  };
  std::chrono::seconds interval_;
  std::map<std::string, Kind, std::less<>> kinds_;
};

}  // namespace ehg::http
