// Every counter a component declares reaches /metrics and the documented metric table; a drop moves
// its exported series. The components are built on one registry as the daemon builds them, each with
// the cheapest real setup its own tests use.
#include <doctest/doctest.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "devices/ble/ble_manager.hpp"
#include "devices/serial/serial_driver.hpp"
#include "gateway/core/telemetry.hpp"
#include "gateway/crypto/protection.hpp"
#include "gateway/http/status.hpp"
#include "gateway/pipeline/pipeline.hpp"
#include "gateway/uplink/uplink.hpp"
#include "tests/support/readings.hpp"
#include "tests/support/recording_sink.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/uplink/fakes.hpp"

using namespace std::chrono_literals;
using ehg::core::telemetry::Registry;
using ehg::test::WaitUntil;

namespace {

ehg::http::StatusSnapshot Snapshot(const Registry& registry) {
  ehg::http::StatusSnapshot status;
  status.gateway_id = "gw-1";
  status.telemetry = registry.Collect();
  return status;
}

// A family with its label names as the documentation writes it: `ehg_dropped_total{reason}`.
std::string Documented(const ehg::core::telemetry::Family& family) {
  std::string name = family.name;
  if (family.labels.empty()) return name;
  name += '{';
  for (std::size_t i = 0; i < family.labels.size(); ++i)
    name += (i == 0 ? "" : ",") + family.labels[i];
  return name + '}';
}

// The first cell of every row of the metric table in docs/status-page.md, without its backticks.
std::set<std::string> DocumentedMetrics() {
  std::ifstream file(std::string(EHG_SOURCE_DIR) + "/docs/status-page.md");
  REQUIRE(file.good());
  std::set<std::string> documented;
  const std::regex row(R"(^\| `(ehg_[a-z0-9_]+(\{[a-z_,]+\})?)` \|)");
  for (std::string line; std::getline(file, line);) {
    std::smatch match;
    if (std::regex_search(line, match, row)) documented.insert(match[1]);
  }
  return documented;
}

std::set<std::string> TypedFamilies(const std::string& text) {
  std::set<std::string> typed;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) typed.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return typed;
}

std::string NameOf(const std::string& documented) {
  return documented.substr(0, documented.find('{'));
}

struct Components {
  ehg::test::TempDir dir;
  ehg::core::ManualClock clock{ehg::core::WallTime{1'767'225'600'000ms}};
  ehg::core::EventIdGenerator ids{clock};
  Registry registry;
  std::unique_ptr<ehg::store::Store> store;
  std::unique_ptr<ehg::test::StoreOutbox> outbox;
  std::shared_ptr<ehg::test::FakeTransport::State> transport =
      std::make_shared<ehg::test::FakeTransport::State>();
  ehg::test::RecordingSink sink;

  Components() {
    store = std::move(ehg::store::Store::Open({dir / "gateway.db"}, clock).value());
    outbox = std::make_unique<ehg::test::StoreOutbox>(*store);
  }

  std::unique_ptr<ehg::pipeline::Pipeline> Pipeline(std::size_t queue_capacity = 64) {
    ehg::pipeline::PipelineOptions options;
    options.gateway_id = "gw-1";
    options.resident_pseudonym = "r-0001";
    options.queue_capacity = queue_capacity;
    options.batch_window = 2ms;
    options.telemetry = &registry;
    return std::make_unique<ehg::pipeline::Pipeline>(*store, clock, ids, options, ehg::alerts::RuleSet{});
  }

  std::unique_ptr<ehg::uplink::Uplink> Uplink(
      std::shared_ptr<const ehg::crypto::PayloadProtection> protection =
          std::make_shared<ehg::crypto::PlaintextForDevelopment>()) {
    ehg::uplink::UplinkOptions options;
    options.tenant = "0301";
    options.gateway_id = "gw-1";
    options.version = "test";
    options.protection = std::move(protection);
    options.telemetry = &registry;
    return std::make_unique<ehg::uplink::Uplink>(
        options,
        [this](ehg::transport::TransportEvents events) {
          transport->events = std::move(events);
          return std::make_unique<ehg::test::FakeTransport>(transport);
        },
        *outbox, clock, ids);
  }

  std::unique_ptr<ehg::devices::ble::BleManager> Ble() {
    ehg::devices::ble::BleOptions options;
    options.devices.push_back({"thermometer", "AA:BB:CC:DD:EE:01", "thermometer", "", {}, std::nullopt});
    options.telemetry = &registry;
    return std::make_unique<ehg::devices::ble::BleManager>(options, sink, &sink, clock);
  }

  std::unique_ptr<ehg::devices::serial::SerialDriver> Serial() {
    ehg::devices::serial::SerialDeviceOptions options;
    options.device_id = "oximeter";
    options.port = dir / "no-such-port";
    options.telemetry = &registry;
    return std::make_unique<ehg::devices::serial::SerialDriver>(options, sink, &sink, clock);
  }
};

// A key store that cannot seal: what a broken key file does to the uplink.
class FailingSeal final : public ehg::crypto::PayloadProtection {
 public:
  ehg::Result<std::string> Seal(std::string_view) const override {
    return ehg::Fail(ehg::Errc::kIo, "no key");
  }
  ehg::crypto::Checked<ehg::crypto::VerifiedCommand> OpenCommand(std::string_view payload,
                                                                 ehg::core::WallTime now) const override {
    return plain_.OpenCommand(payload, now);
  }
  ehg::Result<std::string> SignStatus(std::string_view body) const override { return std::string(body); }
  bool end_to_end() const override { return false; }

