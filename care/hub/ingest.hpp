#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "care/engine/engine.hpp"
#include "care/ledger/ledger.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/result.hpp"
#include "gateway/crypto/keys.hpp"

// The hub's one job, one turn at a time: take messages from the engine's durable consumer, open and
// verify each with its gateway's enrolled key, store them in PostgreSQL in one transaction, answer every
// stored event (a duplicate too) with a signed receipt to its gateway, and only then acknowledge them to
// JetStream (docs/operations-hub.md#the-hub). Any number of hub instances run turns side by side: the
// durable consumer hands each message to one of them, and the ledger's unique event ids make a message
// that comes twice (a hub that died before its acknowledgement) one row.
namespace ehg::hub {

struct IngestOptions {
  int batch = 200;                                 // messages per turn at most
  std::chrono::milliseconds fetch_wait{500};       // for the first message of a turn
  std::chrono::seconds receipt_lifetime{3600};     // a receipt command's exp
  std::chrono::seconds unknown_gateway_retry{60};  // a message of a gateway not enrolled (yet)
  std::chrono::seconds store_failed_retry{5};      // the database did not answer: the turn's messages
  // Subjects (a NATS pattern, empty: none) that another lane's durable consumer stores: this lane
  // acknowledges them unopened. That consumer holds each until a lane of its own stored it, so nothing is
  // lost; storing it here as well only doubled the work, and this lane's long transaction held the other's
  // insert of the same event id until it committed (docs/operations-hub.md#the-hub).
  std::string left_to_another_lane;
  std::string lane = "main";  // named in the debug lines
  // After the turn's receipts and acknowledgements, one round trip (Flush) to see they reached the engine,
  // before the next turn. Without it the client sends them within a millisecond by itself, and a failure
  // shows as a redelivery (a duplicate) or a resend by the gateway, never a loss. The alert lane does not
  // wait: on a busy engine that round trip took 200 to 560 ms, and the next alert waited for it.
  bool confirm_turn = true;
  // Threads that open a turn's events (OpenMessages), this one among them: opening is most of a turn's
  // CPU, and meanwhile the engine and the database are idle (measured in hub_ingest_bench: one instance
  // used about half of two cores opening, storing and acknowledging one step after another).
  int open_threads = 2;
};

struct IngestCounters {
  std::uint64_t messages = 0;    // fetched
  std::uint64_t events_new = 0;  // stored for the first time
  std::uint64_t events_duplicate = 0;
  std::uint64_t events_conflict = 0;  // an id stored for another gateway or kind: no receipt
  std::uint64_t statuses = 0;         // verified and applied
  std::uint64_t refused = 0;          // did not open, verify or read: terminated, logged
  std::uint64_t unknown_gateway = 0;  // no enrolled key: handed back for later
  std::uint64_t receipts_sent = 0;
  std::uint64_t receipts_failed = 0;       // not published: the gateway sends the events again
  std::uint64_t store_failures = 0;        // the turn's messages handed back
  std::uint64_t left_to_another_lane = 0;  // acknowledged unopened (IngestOptions::left_to_another_lane)
};

class Ingest {
 public:
  // `lookahead`, a second connection to the same database, or null. Given one, the lane is a pipeline:
  // while a turn stores and acknowledges on `ledger`, the next turn's messages are fetched, their
  // gateways' keys looked up on `lookahead`, and opened, on a thread of its own (measured in
  // hub_ingest_bench: storing took 1.2 ms a message and opening 0.8, one after the other, with the
  // database or the hub idle meanwhile; with the turn ahead one instance took 2.2 ms a message, not 2.5).
  // The fetched messages wait at most one turn unacknowledged; should that outlast the consumer's ack
  // wait, they come again and the ledger's event ids absorb them. A message looked up just before its
  // gateway was revoked is still stored, as a turn earlier would have. Without one (the alert lane,
  // whose turns are short), each turn fetches, opens, stores and acknowledges in turn.
  // `clock` is read from both threads.
  Ingest(IngestOptions options, engine::Engine& engine, ledger::Ledger& ledger,
         crypto::KeySet decryption_keys, crypto::EcKey signing_key, core::Clock& clock,
         ledger::Ledger* lookahead = nullptr);

  // One turn. An error only when the engine could not be read; everything about single messages is
  // counted and logged.
  Result<std::size_t> Turn();
  const IngestCounters& counters() const { return counters_; }

 private:
  // What became of one delivery in a turn.
  enum class Fate { kStore, kAckNow, kRefuse, kLater };
  struct Taken {
    std::size_t delivery = 0;  // index into Prepared::deliveries
    Fate fate = Fate::kRefuse;
    std::size_t message = 0;  // index into Prepared::batch, for kStore
  };
  // A turn's messages fetched, sorted and opened: nothing stored or acknowledged yet. Made on the
  // pipeline's thread or the lane's, so what it counts waits here until the lane folds it in.
  struct Prepared {
    std::vector<engine::Delivery> deliveries;
    core::WallTime fetch_began{};
    core::WallTime fetched{};
    std::vector<Taken> taken;            // one per delivery, in their order
    std::vector<ledger::Message> batch;  // the opened events, to store
    std::vector<ledger::StatusRow> statuses;
    std::vector<std::size_t> status_of;  // index into `taken` of each status
    IngestCounters counted;              // messages, refused, unknown_gateway, left_to_another_lane
  };

  // A fetch that waits up to fetch_wait, and what Prepare makes of it; `keys_from` for the lookup.
  Result<Prepared> FetchAndPrepare(ledger::Ledger& keys_from);
  // The pipeline's next turn when there is one with messages, else FetchAndPrepare on the lane's ledger.
  Result<Prepared> NextPrepared();
  // Opens and verifies the turn's messages. Touches neither counters_ nor ledger_.
  void Prepare(Prepared& turn, ledger::Ledger& keys_from) const;
  // Stores, answers and acknowledges a prepared turn, on the lane's thread.
  void Commit(Prepared& turn);
  // The verification keys of every gateway the turn's messages name, in one ledger call.
  Result<std::map<ledger::GatewayRef, Result<crypto::KeySet>>> GatewayKeys(
      const std::vector<engine::Delivery>& deliveries, ledger::Ledger& keys_from) const;
  bool LeftToAnotherLane(const std::string& subject) const;
  void SendReceipts(const std::string& tenant, const std::string& gateway,
                    const std::vector<std::string>& event_ids);

  IngestOptions options_;
  engine::Engine& engine_;
  ledger::Ledger& ledger_;
  crypto::KeySet decryption_keys_;
  crypto::EcKey signing_key_;
  core::Clock& clock_;
  ledger::Ledger* lookahead_;
  core::EventIdGenerator ids_;
  IngestCounters counters_;
  // The pipeline's next turn (see the constructor); its destructor waits for it (at most fetch_wait and
  // one opening).
  std::future<Result<Prepared>> next_;
};

}  // namespace ehg::hub
