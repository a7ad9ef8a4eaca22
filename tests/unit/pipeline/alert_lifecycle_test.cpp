// The alert lifecycle through the pipeline and a real store, across restarts: the timers and decisions
// that live in the database must survive a stop (or a crash between commits) and resume exactly.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <optional>
#include <set>

#include "gateway/pipeline/pipeline.hpp"
#include "tests/support/readings.hpp"
#include "tests/support/rules.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::pipeline::Pipeline;
using ehg::test::WaitUntil;

namespace {

RuleSet EscalatingSpO2(std::chrono::seconds for_duration = 0s) {
  RuleSet rules;
  auto rule = ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 90.0, Severity::kHigh, for_duration);
  rule.common.escalation = ehg::alerts::Escalation{15min, 3};
  rules.thresholds.push_back(rule);
  return rules;
}

struct LifecycleFixture {
  ehg::test::TempDir dir;
  ehg::core::ManualClock clock{ehg::core::WallTime{std::chrono::milliseconds{ehg::test::kTestEpochMs}}};
  ehg::core::EventIdGenerator ids{clock};
  std::unique_ptr<ehg::store::Store> store = ehg::store::Store::Open({dir / "gateway.db"}, clock).value();
  std::unique_ptr<Pipeline> pipeline;

  std::chrono::milliseconds batch_window = 1ms;
  std::map<std::string, ehg::core::DeviceClockTolerance> clock_tolerances;

  void Start(RuleSet rules) {
    ehg::pipeline::PipelineOptions options;
    options.gateway_id = "gw-1";
    options.resident_pseudonym = "r-0001";
    options.queue_capacity = 64;
    options.batch_window = batch_window;
    options.clock_tolerances = clock_tolerances;
    options.tick_interval = 100ms;
    pipeline = std::make_unique<Pipeline>(*store, clock, ids, options, std::move(rules));
    REQUIRE(pipeline->Start().has_value());
  }
  void Restart(RuleSet rules) {
    pipeline->Stop();
    pipeline.reset();
    Start(std::move(rules));
  }
  // A breaching or clear SpO2 reading stamped with the clock, committed before returning.
  void Measure(double spo2) {
    auto reading = ehg::test::SpO2(spo2, clock.Now().time_since_epoch().count());
    std::atomic<bool> done{false};
    REQUIRE(pipeline->Submit(reading, [&](const auto&, const auto&) { done = true; }));
    REQUIRE(WaitUntil([&] { return done.load(); }));
  }
  // Moves time on and waits until the pipeline's timer has run at least once at the new time.
  void AdvanceAndTick(std::chrono::milliseconds step) {
    clock.Advance(step);
    std::atomic<bool> done{false};
    // A change with nothing in it still makes the thread loop once; two loops guarantee a tick after it.
    for (int i = 0; i < 2; ++i) {
      done = false;
      REQUIRE(pipeline->ApplyOutboxChange({}, [&](const auto&) { done = true; }));
      REQUIRE(WaitUntil([&] { return done.load(); }));
    }
  }
  ehg::store::WriteOutcome Act(ehg::store::AlertAction action) {
    ehg::store::OutboxChange change;
    change.alert_actions.push_back(std::move(action));
    return Apply(std::move(change));
  }
  // Applies an uplink change through the pipeline and waits for its outcome.
  ehg::store::WriteOutcome Apply(ehg::store::OutboxChange change) {
    std::optional<ehg::Result<ehg::store::WriteOutcome>> outcome;
    std::mutex mutex;
    REQUIRE(pipeline->ApplyOutboxChange(change, [&](const ehg::Result<ehg::store::WriteOutcome>& result) {
      std::lock_guard lock(mutex);
      outcome = result;
    }));
    REQUIRE(WaitUntil([&] {
      std::lock_guard lock(mutex);
      return outcome.has_value();
    }));
    REQUIRE(outcome->has_value());
    return **outcome;
  }
  // Alert events in the outbox, oldest first: change and escalation level.
  // Of one rule only when `rule` is given.
  std::vector<std::string> AlertChanges(const std::string& rule = {}) {
    std::vector<std::string> changes;
    const auto rows = store->PeekOutbox(1000).value();
    for (const auto& row : rows) {
      if (row.event.kind != ehg::core::EventKind::kAlert) continue;
      auto body = Poco::JSON::Parser().parse(row.event.body).extract<Poco::JSON::Object::Ptr>();
      if (!rule.empty() && body->getValue<std::string>("rule_id") != rule) continue;
      changes.push_back(body->getValue<std::string>("change") + "/" +
                        std::to_string(body->getValue<int>("escalation_level")));
    }
    return changes;
  }
  std::string OpenAlertId() { return store->LoadOpenAlerts().value().at(0).alert_id; }
};

}  // namespace

