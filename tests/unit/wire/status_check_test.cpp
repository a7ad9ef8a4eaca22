#include "gateway/wire/status_check.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "gateway/crypto/base64url.hpp"
#include "gateway/crypto/jose.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/uplink/messages.hpp"
#include "tests/fuzz/jose_fuzz_keys.hpp"

using namespace std::chrono_literals;
using ehg::core::WallTime;
using ehg::crypto::EcKey;
using ehg::crypto::KeySet;
using ehg::wire::StatusTracker;

namespace {

const WallTime kConnected{1'767'225'600'000ms};

struct Keys {
  EcKey gateway = EcKey::Generate().value();
  KeySet enrolled;
  Keys() { enrolled.Add(EcKey::FromJwkText(gateway.Jwk()).value()); }

  std::string Sign(const std::string& body) const {
    return ehg::crypto::SignCompactJws(gateway, body, ehg::crypto::kStatusJwsType).value();
  }
};

std::string Online(WallTime time, WallTime connected_at = kConnected, const std::string& gateway = "gw-1",
                   std::chrono::seconds heartbeat = 60s) {
  ehg::uplink::StatusInfo info;
  info.gateway_id = gateway;
  info.tenant = "0301";
  info.version = "test";
  info.time = time;
  info.connected_at = connected_at;
  info.heartbeat_interval = heartbeat;
  return ehg::uplink::OnlineStatusBody(info);
}

std::string Will(WallTime connected_at = kConnected) {
  return ehg::uplink::OfflineStatusBody("gw-1", "0301", "connection lost", nullptr, connected_at);
}

}  // namespace

TEST_CASE("A status signed by the gateway verifies: state, time, connection and signer are read") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  const auto verdict = tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected + 5s)), kConnected + 6s);
  REQUIRE(verdict.accepted);
  CHECK(verdict.status.state == "online");
  CHECK(verdict.status.time == kConnected + 5s);
  CHECK(verdict.status.connected_at == kConnected);
  CHECK(verdict.status.heartbeat_interval == 60s);
  CHECK(verdict.status.signer == keys.gateway.id());

  // The pre-signed last will: no time of its own, it ends the connection it names.
  const auto will = tracker.Check("0301", "gw-1", keys.Sign(Will()), kConnected + 10min);
  REQUIRE(will.accepted);
  CHECK(will.status.state == "offline");
  CHECK(will.status.reason == "connection lost");
  CHECK_FALSE(will.status.time.has_value());
}

TEST_CASE(
    "What an online status reports for the fleet view is read, and odd values are left empty, never "
    "refused") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  ehg::uplink::StatusInfo info;
  info.gateway_id = "gw-1";
  info.tenant = "0301";
  info.version = "0.9.1-1";
  info.time = kConnected + 5s;
  info.connected_at = kConnected;
  info.backlog.rows = 1270;
  info.backlog.bytes = 901'000;
  info.backlog.alert_rows = 2;
  info.backlog.dropped_observations_total = 7;
  info.alerts_awaiting_receipt = 1;
  info.clock_synchronised = false;
  const auto verdict =
      tracker.Check("0301", "gw-1", keys.Sign(ehg::uplink::OnlineStatusBody(info)), kConnected + 6s);
  REQUIRE(verdict.accepted);
  CHECK(verdict.status.version == "0.9.1-1");
  CHECK(verdict.status.backlog_events == 1270);
  CHECK(verdict.status.backlog_bytes == 901'000);
  CHECK(verdict.status.backlog_alerts == 2);
  CHECK(verdict.status.dropped_observations == 7);
  CHECK(verdict.status.alerts_awaiting_receipt == 1);
  CHECK(verdict.status.clock_synchronised == false);

  // Signed by the gateway, but odd: a version longer than 64 characters, a negative or fractional count,
  // a clock flag that is a string. Informative fields only: the status itself still counts.
  const std::string odd =
      R"({"schema":"ehealth-gateway/status/v0","state":"online","gateway":"gw-1","tenant":"0301",)"
      R"("time":"2026-01-01T00:00:07.000Z","connected_at":"2026-01-01T00:00:00.000Z",)"
      R"("heartbeat_interval_seconds":60,"version":"99999999999999999999999999999999999999999999999999999999999999999","backlog":{"events":-1,"bytes":2.5},)"
      R"("alerts_awaiting_receipt":"3","clock_synchronised":"yes"})";
  const auto read = tracker.Check("0301", "gw-1", keys.Sign(odd), kConnected + 8s);
  REQUIRE_MESSAGE(read.accepted, (read.reason + ": " + read.detail));
  CHECK(read.status.version.empty());
  CHECK_FALSE(read.status.backlog_events.has_value());
  CHECK_FALSE(read.status.backlog_bytes.has_value());
  CHECK_FALSE(read.status.backlog_alerts.has_value());
  CHECK_FALSE(read.status.alerts_awaiting_receipt.has_value());
  CHECK_FALSE(read.status.clock_synchronised.has_value());
}

