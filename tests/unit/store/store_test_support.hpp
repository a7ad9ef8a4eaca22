#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "gateway/core/clock.hpp"
#include "gateway/core/event.hpp"
#include "gateway/core/reading.hpp"
#include "gateway/store/store.hpp"
#include "tests/support/readings.hpp"

namespace ehg::test {

inline std::string ReadBytes(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

inline std::filesystem::path CopyFixture(const std::string& name, const std::filesystem::path& directory) {
  const auto target = directory / "gateway.db";
  std::filesystem::copy_file(std::filesystem::path(EHG_FIXTURES_DIR) / "store" / name, target);
  return target;
}

inline core::Event MakeEvent(core::EventIdGenerator& ids, core::EventKind kind, core::Priority priority,
                             std::size_t body_bytes) {
  return core::Event{ids.Next(), kind, priority, core::WallTime{}, std::string(body_bytes, 'x')};
}

inline std::unique_ptr<store::Store> OpenOrFail(const store::StoreOptions& options, const core::Clock& clock,
                                                store::OpenReport* report = nullptr) {
  auto opened = store::Store::Open(options, clock, report);
  if (!opened) throw std::runtime_error(opened.error().message);
  return std::move(*opened);
}

}  // namespace ehg::test