TEST_CASE("Escalation timers survive a restart: due after 15 minutes of alert age, not of uptime") {
  LifecycleFixture fixture;
  fixture.Start(EscalatingSpO2());
  fixture.Measure(85);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0"});
  fixture.clock.Advance(14min);
  fixture.Restart(EscalatingSpO2());
  fixture.AdvanceAndTick(59s);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0"});
  fixture.AdvanceAndTick(1s);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0", "escalated/1"});
  // Down for 40 minutes: one catch-up escalation to the level it should have reached.
  fixture.pipeline->Stop();
  fixture.clock.Advance(40min);
  fixture.Start(EscalatingSpO2());
  fixture.AdvanceAndTick(1s);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0", "escalated/1", "escalated/3"});
  CHECK(fixture.pipeline->counters().alerts_escalated == 1);
}

TEST_CASE("An acknowledgement survives a restart: no escalation afterwards, and a resolve is final") {
  LifecycleFixture fixture;
  fixture.Start(EscalatingSpO2());
  fixture.Measure(85);
  const std::string alert_id = fixture.OpenAlertId();
  const auto acked = fixture.Act({ehg::store::AlertAction::Kind::kAcknowledge, alert_id, "nurse-17", {}});
  REQUIRE(acked.alert_action_results.size() == 1);
  CHECK(acked.alert_action_results[0].ok);
  CHECK(acked.alert_action_results[0].detail == "acknowledged");
  CHECK(fixture.store->LoadOpenAlerts().value().at(0).state == "acknowledged");
  fixture.Restart(EscalatingSpO2());
  fixture.AdvanceAndTick(2h);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0", "acknowledged/0"});
  const auto again = fixture.Act({ehg::store::AlertAction::Kind::kAcknowledge, alert_id, "nurse-18", {}});
  CHECK(again.alert_action_results.at(0).detail == "already acknowledged");

  const auto resolved =
      fixture.Act({ehg::store::AlertAction::Kind::kResolve, alert_id, "nurse-17", "seen at home"});
  CHECK(resolved.alert_action_results.at(0).ok);
  CHECK(fixture.store->LoadOpenAlerts().value().empty());
  fixture.Restart(EscalatingSpO2());
  // The condition still holds: a staff resolve waits for it to clear before a new alert, also after a
  // restart.
  fixture.clock.Advance(1s);
  fixture.Measure(85);
  CHECK(fixture.store->LoadOpenAlerts().value().empty());
  fixture.clock.Advance(1s);
  fixture.Measure(96);
  fixture.clock.Advance(1s);
  fixture.Measure(85);
  CHECK(fixture.store->LoadOpenAlerts().value().size() == 1);
  CHECK(fixture.OpenAlertId() != alert_id);
  const auto unknown = fixture.Act({ehg::store::AlertAction::Kind::kResolve, alert_id, "nurse-17", {}});
  CHECK_FALSE(unknown.alert_action_results.at(0).ok);
}

TEST_CASE("A persistence duration that started before a restart completes after it") {
  LifecycleFixture fixture;
  fixture.Start(EscalatingSpO2(60s));
  fixture.Measure(85);
  fixture.clock.Advance(30s);
  fixture.Measure(86);
  fixture.Restart(EscalatingSpO2(60s));
  CHECK(fixture.AlertChanges().empty());
  fixture.clock.Advance(30s);
  fixture.Measure(86);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0"});
}

