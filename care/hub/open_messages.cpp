#include "care/hub/open_messages.hpp"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

#include "gateway/core/event.hpp"
#include "gateway/crypto/envelope.hpp"

namespace ehg::hub {

OpenedMessage OpenMessage(const SealedMessage& sealed, const crypto::KeySet& decryption_keys) {
  OpenedMessage result;
  auto opened = crypto::OpenEnvelope(sealed.payload, decryption_keys, *sealed.gateway_keys);
  if (!opened) {
    result.refusal = crypto::ToString(opened.error().reason);
    result.detail = opened.error().message;
    return result;
  }
  const auto kind = ledger::ParseKind(core::ToString(sealed.subject.event));
  auto message = kind
                     ? ledger::ReadMessage(sealed.subject.tenant, sealed.subject.gateway, *kind, opened->body)
                     : Result<ledger::Message>(tl::unexpected(Error{Errc::kParse, "unknown kind"}));
  if (!message) {
    result.refusal = "body";
    result.detail = message.error().message;
    return result;
  }
  result.message = std::move(*message);
  return result;
}

std::vector<OpenedMessage> OpenMessages(const std::vector<SealedMessage>& sealed,
                                        const crypto::KeySet& decryption_keys, int threads) {
  std::vector<OpenedMessage> opened(sealed.size());
  // Each thread takes the next message not yet taken: messages differ in size, and a thread that could
  // not be started leaves nothing behind.
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < sealed.size(); i = next++)
      opened[i] = OpenMessage(sealed[i], decryption_keys);
  };
  const std::size_t helpers =
      std::min(static_cast<std::size_t>(std::max(threads, 1) - 1), sealed.size() > 0 ? sealed.size() - 1 : 0);
  std::vector<std::thread> started;
  started.reserve(helpers);
  for (std::size_t i = 0; i < helpers; ++i) {
    try {
      started.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // out of threads: this one and those started open the rest
    }
  }
  work();
  for (std::thread& thread : started)
    thread.join();
  return opened;
}

}  // namespace ehg::hub
