#include "gateway/http/admission.hpp"

#include <algorithm>

namespace ehg::http {

template <typename Eligible>
std::optional<Admission::Id> Admission::Victim(Eligible eligible) const {
  // Ids grow with time: the first match in map order is the oldest.
  for (const auto& [id, connection] : connections_) {
    if (connection.phase == Phase::kDraining && eligible(connection)) return id;
  }
  for (const auto& [id, connection] : connections_) {
    if (connection.phase == Phase::kWaiting && eligible(connection)) return id;
  }
  return std::nullopt;
}

Admission::Decision Admission::Admit(Id id, const std::string& address) {
  Decision decision;
  std::optional<Id> victim;
  if (ConnectionsFrom(address) >= limits_.per_address) {
    decision.refusal = Refusal::kPerAddressLimit;
    victim = Victim([&](const Connection& connection) { return connection.address == address; });
  } else if (connections_.size() >= limits_.total) {
    decision.refusal = Refusal::kConnectionLimit;
    // The most connections any address holds among those with one that may go.
    std::size_t most = 0;
    for (const auto& [held, connection] : connections_) {
      if (connection.phase != Phase::kAnswering) most = std::max(most, ConnectionsFrom(connection.address));
    }
    // Among the addresses tied at that count, the oldest connection goes (with one connection each,
    // the oldest of all). Never the tied address that happens to sort first: an attacker picks its
    // addresses, and a newcomer's connection still in its handshake would be the one closed.
    victim =
        Victim([&](const Connection& connection) { return ConnectionsFrom(connection.address) == most; });
  } else {
    decision.admitted = true;
  }
  if (!decision.admitted) {
    if (!victim) return decision;  // only connections being answered: the newcomer goes
    const auto found = connections_.find(*victim);
    decision.closed = *victim;
    decision.closed_was_waiting = found->second.phase == Phase::kWaiting;
    Forget(found);
    decision.admitted = true;
  }
  connections_[id].address = address;
  ++per_address_[address];
  return decision;
}

void Admission::SetPhase(Id id, Phase phase) {
  if (const auto found = connections_.find(id); found != connections_.end()) found->second.phase = phase;
}

void Admission::Remove(Id id) {
  if (const auto found = connections_.find(id); found != connections_.end()) Forget(found);
}

std::size_t Admission::ConnectionsFrom(const std::string& address) const {
  const auto found = per_address_.find(address);
  return found == per_address_.end() ? 0 : found->second;
}

void Admission::Forget(std::map<Id, Connection>::iterator connection) {
  const auto count = per_address_.find(connection->second.address);
  if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
  connections_.erase(connection);
}

std::optional<std::uint64_t> LogThrottle::Allow(std::string_view kind, core::SteadyTime now) {
  auto found = kinds_.find(kind);
  if (found == kinds_.end()) found = kinds_.emplace(std::string(kind), Kind{}).first;
  Kind& entry = found->second;
  if (entry.logged && now - entry.last_logged < interval_) {
    ++entry.suppressed;
    return std::nullopt;
  }
  const std::uint64_t suppressed = entry.suppressed;
  entry.logged = true;
  entry.last_logged = now;
  entry.suppressed = 0;
  return suppressed;
}

}  // namespace ehg::http
