#include "gateway/pipeline/pipeline.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "tests/support/log_capture.hpp"
#include "tests/support/readings.hpp"
#include "tests/support/rules.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using ehg::Errc;
using ehg::alerts::RuleSet;
using ehg::alerts::Severity;
using ehg::core::Reading;
using ehg::pipeline::Pipeline;
using ehg::test::SpO2;
using ehg::test::WaitUntil;

namespace {

RuleSet LowSpO2() {
  RuleSet rules;
  rules.thresholds.push_back(ehg::test::Threshold("spo2-low", "spo2", std::nullopt, 90.0, Severity::kHigh));
  return rules;
}

// Collects what the pipeline reports back to the driver.
struct Outcomes {
  std::mutex mutex;
  std::vector<ehg::Result<std::int64_t>> results;

  ehg::core::ReadingDone Callback() {
    return [this](const Reading&, const ehg::Result<std::int64_t>& stored) {
      std::lock_guard lock(mutex);
      results.push_back(stored);
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return results.size();
  }
  ehg::Result<std::int64_t> at(std::size_t i) {
    std::lock_guard lock(mutex);
    return results.at(i);
  }
};

struct PipelineFixture {
  ehg::test::TempDir dir;
  ehg::core::ManualClock clock{ehg::core::WallTime{1'767'225'600'000ms}};
  ehg::core::EventIdGenerator ids{clock};
  std::unique_ptr<ehg::store::Store> store;

  explicit PipelineFixture(ehg::store::StoreOptions options = {}) {
    if (options.path.empty()) options.path = dir / "gateway.db";
    store = std::move(ehg::store::Store::Open(options, clock).value());
  }

