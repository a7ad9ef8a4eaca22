#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "care/engine/subjects.hpp"
#include "care/ledger/rows.hpp"
#include "gateway/crypto/keys.hpp"

// The CPU of a hub's turn: opening each sealed message (decrypt, verify the gateway's signature) and
// reading its rows, about 1.8 ms for an observation Bundle of 50 readings. Pure, so a turn's messages
// can be opened on several threads while the engine and the database are idle; everything the turn
// decides about them (logging, counting, storing, acknowledging) stays on its own thread.
namespace ehg::hub {

struct SealedMessage {
  std::string_view payload;                      // as the engine delivered it; outlives the call
  const crypto::KeySet* gateway_keys = nullptr;  // the gateway's enrolled keys
  engine::GatewaySubject subject;                // an event subject (kind kEvent)
};

struct OpenedMessage {
  std::optional<ledger::Message> message;  // the rows, or nullopt when refused
  std::string refusal;                     // why: the envelope's refusal, or "body"
  std::string detail;
};

// One message: its envelope opened with `decryption_keys` and verified with its gateway's keys, then its
// body read as rows of its subject's kind.
OpenedMessage OpenMessage(const SealedMessage& sealed, const crypto::KeySet& decryption_keys);

// Every message, in order, on up to `threads` threads (this one among them; at least one message each,
// so a few messages stay on this thread). The keys are only read meanwhile. When a thread cannot be
// started, the others open its share.
std::vector<OpenedMessage> OpenMessages(const std::vector<SealedMessage>& sealed,
                                        const crypto::KeySet& decryption_keys, int threads);

}  // namespace ehg::hub
