#include "alerts/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "gateway/core/bug.hpp"
#include "gateway/core/device_time.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::alerts {
namespace {

// Re-sent readings are recognised among this many of the newest of their source.
constexpr std::size_t kRecentPerSource = 32;

enum class Verdict { kBreach, kDeadBand, kClear };

// One look at a rule's condition.
struct Observation {
  core::WallTime time{};
  Verdict verdict = Verdict::kClear;
  double value = 0;  // becomes the alert's worst_value when it is worse
  std::vector<Evidence> evidence;
  std::optional<double> reference;
  std::optional<News2Score> news2;
  std::optional<Severity> severity;  // instead of the rule's (NEWS2 follows the risk)
};

// Larger = worse, for comparing an open alert's repeats with its worst value.
using Badness = std::function<double(double)>;

struct Subject {
  std::string rule_id;
  std::string device_id;
  std::string metric;
  std::string Key() const { return AlertKey(rule_id, device_id); }
};

Evidence EvidenceOf(const core::Reading& reading) {
  return Evidence{reading.device_id, reading.metric, reading.value, reading.unit, reading.EffectiveTime()};
}

// Keeps the first item (what started it) and the most recent ones.
void AddBounded(std::vector<Evidence>& list, Evidence evidence) {
  if (list.size() >= Alert::kMaxEvidence) list.erase(list.begin() + 1);
  list.push_back(std::move(evidence));
}

std::string SourceKey(const std::string& device_id, const std::string& metric) {
  return device_id + '\x1f' + metric;
}

bool IsEventMetric(const std::string& metric) {
  const core::MetricInfo* info = core::FindMetric(metric);
  return info != nullptr && info->kind == core::MetricKind::kEvent;
}

Severity ForRisk(News2Risk risk) {
  switch (risk) {
    case News2Risk::kHigh:
      return Severity::kCritical;
    case News2Risk::kMedium:
      return Severity::kHigh;
    case News2Risk::kLowMedium:
      return Severity::kMedium;
    case News2Risk::kLow:
      break;
  }
  return Severity::kLow;
}

// One evaluation pass over the state: raises, updates and resolves alerts and records what changed.
class Pass {
 public:
  Pass(EngineState& state, core::WallTime now, const NewAlertId& new_alert_id, Evaluation& out)
      : state_(state), now_(now), new_alert_id_(new_alert_id), out_(out) {}

  RuleState Rule(const std::string& key) const {
    const auto found = state_.rules.find(key);
    return found != state_.rules.end() ? found->second : RuleState{};
  }

  void Save(const std::string& key, const RuleState& rule) {
    const auto found = state_.rules.find(key);
    if (rule.empty()) {
      if (found == state_.rules.end()) return;
      state_.rules.erase(found);
    } else if (found == state_.rules.end()) {
      state_.rules.emplace(key, rule);
    } else if (found->second == rule) {
      return;
    } else {
      found->second = rule;
    }
    out_.rule_states_changed.insert(key);
  }

  Alert* Open(const std::string& key) {
    const auto found = state_.open.find(key);
    return found != state_.open.end() ? &found->second : nullptr;
  }

  void Raise(const Subject& subject, const RuleCommon& common, const Observation& observation) {
    Alert alert;
    alert.alert_id = new_alert_id_();
    alert.rule_id = subject.rule_id;
    alert.device_id = subject.device_id;
    alert.metric = subject.metric;
    alert.severity = std::max(common.severity, observation.severity.value_or(common.severity));
    alert.raised_at = now_;
    alert.updated_at = now_;
    alert.worst_value = observation.value;
    for (const Evidence& evidence : observation.evidence)
      AddBounded(alert.evidence, evidence);
    alert.reference_value = observation.reference;
    alert.news2 = observation.news2;
    alert.escalation = common.escalation;
    if (common.escalation) alert.next_escalation_at = now_ + common.escalation->after;
    alert.last_published_at = now_;
    out_.changes.push_back({ChangeKind::kRaised, alert});
    state_.open.insert_or_assign(subject.Key(), std::move(alert));
  }

  // A repeat while open: counted, and sent as an update only when it matters (or always: events).
  void Repeat(Alert& alert, const Observation& observation, const Badness& badness,
              bool always_publish = false) {
    ++alert.occurrences;
    alert.updated_at = now_;
    const bool worse = badness(observation.value) > badness(alert.worst_value);
    const Severity severity = std::max(alert.severity, observation.severity.value_or(alert.severity));
    const bool severity_raised = severity > alert.severity;
    alert.severity = severity;
    if (worse) {
      alert.worst_value = observation.value;
      if (observation.news2) alert.news2 = observation.news2;
      if (observation.reference) alert.reference_value = observation.reference;
    }
    if (!observation.evidence.empty()) AddBounded(alert.evidence, observation.evidence.back());
    const bool due = !alert.last_published_at || now_ - *alert.last_published_at >= kRepeatUpdateInterval;
    if (always_publish || worse || severity_raised || due) {
      alert.last_published_at = now_;
      out_.changes.push_back({ChangeKind::kUpdated, alert});
    } else {
      ++alert.suppressed_repeats;
      ++out_.suppressed_repeats;
      out_.alerts_touched.insert(alert.Key());
    }
  }

  void Resolve(const std::string& key, std::string_view by, std::string_view note,
               const std::optional<Evidence>& evidence) {
    const auto found = state_.open.find(key);
    if (found == state_.open.end()) return;
    Alert alert = std::move(found->second);
    state_.open.erase(found);
    alert.state = AlertState::kResolved;
    alert.resolved_at = now_;
    alert.resolved_by = std::string(by);
    alert.resolution_note = std::string(note);
    alert.updated_at = now_;
    alert.next_escalation_at.reset();
    alert.last_published_at = now_;
    if (evidence) AddBounded(alert.evidence, *evidence);
    out_.changes.push_back({ChangeKind::kResolved, std::move(alert)});
  }