TEST_CASE("A receipt marks the alert delivered in the store") {
  LifecycleFixture fixture;
  fixture.Start(EscalatingSpO2());
  fixture.Measure(85);
  const auto rows = fixture.store->PeekOutbox(10).value();
  REQUIRE_FALSE(rows.empty());
  ehg::store::OutboxChange change;
  change.receipted_events.push_back(rows.front().event.id);
  std::atomic<bool> done{false};
  REQUIRE(fixture.pipeline->ApplyOutboxChange(change, [&](const auto&) { done = true; }));
  REQUIRE(WaitUntil([&] { return done.load(); }));
  CHECK(fixture.store->LoadOpenAlerts().value().at(0).state == "delivered");
  CHECK(fixture.pipeline->counters().alerts_delivered == 1);
}

namespace {

RuleSet WeightGain() {
  RuleSet rules;
  rules.trends.push_back(ehg::test::Trend("weight-gain", "body_weight", 2.0, 72h));
  return rules;
}

void Weigh(LifecycleFixture& fixture, double kg) {
  auto reading = ehg::test::MakeReading("body_weight", kg, "kg",
                                        fixture.clock.Now().time_since_epoch().count(), "scale");
  std::atomic<bool> done{false};
  REQUIRE(fixture.pipeline->Submit(reading, [&](const auto&, const auto&) { done = true; }));
  REQUIRE(WaitUntil([&] { return done.load(); }));
}

}  // namespace

TEST_CASE("Trend history is rebuilt from the stored readings after a restart") {
  LifecycleFixture fixture;
  fixture.Start(WeightGain());
  Weigh(fixture, 80.0);
  fixture.clock.Advance(24h);
  fixture.Restart(WeightGain());
  Weigh(fixture, 82.5);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0"});
}

TEST_CASE("A trend rule added by a reload sees the readings stored before it existed") {
  LifecycleFixture fixture;
  fixture.Start(RuleSet{});
  Weigh(fixture, 80.0);
  fixture.clock.Advance(24h);
  fixture.pipeline->ReplaceRules(WeightGain());
  Weigh(fixture, 82.5);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0"});
}

namespace {

// Submits the SpO2 values at once (one batch, with a long batch window) and waits for all of them.
void MeasureInOneBatch(LifecycleFixture& fixture, const std::vector<double>& values) {
  std::atomic<int> done{0};
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto reading = ehg::test::SpO2(
        values[i], fixture.clock.Now().time_since_epoch().count() + static_cast<std::int64_t>(i) * 1000);
    REQUIRE(fixture.pipeline->Submit(reading, [&](const auto&, const auto&) { ++done; }));
  }
  REQUIRE(WaitUntil([&] { return done.load() == static_cast<int>(values.size()); }));
}

// The alert events in the outbox, oldest first: event id and change.
std::vector<std::pair<std::string, std::string>> AlertEvents(LifecycleFixture& fixture) {
  std::vector<std::pair<std::string, std::string>> events;
  const auto rows = fixture.store->PeekOutbox(1000).value();
  for (const auto& row : rows) {
    if (row.event.kind != ehg::core::EventKind::kAlert) continue;
    auto body = Poco::JSON::Parser().parse(row.event.body).extract<Poco::JSON::Object::Ptr>();
    events.emplace_back(row.event.id.ToString(), body->getValue<std::string>("change"));
  }
  return events;
}

ehg::store::WriteOutcome Receipt(LifecycleFixture& fixture, const std::string& event_id) {
  ehg::store::OutboxChange change;
  change.receipted_events.push_back(ehg::core::EventId::Parse(event_id).value());
  return fixture.Apply(std::move(change));
}

std::vector<std::string> StoredEventIds(const std::string& detail) {
  auto object = Poco::JSON::Parser().parse(detail).extract<Poco::JSON::Object::Ptr>();
  std::vector<std::string> ids;
  const auto array = object->getArray("event_ids");
  for (std::size_t i = 0; array && i < array->size(); ++i)
    ids.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
  return ids;
}

}  // namespace

