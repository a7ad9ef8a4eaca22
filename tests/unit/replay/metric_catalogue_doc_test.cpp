// docs/events.md's metric table is what people write replay files and configs from: it must say exactly
// what the catalogue (gateway/core/vital_signs.cpp) accepts, and a reading line must accept exactly that.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/core/json.hpp"
#include "gateway/core/vital_signs.hpp"
#include "gateway/replay/reading_line.hpp"

namespace {

struct Row {
  std::string kind;
  std::string unit;
  double min_value = 0;
  double max_value = 0;
  std::string loinc;
  std::string mdc;
};

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream stream(line.substr(1));  // after the leading '|'
  for (std::string cell; std::getline(stream, cell, '|');) {
    const auto first = cell.find_first_not_of(' ');
    const auto last = cell.find_last_not_of(' ');
    cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  return cells;
}

// The `...` spans of a cell.
std::vector<std::string> CodeSpans(const std::string& cell) {
  std::vector<std::string> spans;
  for (std::size_t open = cell.find('`'); open != std::string::npos; open = cell.find('`', open)) {
    const std::size_t close = cell.find('`', open + 1);
    if (close == std::string::npos) break;
    spans.push_back(cell.substr(open + 1, close - open - 1));
    open = close + 1;
  }
  return spans;
}

// The rows of the "## Metric catalogue" table, by metric name.
std::map<std::string, Row> DocumentedMetrics() {
  std::ifstream file(std::filesystem::path(EHG_SOURCE_DIR) / "docs/events.md");
  REQUIRE(file.good());
  std::map<std::string, Row> rows;
  bool in_section = false;
  for (std::string line; std::getline(file, line);) {
    if (line.starts_with("## ")) in_section = line == "## Metric catalogue";
    if (!in_section || !line.starts_with("| `")) continue;
    CAPTURE(line);
    const std::vector<std::string> cells = Cells(line);
    REQUIRE(cells.size() == 6);
    Row row;
    row.kind = cells[1];
    const std::vector<std::string> unit = CodeSpans(cells[2]);
    REQUIRE_FALSE(unit.empty());
    row.unit = unit.front();
    const std::string& range = cells[3];
    char* end = nullptr;
    row.min_value = std::strtod(range.c_str(), &end);
    REQUIRE(std::string_view(end).starts_with(" to "));
    const char* max_start = end + 4;
    row.max_value = std::strtod(max_start, &end);
    REQUIRE(end != max_start);
    row.loinc = cells[4];
    row.mdc = cells[5].substr(0, cells[5].find(' '));
    for (const std::string& name : CodeSpans(cells[0])) {
      CHECK_MESSAGE(rows.emplace(name, row).second, "listed twice: " << name);
    }
  }
  return rows;
}

std::string_view KindName(ehg::core::MetricKind kind) {
  switch (kind) {
    case ehg::core::MetricKind::kQuantity:
      return "quantity";
    case ehg::core::MetricKind::kBoolean:
      return "boolean";
    case ehg::core::MetricKind::kCode:
      return "code";
    case ehg::core::MetricKind::kEvent:
      return "event";
  }
  return "";
}

std::string Line(std::string_view metric, double value, std::string_view unit) {
  return R"({"time": "2026-03-02T07:15:00Z", "device": "d", "metric": )" + ehg::core::JsonQuote(metric) +
         R"(, "value": )" + ehg::core::JsonNumber(value) + R"(, "unit": )" + ehg::core::JsonQuote(unit) + "}";
}

}  // namespace

TEST_CASE("docs/events.md lists every catalogue metric with its exact unit, kind, range and codes") {
  const std::map<std::string, Row> documented = DocumentedMetrics();
  std::size_t catalogue_size = 0;
  for (const ehg::core::MetricInfo& metric : ehg::core::AllMetrics()) {
    ++catalogue_size;
    CAPTURE(metric.name);
    const auto row = documented.find(std::string(metric.name));
    REQUIRE_MESSAGE(row != documented.end(), "missing from docs/events.md");
    CHECK(row->second.unit == metric.unit);
    CHECK(row->second.kind == KindName(metric.kind));
    CHECK(row->second.min_value == metric.min_value);
    CHECK(row->second.max_value == metric.max_value);
    CHECK(row->second.loinc == (metric.loinc.empty() ? "-" : std::string(metric.loinc)));
    CHECK(row->second.mdc == (metric.mdc == 0 ? "-" : std::to_string(metric.mdc)));
  }
  CHECK(documented.size() == catalogue_size);  // nothing documented that the catalogue does not know
}

TEST_CASE("A reading line accepts exactly the documented unit and range of every metric") {
  for (const auto& [name, row] : DocumentedMetrics()) {
    const auto& metric_name = name;  // clang 14 cannot capture a structured binding
    CAPTURE(metric_name);
    CHECK(ehg::replay::ParseReadingLine(Line(name, row.min_value, row.unit)).has_value());
    CHECK(ehg::replay::ParseReadingLine(Line(name, row.max_value, row.unit)).has_value());
    const double step = (row.max_value - row.min_value) / 1000;
    CHECK_FALSE(ehg::replay::ParseReadingLine(Line(name, row.min_value - step, row.unit)).has_value());
    CHECK_FALSE(ehg::replay::ParseReadingLine(Line(name, row.max_value + step, row.unit)).has_value());
    // Exactly that unit: not another spelling of it.
    for (const std::string& other :
         {std::string("mmHg"), std::string("cel"), std::string(""), row.unit + " "})
      CHECK_FALSE(ehg::replay::ParseReadingLine(Line(name, row.min_value, other)).has_value());
  }
}