  // Persistence, repeats and clearing for the rules that compare a number with a limit. A `late`
  // observation is older than one of its metric already evaluated (or a stored record taken at an
  // unknown time): it may raise or repeat, but never clears, resolves or restarts anything that newer
  // readings established (docs/rules.md, "Time"). Nothing older than kLateHorizon raises.
  void Step(const Subject& subject, const RuleCommon& common, const Persistence& persistence,
            const Observation& observation, const Badness& badness, bool late = false) {
    const std::string key = subject.Key();
    if (now_ - observation.time > kLateHorizon) {
      ++out_.late_beyond_horizon;
      return;
    }
    RuleState rule = Rule(key);
    const bool breach = observation.verdict == Verdict::kBreach;
    const VerdictRun& run = Record(key, observation, badness, persistence.for_duration);
    if (Alert* alert = Open(key)) {
      if (breach) {
        // A late breach from before the condition began to clear does not restart the clearing.
        if (!late || (rule.clear_since && observation.time >= *rule.clear_since)) rule.clear_since.reset();
        Repeat(*alert, observation, badness);
      } else if (late) {
        return;
      } else if (observation.verdict == Verdict::kDeadBand) {
        rule.clear_since.reset();
      } else {
        if (!rule.clear_since) rule.clear_since = observation.time;
        if (observation.time - *rule.clear_since >= common.clear_for) {
          std::optional<Evidence> last;
          if (!observation.evidence.empty()) last = observation.evidence.back();
          Resolve(key, kResolvedByCondition, {}, last);
          rule = Afresh(rule, observation.time);
        }
      }
      Save(key, rule);
      return;
    }
    rule.clear_since.reset();
    if (rule.rearm_required) {
      if (observation.verdict == Verdict::kClear && !late) rule.rearm_required = false;
      Save(key, rule);
      return;
    }
    const auto gap = persistence.for_duration;
    if (!late) {
      if (!breach) {
        rule.pending_since.reset();
        rule.last_breach.reset();
        rule.pending_evidence.clear();
        Save(key, rule);
        return;
      }
      const bool continues = rule.pending_since && rule.last_breach &&
                             observation.time >= *rule.last_breach &&
                             observation.time - *rule.last_breach <= gap;
      if (!continues) {
        rule.pending_since = observation.time;
        rule.pending_evidence.clear();
      }
      rule.last_breach = observation.time;
      for (const Evidence& evidence : observation.evidence)
        AddBounded(rule.pending_evidence, evidence);
      if (observation.time - *rule.pending_since >= gap) {
        Observation raised = observation;
        raised.evidence = rule.pending_evidence;
        RaiseFor(subject, common, raised, *rule.pending_since, rule);
      } else if (run.last - run.first >= gap && !Alerted(rule, run.first, run.last)) {
        // Late breaches just before it (a clock that stepped back a little, a second device) complete it.
        RaiseFromRun(run, subject, common, observation, rule);
      }
      Save(key, rule);
      return;
    }
    if (!breach) return;
    // Late: the run of breaches around it by effective time decides, together with the breach that newer
    // readings are pending on when nothing non-breaching lies between the two (after a restart the runs
    // start empty, the pending state does not).
    core::WallTime first = run.first;
    core::WallTime last = run.last;
    if (rule.pending_since && rule.last_breach && last >= *rule.pending_since - gap &&
        first <= *rule.last_breach && !NonBreachBetween(key, last, *rule.pending_since)) {
      first = std::min(first, *rule.pending_since);
      last = std::max(last, *rule.last_breach);
    }
    if (last - first >= gap && !Alerted(rule, first, last))
      RaiseFromRun(run, subject, common, observation, rule);
    Save(key, rule);
  }

  // Whether an alert of the rule was raised for a breach overlapping [first, last].
  static bool Alerted(const RuleState& rule, core::WallTime first, core::WallTime last) {
    return std::any_of(rule.alerted.begin(), rule.alerted.end(),
                       [&](const AlertedSpan& span) { return span.first <= last && span.last >= first; });
  }

  // Whether the rule's runs hold a non-breach reading strictly between the two times.
  bool NonBreachBetween(const std::string& key, core::WallTime after, core::WallTime before) const {
    const auto found = state_.runs.find(key);
    if (found == state_.runs.end()) return false;
    return std::any_of(found->second.begin(), found->second.end(), [&](const VerdictRun& run) {
      return !run.breach && run.last > after && run.first < before;
    });
  }

  // The rule state after an alert was resolved at `resolved` (effective time): nothing pending, the
  // alert's span closed and kept for the late readings of the next kLateHorizon.
  RuleState Afresh(const RuleState& rule, core::WallTime resolved) const {
    RuleState fresh;
    const core::WallTime horizon = now_ - kLateHorizon;
    for (AlertedSpan span : rule.alerted) {
      if (span.last == core::WallTime::max()) span.last = resolved;
      if (span.last >= horizon) fresh.alerted.push_back(span);
    }
    return fresh;
  }

  void RaiseFor(const Subject& subject, const RuleCommon& common, const Observation& observation,
                core::WallTime breach_began, RuleState& rule) {
    Raise(subject, common, observation);
    RuleState fresh = Afresh(rule, now_);
    core::WallTime first = breach_began;
    for (const Evidence& evidence : observation.evidence)
      first = std::min(first, evidence.time);
    fresh.alerted.push_back({first, core::WallTime::max()});
    rule = std::move(fresh);
  }