  ehg::pipeline::PipelineOptions Options(std::size_t capacity = 64) {
    ehg::pipeline::PipelineOptions options;
    options.gateway_id = "gw-1";
    options.resident_pseudonym = "r-0001";
    options.queue_capacity = capacity;
    options.batch_window = 2ms;
    return options;
  }
};

// Makes every write of a reading fail inside the store's transaction (as an I/O error would), or stops
// that, through a connection of the test's own.
void FailReadingWrites(const std::filesystem::path& path, bool fail) {
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
  db.setBusyTimeout(5000);
  db.exec(fail ? "CREATE TRIGGER fail_readings BEFORE INSERT ON readings BEGIN "
                 "SELECT RAISE(ABORT, 'a store with no disk under it'); END"
               : "DROP TRIGGER fail_readings");
}

std::vector<Poco::JSON::Object::Ptr> OutboxBodies(ehg::store::Store& store, ehg::core::EventKind kind) {
  std::vector<Poco::JSON::Object::Ptr> bodies;
  const auto rows = store.PeekOutbox(1'000).value();
  for (const auto& row : rows) {
    if (row.event.kind == kind) {
      bodies.push_back(Poco::JSON::Parser().parse(row.event.body).extract<Poco::JSON::Object::Ptr>());
    }
  }
  return bodies;
}

}  // namespace

TEST_CASE("A reading is reported accepted only once it is in the store, with an observation event") {
  PipelineFixture fixture;
  Outcomes outcomes;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  REQUIRE(pipeline.Submit(SpO2(97), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
  pipeline.Stop();
  REQUIRE(outcomes.at(0).has_value());
  CHECK(*outcomes.at(0) > 0);
  CHECK(fixture.store->CountReadings().value() == 1);
  const auto observations = OutboxBodies(*fixture.store, ehg::core::EventKind::kObservation);
  REQUIRE(observations.size() == 1);
  CHECK(observations[0]->getValue<std::string>("subject") == "r-0001");
  CHECK(observations[0]->getValue<double>("value") == 97);
  CHECK(pipeline.counters().stored == 1);
  CHECK(fixture.store->LoadDevices().value().at(0).last_seen == SpO2(97).received_at);
}

TEST_CASE("A reading outside the catalogue is refused with its reason, counted, logged without its value") {
  PipelineFixture fixture;
  Outcomes outcomes;
  ehg::test::LogCapture log(ehg::core::LogLevel::kInfo);
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  REQUIRE(pipeline.Submit(SpO2(127), outcomes.Callback()));  // 127: a common "no value" code of oximeters
  REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
  pipeline.Stop();
  REQUIRE_FALSE(outcomes.at(0).has_value());
  CHECK(outcomes.at(0).error().code == Errc::kRejected);
  CHECK(pipeline.counters().rejected_invalid == 1);
  CHECK(fixture.store->CountReadings().value() == 0);
  CHECK(fixture.store->outbox_stats().rows == 0);  // and it never raised an alert
  CHECK(log.Contains("level=warning msg=\"reading rejected\" device=oximeter metric=spo2"));
  for (const auto& line : log.Lines())
    CHECK(line.find("127") == std::string::npos);
}

TEST_CASE(
    "A breach raises an alert in the same transaction: stored state plus an alert event ahead of "
    "observations") {
  PipelineFixture fixture;
  Outcomes outcomes;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  REQUIRE(pipeline.Submit(SpO2(88), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
  pipeline.Stop();
  const auto open = fixture.store->LoadOpenAlerts().value();
  REQUIRE(open.size() == 1);
  CHECK(open[0].rule_id == "spo2-low");
  CHECK(open[0].severity == "high");
  const auto rows = fixture.store->PeekOutbox(10).value();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].event.kind == ehg::core::EventKind::kAlert);
  CHECK(rows[0].event.priority == ehg::core::Priority::kHigh);
  const auto alert = Poco::JSON::Parser().parse(rows[0].event.body).extract<Poco::JSON::Object::Ptr>();
  CHECK(alert->getValue<std::string>("alert_id") == open[0].alert_id);
  CHECK(alert->getValue<std::string>("change") == "raised");
  CHECK(pipeline.counters().alerts_raised == 1);
}

TEST_CASE("Open alerts survive a restart: a repeat updates the same alert, a recovery resolves it") {
  PipelineFixture fixture;
  std::string alert_id;
  {
    Outcomes outcomes;
    Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
    REQUIRE(pipeline.Start().has_value());
    REQUIRE(pipeline.Submit(SpO2(88), outcomes.Callback()));
    REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
    pipeline.Stop();
    alert_id = fixture.store->LoadOpenAlerts().value().at(0).alert_id;
  }
  Outcomes outcomes;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  REQUIRE(pipeline.Submit(SpO2(86), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
  CHECK(pipeline.counters().alerts_raised == 0);
  CHECK(pipeline.counters().alerts_updated == 1);
  const auto open = fixture.store->LoadOpenAlerts().value();
  REQUIRE(open.size() == 1);
  CHECK(open[0].alert_id == alert_id);
  REQUIRE(pipeline.Submit(SpO2(96), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 2; }));
  pipeline.Stop();
  CHECK(fixture.store->LoadOpenAlerts().value().empty());
  const auto alerts = OutboxBodies(*fixture.store, ehg::core::EventKind::kAlert);
  REQUIRE(alerts.size() == 3);
  CHECK(alerts[2]->getValue<std::string>("change") == "resolved");
  CHECK(alerts[2]->getValue<std::string>("alert_id") == alert_id);
}

TEST_CASE("A full queue refuses (and counts) instead of blocking the driver") {
  PipelineFixture fixture;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(16), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  // Hold the pipeline thread inside a completion callback so the queue can fill up.
  std::mutex mutex;
  std::condition_variable released;
  bool entered = false;
  bool release = false;
  REQUIRE(pipeline.Submit(SpO2(97), [&](const Reading&, const ehg::Result<std::int64_t>&) {
    std::unique_lock lock(mutex);
    entered = true;
    released.wait(lock, [&] { return release; });
  }));
  REQUIRE(WaitUntil([&] {
    std::lock_guard lock(mutex);
    return entered;
  }));
  for (int i = 0; i < 16; ++i)
    REQUIRE(pipeline.Submit(SpO2(97)));
  CHECK_FALSE(pipeline.Submit(SpO2(97)));
  CHECK(pipeline.counters().refused_queue_full == 1);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  released.notify_all();
  pipeline.Stop();
  CHECK(fixture.store->CountReadings().value() == 17);
}

TEST_CASE("Stop commits everything already queued, then refuses new readings") {
  PipelineFixture fixture;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(4096), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  for (int i = 0; i < 2'000; ++i)
    REQUIRE(pipeline.Submit(SpO2(95 + i % 5)));
  pipeline.Stop();
  CHECK(fixture.store->CountReadings().value() == 2'000);
  CHECK_FALSE(pipeline.Submit(SpO2(97)));
  CHECK(pipeline.counters().refused_stopping == 1);
  CHECK(pipeline.counters().batches >= 4);  // batch_max 512
}

TEST_CASE("When the store fails, every reading of the batch hears why and no alert state changes") {
  PipelineFixture fixture;
  Outcomes outcomes;
  ehg::test::LogCapture log(ehg::core::LogLevel::kInfo);
  auto options = fixture.Options(100'000);
  options.batch_window = 100ms;  // a burst of 100 submissions becomes exactly one batch
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, options, LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  for (int i = 0; i < 100; ++i)
    REQUIRE(pipeline.Submit(SpO2(97, ehg::test::kTestEpochMs + i), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 100; }));
  REQUIRE(pipeline.counters().store_failures == 0);
  FailReadingWrites(fixture.store->path(), true);
  for (int i = 0; i < 100; ++i)
    REQUIRE(pipeline.Submit(SpO2(97, ehg::test::kTestEpochMs + 1000 + i), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 200; }));
  REQUIRE(pipeline.counters().store_failures == 1);
  // The same amount again, now breaching the rule: it fails as a whole.
  const std::size_t before = outcomes.size();
  for (int i = 0; i < 100; ++i)
    REQUIRE(pipeline.Submit(SpO2(80, ehg::test::kTestEpochMs + 2000 + i), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == before + 100; }));
  pipeline.Stop();
  for (std::size_t i = before; i < before + 100; ++i) {
    REQUIRE_FALSE(outcomes.at(i).has_value());
    CHECK(outcomes.at(i).error().message.find("no disk under it") != std::string::npos);
  }
  CHECK(pipeline.counters().store_failures == 2);
  CHECK(pipeline.counters().alerts_raised == 0);
  CHECK(fixture.store->LoadOpenAlerts().value().empty());
  CHECK(log.Count("level=error msg=\"batch not stored; readings refused\"") == 2);
  CHECK(fixture.store->IntegrityCheck().value() == "ok");
}

TEST_CASE("Replaced rules apply to the next batch") {
  PipelineFixture fixture;
  Outcomes outcomes;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), RuleSet{});
  REQUIRE(pipeline.Start().has_value());
  REQUIRE(pipeline.Submit(SpO2(85), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
  CHECK(pipeline.counters().alerts_raised == 0);
  pipeline.ReplaceRules(LowSpO2());
  std::int64_t time = ehg::test::kTestEpochMs;
  REQUIRE(WaitUntil([&] {
    // Each a new measurement: the same device, metric, time and value again would be a duplicate.
    if (!pipeline.Submit(SpO2(85, time += 1000), outcomes.Callback())) return false;
    const std::size_t expected = outcomes.size() + 1;
    return WaitUntil([&] { return outcomes.size() >= expected; }) && pipeline.counters().alerts_raised == 1;
  }));
  pipeline.Stop();
}

TEST_CASE("The heartbeat moves while the pipeline is idle") {
  PipelineFixture fixture;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  const auto first = pipeline.LastHeartbeat();
  fixture.clock.Advance(10s);
  CHECK(WaitUntil([&] { return pipeline.LastHeartbeat() > first; }, 3s));
  pipeline.Stop();
}

TEST_CASE("Uplink changes remove acknowledged rows, match receipts, and wake the outbox listener") {
  PipelineFixture fixture;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  std::atomic<int> most_urgent{-1};
  std::atomic<int> notifications{0};
  pipeline.SetOutboxListener([&](ehg::core::Priority priority) {
    most_urgent = static_cast<int>(priority);
    ++notifications;
  });
  REQUIRE(pipeline.Start().has_value());
  REQUIRE(pipeline.Submit(SpO2(97)));
  REQUIRE(pipeline.Submit(SpO2(85)));  // raises the spo2-low alert
  REQUIRE(WaitUntil([&] { return pipeline.outbox().rows == 3; }));
  CHECK(most_urgent.load() == static_cast<int>(ehg::core::Priority::kHigh));
  CHECK(pipeline.outbox().alert_rows == 1);

  const auto rows = fixture.store->PeekOutbox(10).value();  // read-only use while the pipeline runs
  REQUIRE(rows.size() == 3);
  ehg::pipeline::OutboxChange change;
  change.sent_sequences = {rows[1].sequence};
  change.receipted_events = {rows[0].event.id, fixture.ids.Next()};
  change.settings["uplink.heartbeat_interval_seconds"] = "20";
  std::mutex mutex;
  std::optional<ehg::Result<ehg::store::WriteOutcome>> outcome;
  REQUIRE(pipeline.ApplyOutboxChange(change, [&](const ehg::Result<ehg::store::WriteOutcome>& result) {
    std::lock_guard lock(mutex);
    outcome = result;
  }));
  REQUIRE(WaitUntil([&] {
    std::lock_guard lock(mutex);
    return outcome.has_value();
  }));
  pipeline.Stop();
  REQUIRE(outcome->has_value());
  CHECK((*outcome)->removed_rows == 2);
  CHECK((*outcome)->receipt_matched == std::vector<bool>{true, false});
  CHECK(pipeline.outbox().rows == 1);
  CHECK(pipeline.outbox().alert_rows == 0);
  CHECK(fixture.store->LoadSettings().value().at("uplink.heartbeat_interval_seconds") == "20");
  CHECK(pipeline.counters().outbox_changes == 1);
}

TEST_CASE("Uplink changes are refused when the pipeline is not running") {
  PipelineFixture fixture;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  CHECK_FALSE(pipeline.ApplyOutboxChange({}));
  CHECK(pipeline.counters().outbox_changes_refused == 1);
}

TEST_CASE("A failed batch leaves no trace in the rules: the same reading offered again is evaluated afresh") {
  PipelineFixture fixture;
  Outcomes outcomes;
  auto options = fixture.Options(100'000);
  options.batch_window = 100ms;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, options, LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  REQUIRE(pipeline.Submit(SpO2(97), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
  // A batch of breaching readings while the store fails: refused as a whole.
  FailReadingWrites(fixture.store->path(), true);
  const std::int64_t breach_time = ehg::test::kTestEpochMs + 1000;
  const std::size_t filled = outcomes.size();
  for (int i = 0; i < 100; ++i)
    REQUIRE(pipeline.Submit(SpO2(80, breach_time + i * 1000), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == filled + 100; }));
  REQUIRE(pipeline.counters().store_failures == 1);
  REQUIRE(pipeline.counters().alerts_raised == 0);
  FailReadingWrites(fixture.store->path(), false);  // the store works again
  // The driver offers the refused reading again. Had the engine kept it in memory, it would now be a
  // duplicate and raise nothing.
  const std::size_t before = outcomes.size();
  REQUIRE(pipeline.Submit(SpO2(80, breach_time), outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == before + 1; }));
  pipeline.Stop();
  REQUIRE(outcomes.at(before).has_value());
  CHECK(pipeline.counters().duplicates == 0);
  CHECK(pipeline.counters().alerts_raised == 1);
  CHECK(fixture.store->LoadOpenAlerts().value().size() == 1);
}

TEST_CASE("A device link change is stored on the device and sent as a device event") {
  PipelineFixture fixture;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), {});
  REQUIRE(pipeline.Start());
  const auto at = fixture.clock.Now();
  REQUIRE(pipeline.ReportDeviceStatus({"oximeter", true, "port opened", at}));
  REQUIRE(pipeline.ReportDeviceStatus({"oximeter", false, "port closed: read: Input/output error", at + 5s}));
  REQUIRE(WaitUntil([&] { return pipeline.counters().device_statuses.load() == 2; }));
  pipeline.Stop();
  CHECK_FALSE(pipeline.ReportDeviceStatus({"oximeter", true, "port opened", at}));
  CHECK(pipeline.counters().device_statuses_refused.load() == 1);

  const auto devices = fixture.store->LoadDevices().value();
  REQUIRE(devices.size() == 1);
  CHECK(devices[0].connected == false);
  CHECK(devices[0].last_error == "port closed: read: Input/output error");
  const auto events = OutboxBodies(*fixture.store, ehg::core::EventKind::kDevice);
  REQUIRE(events.size() == 2);
  CHECK(events[0]->getValue<std::string>("schema") == "ehealth-gateway/device-event/v0");
  CHECK(events[0]->getValue<std::string>("device") == "oximeter");
  CHECK(events[0]->getValue<std::string>("state") == "connected");
  CHECK(events[1]->getValue<std::string>("state") == "disconnected");
  CHECK(events[1]->getValue<std::string>("detail") == "port closed: read: Input/output error");
  CHECK(events[1]->getValue<std::string>("subject") == "r-0001");
}

TEST_CASE("A device measurement delivered twice is stored once and evaluated once") {
  PipelineFixture fixture;
  Outcomes outcomes;
  Pipeline pipeline(*fixture.store, fixture.clock, fixture.ids, fixture.Options(), LowSpO2());
  REQUIRE(pipeline.Start().has_value());
  Reading spot = SpO2(88);
  spot.device_time = spot.received_at - 5s;  // a spot-check record with the device's own time
  Reading retransmitted = spot;
  retransmitted.received_at += 2s;  // the indication came again after a reconnect
  REQUIRE(pipeline.Submit(spot, outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 1; }));
  REQUIRE(pipeline.Submit(retransmitted, outcomes.Callback()));
  REQUIRE(pipeline.Submit(retransmitted, outcomes.Callback()));
  REQUIRE(WaitUntil([&] { return outcomes.size() == 3; }));
  pipeline.Stop();
  CHECK(outcomes.at(0).has_value());
  REQUIRE_FALSE(outcomes.at(1).has_value());
  CHECK(outcomes.at(1).error().message.find("already stored") != std::string::npos);
  CHECK_FALSE(outcomes.at(2).has_value());
  CHECK(pipeline.counters().already_stored == 2);
  CHECK(fixture.store->CountReadings().value() == 1);
  CHECK(OutboxBodies(*fixture.store, ehg::core::EventKind::kObservation).size() == 1);
  CHECK(OutboxBodies(*fixture.store, ehg::core::EventKind::kAlert).size() == 1);
}