TEST_CASE("Case 6: one batch that raises and updates an alert keeps both event ids over a restart") {
  LifecycleFixture fixture;
  fixture.batch_window = 300ms;
  fixture.Start(EscalatingSpO2());
  MeasureInOneBatch(fixture, {85, 80});  // raised, then worse: updated
  REQUIRE(fixture.pipeline->counters().batches == 1);
  const auto events = AlertEvents(fixture);
  REQUIRE(events.size() == 2);
  CHECK(events[0].second == "raised");
  CHECK(events[1].second == "updated");
  const auto open = fixture.store->LoadOpenAlerts().value();
  REQUIRE(open.size() == 1);
  CHECK(StoredEventIds(open[0].detail) == std::vector<std::string>{events[0].first, events[1].first});
  // After a restart, the receipt for the first event still marks the alert delivered.
  fixture.Restart(EscalatingSpO2());
  const auto outcome = Receipt(fixture, events[0].first);
  CHECK(outcome.receipt_matched == std::vector<bool>{true});
  CHECK(fixture.store->LoadOpenAlerts().value().at(0).state == "delivered");
}

TEST_CASE("Case 6: raise, update and resolve in one batch: the history keeps every event id") {
  LifecycleFixture fixture;
  fixture.batch_window = 300ms;
  fixture.Start(EscalatingSpO2());
  MeasureInOneBatch(fixture, {85, 80, 97});
  REQUIRE(fixture.pipeline->counters().batches == 1);
  const auto events = AlertEvents(fixture);
  REQUIRE(events.size() == 3);
  CHECK(events[2].second == "resolved");
  // The resolved alert's stored record keeps every id, in order.
  std::vector<std::string> ids;
  for (const auto& [id, change] : events)
    ids.push_back(id);
  {
    SQLite::Database inspect((fixture.dir / "gateway.db").string(), SQLite::OPEN_READONLY);
    CHECK(StoredEventIds(inspect.execAndGet("SELECT detail FROM alerts").getString()) == ids);
  }
  fixture.Restart(EscalatingSpO2());
  for (const std::string& id : ids) {
    CAPTURE(id);
    CHECK(Receipt(fixture, id).receipt_matched == std::vector<bool>{true});
  }
  CHECK(AlertEvents(fixture).empty());
  CHECK(fixture.store->LoadOpenAlerts().value().empty());
}

TEST_CASE(
    "The pipeline judges device times: a year ahead counts at the receive time, counted, one clock alert") {
  LifecycleFixture fixture;
  fixture.Start(EscalatingSpO2());
  const auto submit = [&](double spo2, std::chrono::milliseconds device_offset) {
    auto reading = ehg::test::SpO2(spo2, fixture.clock.Now().time_since_epoch().count());
    reading.device_time = reading.received_at + device_offset;
    std::atomic<bool> done{false};
    REQUIRE(fixture.pipeline->Submit(reading, [&](const auto&, const auto&) { done = true; }));
    REQUIRE(WaitUntil([&] { return done.load(); }));
    fixture.clock.Advance(1s);
  };
  submit(96, std::chrono::days{365});  // the glitch
  submit(85, 0ms);                     // in order at its own time: raises
  submit(84, std::chrono::days{365});  // the clock is still wrong: its time is the receive time
  CHECK(fixture.pipeline->counters().device_clock_suspect == 2);
  // The oximeter is not configured, so it is taken for a device with stored records: a record with an
  // impossible time was taken at an unknown time and is judged like a late one (may raise, never resolve).
  CHECK(fixture.pipeline->counters().out_of_order == 2);
  const auto open = fixture.store->LoadOpenAlerts().value();
  REQUIRE(open.size() == 2);
  std::set<std::string> rules;
  for (const auto& alert : open)
    rules.insert(alert.rule_id);
  CHECK(rules == std::set<std::string>{"device-clock", "spo2-low"});
  ehg::store::ReadingQuery spo2;
  spo2.metrics = {"spo2"};
  const auto stored = fixture.store->LoadReadings(spo2).value();
  REQUIRE(stored.size() == 3);
  CHECK(std::count_if(stored.begin(), stored.end(), [](const auto& r) { return r.device_clock_suspect; }) ==
        2);
}