  void RaiseFromRun(const VerdictRun& run, const Subject& subject, const RuleCommon& common,
                    const Observation& observation, RuleState& rule) {
    Observation raised = observation;
    raised.value = run.worst;
    raised.evidence = run.evidence;
    RaiseFor(subject, common, raised, std::min(run.first, rule.pending_since.value_or(run.first)), rule);
  }

  // Puts the observation into the rule's verdict runs (merging, extending or splitting them) and returns
  // the run that holds it. Breach runs never bridge a gap longer than `gap` (the rule's `for`).
  const VerdictRun& Record(const std::string& key, const Observation& observation, const Badness& badness,
                           std::chrono::seconds gap) {
    std::vector<VerdictRun>& runs = state_.runs[key];
    const core::WallTime horizon = now_ - kLateHorizon - gap;
    if (!runs.empty() && runs.front().last < horizon) {
      runs.erase(runs.begin(), std::find_if(runs.begin(), runs.end(),
                                            [&](const VerdictRun& run) { return run.last >= horizon; }));
    }
    if (runs.size() >= kMaxVerdictRuns) runs.erase(runs.begin(), runs.begin() + kMaxVerdictRuns / 8);

    const bool breach = observation.verdict == Verdict::kBreach;
    const core::WallTime time = observation.time;
    const auto add = [&](VerdictRun& run) {
      if (!breach) return;  // only breach runs raise, and only they need their evidence
      if (run.evidence.empty() || badness(observation.value) > badness(run.worst))
        run.worst = observation.value;
      for (const Evidence& evidence : observation.evidence)
        AddBounded(run.evidence, evidence);
    };
    const auto fresh = [&] {
      VerdictRun run{time, time, breach, observation.value, {}};
      add(run);
      return run;
    };
    // Breaches join across gaps up to `for` (the rule's own definition of persisting). Other readings
    // join only across gaps up to half of it: a late breach that falls inside such a run then has a
    // non-breach reading within for/2 on each side, so the run's span standing for "not breaching" can
    // never hide a breach that persisted for `for` (with `for` 0 nothing needs to persist).
    const auto joins = [&](const VerdictRun& run, core::WallTime earlier, core::WallTime later) {
      if (run.breach != breach) return false;
      return breach ? later - earlier <= gap : gap.count() == 0 || later - earlier <= gap / 2;
    };
    auto next = std::upper_bound(runs.begin(), runs.end(), time,
                                 [](core::WallTime at, const VerdictRun& run) { return at < run.first; });
    if (next != runs.begin() && std::prev(next)->last >= time) {
      auto containing = std::prev(next);
      if (containing->breach == breach) {
        add(*containing);
        return *containing;
      }
      // A different verdict inside a run splits it around this reading.
      VerdictRun right = *containing;
      right.first = time + std::chrono::milliseconds{1};
      std::vector<VerdictRun> pieces;
      if (containing->first < time) {
        containing->last = time - std::chrono::milliseconds{1};
        ++containing;
      } else {
        containing = runs.erase(containing);
      }
      pieces.push_back(fresh());
      if (right.first <= right.last) pieces.push_back(std::move(right));
      const auto placed = runs.insert(containing, pieces.begin(), pieces.end());
      return *placed;
    }
    const bool with_previous = next != runs.begin() && joins(*std::prev(next), std::prev(next)->last, time);
    const bool with_next = next != runs.end() && joins(*next, time, next->first);
    if (with_previous) {
      VerdictRun& previous = *std::prev(next);
      previous.last = time;
      add(previous);
      if (with_next) {
        previous.last = next->last;
        if (breach && badness(next->worst) > badness(previous.worst)) previous.worst = next->worst;
        for (const Evidence& evidence : next->evidence)
          AddBounded(previous.evidence, evidence);
        const auto index = std::prev(next) - runs.begin();
        runs.erase(next);
        return runs[static_cast<std::size_t>(index)];
      }
      return previous;
    }
    if (with_next) {
      VerdictRun joined = fresh();
      joined.last = next->last;
      if (breach && badness(next->worst) > badness(joined.worst)) joined.worst = next->worst;
      for (const Evidence& evidence : next->evidence)
        AddBounded(joined.evidence, evidence);
      *next = std::move(joined);
      return *next;
    }
    return *runs.insert(next, fresh());
  }

  EngineState& state() { return state_; }
  core::WallTime now() const { return now_; }
  Evaluation& out() { return out_; }

