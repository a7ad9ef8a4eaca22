// Ingest: readings per second through the pipeline (queue, one transaction per batch: readings stored,
// the demo's rules evaluated, alert and device state kept, one observation event per reading appended to
// the outbox) with the production store (WAL, synchronous=FULL), beside plain SQLite inserts of the same
// readings and outbox rows into a database with the same schema, indexes and settings, in transactions
// of the same size, in the same run.
//
//   ingest_bench [--readings N] [--rounds R]
//
// Prints a Markdown table (scripts/bench puts it into docs/benchmarks.md).
#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/log.hpp"
#include "gateway/pipeline/pipeline.hpp"
#include "gateway/store/store.hpp"
#include "tests/bench/bench_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Settings {
  std::size_t readings = 200'000;
  int rounds = 3;
};

// The six devices of a home, in turn: values in their normal ranges, so the rules run and stay quiet.
ehg::core::Reading MakeReading(std::size_t n, ehg::core::WallTime at) {
  struct Kind {
    const char* device;
    const char* metric;
    const char* unit;
    double value;
  };
  static constexpr Kind kKinds[] = {{"oximeter", "spo2", "%", 96},
                                    {"oximeter", "pulse_rate", "/min", 72},
                                    {"bp-cuff", "bp.systolic", "mm[Hg]", 128},
                                    {"bp-cuff", "bp.diastolic", "mm[Hg]", 82},
                                    {"thermometer", "body_temperature", "Cel", 36.8},
                                    {"scale", "body_weight", "kg", 81.2},
                                    {"glucose-meter", "glucose", "mmol/L", 6.1}};
  const Kind& kind = kKinds[n % std::size(kKinds)];
  ehg::core::Reading reading;
  reading.device_id = kind.device;
  reading.metric = kind.metric;
  reading.unit = kind.unit;
  reading.value = kind.value + static_cast<double>(n % 3) * 0.1;
  reading.received_at = at;
  return reading;
}

struct PipelineResult {
  double seconds = 0;
  double mean_batch = 0;
};

ehg::alerts::RuleSet DemoRules() {
  std::ifstream file(fs::path(EHG_SOURCE_DIR) / "examples/demo.json");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto config = ehg::config::ParseConfig(text, fs::path(EHG_SOURCE_DIR) / "examples");
  if (!config) throw std::runtime_error("examples/demo.json does not parse");
  return config->rules;
}

PipelineResult RunPipeline(const fs::path& database, const Settings& settings) {
  ehg::core::SystemClock clock(true);
  ehg::core::EventIdGenerator ids(clock);
  auto store = std::move(ehg::store::Store::Open({database, 1ull << 32}, clock).value());
  ehg::pipeline::PipelineOptions options;  // the production defaults: 5 ms window, 512 per batch
  options.gateway_id = "gw-bench-01";
  options.resident_pseudonym = "r-bench-0001";
  ehg::pipeline::Pipeline pipeline(*store, clock, ids, options, DemoRules());
  if (!pipeline.Start()) throw std::runtime_error("pipeline did not start");
  const auto base = clock.Now();
  const auto started = Steady::now();
  for (std::size_t n = 0; n < settings.readings; ++n) {
    ehg::core::Reading reading = MakeReading(n, base + std::chrono::milliseconds(n));
    while (!pipeline.Submit(reading))  // queue full: the driver keeps it and offers it again
      std::this_thread::sleep_for(50us);
  }
  while (pipeline.counters().stored.load() < settings.readings)
    std::this_thread::sleep_for(200us);
  const double seconds = ehg::bench::Seconds(Steady::now() - started);
  const double batches = static_cast<double>(pipeline.counters().batches.load());
  pipeline.Stop();
  return {seconds, static_cast<double>(settings.readings) / batches};
}

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
using Row = std::vector<Value>;