TEST_CASE("A forged online status is refused however it is made") {
  Keys keys;
  const WallTime now = kConnected + 30s;
  const std::string genuine_body = Online(kConnected + 29s);
  const auto refused_for = [&](const std::string& payload) {
    StatusTracker tracker(&keys.enrolled);
    const auto verdict = tracker.Check("0301", "gw-1", payload, now);
    CHECK_FALSE(verdict.accepted);
    return verdict.reason;
  };
  // What anyone who may publish on the topic can write: the plain JSON the gateway used to send.
  CHECK(refused_for(genuine_body) == "unsigned");
  // Another key under the gateway's key id.
  const EcKey impostor = EcKey::Generate().value();
  std::string impostor_jwk = impostor.Jwk(true);
  impostor_jwk.replace(impostor_jwk.find(impostor.id()), impostor.id().size(), keys.gateway.id());
  const EcKey renamed = EcKey::FromJwkText(impostor_jwk).value();
  CHECK(
      refused_for(ehg::crypto::SignCompactJws(renamed, genuine_body, ehg::crypto::kStatusJwsType).value()) ==
      "bad_signature");
  // A key nobody enrolled.
  CHECK(
      refused_for(ehg::crypto::SignCompactJws(impostor, genuine_body, ehg::crypto::kStatusJwsType).value()) ==
      "unknown_key");
  // "alg":"none" with the body of a genuine status.
  CHECK(refused_for(ehg::crypto::Base64UrlEncode(R"({"alg":"none","typ":"ehealth-gateway-status+jws"})") +
                    "." + ehg::crypto::Base64UrlEncode(genuine_body) + ".") == "unsigned");
  // A genuine signature over an older body, the payload swapped for a fresh one.
  const std::string old_signed = keys.Sign(Online(kConnected + 1s));
  const std::string fresh_payload = ehg::crypto::Base64UrlEncode(genuine_body);
  const auto first_dot = old_signed.find('.');
  const auto second_dot = old_signed.find('.', first_dot + 1);
  CHECK(refused_for(old_signed.substr(0, first_dot + 1) + fresh_payload + old_signed.substr(second_dot)) ==
        "bad_signature");
  // The gateway's signature made for something else (an event's inner JWS has no status typ).
  CHECK(refused_for(ehg::crypto::SignCompactJws(keys.gateway, genuine_body).value()) == "wrong_type");
  // Genuinely signed, but for another gateway (or tenant) than the topic's.
  CHECK(refused_for(keys.Sign(Online(kConnected + 29s, kConnected, "gw-2"))) == "gateway_mismatch");
  StatusTracker tracker(&keys.enrolled);
  CHECK(tracker.Check("0302", "gw-1", keys.Sign(genuine_body), now).reason == "gateway_mismatch");
  CHECK(refused_for("") == "malformed");
  CHECK(refused_for(keys.Sign("not json")) == "malformed");
  CHECK(refused_for(keys.Sign(R"({"schema":"ehealth-gateway/status/v0","state":"online"})")) ==
        "gateway_mismatch");
}

TEST_CASE("A genuine but old online status is stale: a silenced gateway does not look online") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  // The retained heartbeat a broker keeps after the gateway fell silent: 3 intervals + the skew is the
  // limit (3 x 60 s + 60 s).
  const std::string retained = keys.Sign(Online(kConnected + 1s));
  CHECK(tracker.Check("0301", "gw-1", retained, kConnected + 1s + 240s).accepted);
  const auto late = tracker.Check("0301", "gw-1", retained, kConnected + 1s + 241s);
  CHECK_FALSE(late.accepted);
  CHECK(late.reason == "stale");
  // A heartbeat interval set down by the gateway shortens the limit; one from the future is refused.
  StatusTracker other(&keys.enrolled);
  CHECK(other.Check("0301", "gw-1", keys.Sign(Online(kConnected, kConnected, "gw-1", 10s)), kConnected + 91s)
            .reason == "stale");
  CHECK(other.Check("0301", "gw-1", keys.Sign(Online(kConnected + 2min)), kConnected).reason ==
        "not_yet_valid");
}