 private:
  EngineState& state_;
  core::WallTime now_;
  const NewAlertId& new_alert_id_;
  Evaluation& out_;
};

double Identity(double value) {
  return value;
}
double Magnitude(double value) {
  return std::fabs(value);
}
double Constant(double) {
  return 0;
}

Verdict Judge(bool breach, bool clear) {
  if (breach) return Verdict::kBreach;
  return clear ? Verdict::kClear : Verdict::kDeadBand;
}

Observation ThresholdObservation(const ThresholdRule& rule, const core::Reading& reading) {
  const double value = reading.value;
  const double hysteresis = rule.persistence.hysteresis;
  const bool breach = (rule.above && value > *rule.above) || (rule.below && value < *rule.below);
  const bool clear = (!rule.above || value <= *rule.above - hysteresis) &&
                     (!rule.below || value >= *rule.below + hysteresis);
  return Observation{reading.EffectiveTime(), Judge(breach, clear), value, {EvidenceOf(reading)}, {}, {}, {}};
}

double ThresholdExcess(const ThresholdRule& rule, double value) {
  double excess = -1e300;
  if (rule.above) excess = std::max(excess, value - *rule.above);
  if (rule.below) excess = std::max(excess, *rule.below - value);
  return excess;
}

std::optional<Observation> TrendObservation(const TrendRule& rule, const BucketWindow& window,
                                            const core::Reading& reading) {
  const core::WallTime time = reading.EffectiveTime();
  const WindowSummary summary = window.Query(time - rule.window, time);
  if (summary.count == 0) return std::nullopt;
  const double rise = reading.value - summary.lowest.value;
  const double fall = summary.highest.value - reading.value;
  const double hysteresis = rule.persistence.hysteresis;
  const bool rise_breach = rule.rise && rise > *rule.rise;
  const bool fall_breach = rule.fall && fall > *rule.fall;
  const bool clear =
      (!rule.rise || rise <= *rule.rise - hysteresis) && (!rule.fall || fall <= *rule.fall - hysteresis);
  // The change is signed: positive for a rise. The evidence starts with the reading it is measured from.
  const bool rising = rise_breach || (!fall_breach && rule.rise && (!rule.fall || rise >= fall));
  const Evidence& from = rising ? summary.lowest : summary.highest;
  const double change = rising ? rise : -fall;
  return Observation{
      time, Judge(rise_breach || fall_breach, clear), change, {from, EvidenceOf(reading)}, from.value, {},
      {}};
}

std::optional<Observation> BaselineObservation(const BaselineRule& rule, const BucketWindow& window,
                                               const core::Reading& reading) {
  const core::WallTime time = reading.EffectiveTime();
  const WindowSummary summary = window.Query(time - rule.baseline_window, time);
  if (summary.count < rule.min_readings || summary.count == 0) return std::nullopt;
  const double baseline = summary.Mean();
  const double deviation = reading.value - baseline;
  const double hysteresis = rule.persistence.hysteresis;
  const bool breach =
      (rule.above_by && deviation > *rule.above_by) || (rule.below_by && -deviation > *rule.below_by);
  const bool clear = (!rule.above_by || deviation <= *rule.above_by - hysteresis) &&
                     (!rule.below_by || -deviation <= *rule.below_by - hysteresis);
  return Observation{time, Judge(breach, clear), deviation, {EvidenceOf(reading)}, baseline, {}, {}};
}

bool IsNews2Metric(const std::string& metric) {
  static const std::set<std::string> kMetrics{
      "respiration_rate", "spo2",       "supplemental_oxygen", "bp.systolic",
      "pulse_rate",       "heart_rate", "consciousness",       "body_temperature"};
  return kMetrics.count(metric) > 0;
}

std::optional<Observation> News2Observation(const News2Rule& rule, const EngineState& state,
                                            core::WallTime time) {
  News2Inputs inputs;
  std::vector<Evidence> used;
  const auto fresh = [&](const std::string& metric) -> const Evidence* {
    const auto found = state.latest_by_metric.find(metric);
    if (found == state.latest_by_metric.end()) return nullptr;
    const Evidence& evidence = found->second;
    if (evidence.time > time || time - evidence.time > rule.fresh_for) return nullptr;
    return &evidence;
  };
  const auto take = [&](const std::string& metric, std::optional<double>& out) {
    if (const Evidence* evidence = fresh(metric)) {
      out = evidence->value;
      used.push_back(*evidence);
    }
  };
  take("respiration_rate", inputs.respiration_rate);
  take("spo2", inputs.spo2);
  if (const Evidence* oxygen = fresh("supplemental_oxygen")) {
    inputs.supplemental_oxygen = oxygen->value != 0;
    used.push_back(*oxygen);
  }
  take("bp.systolic", inputs.systolic_bp);
  const Evidence* pulse = fresh("pulse_rate");
  const Evidence* heart = fresh("heart_rate");
  if (pulse == nullptr || (heart != nullptr && heart->time > pulse->time)) pulse = heart;
  if (pulse != nullptr) {
    inputs.pulse = pulse->value;
    used.push_back(*pulse);
  }
  if (const Evidence* consciousness = fresh("consciousness")) {
    const long code = std::clamp(std::lround(consciousness->value), 0L, 4L);
    inputs.consciousness = static_cast<Consciousness>(code);
    used.push_back(*consciousness);
  }
  take("body_temperature", inputs.temperature);
  const News2Score score = ComputeNews2(inputs, rule.spo2_scale);
  if (score.components.size() < rule.min_parameters) return std::nullopt;
  std::sort(used.begin(), used.end(), [](const Evidence& a, const Evidence& b) { return a.time < b.time; });
  const bool breach = score.risk >= rule.min_risk;
  return Observation{time,
                     breach ? Verdict::kBreach : Verdict::kClear,
                     static_cast<double>(score.total),
                     used,
                     {},
                     score,
                     ForRisk(score.risk)};
}

// Whether the source sent exactly this reading recently (a record sent again after a reconnect).
bool SentBefore(const EngineState& state, const std::string& source, const Evidence& evidence) {
  const auto found = state.recent_by_source.find(source);
  if (found == state.recent_by_source.end()) return false;
  const std::pair<core::WallTime, double> reading{evidence.time, evidence.value};
  return std::find(found->second.items.begin(), found->second.items.end(), reading) !=
         found->second.items.end();
}

std::string WindowKey(const std::string& metric, std::chrono::milliseconds bucket) {
  return metric + '@' + std::to_string(bucket.count());
}

}  // namespace

