// The hub reads every body a gateway signed into database rows (care/ledger/rows.hpp). A gateway is
// outside the hub: a buggy or stolen one signs what it likes. Any bytes must give rows or an error,
// never a crash, a hang or an out-of-bounds read, and rows that were read must be whole. The first byte
// picks what the rest is read as: an event of one of the five kinds, a status, or a topic.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "care/ledger/rows.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ehg::ledger;
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const unsigned selector = data[0] % 7u;
  if (selector == 5) {
    (void)ReadStatus("0301", "demo-gw-01", body);
    return 0;
  }
  if (selector == 6) {
    (void)ParseTopic(body);
    return 0;
  }
  const Kind kind = static_cast<Kind>(selector);
  auto message = ReadMessage("0301", "demo-gw-01", kind, body);
  if (!message) {
    if (message.error().message.empty()) std::abort();  // every refusal says why
    return 0;
  }
  if (message->events.empty() || message->events.size() > kMaxBundleEntries) std::abort();
  for (const ObservationRow& row : message->observations) {
    const bool owned =
        std::any_of(message->events.begin(), message->events.end(),
                    [&](const IngestedEvent& event) { return event.event_id == row.event_id; });
    if (!owned || row.metric.empty() || row.flags.size() > kMaxFlags) std::abort();
  }
  if (kind != Kind::kObservation && message->events.size() != 1) std::abort();
  return 0;
}