std::vector<Row> ReadTable(SQLite::Database& db, const std::string& table) {
  std::vector<Row> rows;
  SQLite::Statement select(db, "SELECT * FROM " + table + " ORDER BY rowid");
  while (select.executeStep()) {
    Row row;
    for (int i = 0; i < select.getColumnCount(); ++i) {
      const SQLite::Column column = select.getColumn(i);
      if (column.isNull())
        row.emplace_back(nullptr);
      else if (column.isInteger())
        row.emplace_back(column.getInt64());
      else if (column.isFloat())
        row.emplace_back(column.getDouble());
      else
        row.emplace_back(column.getString());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void Bind(SQLite::Statement& insert, const Row& row) {
  for (std::size_t i = 0; i < row.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    std::visit(
        [&](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>)
            insert.bind(index);
          else
            insert.bind(index, value);
        },
        row[i]);
  }
}

// The same readings and outbox rows, inserted with prepared statements into an empty database made with
// the pipeline database's own schema and the store's settings, `batch` readings per transaction.
double RunPlainSqlite(const fs::path& source, const fs::path& target, double mean_batch) {
  SQLite::Database from(source.string(), SQLite::OPEN_READONLY);
  const std::vector<Row> readings = ReadTable(from, "readings");
  const std::vector<Row> outbox = ReadTable(from, "outbox");
  SQLite::Database to(target.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  to.exec("PRAGMA journal_mode = WAL");
  to.exec("PRAGMA synchronous = FULL");
  to.exec("PRAGMA foreign_keys = ON");
  SQLite::Statement schema(
      from, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'");
  while (schema.executeStep())
    to.exec(schema.getColumn(0).getString());
  const auto placeholders = [](std::size_t count) {
    std::string text = "?";
    for (std::size_t i = 1; i < count; ++i)
      text += ",?";
    return text;
  };
  SQLite::Statement insert_reading(
      to, "INSERT INTO readings VALUES (" + placeholders(readings.front().size()) + ")");
  SQLite::Statement insert_event(to,
                                 "INSERT INTO outbox VALUES (" + placeholders(outbox.front().size()) + ")");
  const auto batch = std::max<std::size_t>(1, static_cast<std::size_t>(mean_batch + 0.5));
  const auto started = Steady::now();
  for (std::size_t first = 0; first < readings.size(); first += batch) {
    SQLite::Transaction transaction(to);
    for (std::size_t i = first; i < std::min(first + batch, readings.size()); ++i) {
      Bind(insert_reading, readings[i]);
      insert_reading.exec();
      insert_reading.reset();
      if (i < outbox.size()) {
        Bind(insert_event, outbox[i]);
        insert_event.exec();
        insert_event.reset();
      }
    }
    transaction.commit();
  }
  return ehg::bench::Seconds(Steady::now() - started);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--readings") settings.readings = std::stoul(argv[i + 1]);
    if (flag == "--rounds") settings.rounds = std::stoi(argv[i + 1]);
  }
  ehg::core::SetLogLevel(ehg::core::LogLevel::kError);
  double best_pipeline = 1e9, best_plain = 1e9, batch = 0;
  for (int round = 0; round < settings.rounds; ++round) {
    ehg::test::TempDir dir;
    const PipelineResult pipeline = RunPipeline(dir / "gateway.db", settings);
    const double plain = RunPlainSqlite(dir / "gateway.db", dir / "plain.db", pipeline.mean_batch);
    if (pipeline.seconds < best_pipeline) {
      best_pipeline = pipeline.seconds;
      batch = pipeline.mean_batch;
    }
    best_plain = std::min(best_plain, plain);
  }
  const double n = static_cast<double>(settings.readings);
  std::printf(
      "Ingest: %zu readings of six devices, WAL + synchronous=FULL, the demo's rules, best of %d rounds "
      "(mean "
      "transaction: %.0f readings)\n",
      settings.readings, settings.rounds, batch);
  std::printf("Machine: %s\n\n", ehg::bench::Machine().c_str());
  std::printf("| path | readings | seconds | readings/s | vs plain SQLite |\n|---|---|---|---|---|\n");
  std::printf(
      "| plain SQLite inserts (same rows, schema, settings, transaction size) | %zu | %.2f | %.0f | 1.00 |\n",
      settings.readings, best_plain, n / best_plain);
  std::printf("| gateway pipeline (queue, store, rules, outbox) | %zu | %.2f | %.0f | %.2f |\n",
              settings.readings, best_pipeline, n / best_pipeline, best_plain / best_pipeline);
  return 0;
}
