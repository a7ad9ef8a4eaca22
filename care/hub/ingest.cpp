#include "care/hub/ingest.hpp"

#include <algorithm>
#include <system_error>

#include "care/command_signing.hpp"
#include "care/engine/subjects.hpp"
#include "care/hub/open_messages.hpp"
#include "care/ledger/rows.hpp"
#include "gateway/core/log.hpp"
#include "gateway/wire/commands.hpp"
#include "gateway/wire/status_check.hpp"

namespace ehg::hub {
namespace {

// A receipt names at most this many events: the gateway refuses longer lists (wire::kMaxReceiptEventIds).
constexpr std::size_t kReceiptIds = wire::kMaxReceiptEventIds;

// Where an alert's time went on the care side, for `scripts/hub-fleet` and for an operator who asks
// (debug level): when the engine's stream stored it, when this turn asked the engine for messages and
// when that fetch returned, when the turn's transaction committed, when the client had the turn's
// receipts and when it had its acknowledgements too (Unix ms, so a publisher's own clock on the same host
// lines up with them). A fetch that began after the store tells that the lane was busy; one that began
// before it, that the engine was slow.
struct AlertStored {
  const engine::Delivery* delivery;
  const ledger::Message* message;
};
void LogAlertTimes(const std::string& lane, const std::vector<AlertStored>& alerts,
                   core::WallTime fetch_began, core::WallTime fetched, core::WallTime committed,
                   core::WallTime receipts_handed, core::WallTime receipt_sent) {
  const auto ms = [](core::WallTime time) { return time.time_since_epoch().count(); };
  for (const AlertStored& alert : alerts)
    for (const ledger::IngestedEvent& event : alert.message->events)
      core::LogDebug("alert times", {{"lane", lane},
                                     {"event_id", event.event_id.ToString()},
                                     {"engine_stored_ms", ms(alert.delivery->stored_at())},
                                     {"fetch_began_ms", ms(fetch_began)},
                                     {"fetched_ms", ms(fetched)},
                                     {"committed_ms", ms(committed)},
                                     {"receipts_handed_ms", ms(receipts_handed)},
                                     {"receipt_sent_ms", ms(receipt_sent)}});
}

}  // namespace

Ingest::Ingest(IngestOptions options, engine::Engine& engine, ledger::Ledger& ledger,
               crypto::KeySet decryption_keys, crypto::EcKey signing_key, core::Clock& clock,
               ledger::Ledger* lookahead)
    : options_(options),
      engine_(engine),
      ledger_(ledger),
      decryption_keys_(std::move(decryption_keys)),
      signing_key_(std::move(signing_key)),
      clock_(clock),
      lookahead_(lookahead),
      ids_(clock) {}

bool Ingest::LeftToAnotherLane(const std::string& subject) const {
  return !options_.left_to_another_lane.empty() &&
         engine::SubjectMatches(options_.left_to_another_lane, subject);
}

Result<std::map<ledger::GatewayRef, Result<crypto::KeySet>>> Ingest::GatewayKeys(
    const std::vector<engine::Delivery>& deliveries, ledger::Ledger& keys_from) const {
  std::vector<ledger::GatewayRef> refs;
  for (const engine::Delivery& delivery : deliveries) {
    if (LeftToAnotherLane(delivery.subject())) continue;
    auto subject = engine::ParseSubject(delivery.subject());
    if (!subject || subject->kind == engine::SubjectKind::kCommand) continue;
    ledger::GatewayRef ref{subject->tenant, subject->gateway};
    if (std::find(refs.begin(), refs.end(), ref) == refs.end()) refs.push_back(std::move(ref));
  }
  std::map<ledger::GatewayRef, Result<crypto::KeySet>> sets;
  if (refs.empty()) return sets;
  auto found = keys_from.LookupKeys(refs, clock_.Now());
  if (!found) return tl::unexpected(found.error());
  for (auto& [ref, keys] : *found) {
    if (!keys) {
      sets.emplace(ref, tl::unexpected(keys.error()));
      continue;
    }
    crypto::KeySet set;
    for (const ledger::GatewayKey& key : *keys) {
      auto parsed = crypto::EcKey::FromText(key.public_key);
      if (parsed) set.Add(std::move(*parsed));
    }
    sets.emplace(ref, std::move(set));
  }
  return sets;
}

Result<Ingest::Prepared> Ingest::FetchAndPrepare(ledger::Ledger& keys_from) {
  Prepared turn;
  turn.fetch_began = clock_.Now();
  auto fetched = engine_.Fetch(options_.batch, options_.fetch_wait);
  if (!fetched) return tl::unexpected(fetched.error());
  turn.deliveries = std::move(*fetched);
  turn.fetched = clock_.Now();
  if (!turn.deliveries.empty()) Prepare(turn, keys_from);
  return turn;
}

Result<Ingest::Prepared> Ingest::NextPrepared() {
  if (next_.valid()) {
    auto prepared = next_.get();
    // One that came back empty ran out while the last turn worked: ask again, waiting as a turn does.
    if (!prepared || !prepared->deliveries.empty()) return prepared;
  }
  return FetchAndPrepare(ledger_);
}

Result<std::size_t> Ingest::Turn() {
  auto turn = NextPrepared();
  if (!turn) return tl::unexpected(turn.error());
  if (turn->deliveries.empty()) return std::size_t{0};
  if (lookahead_ != nullptr) {
    // The engine (thread-safe), the options, the keys and the clock, which nothing here changes, and the
    // lookahead connection, which only that thread uses.
    try {
      next_ = std::async(std::launch::async, [this] { return FetchAndPrepare(*lookahead_); });
    } catch (const std::system_error&) {
      // Out of threads: the next turn fetches and opens for itself.
    }
  }
  Commit(*turn);
  return turn->deliveries.size();
}

void Ingest::Prepare(Prepared& turn, ledger::Ledger& keys_from) const {
  IngestCounters& counted = turn.counted;
  counted.messages = turn.deliveries.size();
  const core::WallTime now = clock_.Now();
  std::vector<SealedMessage> sealed;   // the events to open
  std::vector<std::size_t> sealed_of;  // index into `turn.taken` of each
  // The database unreachable: every message is offered again (kLater), none refused for it.
  auto keys = GatewayKeys(turn.deliveries, keys_from);
  if (!keys)
    core::LogWarning("gateway keys not read; the turn's messages are offered again",
                     {{"reason", keys.error().message}});
  for (std::size_t index = 0; index < turn.deliveries.size(); ++index) {
    const engine::Delivery& delivery = turn.deliveries[index];
    Taken item{index, Fate::kRefuse, 0};
    const auto refuse = [&](std::string_view reason, const std::string& detail) {
      ++counted.refused;
      core::LogWarning("message refused",
                       {{"subject", delivery.subject()}, {"reason", reason}, {"detail", detail}});
    };
    auto subject = engine::ParseSubject(delivery.subject());
    if (!subject || subject->kind == engine::SubjectKind::kCommand) {
      refuse("subject", subject ? "a command subject in the event stream" : subject.error().message);
      turn.taken.push_back(item);
      continue;
    }
    if (LeftToAnotherLane(delivery.subject())) {
      ++counted.left_to_another_lane;
      item.fate = Fate::kAckNow;
      turn.taken.push_back(item);
      continue;
    }
    if (!keys) {
      item.fate = Fate::kLater;
      turn.taken.push_back(item);
      continue;
    }
    const auto found = keys->find(ledger::GatewayRef{subject->tenant, subject->gateway});
    if (found == keys->end() || !found->second) {
      const Error error =
          found == keys->end() ? Error{Errc::kUnavailable, "no answer"} : found->second.error();
      if (error.code == Errc::kNotFound) {
        // Perhaps enrolled soon: kept in the stream and offered again, never lost.
        ++counted.unknown_gateway;
        core::LogWarning("message of a gateway that is not enrolled; offered again later",
                         {{"tenant", subject->tenant}, {"gateway", subject->gateway}});
        item.fate = Fate::kLater;
      } else if (error.code == Errc::kRejected) {
        refuse("revoked", error.message);
      } else {
        item.fate = Fate::kLater;
      }
      turn.taken.push_back(item);
      continue;
    }
    const crypto::KeySet& gateway_keys = *found->second;
    if (subject->kind == engine::SubjectKind::kStatus) {
      wire::StatusTracker tracker(&gateway_keys);
      const wire::StatusVerdict verdict =
          tracker.Check(subject->tenant, subject->gateway, delivery.payload(), now);
      if (!verdict.accepted) {
        refuse("status_" + verdict.reason, verdict.detail);
        turn.taken.push_back(item);
        continue;
      }
      // Order across copies is the ledger's: it keeps a status only when it is newer.
      ledger::StatusRow row;
      row.tenant = subject->tenant;
      row.gateway = subject->gateway;
      row.state = verdict.status.state;
      row.reason = verdict.status.reason;
      row.time = verdict.status.time;
      row.connected_at = verdict.status.connected_at;
      row.version = verdict.status.version;
      row.backlog_events = verdict.status.backlog_events;
      row.backlog_bytes = verdict.status.backlog_bytes;
      row.backlog_alerts = verdict.status.backlog_alerts;
      row.alerts_awaiting_receipt = verdict.status.alerts_awaiting_receipt;
      row.dropped_observations = verdict.status.dropped_observations;
      row.clock_synchronised = verdict.status.clock_synchronised;
      row.received_at = now;
      if (verdict.status.heartbeat_interval.count() > 0)
        row.heartbeat_interval_seconds = verdict.status.heartbeat_interval.count();
      item.fate = Fate::kLater;  // until ApplyStatuses in Commit committed it
      turn.status_of.push_back(turn.taken.size());
      turn.statuses.push_back(std::move(row));
      turn.taken.push_back(item);
      continue;
    }
    // Opened below, with the turn's other events, on the lane's threads. `keys` outlives that.
    sealed_of.push_back(turn.taken.size());
    sealed.push_back({delivery.payload(), &gateway_keys, std::move(*subject)});
    turn.taken.push_back(item);
  }
  std::vector<OpenedMessage> opened = OpenMessages(sealed, decryption_keys_, options_.open_threads);
  for (std::size_t i = 0; i < opened.size(); ++i) {
    Taken& item = turn.taken[sealed_of[i]];
    if (!opened[i].message) {
      ++counted.refused;
      core::LogWarning("message refused", {{"subject", turn.deliveries[item.delivery].subject()},
                                           {"reason", opened[i].refusal},
                                           {"detail", opened[i].detail}});
      continue;  // its fate stays kRefuse
    }
    item.fate = Fate::kStore;
    item.message = turn.batch.size();
    turn.batch.push_back(std::move(*opened[i].message));
  }
}

void Ingest::Commit(Prepared& turn) {
  counters_.messages += turn.counted.messages;
  counters_.refused += turn.counted.refused;
  counters_.unknown_gateway += turn.counted.unknown_gateway;
  counters_.left_to_another_lane += turn.counted.left_to_another_lane;
  std::vector<Taken>& taken = turn.taken;
  const std::vector<ledger::Message>& batch = turn.batch;

  // The turn's statuses in one transaction (a heartbeat from each of 2,000 gateways a minute was a commit
  // each), acknowledged once it committed.
  if (!turn.statuses.empty()) {
    if (auto applied = ledger_.ApplyStatuses(turn.statuses); applied) {
      counters_.statuses += turn.statuses.size();
      for (std::size_t index : turn.status_of)
        taken[index].fate = Fate::kAckNow;
    } else {
      core::LogWarning("statuses not stored; offered again", {{"reason", applied.error().message}});
    }
  }

  // One transaction for the turn's messages. Nothing is acknowledged before it committed.
  std::vector<ledger::MessageOutcome> outcomes;
  if (!batch.empty()) {
    auto stored = ledger_.Store(batch);
    if (!stored) {
      ++counters_.store_failures;
      core::LogError("storing a turn failed; its messages are offered again",
                     {{"messages", batch.size()}, {"reason", stored.error().message}});
      for (Taken& item : taken)
        if (item.fate == Fate::kStore) item.fate = Fate::kLater;
    } else {
      outcomes = std::move(*stored);
    }
  }

  const core::WallTime committed = clock_.Now();
  // Receipts: every event stored now or before, by gateway, a duplicate too (the gateway sends an event
  // again only when no receipt reached it).
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> receipts;
  std::vector<AlertStored> alerts_stored;
  for (Taken& item : taken) {
    if (item.fate != Fate::kStore) continue;
    const engine::Delivery& delivery = turn.deliveries[item.delivery];
    const ledger::Message& message = batch[item.message];
    const ledger::MessageOutcome& outcome = outcomes.at(item.message);
    if (outcome.refused) {
      ++counters_.refused;
      core::LogWarning("message refused by the database",
                       {{"subject", delivery.subject()}, {"reason", outcome.refused->message}});
      item.fate = Fate::kRefuse;
      continue;
    }
    auto& ids = receipts[{message.tenant, message.gateway}];
    for (const ledger::EventOutcome& event : outcome.events) {
      switch (event.outcome) {
        case ledger::Outcome::kNew:
          ++counters_.events_new;
          ids.push_back(event.event_id.ToString());
          break;
        case ledger::Outcome::kDuplicate:
          ++counters_.events_duplicate;
          ids.push_back(event.event_id.ToString());
          break;
        case ledger::Outcome::kConflict:
          ++counters_.events_conflict;
          core::LogError("event id stored for another gateway or kind: no receipt",
                         {{"event_id", event.event_id.ToString()}, {"subject", delivery.subject()}});
          break;
      }
    }
    item.fate = Fate::kAckNow;
    if (message.kind == ledger::Kind::kAlert) alerts_stored.push_back({&delivery, &message});
  }
  for (const auto& [gateway, ids] : receipts)
    SendReceipts(gateway.first, gateway.second, ids);
  const core::WallTime receipts_handed = clock_.Now();

  for (const Taken& item : taken) {
    const engine::Delivery& delivery = turn.deliveries[item.delivery];
    Result<void> done;
    switch (item.fate) {
      case Fate::kAckNow:
        done = engine_.AckWithoutConfirmation(delivery);
        break;
      case Fate::kRefuse:
        done = engine_.Term(delivery);
        break;
      case Fate::kLater:
        done = engine_.Nak(delivery, delivery.delivery_count() > 1 ? options_.unknown_gateway_retry
                                                                   : options_.store_failed_retry);
        break;
      case Fate::kStore:
        break;
    }
    // A failed acknowledgement: the message comes again and the ledger's event ids absorb it.
    if (!done) core::LogWarning("acknowledgement not sent", {{"reason", done.error().message}});
  }
  // One round trip for the turn's receipts and acknowledgements (each waited for its own before).
  if (options_.confirm_turn) {
    if (auto flushed = engine_.Flush(); !flushed)
      core::LogWarning("receipts and acknowledgements not confirmed; unconfirmed ones come again",
                       {{"reason", flushed.error().message}});
  }
  if (core::LogEnabled(core::LogLevel::kDebug))
    LogAlertTimes(options_.lane, alerts_stored, turn.fetch_began, turn.fetched, committed, receipts_handed,
                  clock_.Now());
}

void Ingest::SendReceipts(const std::string& tenant, const std::string& gateway,
                          const std::vector<std::string>& event_ids) {
  auto subject = engine::CommandSubject(tenant, gateway);
  if (!subject) return;
  for (std::size_t first = 0; first < event_ids.size(); first += kReceiptIds) {
    const std::vector<std::string> part(
        event_ids.begin() + static_cast<std::ptrdiff_t>(first),
        event_ids.begin() + static_cast<std::ptrdiff_t>(std::min(event_ids.size(), first + kReceiptIds)));
    const std::string command = wire::EventReceiptCommand("r-" + part.front(), part);
    auto signed_command = care::SignCommand(signing_key_, tenant, gateway, command, ids_.Next().ToString(),
                                            clock_.Now(), options_.receipt_lifetime);
    if (!signed_command) {
      ++counters_.receipts_failed;
      core::LogError("cannot sign a receipt", {{"reason", signed_command.error().message}});
      continue;
    }
    if (auto published = engine_.PublishWithoutFlush(*subject, *signed_command); !published) {
      ++counters_.receipts_failed;
      core::LogWarning("receipt not sent; the gateway sends the events again",
                       {{"gateway", gateway}, {"reason", published.error().message}});
      continue;
    }
    ++counters_.receipts_sent;
  }
}

}  // namespace ehg::hub