void Evaluation::Append(Evaluation other) {
  for (AlertChange& change : other.changes)
    changes.push_back(std::move(change));
  rule_states_changed.insert(other.rule_states_changed.begin(), other.rule_states_changed.end());
  alerts_touched.insert(other.alerts_touched.begin(), other.alerts_touched.end());
  unreliable_readings += other.unreliable_readings;
  out_of_order_readings += other.out_of_order_readings;
  late_beyond_horizon += other.late_beyond_horizon;
  duplicate_readings += other.duplicate_readings;
  suppressed_repeats += other.suppressed_repeats;
}

std::uint64_t Evaluation::Count(ChangeKind kind) const {
  return static_cast<std::uint64_t>(std::count_if(
      changes.begin(), changes.end(), [kind](const AlertChange& change) { return change.kind == kind; }));
}

std::string_view ToString(ActionOutcome outcome) {
  switch (outcome) {
    case ActionOutcome::kDone:
      return "done";
    case ActionOutcome::kAlreadyDone:
      return "already_done";
    case ActionOutcome::kUnknownAlert:
      return "unknown_alert";
  }
  return "done";
}

std::string WindowSpec::Key() const {
  return WindowKey(metric, bucket);
}

Evaluator::Evaluator(RuleSet rules, std::shared_ptr<const TimeZone> zone)
    : rules_(std::move(rules)), zone_(zone ? std::move(zone) : std::make_shared<UtcZone>()) {
  // Every gateway watches its devices' clocks; a rule in the set only changes severity or timing.
  const bool has_clock_rule =
      std::any_of(rules_.devices.begin(), rules_.devices.end(),
                  [](const DeviceRule& rule) { return rule.condition == DeviceCondition::kClockWrong; });
  if (!has_clock_rule) {
    DeviceRule clock;
    clock.common.id = std::string(kDefaultClockRuleId);
    clock.common.severity = Severity::kLow;
    clock.common.clear_for = std::chrono::hours{1};
    clock.condition = DeviceCondition::kClockWrong;
    rules_.devices.push_back(std::move(clock));
  }
  // One bucket series per metric and bucket width, as long as the longest window that uses it.
  const auto need = [this](const std::string& metric, std::chrono::seconds window) {
    const std::chrono::milliseconds bucket = BucketWidthFor(window);
    for (WindowSpec& spec : windows_) {
      if (spec.metric == metric && spec.bucket == bucket) {
        spec.span = std::max(spec.span, window);
        return;
      }
    }
    windows_.push_back(WindowSpec{metric, bucket, window});
  };
  for (const TrendRule& rule : rules_.trends)
    need(rule.metric, rule.window);
  for (const BaselineRule& rule : rules_.baselines)
    need(rule.metric, rule.baseline_window);
}

const WindowSpec& Evaluator::SpecFor(const std::string& metric, std::chrono::seconds window) const {
  const std::chrono::milliseconds bucket = BucketWidthFor(window);
  for (const WindowSpec& spec : windows_) {
    if (spec.metric == metric && spec.bucket == bucket) return spec;
  }
  core::Bug("no window for a trend or baseline rule (the constructor makes one for each)");
}

BucketWindow& Evaluator::WindowFor(EngineState& state, const WindowSpec& spec) const {
  const std::string key = spec.Key();
  auto found = state.windows.find(key);
  if (found == state.windows.end()) {
    const core::MetricInfo* info = core::FindMetric(spec.metric);
    found =
        state.windows
            .emplace(key, BucketWindow(spec.metric, info != nullptr ? std::string(info->unit) : std::string(),
                                       spec.bucket, spec.span))
            .first;
  }
  return found->second;
}

void Evaluator::AddToWindows(EngineState& state, const Evidence& evidence) const {
  for (const WindowSpec& spec : windows_) {
    if (spec.metric == evidence.metric) (void)WindowFor(state, spec).Add(WindowSample::Of(evidence));
  }
}

void Evaluator::RestoreWindow(EngineState& state, const WindowSpec& spec, const WindowSample& sample) const {
  (void)WindowFor(state, spec).Add(sample);
}

void Evaluator::RememberLatest(EngineState& state, const core::Reading& reading) const {
  const Evidence evidence = EvidenceOf(reading);
  const std::string source = SourceKey(reading.device_id, reading.metric);
  RecentReadings& recent = state.recent_by_source[source];
  if (recent.items.size() < kRecentPerSource) {
    recent.items.emplace_back(evidence.time, evidence.value);
  } else {
    recent.items[recent.next] = {evidence.time, evidence.value};
    recent.next = (recent.next + 1) % kRecentPerSource;
  }
  // A record taken at an unknown time says nothing about what is newest.
  if (reading.taken_at_unknown) return;
  auto [latest_of_source, inserted] = state.latest_by_source.try_emplace(source, evidence);
  if (!inserted && latest_of_source->second.time <= evidence.time) latest_of_source->second = evidence;
  if (IsEventMetric(reading.metric)) {
    if (reading.value != 0) {
      auto& last_event = state.last_event_by_metric[reading.metric];
      last_event = std::max(last_event, evidence.time);
    }
    return;
  }
  if (!ClinicallyUsable(reading)) return;
  auto [latest, first] = state.latest_by_metric.try_emplace(reading.metric, evidence);
  if (!first && latest->second.time <= evidence.time) latest->second = evidence;
}

void Evaluator::Remember(EngineState& state, const core::Reading& reading) const {
  RememberLatest(state, reading);
  if (!IsEventMetric(reading.metric) && ClinicallyUsable(reading)) AddToWindows(state, EvidenceOf(reading));
}

