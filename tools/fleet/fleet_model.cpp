#include "tools/fleet/fleet_model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ehg::fleet {

namespace {

std::string Key(std::size_t gateway, const std::string& event_id) {
  return std::to_string(gateway) + "/" + event_id;
}

Millis FromSeconds(double seconds) {
  return Millis(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

}  // namespace

Schedule::Schedule(const Profile& profile, std::size_t gateways, core::SteadyTime start, Shard shard)
    : profile_(profile),
      gateways_(gateways),
      shard_(shard.count == 0 || shard.index >= shard.count ? Shard{} : shard),
      start_(start),
      next_alert_(start),
      next_storm_(start) {
  next_observation_.reserve(gateways);
  next_heartbeat_.reserve(gateways);
  for (std::size_t g = 0; g < gateways; ++g) {
    next_observation_.push_back(start + Spread(g, profile.observation_interval));
    next_heartbeat_.push_back(start + profile.heartbeat_interval / 2 + Spread(g, profile.heartbeat_interval));
  }
  if (profile.alerts_per_second > 0) {
    const Millis every = FromSeconds(1.0 / profile.alerts_per_second);
    next_alert_ = start + every +
                  every * static_cast<std::int64_t>(shard_.index) / static_cast<std::int64_t>(shard_.count);
  }
  if (profile.storm_every.count() > 0) next_storm_ = start + profile.storm_every;
  // A stride coprime to the fleet size visits every gateway once per round, neighbours far apart.
  for (std::size_t stride : {7919u, 104729u, 1u})
    if (gateways > 0 && std::gcd(stride, gateways) == 1) {
      alert_stride_ = stride % gateways == 0 ? 1 : stride;
      break;
    }
}

namespace {

// The next time on this gateway's beat after `now`: its phase is kept, missed beats are skipped.
core::SteadyTime NextBeat(core::SteadyTime previous, Millis interval, core::SteadyTime now) {
  core::SteadyTime next = previous + interval;
  if (next <= now) next += interval * ((now - next) / interval + 1);
  return next;
}

}  // namespace

Millis Schedule::Spread(std::size_t gateway, Millis interval) const {
  if (gateways_ == 0) return Millis(0);
  // The gateway's place in the whole fleet: gateway g of shard K of N is the fleet's g * N + K.
  const auto place = static_cast<std::int64_t>(gateway * shard_.count + shard_.index);
  const auto fleet = static_cast<std::int64_t>(gateways_ * shard_.count);
  return Millis(interval.count() * place / fleet);
}

bool Schedule::InBurst(core::SteadyTime now) const {
  if (profile_.burst_every.count() <= 0 || now < start_ + profile_.burst_every) return false;
  const auto since = std::chrono::duration_cast<Millis>(now - start_);
  return since % profile_.burst_every < profile_.burst_length;
}

Millis Schedule::ObservationInterval(core::SteadyTime now) const {
  if (!InBurst(now)) return profile_.observation_interval;
  return std::max(Millis(1), profile_.observation_interval / std::max(1, profile_.burst_factor));
}

std::vector<Action> Schedule::Due(core::SteadyTime now) {
  std::vector<Action> due;
  if (gateways_ == 0) return due;
  // A burst that began since the last call pulls every gateway's next batch into the burst's spread.
  if (profile_.burst_every.count() > 0 && now >= start_ + profile_.burst_every) {
    const std::int64_t bursts = std::chrono::duration_cast<Millis>(now - start_) / profile_.burst_every;
    if (bursts > bursts_started_ && InBurst(now)) {
      bursts_started_ = bursts;
      const core::SteadyTime burst_start = start_ + profile_.burst_every * bursts;
      const Millis interval = ObservationInterval(now);
      for (std::size_t g = 0; g < gateways_; ++g)
        next_observation_[g] = std::min(next_observation_[g], burst_start + Spread(g, interval));
    }
  }
  for (std::size_t g = 0; g < gateways_; ++g) {
    if (next_observation_[g] <= now) {
      due.push_back({g, ActionKind::kObservations});
      next_observation_[g] = NextBeat(next_observation_[g], ObservationInterval(now), now);
    }
    if (next_heartbeat_[g] <= now) {
      due.push_back({g, ActionKind::kHeartbeat});
      next_heartbeat_[g] = NextBeat(next_heartbeat_[g], profile_.heartbeat_interval, now);
    }
  }
  if (profile_.alerts_per_second > 0) {
    const Millis every = std::max(Millis(1), FromSeconds(1.0 / profile_.alerts_per_second));
    while (next_alert_ <= now) {
      due.push_back({(alert_cursor_ * alert_stride_) % gateways_, ActionKind::kAlert});
      ++alert_cursor_;
      next_alert_ += every;
    }
  }
  if (profile_.storm_every.count() > 0 && next_storm_ <= now) {
    const auto count =
        static_cast<std::size_t>(std::ceil(profile_.storm_fraction * static_cast<double>(gateways_)));
    for (std::size_t i = 0; i < std::min(count, gateways_); ++i)
      due.push_back({(storm_cursor_ + i) % gateways_, ActionKind::kReconnect});
    storm_cursor_ = (storm_cursor_ + count) % gateways_;
    while (next_storm_ <= now)
      next_storm_ += profile_.storm_every;
  }
  return due;
}

void Receipts::Stored(std::size_t gateway, std::uint64_t message, const std::vector<std::string>& event_ids,
                      bool alert, core::SteadyTime now) {
  Message& entry = messages_[{gateway, message}];
  entry.alert = alert;
  entry.last_sent = now;
  for (const std::string& id : event_ids)
    if (waiting_.emplace(Key(gateway, id), message).second) ++entry.unconfirmed;
  if (entry.unconfirmed == 0) {
    messages_.erase({gateway, message});
    return;
  }
  if (alert) waiting_alerts_ += entry.unconfirmed;
}

Confirmation Receipts::Confirm(std::size_t gateway, const std::vector<std::string>& event_ids,
                               core::SteadyTime now) {
  Confirmation confirmation;
  for (const std::string& id : event_ids) {
    auto found = waiting_.find(Key(gateway, id));
    if (found == waiting_.end()) {
      ++confirmation.repeats;
      continue;
    }
    const std::uint64_t message = found->second;
    waiting_.erase(found);
    ++confirmation.events;
    auto entry = messages_.find({gateway, message});
    if (entry == messages_.end()) continue;  // cannot happen: every waiting event has its message
    if (entry->second.alert) {
      --waiting_alerts_;
      // Never published, yet named: another gateway's copy under this one's name cannot happen (the
      // engine maps topics to certificates); no round trip to measure.
      if (entry->second.first_published)
        confirmation.alert_round_trips.push_back(
            std::chrono::duration_cast<Micros>(now - *entry->second.first_published));
    }
    if (--entry->second.unconfirmed == 0) {
      confirmation.completed.push_back(message);
      messages_.erase(entry);
    }
  }
  return confirmation;
}

void Receipts::Published(std::size_t gateway, std::uint64_t message, core::SteadyTime now) {
  auto entry = messages_.find({gateway, message});
  if (entry == messages_.end()) return;
  if (!entry->second.first_published) entry->second.first_published = now;
  entry->second.last_sent = now;
}

std::vector<MessageRef> Receipts::TakeDueForResend(core::SteadyTime now, Millis timeout) {
  std::vector<MessageRef> due;
  for (auto& [key, message] : messages_)
    if (now - message.last_sent >= timeout) {
      message.last_sent = now;
      due.push_back({key.first, key.second});
    }
  return due;
}

std::vector<std::uint64_t> Receipts::TakeUnconfirmed(std::size_t gateway, core::SteadyTime now) {
  std::vector<std::uint64_t> unconfirmed;
  for (auto it = messages_.lower_bound({gateway, 0}); it != messages_.end() && it->first.first == gateway;
       ++it) {
    it->second.last_sent = now;
    unconfirmed.push_back(it->first.second);
  }
  return unconfirmed;
}

Micros Percentile(std::vector<Micros> samples, double p) {
  if (samples.empty()) return Micros(0);
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(samples.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

}  // namespace ehg::fleet
