#include "care/hub/ingest.hpp"

#include <algorithm>

#include "care/command_signing.hpp"
#include "care/engine/subjects.hpp"
#include "care/ledger/rows.hpp"
#include "gateway/core/log.hpp"
#include "gateway/crypto/envelope.hpp"
#include "gateway/wire/commands.hpp"
#include "gateway/wire/status_check.hpp"

namespace ehg::hub {
namespace {

// A receipt names at most this many events: the gateway refuses longer lists (wire::kMaxReceiptEventIds).
constexpr std::size_t kReceiptIds = wire::kMaxReceiptEventIds;

// What became of one delivery in a turn.
enum class Fate { kStore, kAckNow, kRefuse, kLater };

struct Taken {
  const engine::Delivery* delivery = nullptr;
  Fate fate = Fate::kRefuse;
  std::size_t message = 0;  // index into the turn's ledger batch, for kStore
};

}  // namespace

Ingest::Ingest(IngestOptions options, engine::Engine& engine, ledger::Ledger& ledger,
               crypto::KeySet decryption_keys, crypto::EcKey signing_key, core::Clock& clock)
    : options_(options),
      engine_(engine),
      ledger_(ledger),
      decryption_keys_(std::move(decryption_keys)),
      signing_key_(std::move(signing_key)),
      clock_(clock),
      ids_(clock) {}

Result<crypto::KeySet> Ingest::GatewayKeys(const std::string& tenant, const std::string& gateway) {
  auto keys = ledger_.LookupKeys(tenant, gateway, clock_.Now());
  if (!keys) return tl::unexpected(keys.error());
  crypto::KeySet set;
  for (const ledger::GatewayKey& key : *keys) {
    auto parsed = crypto::EcKey::FromText(key.public_key);
    if (parsed) set.Add(std::move(*parsed));
  }
  return set;
}

Result<std::size_t> Ingest::Turn() {
  auto fetched = engine_.Fetch(options_.batch, options_.fetch_wait);
  if (!fetched) return tl::unexpected(fetched.error());
  if (fetched->empty()) return std::size_t{0};
  counters_.messages += fetched->size();
  const core::WallTime now = clock_.Now();

  std::vector<ledger::Message> batch;
  std::vector<Taken> taken;
  std::map<std::string, crypto::KeySet> keys;  // by tenant/gateway, for this turn
  for (const engine::Delivery& delivery : *fetched) {
    Taken item{&delivery, Fate::kRefuse, 0};
    const auto refuse = [&](std::string_view reason, const std::string& detail) {
      ++counters_.refused;
      core::LogWarning("message refused",
                       {{"subject", delivery.subject()}, {"reason", reason}, {"detail", detail}});
    };
    auto subject = engine::ParseSubject(delivery.subject());
    if (!subject || subject->kind == engine::SubjectKind::kCommand) {
      refuse("subject", subject ? "a command subject in the event stream" : subject.error().message);
      taken.push_back(item);
      continue;
    }
    const std::string key_name = subject->tenant + "/" + subject->gateway;
    auto found = keys.find(key_name);
    if (found == keys.end()) {
      auto gateway_keys = GatewayKeys(subject->tenant, subject->gateway);
      if (!gateway_keys) {
        if (gateway_keys.error().code == Errc::kUnavailable) {
          item.fate = Fate::kLater;
        } else if (gateway_keys.error().code == Errc::kNotFound) {
          // Perhaps enrolled soon: kept in the stream and offered again, never lost.
          ++counters_.unknown_gateway;
          core::LogWarning("message of a gateway that is not enrolled; offered again later",
                           {{"tenant", subject->tenant}, {"gateway", subject->gateway}});
          item.fate = Fate::kLater;
        } else {
          refuse("revoked", gateway_keys.error().message);
        }
        taken.push_back(item);
        continue;
      }
      found = keys.emplace(key_name, std::move(*gateway_keys)).first;
    }
    if (subject->kind == engine::SubjectKind::kStatus) {
      wire::StatusTracker tracker(&found->second);
      const wire::StatusVerdict verdict =
          tracker.Check(subject->tenant, subject->gateway, delivery.payload(), now);
      if (!verdict.accepted) {
        refuse("status_" + verdict.reason, verdict.detail);
        taken.push_back(item);
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
      if (verdict.status.heartbeat_interval.count() > 0)
        row.heartbeat_interval_seconds = verdict.status.heartbeat_interval.count();
      auto applied = ledger_.ApplyStatus(row);
      item.fate = applied ? Fate::kAckNow : Fate::kLater;
      if (applied) ++counters_.statuses;
      taken.push_back(item);
      continue;
    }
    auto opened = crypto::OpenEnvelope(delivery.payload(), decryption_keys_, found->second);
    if (!opened) {
      refuse(crypto::ToString(opened.error().reason), opened.error().message);
      taken.push_back(item);
      continue;
    }
    const auto kind = ledger::ParseKind(core::ToString(subject->event));
    auto message = kind ? ledger::ReadMessage(subject->tenant, subject->gateway, *kind, opened->body)
                        : Result<ledger::Message>(tl::unexpected(Error{Errc::kParse, "unknown kind"}));
    if (!message) {
      refuse("body", message.error().message);
      taken.push_back(item);
      continue;
    }
    item.fate = Fate::kStore;
    item.message = batch.size();
    batch.push_back(std::move(*message));
    taken.push_back(item);
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

  // Receipts: every event stored now or before, by gateway, a duplicate too (the gateway sends an event
  // again only when no receipt reached it).
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> receipts;
  for (Taken& item : taken) {
    if (item.fate != Fate::kStore) continue;
    const ledger::Message& message = batch[item.message];
    const ledger::MessageOutcome& outcome = outcomes.at(item.message);
    if (outcome.refused) {
      ++counters_.refused;
      core::LogWarning("message refused by the database",
                       {{"subject", item.delivery->subject()}, {"reason", outcome.refused->message}});
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
                         {{"event_id", event.event_id.ToString()}, {"subject", item.delivery->subject()}});
          break;
      }
    }
    item.fate = Fate::kAckNow;
  }
  for (const auto& [gateway, ids] : receipts)
    SendReceipts(gateway.first, gateway.second, ids);

  for (const Taken& item : taken) {
    Result<void> done;
    switch (item.fate) {
      case Fate::kAckNow:
        done = engine_.Ack(*item.delivery);
        break;
      case Fate::kRefuse:
        done = engine_.Term(*item.delivery);
        break;
      case Fate::kLater:
        done =
            engine_.Nak(*item.delivery, item.delivery->delivery_count() > 1 ? options_.unknown_gateway_retry
                                                                            : options_.store_failed_retry);
        break;
      case Fate::kStore:
        break;
    }
    // A failed acknowledgement: the message comes again and the ledger's event ids absorb it.
    if (!done) core::LogWarning("acknowledgement not sent", {{"reason", done.error().message}});
  }
  return fetched->size();
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
    if (auto published = engine_.Publish(*subject, *signed_command); !published) {
      ++counters_.receipts_failed;
      core::LogWarning("receipt not sent; the gateway sends the events again",
                       {{"gateway", gateway}, {"reason", published.error().message}});
      continue;
    }
    ++counters_.receipts_sent;
  }
}

}  // namespace ehg::hub