 private:
  ehg::crypto::PlaintextForDevelopment plain_;
};

}  // namespace

TEST_CASE(
    "metrics: every counter the pipeline, uplink, BLE manager and serial driver declare is exported and "
    "documented") {
  Components components;
  const auto documented = DocumentedMetrics();
  const auto check_exported = [&](const std::string& component) {
    const ehg::http::StatusSnapshot status = Snapshot(components.registry);
    const std::string text = ehg::http::MetricsText(status);
    const std::set<std::string> typed = TypedFamilies(text);
    for (const auto& family : status.telemetry) {
      INFO(component, ": ", family.family.name);
      CHECK(typed.count(family.family.name) == 1);
      CHECK(documented.count(Documented(family.family)) == 1);
      for (const auto& sample : family.samples) {
        std::string series = family.family.name;
        for (std::size_t i = 0; i < sample.label_values.size(); ++i)
          series += (i == 0 ? "{" : ",") + family.family.labels[i] + "=\"" + sample.label_values[i] + "\"";
        if (!sample.label_values.empty()) series += "}";
        CHECK_MESSAGE(text.find("\n" + series + " ") != std::string::npos, series);
      }
    }
    return status.telemetry.size();
  };

  // Each component adds families of its own (a component that kept its counters elsewhere adds none).
  auto pipeline = components.Pipeline();
  const std::size_t after_pipeline = check_exported("pipeline");
  CHECK(after_pipeline >= 15);
  auto uplink = components.Uplink();
  const std::size_t after_uplink = check_exported("uplink");
  CHECK(after_uplink >= after_pipeline + 12);
  auto ble = components.Ble();
  auto serial = components.Serial();
  check_exported("ble and serial");
  const auto snapshot = components.registry.Collect();
  CHECK(ehg::core::telemetry::FindFamily(snapshot, "ehg_dropped_total")->samples.size() == 6);

  // The families the renderer writes itself (devices, alerts by severity, the outbox, the page's
  // refusals) are documented as well: the table lists everything /metrics carries.
  for (const std::string& family : TypedFamilies(ehg::http::MetricsText(Snapshot(components.registry)))) {
    bool found = false;
    for (const std::string& entry : documented)
      found = found || NameOf(entry) == family;
    CHECK_MESSAGE(found, family);
  }
}

TEST_CASE("metrics: a pipeline refusing a reading at a full queue counts it in /metrics and /api/status") {
  Components components;
  auto pipeline = components.Pipeline(4);
  REQUIRE(pipeline->Start().has_value());
  // Hold the pipeline thread inside a completion callback so the queue fills up.
  std::mutex mutex;
  std::condition_variable released;
  bool entered = false;
  bool release = false;
  REQUIRE(
      pipeline->Submit(ehg::test::SpO2(97), [&](const ehg::core::Reading&, const ehg::Result<std::int64_t>&) {
        std::unique_lock lock(mutex);
        entered = true;
        released.wait(lock, [&] { return release; });
      }));
  REQUIRE(WaitUntil([&] {
    std::lock_guard lock(mutex);
    return entered;
  }));
  for (int i = 0; i < 4; ++i)
    REQUIRE(pipeline->Submit(ehg::test::SpO2(97)));
  const std::string before = ehg::http::MetricsText(Snapshot(components.registry));
  CHECK(before.find("ehg_readings_refused_total{reason=\"queue_full\"} 0\n") != std::string::npos);
  CHECK_FALSE(pipeline->Submit(ehg::test::SpO2(97)));
  CHECK_FALSE(pipeline->Submit(ehg::test::SpO2(97)));
  const ehg::http::StatusSnapshot status = Snapshot(components.registry);
  CHECK(ehg::http::MetricsText(status).find("ehg_readings_refused_total{reason=\"queue_full\"} 2\n") !=
        std::string::npos);
  const std::string refused_entry =
      R"({"name":"ehg_readings_refused_total","type":"counter","labels":{"reason":"queue_full"},)"
      R"("value":2})";
  CHECK(ehg::http::StatusJson(status).find(refused_entry) != std::string::npos);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  released.notify_all();
  pipeline->Stop();
}

TEST_CASE("metrics: an uplink that cannot seal an event counts it in /metrics") {
  Components components;
  auto uplink = components.Uplink(std::make_shared<FailingSeal>());
  uplink->Start();
  REQUIRE(WaitUntil([&] { return uplink->status().state == ehg::uplink::LinkState::kConnected; }));
  // An alert: sent at once (observations wait for their batch window on the test's clock).
  ehg::core::Event event{components.ids.Next(),
                         ehg::core::EventKind::kAlert,
                         ehg::core::Priority::kCritical,
                         components.clock.Now(),
                         {}};
  event.body = R"({"event_id":")" + event.id.ToString() + R"(","kind":"alert"})";
  components.outbox->Append({event});
  uplink->NotifyOutbox(ehg::core::Priority::kCritical);
  REQUIRE(WaitUntil([&] {
    return ehg::core::telemetry::ValueOf(components.registry.Collect(), "ehg_uplink_seal_failures_total") >=
           1;
  }));
  const std::string text = ehg::http::MetricsText(Snapshot(components.registry));
  CHECK(std::regex_search(text, std::regex("\nehg_uplink_seal_failures_total [1-9][0-9]*\n")));
  CHECK(components.outbox->Rows().size() == 1);  // nothing lost: the event waits in the outbox
  uplink->Stop();
}
