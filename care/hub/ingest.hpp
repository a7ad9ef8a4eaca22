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
  // After a turn that fetched something, the next turn's fetch is asked for on a thread of its own while
  // this one opens, stores and acknowledges: the engine fills it meanwhile (measured in hub_ingest_bench:
  // a fetch of 200 Bundles took 0.74 ms a message, a third of a turn, with the database idle). Off for
  // the alert lane, whose turns are short. The fetched messages wait at most one turn; should that outlast
  // the consumer's ack wait, they come again and the ledger's event ids absorb them.
  bool prefetch = true;
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
  Ingest(IngestOptions options, engine::Engine& engine, ledger::Ledger& ledger,
         crypto::KeySet decryption_keys, crypto::EcKey signing_key, core::Clock& clock);

  // One turn. An error only when the engine could not be read; everything about single messages is
  // counted and logged.
  Result<std::size_t> Turn();
  const IngestCounters& counters() const { return counters_; }

 private:
  // The verification keys of every gateway the turn's messages name, in one ledger call.
  Result<std::map<ledger::GatewayRef, Result<crypto::KeySet>>> GatewayKeys(
      const std::vector<engine::Delivery>& deliveries);
  // The prefetched messages when there are any, else a fetch that waits up to fetch_wait.
  Result<std::vector<engine::Delivery>> Fetch();
  bool LeftToAnotherLane(const std::string& subject) const;
  void SendReceipts(const std::string& tenant, const std::string& gateway,
                    const std::vector<std::string>& event_ids);

  IngestOptions options_;
  engine::Engine& engine_;
  ledger::Ledger& ledger_;
  crypto::KeySet decryption_keys_;
  crypto::EcKey signing_key_;
  core::Clock& clock_;
  core::EventIdGenerator ids_;
  IngestCounters counters_;
  // The next turn's fetch (IngestOptions::prefetch); its destructor waits for it (at most fetch_wait).
  std::future<Result<std::vector<engine::Delivery>>> next_fetch_;
};

}  // namespace ehg::hub