TEST_CASE("A per-device tolerance decides what is plausible") {
  LifecycleFixture fixture;
  fixture.Start(EscalatingSpO2());
  fixture.pipeline->Stop();
  fixture.pipeline.reset();
  ehg::pipeline::PipelineOptions options;
  options.batch_window = 1ms;
  options.clock_tolerances["oximeter"] =
      ehg::core::DeviceClockTolerance{1min, 1min, ehg::core::DeviceTiming::kStreaming};
  fixture.pipeline =
      std::make_unique<Pipeline>(*fixture.store, fixture.clock, fixture.ids, options, EscalatingSpO2());
  REQUIRE(fixture.pipeline->Start().has_value());
  auto reading = ehg::test::SpO2(96, fixture.clock.Now().time_since_epoch().count());
  reading.device_time = reading.received_at - 10min;  // fine for stored records, not for this oximeter
  std::atomic<bool> done{false};
  REQUIRE(fixture.pipeline->Submit(reading, [&](const auto&, const auto&) { done = true; }));
  REQUIRE(WaitUntil([&] { return done.load(); }));
  CHECK(fixture.pipeline->counters().device_clock_suspect == 1);
}

TEST_CASE("Trend windows are rebuilt from the minute summaries, not the raw readings") {
  LifecycleFixture fixture;
  fixture.Start(WeightGain());
  Weigh(fixture, 80.0);
  fixture.clock.Advance(24h);
  fixture.pipeline->Stop();
  {
    // Only the summaries remain: a restart that read raw readings would have nothing to compare with.
    SQLite::Database db((fixture.dir / "gateway.db").string(), SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM readings");
  }
  fixture.Restart(WeightGain());
  Weigh(fixture, 82.5);
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0"});
}

namespace {

// Submits one reading (device time `device_offset` from its receive time, the fixture's clock) and waits.
void SubmitAt(LifecycleFixture& fixture, const std::string& device, const std::string& metric, double value,
              const std::string& unit, std::chrono::milliseconds device_offset) {
  auto reading =
      ehg::test::MakeReading(metric, value, unit, fixture.clock.Now().time_since_epoch().count(), device);
  reading.device_time = reading.received_at + device_offset;
  std::atomic<bool> done{false};
  REQUIRE(fixture.pipeline->Submit(reading, [&](const auto&, const auto&) { done = true; }));
  REQUIRE(WaitUntil([&] { return done.load(); }));
}

}  // namespace

TEST_CASE(
    "Through the pipeline: a clock stepping back hides nothing, a late normal reading resolves nothing") {
  LifecycleFixture fixture;
  fixture.clock_tolerances["oximeter"] =
      ehg::core::DefaultClockTolerance(ehg::core::DeviceTiming::kStreaming);
  fixture.Start(EscalatingSpO2(60s));
  // Case 1: the oximeter's clock steps back an hour as SpO2 falls; a minute later the alert is raised.
  for (int second = 0; second <= 70; second += 10) {
    SubmitAt(fixture, "oximeter", "spo2", 85, "%", -1h);
    fixture.clock.Advance(10s);
  }
  CHECK(fixture.AlertChanges("spo2-low") == std::vector<std::string>{"raised/0"});
  CHECK(fixture.pipeline->counters().device_clock_suspect == 8);
  CHECK(fixture.AlertChanges("device-clock") == std::vector<std::string>{"raised/0"});
  // Case 3: a spot-check oximeter uploads a normal reading from before the breach: nothing resolves.
  SubmitAt(fixture, "spot-check", "spo2", 97, "%", -5min);
  CHECK(fixture.pipeline->counters().out_of_order == 1);
  CHECK(fixture.AlertChanges("spo2-low") == std::vector<std::string>{"raised/0"});
  // A current normal reading does.
  SubmitAt(fixture, "spot-check", "spo2", 97, "%", 0ms);
  CHECK(fixture.AlertChanges("spo2-low") == std::vector<std::string>{"raised/0", "resolved/0"});
}

TEST_CASE("Through the pipeline: every press of the emergency button while its alert is open is sent") {
  RuleSet rules;
  ehg::alerts::EventRule button;
  button.common = {"emergency-button", Severity::kCritical, std::nullopt, 0s};
  button.metric = "button";
  rules.events.push_back(button);
  LifecycleFixture fixture;
  fixture.Start(rules);
  for (int press = 0; press < 3; ++press) {
    SubmitAt(fixture, "pendant", "button", 1, "1", 0ms);
    fixture.clock.Advance(5s);
  }
  CHECK(fixture.AlertChanges() == std::vector<std::string>{"raised/0", "updated/0", "updated/0"});
  CHECK(fixture.pipeline->counters().suppressed_repeats == 0);
}

TEST_CASE("Through the pipeline: a clock reset to 2000-01-01 loses no reading and hides no breach") {
  LifecycleFixture fixture;
  fixture.Start(EscalatingSpO2(30s));
  for (int second = 0; second <= 40; second += 10) {
    auto reading = ehg::test::SpO2(second == 0 ? 96 : 80, fixture.clock.Now().time_since_epoch().count());
    // The clock runs on from 2000-01-01 after a battery change; the same value again is a new reading.
    reading.device_time =
        ehg::core::WallTime{std::chrono::milliseconds{946'684'800'000}} + std::chrono::seconds{second};
    std::atomic<bool> done{false};
    REQUIRE(fixture.pipeline->Submit(reading, [&](const auto&, const auto&) { done = true; }));
    REQUIRE(WaitUntil([&] { return done.load(); }));
    fixture.clock.Advance(10s);
  }
  CHECK(fixture.pipeline->counters().stored == 5);
  CHECK(fixture.pipeline->counters().already_stored == 0);
  CHECK(fixture.AlertChanges("spo2-low") == std::vector<std::string>{"raised/0"});
  CHECK(fixture.AlertChanges("device-clock") == std::vector<std::string>{"raised/0"});
}

TEST_CASE("After the upgrade to schema 7 an old reading stamped a year ahead freezes nothing") {
  LifecycleFixture fixture;
  const auto path = fixture.dir / "gateway.db";
  fixture.store.reset();
  {
    // A version-6 file: a day of history, and one reading an older build stored with a time a year ahead.
    { auto store = ehg::store::Store::Open({path}, fixture.clock).value(); }
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec(
        "DROP TABLE reading_minutes; DROP INDEX readings_claimed_identity; DROP TABLE latest_readings; "
        "ALTER TABLE outbox DROP COLUMN reading_id; "
        "ALTER TABLE readings DROP COLUMN claimed_device_time_ms; PRAGMA user_version = 6;");
    const std::int64_t now = fixture.clock.Now().time_since_epoch().count();
    SQLite::Statement insert(
        db,
        "INSERT INTO readings (device_id, metric, value, unit, device_time_ms, received_ms) "
        "VALUES ('oximeter', 'spo2', ?, '%', ?, ?)");
    for (std::int64_t minute = 24 * 60; minute > 0; minute -= 10) {
      insert.bind(1, 96.0);
      insert.bind(2, now - minute * 60'000);
      insert.bind(3, now - minute * 60'000 + 100);
      insert.exec();
      insert.reset();
    }
    insert.bind(1, 97.0);
    insert.bind(2, static_cast<std::int64_t>(now + std::int64_t{365} * 24 * 3600 * 1000));
    insert.bind(3, now - 5 * 60'000);
    insert.exec();
  }
  fixture.store = ehg::store::Store::Open({path}, fixture.clock).value();
  fixture.Start(EscalatingSpO2());
  fixture.Measure(85);
  CHECK(fixture.AlertChanges("spo2-low") == std::vector<std::string>{"raised/0"});
  fixture.clock.Advance(1s);
  fixture.Measure(97);  // not "late" behind the year-ahead reading: it resolves
  CHECK(fixture.AlertChanges("spo2-low") == std::vector<std::string>{"raised/0", "resolved/0"});
  CHECK(fixture.pipeline->counters().out_of_order == 0);
  // The backfill judges and summarises the old readings in the background, and then says so.
  REQUIRE(WaitUntil([&] {
    SQLite::Database inspect(path.string(), SQLite::OPEN_READONLY);
    return inspect.execAndGet("SELECT count(*) FROM settings WHERE name LIKE 'store.minutes_backfill%'")
               .getInt() == 0;
  }));
  SQLite::Database inspect(path.string(), SQLite::OPEN_READONLY);
  CHECK(
      inspect.execAndGet("SELECT count(*) FROM readings WHERE claimed_device_time_ms IS NOT NULL").getInt() ==
      1);
  CHECK(inspect.execAndGet("SELECT sum(readings) FROM reading_minutes").getInt() == 24 * 6 + 1 + 2);
}
