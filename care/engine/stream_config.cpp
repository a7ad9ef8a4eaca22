#include "care/engine/stream_config.hpp"

#include <algorithm>

#include "care/engine/subjects.hpp"

namespace ehg::engine {
namespace {

template <typename Duration>
std::string MillisText(Duration duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count()) + " ms";
}

// One setting the server has otherwise: a setting it cannot change refuses the plan, any other makes
// it an update (unless it is refused already).
void Differs(Plan& plan, bool changeable, std::string line) {
  plan.differences.push_back(std::move(line));
  if (!changeable)
    plan.action = PlanAction::kRefuse;
  else if (plan.action == PlanAction::kNothing)
    plan.action = PlanAction::kUpdate;
}

}  // namespace

bool Captures(const StreamSettings& settings, std::string_view subject) {
  return std::any_of(settings.subjects.begin(), settings.subjects.end(),
                     [&](const std::string& pattern) { return SubjectMatches(pattern, subject); });
}

Result<void> CheckStreamSettings(const StreamSettings& settings) {
  if (settings.name.empty() || settings.name.find_first_of(".*> \t") != std::string::npos)
    return Fail(Errc::kInvalidArgument, "stream name empty or with '.', '*', '>' or white space");
  if (settings.subjects.empty()) return Fail(Errc::kInvalidArgument, "stream without subjects");
  // A command sent down must not come back to the hub as if a gateway had sent it.
  if (Captures(settings, "ehealth.v1.0000.x.cmd"))
    return Fail(Errc::kInvalidArgument, "stream subjects capture the commands (ehealth.v1.*.*.cmd)");
  if (settings.replicas < 1 || settings.replicas > 5)
    return Fail(Errc::kInvalidArgument, "stream replicas must be 1 to 5");
  if (settings.duplicate_window <= std::chrono::seconds(0) || settings.duplicate_window > settings.max_age)
    return Fail(Errc::kInvalidArgument, "duplicate window must be positive and at most the age limit");
  if (settings.max_bytes <= 0 || settings.max_message_bytes <= 0 ||
      settings.max_message_bytes > settings.max_bytes)
    return Fail(Errc::kInvalidArgument, "stream size limits must be positive, a message at most the stream");
  return {};
}

Result<void> CheckConsumerSettings(const ConsumerSettings& settings) {
  if (settings.durable.empty() || settings.durable.find_first_of(".*> \t") != std::string::npos)
    return Fail(Errc::kInvalidArgument, "durable name empty or with '.', '*', '>' or white space");
  if (settings.ack_wait < std::chrono::milliseconds(100))
    return Fail(Errc::kInvalidArgument, "ack wait below 100 ms");
  if (settings.max_ack_pending < 1) return Fail(Errc::kInvalidArgument, "max ack pending must be at least 1");
  return {};
}

Plan PlanStream(const StreamSettings& want, const std::optional<ObservedStream>& have) {
  if (!have) return {PlanAction::kCreate, {}};
  Plan plan;
  const auto differs = [&](bool changeable, std::string line) { Differs(plan, changeable, std::move(line)); };
  if (!have->file_storage) differs(false, "storage is memory, want file");
  if (!have->limits_retention) differs(false, "retention is not limits");
  std::vector<std::string> wanted = want.subjects;
  std::vector<std::string> present = have->subjects;
  std::sort(wanted.begin(), wanted.end());
  std::sort(present.begin(), present.end());
  if (wanted != present) differs(true, "subjects differ");
  if (have->replicas != want.replicas)
    differs(true, "replicas " + std::to_string(have->replicas) + ", want " + std::to_string(want.replicas));
  if (have->duplicate_window != want.duplicate_window)
    differs(true, "duplicate window " + MillisText(have->duplicate_window) + ", want " +
                      MillisText(want.duplicate_window));
  if (have->max_age != want.max_age)
    differs(true, "max age " + MillisText(have->max_age) + ", want " + MillisText(want.max_age));
  if (have->max_bytes != want.max_bytes)
    differs(true,
            "max bytes " + std::to_string(have->max_bytes) + ", want " + std::to_string(want.max_bytes));
  if (have->max_message_bytes != want.max_message_bytes)
    differs(true, "max message size " + std::to_string(have->max_message_bytes) + ", want " +
                      std::to_string(want.max_message_bytes));
  if (have->discard_new != want.discard_new)
    differs(true, std::string("discard ") + (have->discard_new ? "new" : "old") + ", want " +
                      (want.discard_new ? "new" : "old"));
  return plan;
}

Plan PlanConsumer(const ConsumerSettings& want, const std::optional<ObservedConsumer>& have) {
  if (!have) return {PlanAction::kCreate, {}};
  Plan plan;
  const auto differs = [&](bool changeable, std::string line) { Differs(plan, changeable, std::move(line)); };
  if (!have->explicit_ack) differs(false, "ack policy is not explicit");
  if (!have->deliver_all) differs(false, "deliver policy is not all");
  if (!have->pull) differs(false, "a push consumer, want pull");
  if (have->filter_subject != want.filter_subject)
    differs(false, "filtered on " + (have->filter_subject.empty() ? "nothing" : have->filter_subject) +
                       ", want " + (want.filter_subject.empty() ? "all" : want.filter_subject));
  if (have->ack_wait != want.ack_wait)
    differs(true, "ack wait " + MillisText(have->ack_wait) + ", want " + MillisText(want.ack_wait));
  if (have->max_ack_pending != want.max_ack_pending)
    differs(true, "max ack pending " + std::to_string(have->max_ack_pending) + ", want " +
                      std::to_string(want.max_ack_pending));
  return plan;
}

}  // namespace ehg::engine