TEST_CASE("Replayed statuses are refused: older than the last taken, or of an earlier connection") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  const WallTime second_connection = kConnected + 5min;
  const std::string first_heartbeat = keys.Sign(Online(kConnected + 1s));
  REQUIRE(tracker.Check("0301", "gw-1", first_heartbeat, kConnected + 2s).accepted);
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected + 61s)), kConnected + 62s).accepted);
  // The same message again (a retained copy after the receiver reconnects) changes nothing.
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected + 61s)), kConnected + 63s).accepted);
  CHECK(tracker.Check("0301", "gw-1", first_heartbeat, kConnected + 63s).reason == "replayed");

  // The connection dies: its will is taken. Its old heartbeats, the last one included, cannot bring it
  // back online.
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Will()), kConnected + 3min).accepted);
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected + 61s)), kConnected + 3min).reason ==
        "replayed");
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected + 1s)), kConnected + 3min).reason ==
        "replayed");
  // A new connection: its heartbeats are taken, and the old connection's will no longer is.
  REQUIRE(tracker
              .Check("0301", "gw-1", keys.Sign(Online(second_connection + 1s, second_connection)),
                     second_connection + 2s)
              .accepted);
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Will()), second_connection + 3s).reason == "replayed");
  // A will injected early (the broker may publish it at any time) is corrected by the next heartbeat.
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Will(second_connection)), second_connection + 4s).accepted);
  CHECK(tracker
            .Check("0301", "gw-1", keys.Sign(Online(second_connection + 61s, second_connection)),
                   second_connection + 62s)
            .accepted);
}

TEST_CASE("A gateway whose clock stepped back between connections counts again once its statuses are fresh") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  // The first connection, on a correct clock, until a power cut ten minutes in.
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected + 10min)), kConnected + 10min).accepted);
  // No real-time clock: the board boots with the time saved an hour before and connects on it. Its
  // statuses say a time an hour ago: stale, and the receiver rightly reports the gateway silent.
  const WallTime real_connect = kConnected + 15min;
  const WallTime wrong_connected_at = real_connect - 1h - 10min;
  CHECK(tracker
            .Check("0301", "gw-1", keys.Sign(Online(wrong_connected_at + 1s, wrong_connected_at)),
                   real_connect + 1s)
            .reason == "stale");
  CHECK(tracker.NewlySilent(real_connect + 1s).size() == 1);
  // NTP corrects the clock; the connection (and its connected_at) stays. Its next heartbeat is fresh
  // and newer than anything taken: the gateway is online again, not silent for the whole connection.
  const WallTime corrected = real_connect + 2min;
  const auto fresh =
      tracker.Check("0301", "gw-1", keys.Sign(Online(corrected, wrong_connected_at)), corrected);
  CHECK_MESSAGE(fresh.accepted, (fresh.reason + ": " + fresh.detail));
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(corrected + 60s, wrong_connected_at)), corrected + 60s)
            .accepted);
  CHECK(tracker.NewlySilent(corrected + 4min).empty());
  // The old connection's statuses stay refused, as does the last heartbeat of the new one once its will
  // was taken.
  CHECK_FALSE(tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected + 10min)), corrected + 61s).accepted);
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Will(wrong_connected_at)), corrected + 90s).accepted);
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(corrected + 60s, wrong_connected_at)), corrected + 91s)
            .reason == "replayed");

  // A clock a little ahead (within the skew) and then corrected: the heartbeats are refused for as long
  // as the clock was ahead, less than a silence limit, never for the rest of the connection.
  StatusTracker ahead(&keys.enrolled);
  REQUIRE(ahead.Check("0301", "gw-1", keys.Sign(Online(kConnected + 59s)), kConnected).accepted);
  const WallTime reconnect = kConnected + 30s;  // the clock corrected, a new connection
  CHECK(ahead.Check("0301", "gw-1", keys.Sign(Online(reconnect, reconnect)), reconnect).reason == "replayed");
  CHECK(ahead.Check("0301", "gw-1", keys.Sign(Online(reconnect + 60s, reconnect)), reconnect + 60s).accepted);
}

