#include "gateway/core/device_catalog.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gateway/core/vital_signs.hpp"

using ehg::core::DeviceKind;
using ehg::core::DeviceKindNames;
using ehg::core::DeviceKinds;
using ehg::core::DeviceConnection;
using ehg::core::FindDeviceKind;

TEST_CASE("Each device kind is found by its link and name, and names are unique within a link") {
  std::set<std::pair<DeviceConnection, std::string_view>> seen;
  for (const DeviceKind& kind : DeviceKinds()) {
    CAPTURE(kind.name);
    CHECK(seen.insert({kind.link, kind.name}).second);
    CHECK(FindDeviceKind(kind.link, kind.name) == &kind);
    CHECK_FALSE(kind.description.empty());
    CHECK_FALSE(kind.measures.empty());
  }
  CHECK(FindDeviceKind(DeviceConnection::kSerial, "blood_pressure") == nullptr);  // a BLE profile, not a protocol
  CHECK(FindDeviceKind(DeviceConnection::kBle, "beurer-bm") == nullptr);
  CHECK(FindDeviceKind(DeviceConnection::kSimulated, "glucose") == nullptr);  // no simulated glucose meter
  CHECK(FindDeviceKind(DeviceConnection::kBle, "") == nullptr);
}

TEST_CASE("A link's names are its kinds in catalogue order") {
  for (const DeviceConnection link : {DeviceConnection::kSerial, DeviceConnection::kBle, DeviceConnection::kSimulated}) {
    std::vector<std::string_view> expected;
    for (const DeviceKind& kind : DeviceKinds()) {
      if (kind.link == link) expected.push_back(kind.name);
    }
    const auto names = DeviceKindNames(link);
    CHECK_FALSE(names.empty());
    CHECK(std::vector<std::string_view>(names.begin(), names.end()) == expected);
  }
}

TEST_CASE("Each device kind's flags belong to its link") {
  for (const DeviceKind& kind : DeviceKinds()) {
    CAPTURE(kind.name);
    if (kind.link != DeviceConnection::kSerial) CHECK_FALSE(kind.polled);
    if (kind.link != DeviceConnection::kBle) CHECK_FALSE(kind.hangs_up);
    // A polled device keeps records; a device that hangs up after measuring sends them when it connects.
    if (kind.hangs_up) CHECK(kind.timing == ehg::core::DeviceTiming::kStoredRecords);
    if (kind.polled) CHECK(kind.timing == ehg::core::DeviceTiming::kStoredRecords);
  }
}

TEST_CASE("What a device kind measures is written in vital-sign names") {
  for (const DeviceKind& kind : DeviceKinds()) {
    CAPTURE(kind.name);
    if (kind.name == "ascii") continue;  // any vital sign: the line names it
    std::string measures(kind.measures);
    if (const auto aside = measures.find(" ("); aside != std::string::npos) measures.resize(aside);
    std::size_t start = 0;
    while (start <= measures.size()) {
      const std::size_t end = std::min(measures.find(", ", start), measures.size());
      const std::string metric = measures.substr(start, end - start);
      CAPTURE(metric);
      CHECK(ehg::core::FindMetric(metric) != nullptr);
      start = end + 2;
    }
  }
}
