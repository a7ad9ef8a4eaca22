#include "gateway/wire/status_check.hpp"

#include <algorithm>

#include "gateway/core/json.hpp"
#include "gateway/crypto/jose.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/wire/commands.hpp"

namespace ehg::wire {
namespace {

using core::JsonValue;

constexpr std::string_view kStatusSchema = "ehealth-gateway/status/v0";

StatusVerdict Refuse(std::string reason, std::string detail, GatewayStatus status = {}) {
  StatusVerdict verdict;
  verdict.reason = std::move(reason);
  verdict.detail = std::move(detail);
  verdict.status = std::move(status);
  return verdict;
}

const std::string* Text(const JsonValue& object, std::string_view key) {
  const JsonValue* member = object.Find(key);
  return member != nullptr && member->type == JsonValue::Type::kString ? &member->text : nullptr;
}

// A count the gateway reports: a whole number from 0 to 2^53 (what a JSON double holds exactly).
std::optional<std::int64_t> Count(const JsonValue* value) {
  if (value == nullptr || value->type != JsonValue::Type::kNumber || !value->integral || value->number < 0 ||
      value->number > 9007199254740992.0)
    return std::nullopt;
  return static_cast<std::int64_t>(value->number);
}

std::optional<core::WallTime> Time(const JsonValue& object, std::string_view key) {
  const std::string* text = Text(object, key);
  return text != nullptr ? core::ParseIso8601(*text) : std::nullopt;
}

}  // namespace

StatusTracker::StatusTracker(const crypto::KeySet* gateway_keys, StatusPolicy policy)
    : gateway_keys_(gateway_keys), policy_(policy) {}

std::chrono::milliseconds StatusTracker::SilenceLimit(const GatewayStatus& status) const {
  return policy_.silent_after_heartbeats * status.heartbeat_interval;
}

StatusVerdict StatusTracker::Check(std::string_view tenant, std::string_view gateway,
                                   std::string_view payload, core::WallTime now) {
  GatewayStatus status;
  std::string body;
  if (gateway_keys_ != nullptr) {
    // A plain JSON object where a signature belongs: whoever wrote it, the gateway did not.
    if (!payload.empty() && payload.front() == '{') return Refuse("unsigned", "a plain JSON status");
    auto verified = crypto::VerifyCompactJws(payload, *gateway_keys_);
    if (!verified)
      return Refuse(std::string(crypto::ToString(verified.error().reason)), verified.error().message);
    if (verified->typ != crypto::kStatusJwsType) {
      return Refuse("wrong_type",
                    "signed, but not as a status (typ \"" + verified->typ.substr(0, 64) + "\")");
    }
    status.signer = std::move(verified->kid);
    body = std::move(verified->payload);
  } else {
    body = std::string(payload);
  }

  auto parsed = core::ParseJson(body);
  if (!parsed || parsed->type != JsonValue::Type::kObject) {
    return Refuse("malformed", "not a JSON object (or one that repeats a member)", status);
  }
  const JsonValue& object = *parsed;
  const std::string* schema = Text(object, "schema");
  const std::string* state = Text(object, "state");
  if (schema == nullptr || *schema != kStatusSchema)
    return Refuse("malformed", "not a status/v0 body", status);
  if (state == nullptr || (*state != "online" && *state != "offline"))
    return Refuse("malformed", "state is neither online nor offline", status);
  status.state = *state;
  const std::string* named_gateway = Text(object, "gateway");
  const std::string* named_tenant = Text(object, "tenant");
  if (named_gateway == nullptr || *named_gateway != gateway || named_tenant == nullptr ||
      *named_tenant != tenant) {
    return Refuse("gateway_mismatch", "the body names another gateway or tenant than its topic", status);
  }
  const auto connected_at = Time(object, "connected_at");
  if (!connected_at) return Refuse("malformed", "no connected_at", status);
  status.connected_at = *connected_at;
  status.time = Time(object, "time");
  if (object.Find("time") != nullptr && !status.time) return Refuse("malformed", "time unreadable", status);
  if (const std::string* reason = Text(object, "reason")) status.reason = *reason;
  if (status.state == "online") {
    const JsonValue* interval = object.Find("heartbeat_interval_seconds");
    if (!status.time || interval == nullptr || interval->type != JsonValue::Type::kNumber ||
        !interval->integral || interval->number < 1 || interval->number > 86'400) {
      return Refuse("malformed", "an online status needs time and heartbeat_interval_seconds", status);
    }
    // The gateway never beats slower than kMaxHeartbeat (heartbeat.set and the config stop there): a
    // status that says it does would buy a replayed heartbeat hours of looking online, so the limit is
    // taken from at most that interval.
    status.heartbeat_interval =
        std::min(std::chrono::seconds(static_cast<std::int64_t>(interval->number)), kMaxHeartbeat);
    if (const std::string* version = Text(object, "version");
        version != nullptr && !version->empty() && version->size() <= 64 &&
        std::all_of(version->begin(), version->end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
      status.version = *version;
    if (const JsonValue* backlog = object.Find("backlog");
        backlog != nullptr && backlog->type == JsonValue::Type::kObject) {
      status.backlog_events = Count(backlog->Find("events"));
      status.backlog_bytes = Count(backlog->Find("bytes"));
      status.backlog_alerts = Count(backlog->Find("alerts"));
    }
    status.alerts_awaiting_receipt = Count(object.Find("alerts_awaiting_receipt"));
    status.dropped_observations = Count(object.Find("dropped_observations"));
    if (const JsonValue* synchronised = object.Find("clock_synchronised");
        synchronised != nullptr && synchronised->type == JsonValue::Type::kBool)
      status.clock_synchronised = synchronised->boolean;
  }

  // Fresh: written no later than now (give or take the clocks' skew), and an online status not older
  // than the silence limit. A last will carries no time: it is signed when its connection is made.
  if (status.time && *status.time > now + policy_.clock_skew) {
    return Refuse("not_yet_valid", "written at " + core::FormatIso8601(*status.time) + ", in the future",
                  status);
  }
  // No connection starts in the future either: a will naming one would otherwise pass for the newest
  // connection there is, until the receiver restarts.
  if (status.connected_at > now + policy_.clock_skew) {
    return Refuse("not_yet_valid",
                  "of a connection made at " + core::FormatIso8601(status.connected_at) + ", in the future",
                  status);
  }
  if (status.state == "online" && *status.time + SilenceLimit(status) + policy_.clock_skew < now) {
    return Refuse("stale",
                  "written at " + core::FormatIso8601(*status.time) + ", more than " +
                      std::to_string(policy_.silent_after_heartbeats) + " heartbeat intervals ago",
                  status);
  }

  // Newer than what was taken before. A status with a time (online, goodbye) is ordered by that time,
  // not by its connection: a gateway whose wall clock stepped back between connections (a power cut on
  // a board without a real-time clock restores the last saved time) starts a connection with an earlier
  // connected_at than the one before, and its statuses must count again as soon as their time is newer
  // than the last one taken and fresh. Since no time taken lies beyond now + the skew, a clock that
  // went back delays the next status taken by that much at most. An online status as old as the newest
  // time taken is only a retained copy of the online status taken, never a heartbeat of a connection
  // that has ended since (a goodbye written in the same millisecond as the last heartbeat still counts).
  // A last will has no time: it is taken for the connection of the last status taken or a newer one,
  // so an old connection's will cannot be replayed (a will of an earlier connection that only looks
  // newer because the gateway's clock went back can make a live gateway look offline, as an early will
  // can, until its next heartbeat).
  const std::string key = std::string(tenant) + "/" + std::string(gateway);
  auto found = known_.find(key);
  if (found != known_.end()) {
    const Known& known = found->second;
    if (!status.time && status.connected_at < known.status.connected_at) {
      return Refuse("replayed",
                    "the will of a connection made at " + core::FormatIso8601(status.connected_at) +
                        ", before the one of the last status taken",
                    status);
    }
    if (status.time && known.latest_time) {
      const bool retained_copy = *status.time == *known.latest_time && status.state == "online" &&
                                 known.status.state == "online" &&
                                 status.connected_at == known.status.connected_at;
      if (*status.time < *known.latest_time) {
        return Refuse("replayed",
                      "written at " + core::FormatIso8601(*status.time) + ", before the last status taken (" +
                          core::FormatIso8601(*known.latest_time) + ")",
                      status);
      }
      if (*status.time == *known.latest_time && status.state == "online" && !retained_copy) {
        return Refuse("replayed", "a heartbeat of a connection that has ended since", status);
      }
    }
  }
  Known& known = known_[key];
  known.tenant = std::string(tenant);
  known.gateway = std::string(gateway);
  if (status.time && (!known.latest_time || *status.time > *known.latest_time))
    known.latest_time = status.time;
  known.status = status;
  known.reported_silent = false;
  StatusVerdict verdict;
  verdict.accepted = true;
  verdict.status = std::move(status);
  return verdict;
}

std::vector<SilentGateway> StatusTracker::NewlySilent(core::WallTime now) {
  std::vector<SilentGateway> silent;
  for (auto& [key, known] : known_) {
    if (known.reported_silent || known.status.state != "online" || !known.status.time) continue;
    if (*known.status.time + SilenceLimit(known.status) + policy_.clock_skew >= now) continue;
    known.reported_silent = true;
    SilentGateway gateway;
    gateway.tenant = known.tenant;
    gateway.gateway = known.gateway;
    gateway.last_status = *known.status.time;
    gateway.heartbeat_interval = known.status.heartbeat_interval;
    silent.push_back(std::move(gateway));
  }
  return silent;
}

}  // namespace ehg::wire