Evaluation Evaluator::OnReadings(std::span<const core::Reading> readings, EngineState& state,
                                 core::WallTime now, const NewAlertId& new_alert_id) const {
  Evaluation out;
  Pass pass(state, now, new_alert_id, out);
  for (const core::Reading& reading : readings) {
    const Evidence evidence = EvidenceOf(reading);
    // Any reading at all, even a duplicate or a late record, shows the device is alive.
    auto& last_seen = state.last_seen_by_device[reading.device_id];
    last_seen = std::max(last_seen, reading.received_at);
    for (const DeviceRule& rule : rules_.devices) {
      if (rule.condition != DeviceCondition::kSilent ||
          rule.expected_intervals.count(reading.device_id) == 0) {
        continue;
      }
      const std::string key = AlertKey(rule.common.id, reading.device_id);
      if (pass.Open(key)) pass.Resolve(key, kResolvedByCondition, {}, evidence);
    }
    // The device's clock, judged on every reading that carries its time, in the order they arrive.
    if (reading.device_time && !reading.time_uncertain) {
      const double offset_minutes =
          std::chrono::duration<double, std::ratio<60>>(*reading.device_time - reading.received_at).count();
      for (const DeviceRule& rule : rules_.devices) {
        if (rule.condition != DeviceCondition::kClockWrong) continue;
        pass.Step({rule.common.id, reading.device_id, "device.clock"}, rule.common, {},
                  Observation{reading.received_at,
                              reading.device_clock_suspect ? Verdict::kBreach : Verdict::kClear,
                              offset_minutes,
                              {evidence},
                              {},
                              {},
                              {}},
                  Constant);  // a stuck or drifting clock is further off with every reading: no news
      }
    }
    if (evidence.time > now + kFurthestAhead) {
      ++out.unreliable_readings;  // a caller that skipped the time model (JudgeDeviceTime)
      continue;
    }
    const std::string source = SourceKey(reading.device_id, reading.metric);
    if (SentBefore(state, source, evidence)) {
      ++out.duplicate_readings;
      continue;
    }
    const auto previous = state.latest_by_source.find(source);
    const bool source_late = reading.taken_at_unknown || (previous != state.latest_by_source.end() &&
                                                          evidence.time < previous->second.time);

    // Battery and sensor errors: the device's own newest state, reliable or not.
    for (const DeviceRule& rule : rules_.devices) {
      if (source_late) break;
      const Subject subject{rule.common.id, reading.device_id, reading.metric};
      if (rule.condition == DeviceCondition::kSensorError) {
        const bool error = reading.flags.Has(core::QualityFlag::kSensorError);
        pass.Step(subject, rule.common, {},
                  Observation{evidence.time,
                              error ? Verdict::kBreach : Verdict::kClear,
                              error ? 1.0 : 0.0,
                              {evidence},
                              {},
                              {},
                              {}},
                  Constant);
      } else if (rule.condition == DeviceCondition::kBatteryLow && reading.metric == "battery") {
        const bool low = reading.value < rule.battery_below;
        const bool clear = reading.value >= rule.battery_below + rule.battery_hysteresis;
        pass.Step(subject, rule.common, {},
                  Observation{evidence.time, Judge(low, clear), reading.value, {evidence}, {}, {}, {}},
                  [](double value) { return -value; });
      }
    }

    if (IsEventMetric(reading.metric)) {
      Remember(state, reading);
      if (reading.value == 0) continue;
      for (const InactivityRule& rule : rules_.inactivity) {
        if (std::find(rule.metrics.begin(), rule.metrics.end(), reading.metric) == rule.metrics.end())
          continue;
        // Activity resolves the alert only if it happened inside the quiet time the alert reported.
        const std::string key = AlertKey(rule.common.id);
        const Alert* open = pass.Open(key);
        if (open != nullptr && !reading.taken_at_unknown && evidence.time > open->raised_at - rule.quiet_for)
          pass.Resolve(key, kResolvedByCondition, {}, evidence);
      }
      for (const EventRule& rule : rules_.events) {
        if (rule.metric != reading.metric) continue;
        if (rule.window) {
          if (reading.time_uncertain && !reading.device_time) {
            ++out.unreliable_readings;  // cannot tell whether it happened inside the window
            continue;
          }
          if (!rule.window->Contains(*zone_, evidence.time)) continue;
        }
        const Subject subject{rule.common.id, {}, rule.metric};
        const std::string key = subject.Key();
        RuleState rule_state;
        rule_state.last_event = std::max(pass.Rule(key).last_event.value_or(evidence.time), evidence.time);
        const Observation observation{evidence.time, Verdict::kBreach, reading.value, {evidence}, {}, {}, {}};
        if (Alert* open = pass.Open(key)) {
          // Someone pressing again is news: every repeat of an event goes out at once.
          pass.Repeat(*open, observation, Constant, true);
        } else if (now - evidence.time > kLateHorizon) {
          ++out.late_beyond_horizon;
        } else {
          pass.Raise(subject, rule.common, observation);
        }
        pass.Save(key, rule_state);
      }
      continue;
    }

    if (!ClinicallyUsable(reading)) {
      ++out.unreliable_readings;
      Remember(state, reading);
      continue;
    }
    // A stored record the device says is more than a day old, with a clock not reset to a factory date:
    // an old record from its memory, history for the care record (docs/rules.md, "Time").
    if (reading.taken_at_unknown && reading.device_time &&
        *reading.device_time >= core::kFactoryClockBefore && now - *reading.device_time > kLateHorizon) {
      ++out.late_beyond_horizon;
      RememberLatest(state, reading);
      continue;
    }

    // Older than a reading of this metric already evaluated (from any device): it may raise, never clear.
    const auto newest = state.latest_by_metric.find(reading.metric);
    const bool late = reading.taken_at_unknown ||
                      (newest != state.latest_by_metric.end() && evidence.time < newest->second.time);
    if (late) ++out.out_of_order_readings;
    for (const ThresholdRule& rule : rules_.thresholds) {
      if (rule.metric != reading.metric) continue;
      pass.Step(
          {rule.common.id, {}, rule.metric}, rule.common, rule.persistence,
          ThresholdObservation(rule, reading), [&rule](double value) { return ThresholdExcess(rule, value); },
          late);
    }
    for (const TrendRule& rule : rules_.trends) {
      if (rule.metric != reading.metric) continue;
      if (auto observation =
              TrendObservation(rule, WindowFor(state, SpecFor(rule.metric, rule.window)), reading)) {
        pass.Step({rule.common.id, {}, rule.metric}, rule.common, rule.persistence, *observation, Magnitude,
                  late);
      }
    }
    for (const BaselineRule& rule : rules_.baselines) {
      if (rule.metric != reading.metric) continue;
      const BucketWindow& window = WindowFor(state, SpecFor(rule.metric, rule.baseline_window));
      if (auto observation = BaselineObservation(rule, window, reading)) {
        pass.Step({rule.common.id, {}, rule.metric}, rule.common, rule.persistence, *observation, Magnitude,
                  late);
      }
    }
    Remember(state, reading);
    // NEWS2 is computed from the freshest values, which a late reading does not change.
    if (!late && IsNews2Metric(reading.metric)) {
      for (const News2Rule& rule : rules_.news2) {
        if (auto observation = News2Observation(rule, state, evidence.time)) {
          pass.Step({rule.common.id, {}, "news2"}, rule.common, rule.persistence, *observation, Identity);
        }
      }
    }
    for (const MissedRule& rule : rules_.missed) {
      if (rule.metric != reading.metric) continue;
      const std::string key = AlertKey(rule.common.id);
      const Alert* open = pass.Open(key);
      if (open == nullptr || reading.taken_at_unknown) continue;
      // Only a measurement taken in the period that was missed, or later, resolves it.
      core::WallTime counts_from = open->raised_at;
      if (rule.within) {
        counts_from = open->raised_at - *rule.within;
      } else if (const auto deadline = pass.Rule(key).last_deadline) {
        counts_from = AtLocalTime(*zone_, LocalDay(*zone_, *deadline), rule.daily_from);
      }
      if (evidence.time >= std::min(counts_from, open->raised_at))
        pass.Resolve(key, kResolvedByCondition, {}, evidence);
    }
  }
  return out;
}

