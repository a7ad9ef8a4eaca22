#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "care/engine/stream_config.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/result.hpp"

// The hub's thin adapter over the NATS C client (nats.c): the connection to the engine's cluster, the
// event stream, the durable pull consumer shared by every hub instance, and publishing receipts and
// commands to a gateway (docs/operations-hub.md#the-engine). nats.c stays in engine.cpp.
namespace ehg::engine {

struct EngineOptions {
  // Every node, tls://host:port; the client tries them in turn and reconnects for ever.
  std::vector<std::string> servers;
  // TLS: the cluster's CA, and this hub's client certificate (its URI urn:ehealth:hub names the hub user).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string name = "ehealth-hub";  // shown in the servers' connection lists
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{250};  // after trying every server once
  std::chrono::milliseconds api_timeout{5000};    // a JetStream API request, an acknowledgement, a flush
  // A connection whose server stops answering pings (max_pings_out in a row) is dropped and made again.
  // nats.c's default (2 min, 2 pings) leaves a hub deaf for minutes; after a node of the cluster was
  // killed we saw a connection stay "connected" with every request and flush timing out
  // (docs/operations-hub.md#losing-a-node).
  std::chrono::milliseconds ping_interval{5000};
  int max_pings_out = 2;
  StreamSettings stream;
  ConsumerSettings consumer;
};

// One message handed out by the durable consumer. The caller decides what happens to it: Ack after its
// own commit, Nak to have it again later, Term to never see it again. Dropped without any of them, it
// comes back after the consumer's ack wait (to this or another hub instance). A Delivery must not outlive
// the Engine that fetched it.
class Delivery {
 public:
  Delivery(std::string subject, std::string payload, std::uint64_t stream_sequence,
           std::uint64_t delivery_count, core::WallTime stored_at, std::shared_ptr<void> message);

  const std::string& subject() const { return subject_; }
  const std::string& payload() const { return payload_; }
  std::uint64_t stream_sequence() const { return stream_sequence_; }
  // 1 on the first delivery, more after an ack wait ran out or a Nak.
  std::uint64_t delivery_count() const { return delivery_count_; }
  // When the stream stored it (its leader's clock, JetStream's metadata); the epoch when not known.
  core::WallTime stored_at() const { return stored_at_; }

 private:
  friend class Engine;
  std::string subject_;
  std::string payload_;
  std::uint64_t stream_sequence_ = 0;
  std::uint64_t delivery_count_ = 0;
  core::WallTime stored_at_{};
  std::shared_ptr<void> message_;  // nats.c's natsMsg, destroyed with the last copy
};

struct StreamState {
  std::uint64_t messages = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  int replicas = 0;
  std::string leader;         // server name of the stream's leader, empty while there is none
  int current_followers = 0;  // replicas (besides the leader) that are current
};

// What a connection sent and received, in messages (publishes, acknowledgements, requests and their
// replies; not the protocol's pings).
struct Traffic {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
};

// Thread-safe except Fetch, which one thread at a time calls (nats.c refuses concurrent fetches on one
// subscription). Several hub instances each have their own Engine and share the durable consumer.
class Engine {
 public:
  // Starts connecting and returns at once: while no server is reachable the client keeps trying (for
  // ever), and the calls below fail with Errc::kUnavailable. Fails only for unusable options (no
  // servers, unreadable certificate files).
  static Result<std::unique_ptr<Engine>> Connect(EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  bool connected() const;
  bool WaitConnected(std::chrono::milliseconds timeout) const;
  // The URL of the server this instance is connected to, empty when none (for logs and diagnosis).
  std::string connected_server() const;

  // Creates the stream, or updates it to the settings where the server can; refuses (kRejected) when it
  // differs in storage or retention. Idempotent: every hub instance calls it at start.
  Result<void> EnsureStream();
  // The same for the durable pull consumer, then binds this instance to it.
  Result<void> EnsureConsumer();

  // Up to `max` messages, waiting at most `timeout` for the first; an empty list when none came.
  Result<std::vector<Delivery>> Fetch(int max, std::chrono::milliseconds timeout);
  // Acknowledges and waits for the server's confirmation: once this succeeds the message is not handed
  // out again. A failure (connection lost) means it may come back, which the caller's idempotent write
  // absorbs.
  Result<void> Ack(const Delivery& delivery);
  // Acknowledges without waiting; Flush() after a turn's acks is one round trip for all of them. An ack
  // lost on the way is a redelivery, which the caller's idempotent write absorbs: the price of a lost ack
  // is a duplicate, never a loss.
  Result<void> AckWithoutConfirmation(const Delivery& delivery);
  // Without waiting either: a lost Nak is the same message again after the ack wait instead of the delay,
  // a lost Term the message again, refused again.
  Result<void> Nak(const Delivery& delivery, std::chrono::milliseconds delay);
  Result<void> Term(const Delivery& delivery);

  // Messages this instance's connection sent and received so far (nats.c's statistics).
  Result<Traffic> ClientTraffic() const;

  // Core NATS publish, flushed: the server has it when this returns. NATS MQTT hands it to a subscribed
  // gateway at QoS 0 and only while it is connected (docs/operations-hub.md#the-engine).
  Result<void> Publish(std::string_view subject, std::string_view payload);
  // The same without the flush: the client sends it within milliseconds, Flush() confirms it.
  Result<void> PublishWithoutFlush(std::string_view subject, std::string_view payload);
  // One round trip: what was sent before it (publishes, acks, naks) has reached the server.
  Result<void> Flush();

  Result<StreamState> StreamInfo();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ehg::engine