TEST_CASE("A status or will from the future is refused and cannot lock the receiver out of a gateway") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  const WallTime now = kConnected + 5min;
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Online(now)), now).accepted);
  // A will signed on a clock a day ahead (a wrong RTC), published when that connection dies.
  const auto future_will = tracker.Check("0301", "gw-1", keys.Sign(Will(now + 24h)), now + 1s);
  CHECK(future_will.reason == "not_yet_valid");
  // An online status of a connection said to start in the future, its own time correct.
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(now + 2s, now + 24h)), now + 2s).reason ==
        "not_yet_valid");
  // The clocks' skew (60 s) is allowed, no more.
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(now + 3s, now + 64s)), now + 3s).reason ==
        "not_yet_valid");
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Online(now + 3s, now + 63s)), now + 3s).accepted);
  // The gateway's genuine statuses of its next connection still count, and so does its will.
  const WallTime next = now + 2min;
  const auto online = tracker.Check("0301", "gw-1", keys.Sign(Online(next + 1s, next)), next + 1s);
  CHECK_MESSAGE(online.accepted, (online.reason + ": " + online.detail));
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Will(next)), next + 2s).accepted);
  // An old connection's will stays refused.
  CHECK(tracker.Check("0301", "gw-1", keys.Sign(Will(kConnected)), next + 3s).reason == "replayed");
}

TEST_CASE("The heartbeat interval a status states is trusted up to the gateway's own maximum, 3600 s") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  // Signed by the gateway (a bug, or an old version), a day between heartbeats: a replay of it would
  // look online for three days. Taken, but limited as if it said 3600 s: 3 h + 60 s.
  const auto verdict =
      tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected, kConnected, "gw-1", 86'400s)), kConnected);
  REQUIRE(verdict.accepted);
  CHECK(verdict.status.heartbeat_interval == 3600s);
  CHECK(tracker.NewlySilent(kConnected + 3h + 60s).empty());
  const auto silent = tracker.NewlySilent(kConnected + 3h + 61s);
  REQUIRE(silent.size() == 1);
  CHECK(silent[0].heartbeat_interval == 3600s);
  StatusTracker other(&keys.enrolled);
  CHECK(
      other.Check("0301", "gw-1", keys.Sign(Online(kConnected, kConnected, "gw-1", 86'400s)), kConnected + 4h)
          .reason == "stale");
  CHECK(other.Check("0301", "gw-1", keys.Sign(Online(kConnected, kConnected, "gw-1", 3600s)), kConnected + 3h)
            .accepted);
}

TEST_CASE("A gateway whose last verified status grows old is reported silent once") {
  Keys keys;
  StatusTracker tracker(&keys.enrolled);
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Online(kConnected, kConnected, "gw-1", 10s)), kConnected)
              .accepted);
  CHECK(tracker.NewlySilent(kConnected + 90s).empty());  // 3 x 10 s + 60 s skew
  const auto silent = tracker.NewlySilent(kConnected + 91s);
  REQUIRE(silent.size() == 1);
  CHECK(silent[0].gateway == "gw-1");
  CHECK(silent[0].tenant == "0301");
  CHECK(silent[0].last_status == kConnected);
  CHECK(tracker.NewlySilent(kConnected + 200s).empty());
  // An offline gateway is known to be offline, not silent.
  REQUIRE(tracker.Check("0301", "gw-1", keys.Sign(Will()), kConnected + 201s).accepted);
  CHECK(tracker.NewlySilent(kConnected + 1h).empty());
}

TEST_CASE("Without gateway keys (development plaintext) a plain status is read, unproven") {
  StatusTracker tracker(nullptr);
  const auto verdict = tracker.Check("0301", "gw-1", Online(kConnected), kConnected);
  CHECK(verdict.accepted);
  CHECK(verdict.status.signer.empty());
}

TEST_CASE("Statuses signed by the jose tool (the fuzz seeds) verify here, and their plain copies do not") {
  const KeySet gateway = *KeySet::FromText(ehg::fuzz::kGatewayKey);
  const WallTime now{std::chrono::milliseconds(ehg::fuzz::kNowMilliseconds)};
  const auto read = [](const std::string& name) {
    std::ifstream in(std::string(EHG_SOURCE_DIR) + "/tests/fuzz/corpus/status_check/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  StatusTracker tracker(&gateway);
  const auto online = tracker.Check("0301", "gw-fuzz", read("jose-tool-online.jws"), now);
  CHECK_MESSAGE(online.accepted, (online.reason + ": " + online.detail));
  CHECK(online.status.signer == "fuzz-gateway");
  const auto plain = tracker.Check("0301", "gw-fuzz", read("plain-online.json"), now);
  CHECK_FALSE(plain.accepted);
  CHECK(plain.reason == "unsigned");
  const auto will = tracker.Check("0301", "gw-fuzz", read("jose-tool-will.jws"), now);
  CHECK_MESSAGE(will.accepted, (will.reason + ": " + will.detail));
  CHECK(will.status.state == "offline");
}