Evaluation Evaluator::OnTick(EngineState& state, core::WallTime now, const GatewayStatus& status,
                             const NewAlertId& new_alert_id) const {
  Evaluation out;
  Pass pass(state, now, new_alert_id, out);
  const auto last_reading = [&state](const std::string& metric) -> std::optional<Evidence> {
    const auto found = state.latest_by_metric.find(metric);
    if (found == state.latest_by_metric.end()) return std::nullopt;
    return found->second;
  };
  // Supervision starts when a rule is first seen; time before that never counts as silence.
  const auto watch_since = [&pass, now](const std::string& key) {
    RuleState rule = pass.Rule(key);
    if (!rule.watch_since) {
      rule.watch_since = now;
      pass.Save(key, rule);
    }
    return *rule.watch_since;
  };

  for (const MissedRule& rule : rules_.missed) {
    const Subject subject{rule.common.id, {}, rule.metric};
    const std::string key = subject.Key();
    const std::optional<Evidence> last = last_reading(rule.metric);
    std::vector<Evidence> evidence;
    if (last) evidence.push_back(*last);
    if (rule.daily_by) {
      std::chrono::local_days day = LocalDay(*zone_, now);
      core::WallTime deadline = AtLocalTime(*zone_, day, *rule.daily_by);
      if (now < deadline) {
        day -= std::chrono::days{1};
        deadline = AtLocalTime(*zone_, day, *rule.daily_by);
      }
      RuleState rule_state = pass.Rule(key);
      const bool first_look = !rule_state.last_deadline;
      if (!first_look && *rule_state.last_deadline >= deadline) continue;
      rule_state.last_deadline = deadline;
      pass.Save(key, rule_state);
      if (first_look) continue;  // schedules start with the next deadline after the rule appeared
      const core::WallTime window_start = AtLocalTime(*zone_, day, rule.daily_from);
      const bool measured = last && last->time >= window_start;
      if (!measured && !pass.Open(key)) {
        pass.Raise(subject, rule.common, Observation{now, Verdict::kBreach, 0, evidence, {}, {}, {}});
      }
    } else if (rule.within) {
      core::WallTime since = watch_since(key);
      if (last) since = std::max(since, last->time);
      if (now - since >= *rule.within && !pass.Open(key)) {
        pass.Raise(subject, rule.common, Observation{now, Verdict::kBreach, 0, evidence, {}, {}, {}});
      }
    }
  }

  for (const InactivityRule& rule : rules_.inactivity) {
    const Subject subject{rule.common.id, {}, "activity"};
    const std::string key = subject.Key();
    core::WallTime quiet_since = watch_since(key);
    if (pass.Open(key)) continue;
    const auto window = rule.window.Containing(*zone_, now);
    if (!window) continue;
    quiet_since = std::max(quiet_since, window->start);
    for (const std::string& metric : rule.metrics) {
      const auto found = state.last_event_by_metric.find(metric);
      if (found != state.last_event_by_metric.end()) quiet_since = std::max(quiet_since, found->second);
    }
    if (now - quiet_since >= rule.quiet_for) {
      pass.Raise(subject, rule.common,
                 Observation{now,
                             Verdict::kBreach,
                             std::chrono::duration<double, std::ratio<3600>>(now - quiet_since).count(),
                             {},
                             {},
                             {},
                             {}});
    }
  }

  for (const DeviceRule& rule : rules_.devices) {
    if (rule.condition != DeviceCondition::kSilent) continue;
    for (const auto& [device_id, interval] : rule.expected_intervals) {
      const Subject subject{rule.common.id, device_id, "device.silence"};
      const std::string key = subject.Key();
      core::WallTime since = watch_since(key);
      const auto seen = state.last_seen_by_device.find(device_id);
      if (seen != state.last_seen_by_device.end()) since = std::max(since, seen->second);
      if (now - since >= interval && !pass.Open(key)) {
        pass.Raise(subject, rule.common,
                   Observation{now,
                               Verdict::kBreach,
                               std::chrono::duration<double, std::ratio<3600>>(now - since).count(),
                               {},
                               {},
                               {},
                               {}});
      }
    }
  }

  for (const EventRule& rule : rules_.events) {
    if (rule.common.clear_for.count() == 0) continue;
    const std::string key = AlertKey(rule.common.id);
    const RuleState rule_state = pass.Rule(key);
    if (pass.Open(key) && rule_state.last_event && now - *rule_state.last_event >= rule.common.clear_for) {
      pass.Resolve(key, kResolvedByCondition, {}, std::nullopt);
      pass.Save(key, RuleState{});
    }
  }

  for (const GatewayRule& rule : rules_.gateway) {
    if (rule.condition == GatewayCondition::kStorageNearBudget) {
      if (!status.outbox_percent_of_budget) continue;
      const double percent = *status.outbox_percent_of_budget;
      pass.Step({rule.common.id, {}, "gateway.storage"}, rule.common, {},
                Observation{now,
                            Judge(percent >= rule.storage_percent, percent < rule.storage_percent - 10),
                            percent,
                            {},
                            {},
                            {},
                            {}},
                // Worse in steps of 5 points, so a slowly filling outbox is not an update every tick.
                [](double value) { return std::floor(value / 5); });
    } else {
      const auto minutes =
          std::chrono::duration<double, std::ratio<60>>(status.clock_unsynchronised_for).count();
      const bool breach = status.clock_unsynchronised_for >= rule.clock_unsynchronised_for;
      pass.Step(
          {rule.common.id, {}, "gateway.clock"}, rule.common, {},
          Observation{
              now, Judge(breach, status.clock_unsynchronised_for.count() == 0), minutes, {}, {}, {}, {}},
          Constant);  // a longer outage is no news worth an update every tick
    }
  }

  for (auto& [key, alert] : state.open) {
    if (!alert.escalation || !alert.next_escalation_at || now < *alert.next_escalation_at) continue;
    if (alert.state == AlertState::kAcknowledged) continue;
    while (alert.next_escalation_at && now >= *alert.next_escalation_at) {
      ++alert.escalation_level;
      if (alert.escalation_level >= alert.escalation->max_level) {
        alert.next_escalation_at.reset();
      } else {
        *alert.next_escalation_at += alert.escalation->after;
      }
    }
    alert.updated_at = now;
    alert.last_published_at = now;
    out.changes.push_back({ChangeKind::kEscalated, alert});
  }
  return out;
}

