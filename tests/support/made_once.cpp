#include "tests/support/made_once.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace ehg::test {
namespace {

std::string ReadAll(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& file)
      : descriptor_(::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600)) {
    if (descriptor_ < 0 || ::flock(descriptor_, LOCK_EX) != 0)
      throw std::runtime_error("made once: cannot lock " + file.string());
  }
  ~FileLock() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int descriptor_;
};

std::string Today() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char day[16];
  std::strftime(day, sizeof day, "%Y-%m-%d", &utc);
  return day;
}

}  // namespace

std::filesystem::path MadeOnce(const std::string& name, const std::string& recipe,
                               const std::function<void(const std::filesystem::path&)>& make) {
  std::ostringstream key;
  key << std::hex << std::hash<std::string>{}(recipe);
  const std::filesystem::path directory =
      TempRoot() / ("ehg-test-" + name + "-" + std::to_string(::geteuid()) + "-" + key.str());
  const std::filesystem::path marker = directory.string() + ".made";
  FileLock lock(directory.string() + ".lock");
  // The marker holds the whole recipe (a hash collision makes it again) and is written last: a directory
  // half made by a process that died is made again.
  if (std::filesystem::exists(marker) && ReadAll(marker) == recipe) return directory;
  std::filesystem::remove(marker);
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  make(directory);
  {
    std::ofstream out(marker.string() + ".new", std::ios::binary | std::ios::trunc);
    out << recipe;
    if (!out.flush()) throw std::runtime_error("made once: cannot write " + marker.string());
  }
  std::filesystem::rename(marker.string() + ".new", marker);
  return directory;
}

void CopyTestPki(const std::filesystem::path& directory, const std::vector<std::string>& arguments) {
  const std::string script = std::string(EHG_SOURCE_DIR) + "/scripts/gen-certs";
  std::string recipe = "scripts/gen-certs";
  for (const std::string& argument : arguments)
    recipe += " " + argument;
  recipe += "\nmade on " + Today() + "\n" + ReadAll(script);
  const std::filesystem::path made = MadeOnce("pki", recipe, [&](const std::filesystem::path& into) {
    std::vector<std::string> argv{script};
    auto rest = arguments.begin();
    if (rest != arguments.end() && *rest == "--engine") argv.push_back(*rest++);
    argv.push_back(into.string());
    argv.insert(argv.end(), rest, arguments.end());
    const CommandResult result = RunCommand(argv, std::chrono::seconds(90));
    if (result.exit_code != 0) throw std::runtime_error("scripts/gen-certs failed: " + result.output);
  });
  std::filesystem::create_directories(directory);
  // copy_file keeps each file's permission bits: the keys stay 0600.
  std::filesystem::copy(
      made, directory,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
}

}  // namespace ehg::test
