#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace ehg::test {

// Turns a leaf page from the middle of the readings' table to rubbish, as a failing SD card leaves it,
// in a database no connection has open. Returns the file's page count (so a test can ask for a file
// large enough that the page is one of many).
inline std::int64_t DamageReadingsPage(const std::filesystem::path& database) {
  std::int64_t page_size = 0;
  std::int64_t pages = 0;
  std::int64_t middle = 0;
  {
    SQLite::Database db(database.string(), SQLite::OPEN_READONLY);
    page_size = db.execAndGet("PRAGMA page_size").getInt64();
    pages = db.execAndGet("PRAGMA page_count").getInt64();
    middle = db.execAndGet(
                   "SELECT pageno FROM dbstat WHERE name = 'readings' AND pagetype = 'leaf' ORDER BY pageno "
                   "LIMIT 1 OFFSET (SELECT count(*) / 2 FROM dbstat WHERE name = 'readings' AND "
                   "pagetype = 'leaf')")
                 .getInt64();
  }
  std::fstream file(database, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>((middle - 1) * page_size));  // pages count from 1
  const std::string rubbish(static_cast<std::size_t>(page_size), '\x5a');
  file.write(rubbish.data(), static_cast<std::streamsize>(rubbish.size()));
  return pages;
}

}  // namespace ehg::test