ActionResult Evaluator::Acknowledge(EngineState& state, std::string_view alert_id, std::string_view by,
                                    core::WallTime now) const {
  ActionResult result;
  for (auto& [key, alert] : state.open) {
    if (alert.alert_id != alert_id) continue;
    if (alert.state == AlertState::kAcknowledged) {
      result.outcome = ActionOutcome::kAlreadyDone;
      return result;
    }
    alert.state = AlertState::kAcknowledged;
    alert.acknowledged_at = now;
    alert.acknowledged_by = std::string(by);
    alert.next_escalation_at.reset();
    alert.updated_at = now;
    alert.last_published_at = now;
    result.evaluation.changes.push_back({ChangeKind::kAcknowledged, alert});
    return result;
  }
  result.outcome = ActionOutcome::kUnknownAlert;
  return result;
}

ActionResult Evaluator::Resolve(EngineState& state, std::string_view alert_id, std::string_view by,
                                std::string_view note, core::WallTime now) const {
  ActionResult result;
  const auto found = std::find_if(state.open.begin(), state.open.end(),
                                  [&](const auto& entry) { return entry.second.alert_id == alert_id; });
  if (found == state.open.end()) {
    result.outcome = ActionOutcome::kUnknownAlert;
    return result;
  }
  const std::string key = found->first;
  const NewAlertId no_new_ids = [] { return std::string(); };
  Pass pass(state, now, no_new_ids, result.evaluation);
  pass.Resolve(key, by, note, std::nullopt);
  // The condition may still hold: a value rule waits for it to clear, a time-based rule counts afresh.
  // The alert's span closes now (late readings of its breach raise nothing again).
  RuleState rule_state = pass.Afresh(pass.Rule(key), now);
  rule_state.rearm_required = true;
  rule_state.watch_since = now;
  rule_state.last_deadline = pass.Rule(key).last_deadline;
  pass.Save(key, rule_state);
  return result;
}

Evaluation Evaluator::MarkDelivered(EngineState& state, std::string_view event_id, core::WallTime now) const {
  Evaluation out;
  for (auto& [key, alert] : state.open) {
    if (std::find(alert.event_ids.begin(), alert.event_ids.end(), event_id) == alert.event_ids.end())
      continue;
    if (alert.state == AlertState::kRaised) {
      alert.state = AlertState::kDelivered;
      alert.delivered_at = now;
      out.changes.push_back({ChangeKind::kDelivered, alert});
    }
    break;
  }
  return out;
}

}  // namespace ehg::alerts
